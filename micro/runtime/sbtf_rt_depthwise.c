/*
 * sbtf_rt_depthwise.c - DEPTHWISE_CONV_2D of the runtime (sbtf_rt.h):
 * reference_integer_ops::DepthwiseConvPerChannel.
 *
 * acc = bias + Σ filter * (x + input_offset) over the taps inside the input. input_offset *
 * Σ filter is the same for every pixel whose taps all lie inside, so it is folded into the bias
 * once per call (scratch) and those pixels' taps sum filter * x alone. With depth multiplier 1,
 * blocks of four channels accumulate in registers and are requantized from there. Integer sums,
 * so bit-exact.
 *
 * Portable and DSP (SXTB16 + SMLABB/SMLATT per channel): a border pixel sums only its taps inside
 * the input, adding the offset tap by tap. Helium: a layer with padding first copies the KH
 * input rows an output row reads into scratch, padded with -input_offset (x + offset = 0 there;
 * -input_offset fits int8), so every pixel is interior and up to four neighbouring pixels share
 * each filter load (VMUL + VADD on int32 lanes).
 */
#include <string.h>

#include "sbtf_rt_internal.h"

typedef struct {
  const int8_t *input;  /* the pixel's first tap (inside the input), channel 0 */
  const int8_t *filter; /* that tap's filter row */
  int32_t rows, cols;   /* taps */
  int32_t in_row, in_col, f_row, f_col; /* strides between taps */
} dw_taps;

typedef struct {
  const int32_t *mult, *shift;
  int32_t offset, lo, hi; /* output offset and clamp */
} dw_output;

ALWAYS_INLINE int8_t dw_requantize(const dw_output *o, int32_t c, int32_t acc) {
  return (int8_t)sbtf_clamp(sbtf_mbqm(acc, o->mult[c], o->shift[c]) + o->offset, o->lo,
                               o->hi);
}

/* Channels [c0, c_out) of one pixel, one at a time (channels past the blocks of four, and depth
   multipliers > 1): out[c] = requantized init + Σ_taps filter * (x + offset). */
static void dw_pixel_scalar(const dw_taps *t, int32_t c0, int32_t c_out, int32_t dm,
                            int32_t offset, const int32_t *init, const dw_output *o,
                            int8_t *out) {
  for (int32_t c = c0; c < c_out; ++c) {
    const int32_t ic = c / dm;
    int32_t a = init != NULL ? init[c] : 0;
    for (int32_t r = 0; r < t->rows; ++r) {
      const int8_t *in = t->input + r * t->in_row + ic, *f = t->filter + r * t->f_row + c;
      for (int32_t q = 0; q < t->cols; ++q, in += t->in_col, f += t->f_col) {
        a += (int32_t)*f * ((int32_t)*in + offset);
      }
    }
    out[c] = dw_requantize(o, c, a);
  }
}

/* Bytes of one padded input row (Helium): C_in * (the last tap column + pad_w + 1); 0 when every
   tap of every pixel lies inside the input, and on the other paths (which copy no rows). */
static int64_t dw_row_bytes(const sbtf_conv_params *p, const sbtf_dims *in, const sbtf_dims *f,
                            const sbtf_dims *out) {
#if !defined(SBTF_RT_MVE)
  (void)p, (void)in, (void)f, (void)out;
  return 0;
#endif
  const int64_t last_y = (int64_t)(out->h - 1) * p->stride_h - p->pad_h +
                         (int64_t)(f->h - 1) * p->dilation_h;
  const int64_t last_x = (int64_t)(out->w - 1) * p->stride_w - p->pad_w +
                         (int64_t)(f->w - 1) * p->dilation_w;
  if (p->pad_h == 0 && p->pad_w == 0 && last_y < in->h && last_x < in->w) return 0;
  return (last_x + p->pad_w + 1) * in->c;
}

/* The folded bias (C_out int32), then KH padded rows; -1 when that does not fit int32. */
static int64_t dw_scratch_bytes(const sbtf_conv_params *p, const sbtf_dims *in,
                                const sbtf_dims *f, const sbtf_dims *out) {
  const int64_t bytes = 4 * (int64_t)out->c + f->h * dw_row_bytes(p, in, f, out);
  return bytes > INT32_MAX ? -1 : bytes;
}

int32_t sbtf_rt_depthwise_conv2d_s8_get_buffer_size(const sbtf_conv_params *params,
                                                    const sbtf_dims *input_dims,
                                                    const sbtf_dims *filter_dims,
                                                    const sbtf_dims *output_dims) {
  if (params == NULL || input_dims == NULL || filter_dims == NULL || output_dims == NULL)
    return SBTF_ERROR_NULL_ARGUMENT;
  if (!sbtf_rt_dims_ok(input_dims) || !sbtf_rt_dims_ok(filter_dims) ||
      !sbtf_rt_dims_ok(output_dims))
    return SBTF_ERROR_BAD_SHAPE;
  if (params->stride_h < 1 || params->stride_w < 1 || params->dilation_h < 1 ||
      params->dilation_w < 1 || params->pad_h < 0 || params->pad_w < 0)
    return SBTF_ERROR_BAD_PARAM;
  const int64_t bytes = dw_scratch_bytes(params, input_dims, filter_dims, output_dims);
  return bytes < 0 ? SBTF_ERROR_BAD_SHAPE : (int32_t)bytes;
}

/* What the drivers below share. */
typedef struct {
  const sbtf_conv_params *p;
  const sbtf_dims *in, *out;
  const int8_t *input, *filter;
  const int32_t *bias, *folded;
  int32_t kh, kw, dm;
  dw_output o;
} dw_layer;

#if defined(SBTF_RT_MVE)
/* Channels [c, c + 4) of `pixels` (1 to 4) pixels `step` bytes apart: out_p = requantized
   init + Σ_taps filter * x_p. pixels, right_only (every shift <= 0) and, on the fast path, the
   rows and columns of taps (3 x 3) are constants at each call. */
ALWAYS_INLINE void dw_block4(const dw_taps *t, int32_t rows, int32_t cols, int32_t c,
                             const int32_t *init, const dw_output *o, int8_t *out,
                             int32_t out_step, int32_t step, int pixels, int right_only) {
  const int32x4_t a = vldrwq_s32(init + c);
  int32x4_t a0 = a, a1 = a, a2 = a, a3 = a;
  for (int32_t r = 0; r < rows; ++r) {
    const int8_t *in = t->input + r * t->in_row + c, *f = t->filter + r * t->f_row + c;
    for (int32_t q = 0; q < cols; ++q, in += t->in_col, f += t->f_col) {
      const int32x4_t w = vldrbq_s32(f);
      a0 = vaddq_s32(a0, vmulq_s32(vldrbq_s32(in), w));
      if (pixels > 1) a1 = vaddq_s32(a1, vmulq_s32(vldrbq_s32(in + step), w));
      if (pixels > 2) a2 = vaddq_s32(a2, vmulq_s32(vldrbq_s32(in + 2 * step), w));
      if (pixels > 3) a3 = vaddq_s32(a3, vmulq_s32(vldrbq_s32(in + 3 * step), w));
    }
  }
  const int32x4_t m = vldrwq_s32(o->mult + c), s = vldrwq_s32(o->shift + c);
  const int32x4_t lo = vdupq_n_s32(o->lo), hi = vdupq_n_s32(o->hi);
#define DW_STORE(p, acc)                                                                \
  do {                                                                                  \
    const int32x4_t q_ = right_only ? sbtf_mbqm_right_x4(acc, m, s) : sbtf_mbqm_x4(acc, m, s); \
    vstrbq_s32(out + (p) * out_step + c,                                                \
               vminq_s32(vmaxq_s32(vaddq_n_s32(q_, o->offset), lo), hi));               \
  } while (0)
  DW_STORE(0, a0);
  if (pixels > 1) DW_STORE(1, a1);
  if (pixels > 2) DW_STORE(2, a2);
  if (pixels > 3) DW_STORE(3, a3);
#undef DW_STORE
}

/* `pixels` neighbouring output pixels, every channel. */
ALWAYS_INLINE void dw_pixels(const dw_layer *l, dw_taps *t, int8_t *out, int pixels,
                             int right_only, int32_t kh, int32_t kw) {
  const int32_t out_c = l->out->c, step = l->p->stride_w * l->in->c;
  const int32_t blocks = l->dm == 1 ? out_c / 4 * 4 : 0; /* channels done four at a time */
  int32_t c = 0;
  for (; c < blocks; c += 4)
    dw_block4(t, kh, kw, c, l->folded, &l->o, out, out_c, step, pixels, right_only);
  for (int p = 0; p < pixels; ++p, t->input += step, out += out_c)
    if (c < out_c) dw_pixel_scalar(t, c, out_c, l->dm, 0, l->folded, &l->o, out);
}

/* Whole vectors, then one predicated tail (GCC 12 sets up a predicate again per predicated
   load). */
static void dw_copy(int8_t *dst, const int8_t *src, int32_t n) {
  int32_t i = 0;
  for (; i + 16 <= n; i += 16) vstrbq_s8(dst + i, vldrbq_s8(src + i));
  if (i < n) {
    const mve_pred16_t p = vctp8q((uint32_t)(n - i));
    vstrbq_p_s8(dst + i, vldrbq_z_s8(src + i, p), p);
  }
}

static void dw_fill(int8_t *dst, int8_t v, int32_t n) {
  const int8x16_t x = vdupq_n_s8(v);
  int32_t i = 0;
  for (; i + 16 <= n; i += 16) vstrbq_s8(dst + i, x);
  if (i < n) vstrbq_p_s8(dst + i, x, vctp8q((uint32_t)(n - i)));
}

/* Input row y of batch b as padded row `dst`: column j holds input column j - pad_w, and
   `pad` where that lies outside the input, or y does. */
static void dw_padded_row(int8_t *dst, const dw_layer *l, int32_t b, int32_t y, int32_t bytes,
                          int8_t pad) {
  const sbtf_dims *in = l->in;
  if (y < 0 || y >= in->h) {
    dw_fill(dst, pad, bytes);
    return;
  }
  const int32_t lead = l->p->pad_w * in->c;
  int32_t n = bytes - lead;
  if (n > in->w * in->c) n = in->w * in->c;
  dw_fill(dst, pad, lead);
  dw_copy(dst + lead, l->input + (b * in->h + y) * in->w * in->c, n);
  dw_fill(dst + lead + n, pad, bytes - lead - n);
}

/* Every output pixel, four at a time along each row; the KH input rows an output row reads are
   copied padded first when the layer reads outside its input (row_bytes > 0). */
ALWAYS_INLINE void dw_run(const dw_layer *l, int8_t *rows, int32_t row_bytes, int8_t *out,
                          int right_only, int32_t kh, int32_t kw) {
  const sbtf_conv_params *p = l->p;
  const sbtf_dims *in = l->in;
  const int32_t in_c = in->c, out_w = l->out->w, out_c = l->out->c;
  for (int32_t b = 0; b < l->out->n; ++b) {
    for (int32_t oy = 0; oy < l->out->h; ++oy) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      dw_taps t = {NULL, l->filter, l->kh, l->kw, 0, p->dilation_w * in_c, l->kw * out_c, out_c};
      if (row_bytes > 0) {
        for (int32_t r = 0; r < l->kh; ++r)
          dw_padded_row(rows + r * row_bytes, l, b, y0 + r * p->dilation_h, row_bytes,
                        (int8_t)-p->input_offset);
        t.input = rows;
        t.in_row = row_bytes;
      } else {
        t.input = l->input + (b * in->h + y0) * in->w * in_c;
        t.in_row = p->dilation_h * in->w * in_c;
      }
      int32_t ox = 0;
      for (; ox + 4 <= out_w; ox += 4, out += 4 * out_c)
        dw_pixels(l, &t, out, 4, right_only, kh, kw);
      const int32_t rest = out_w - ox;
      if (rest == 3) dw_pixels(l, &t, out, 3, right_only, kh, kw);
      else if (rest == 2) dw_pixels(l, &t, out, 2, right_only, kh, kw);
      else if (rest == 1) dw_pixels(l, &t, out, 1, right_only, kh, kw);
      out += rest * out_c;
    }
  }
}
#else
/* sbtf_mbqm's shift-only form when every shift is a right shift (the usual case). */
ALWAYS_INLINE int8_t dw_requantize_right(const dw_output *o, int32_t c, int32_t acc) {
  return (int8_t)sbtf_clamp(sbtf_mbqm_right(acc, o->mult[c], -o->shift[c] - 1) + o->offset,
                               o->lo, o->hi);
}

/* Channels [c, c + 4) of one pixel: out = requantized init (NULL: 0) + Σ_taps filter *
   (x + offset); with_offset (interior pixels: 0, folded into init), right_only (every shift
   < 0) and, for interior 3 x 3 pixels, rows and cols are constants at each call. */
ALWAYS_INLINE void dw_block4(const dw_taps *t, int32_t rows, int32_t cols, int32_t c,
                             int32_t offset, const int32_t *init, const dw_output *o,
                             int8_t *out, int with_offset, int right_only) {
  int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  if (init != NULL) a0 = init[c], a1 = init[c + 1], a2 = init[c + 2], a3 = init[c + 3];
#if defined(SBTF_RT_DSP)
  /* Channels c, c+2 in the halves of the SXTB16 words, c+1, c+3 in the rotated ones; the
     offset added as halfwords (x + offset fits 16 bits), then one SMLAxy per channel. */
  const int32_t off2 = (int32_t)(((uint32_t)offset & 0xFFFFu) | ((uint32_t)offset << 16));
  for (int32_t r = 0; r < rows; ++r) {
    const int8_t *in = t->input + r * t->in_row + c, *f = t->filter + r * t->f_row + c;
    for (int32_t q = 0; q < cols; ++q, in += t->in_col, f += t->f_col) {
      const int32_t x = read_word(in), w = read_word(f);
      int32_t xe = __sxtb16(x), xo = sxtb16_odd(x);
      if (with_offset) xe = __sadd16(xe, off2), xo = __sadd16(xo, off2);
      const int32_t we = __sxtb16(w), wo = sxtb16_odd(w);
      a0 = __smlabb(xe, we, a0);
      a2 = __smlatt(xe, we, a2);
      a1 = __smlabb(xo, wo, a1);
      a3 = __smlatt(xo, wo, a3);
    }
  }
#else
  if (!with_offset) offset = 0;
  for (int32_t r = 0; r < rows; ++r) {
    const int8_t *in = t->input + r * t->in_row + c, *f = t->filter + r * t->f_row + c;
    for (int32_t q = 0; q < cols; ++q, in += t->in_col, f += t->f_col) {
      a0 += f[0] * (in[0] + offset);
      a1 += f[1] * (in[1] + offset);
      a2 += f[2] * (in[2] + offset);
      a3 += f[3] * (in[3] + offset);
    }
  }
#endif
  if (right_only) {
    out[c] = dw_requantize_right(o, c, a0);
    out[c + 1] = dw_requantize_right(o, c + 1, a1);
    out[c + 2] = dw_requantize_right(o, c + 2, a2);
    out[c + 3] = dw_requantize_right(o, c + 3, a3);
    return;
  }
  out[c] = dw_requantize(o, c, a0);
  out[c + 1] = dw_requantize(o, c + 1, a1);
  out[c + 2] = dw_requantize(o, c + 2, a2);
  out[c + 3] = dw_requantize(o, c + 3, a3);
}

/* First in-bounds tap and the count of them along one axis: o0 + k * d in [0, size). */
static inline void dw_range(int32_t o0, int32_t d, int32_t kernel, int32_t size, int32_t *first,
                            int32_t *count) {
  int32_t k0 = o0 < 0 ? (-o0 + d - 1) / d : 0;
  int32_t k1 = size - o0 <= 0 ? 0 : (size - o0 + d - 1) / d;
  if (k1 > kernel) k1 = kernel;
  if (k0 > k1) k0 = k1;
  *first = k0;
  *count = k1 - k0;
}

/* Every output pixel, one at a time: interior pixels start from the folded bias, border pixels
   from the bias and add the offset to their taps inside the input. */
static void dw_run(const dw_layer *l, int8_t *out) {
  const sbtf_conv_params *p = l->p;
  const int32_t in_h = l->in->h, in_w = l->in->w, in_c = l->in->c;
  const int32_t kh = l->kh, kw = l->kw, out_c = l->out->c, off = p->input_offset;
  const int32_t dh = p->dilation_h, dw = p->dilation_w;
  const dw_output o = l->o; /* locals: int8 stores may alias the layer's pointers */
  const int32_t *folded = l->folded, *bias = l->bias;
  const int8_t *input = l->input, *filter = l->filter;
  int right_only = 1;
  for (int32_t c = 0; c < out_c; ++c) right_only &= o.shift[c] < 0;
  const int32_t blocks = l->dm == 1 ? out_c / 4 * 4 : 0; /* channels done four at a time */
  for (int32_t b = 0; b < l->out->n; ++b) {
    for (int32_t oy = 0; oy < l->out->h; ++oy) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      int32_t ky0, rows;
      dw_range(y0, dh, kh, in_h, &ky0, &rows);
      for (int32_t ox = 0; ox < l->out->w; ++ox, out += out_c) {
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        int32_t kx0, cols;
        dw_range(x0, dw, kw, in_w, &kx0, &cols);
        const dw_taps t = {
            input + ((b * in_h + y0 + ky0 * dh) * in_w + x0 + kx0 * dw) * in_c,
            filter + (ky0 * kw + kx0) * out_c, rows, cols, dh * in_w * in_c, dw * in_c,
            kw * out_c, out_c};
        const int interior = rows == kh && cols == kw;
        int32_t c = 0;
        if (rows > 0 && cols > 0) {
          if (interior && right_only && kh == 3 && kw == 3) { /* the usual layer, unrolled */
            for (; c < blocks; c += 4) dw_block4(&t, 3, 3, c, off, folded, &o, out, 0, 1);
          } else if (interior && right_only) {
            for (; c < blocks; c += 4) dw_block4(&t, kh, kw, c, off, folded, &o, out, 0, 1);
          } else if (interior) {
            for (; c < blocks; c += 4) dw_block4(&t, kh, kw, c, off, folded, &o, out, 0, 0);
          } else if (right_only) {
            for (; c < blocks; c += 4) dw_block4(&t, rows, cols, c, off, bias, &o, out, 1, 1);
          } else {
            for (; c < blocks; c += 4) dw_block4(&t, rows, cols, c, off, bias, &o, out, 1, 0);
          }
        }
        dw_pixel_scalar(&t, c, out_c, l->dm, off, bias, &o, out);
      }
    }
  }
}
#endif

sbtf_status sbtf_rt_depthwise_conv2d_s8(const sbtf_context *ctx, const sbtf_conv_params *params,
                                        int32_t depth_multiplier, const sbtf_quant_params *quant,
                                        const sbtf_dims *input_dims, const int8_t *input,
                                        const sbtf_dims *filter_dims, const int8_t *filter,
                                        const int32_t *bias, const sbtf_dims *output_dims,
                                        int8_t *output) {
  if (ctx == NULL || params == NULL || quant == NULL || quant->multiplier == NULL ||
      quant->shift == NULL || input == NULL || filter == NULL || output == NULL ||
      input_dims == NULL || filter_dims == NULL || output_dims == NULL)
    return SBTF_ERROR_NULL_ARGUMENT;
  if (!sbtf_rt_dims_ok(input_dims) || !sbtf_rt_dims_ok(filter_dims) ||
      !sbtf_rt_dims_ok(output_dims) || depth_multiplier < 1 || filter_dims->n != 1 ||
      output_dims->c != input_dims->c * depth_multiplier || filter_dims->c != output_dims->c ||
      output_dims->n != input_dims->n)
    return SBTF_ERROR_BAD_SHAPE;
  if (!conv_params_ok(params, quant, output_dims->c)) return SBTF_ERROR_BAD_PARAM;
  const int64_t need = dw_scratch_bytes(params, input_dims, filter_dims, output_dims);
  if (need < 0) return SBTF_ERROR_BAD_SHAPE;
  if (ctx->size < need || ctx->buf == NULL) return SBTF_ERROR_BUFFER_SIZE;
  const int32_t kh = filter_dims->h, kw = filter_dims->w, out_c = output_dims->c;
  /* bias + input_offset * Σ_taps filter (unsigned: wraps as the reference's int32 sum would). */
  int32_t *folded = (int32_t *)ctx->buf;
  for (int32_t c = 0; c < out_c; ++c) {
    uint32_t s = bias != NULL ? (uint32_t)bias[c] : 0u;
    for (int32_t tap = 0; tap < kh * kw; ++tap)
      s += (uint32_t)(params->input_offset * filter[tap * out_c + c]);
    folded[c] = (int32_t)s;
  }
  const dw_layer l = {params, input_dims, output_dims, input, filter, bias, folded, kh, kw,
                      depth_multiplier,
                      {quant->multiplier, quant->shift, params->output_offset,
                       params->activation_min, params->activation_max}};
#if defined(SBTF_RT_MVE)
  const int32_t row_bytes = (int32_t)dw_row_bytes(params, input_dims, filter_dims, output_dims);
  int8_t *rows = (int8_t *)(folded + out_c);
  int right_only = 1; /* every shift <= 0: sbtf_mbqm_right_x4 */
  for (int32_t c = 0; c < out_c; ++c) right_only &= quant->shift[c] <= 0;
  /* The usual layer, 3 x 3 taps unrolled; anything else loops over its taps. */
  if (right_only && kh == 3 && kw == 3) dw_run(&l, rows, row_bytes, output, 1, 3, 3);
  else dw_run(&l, rows, row_bytes, output, 0, kh, kw);
#else
  dw_run(&l, output);
#endif
  return SBTF_OK;
}
