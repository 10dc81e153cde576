/*
 * sbtf_rt_depthwise.c - DEPTHWISE_CONV_2D of the runtime (sbtf_rt.h).
 */
#include "sbtf_rt_internal.h"

/* ---- DEPTHWISE_CONV_2D: reference_integer_ops::DepthwiseConvPerChannel ----
 * acc = bias + Σ filter * (x + input_offset) over the taps inside the input. For an interior
 * pixel (every tap inside) input_offset * Σ filter is the same for every pixel, so it is folded
 * into the bias once per call (the scratch) and the taps sum filter * x alone; border pixels add
 * the offset tap by tap. With depth multiplier 1, blocks of four channels accumulate in registers
 * (SMLABB/SMLATT on the DSP extension; VMUL + VADD on Helium, where up to four neighbouring
 * interior pixels share each filter load) and are requantized from there. Integer sums, so
 * bit-exact. */

typedef struct {
  const int8_t *input;  /* the pixel's first in-bounds tap, channel 0 */
  const int8_t *filter; /* that tap's filter row */
  int32_t rows, cols;   /* in-bounds taps */
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

#if defined(SBTF_RT_MVE)
/* Channels [c, c + 4) of `pixels` (1 to 4, a constant at each call) pixels `step` bytes apart:
   out_p = requantized init + Σ_taps filter * (x_p + offset), init NULL meaning 0. */
ALWAYS_INLINE void dw_block4(const dw_taps *t, int32_t c, int32_t offset, const int32_t *init,
                             const dw_output *o, int8_t *out, int32_t out_step, int32_t step,
                             int pixels) {
  const int32x4_t a = init != NULL ? vldrwq_s32(init + c) : vdupq_n_s32(0);
  int32x4_t a0 = a, a1 = a, a2 = a, a3 = a;
  for (int32_t r = 0; r < t->rows; ++r) {
    const int8_t *in = t->input + r * t->in_row + c, *f = t->filter + r * t->f_row + c;
    for (int32_t q = 0; q < t->cols; ++q, in += t->in_col, f += t->f_col) {
      const int32x4_t w = vldrbq_s32(f);
      if (pixels == 1) {
        a0 = vaddq_s32(a0, vmulq_s32(vaddq_n_s32(vldrbq_s32(in), offset), w));
      } else {
        a0 = vaddq_s32(a0, vmulq_s32(vldrbq_s32(in), w));
        a1 = vaddq_s32(a1, vmulq_s32(vldrbq_s32(in + step), w));
        if (pixels > 2) a2 = vaddq_s32(a2, vmulq_s32(vldrbq_s32(in + 2 * step), w));
        if (pixels > 3) a3 = vaddq_s32(a3, vmulq_s32(vldrbq_s32(in + 3 * step), w));
      }
    }
  }
  const int32x4_t m = vldrwq_s32(o->mult + c), s = vldrwq_s32(o->shift + c);
  const int32x4_t lo = vdupq_n_s32(o->lo), hi = vdupq_n_s32(o->hi);
  int32x4_t acc[4] = {a0, a1, a2, a3};
  for (int p = 0; p < pixels; ++p) {
    const int32x4_t v = vaddq_n_s32(sbtf_mbqm_x4(acc[p], m, s), o->offset);
    vstrbq_s32(out + p * out_step + c, vminq_s32(vmaxq_s32(v, lo), hi));
  }
}
#else
/* sbtf_mbqm's shift-only form when every shift is a right shift (the usual case). */
ALWAYS_INLINE int8_t dw_requantize_right(const dw_output *o, int32_t c, int32_t acc) {
  return (int8_t)sbtf_clamp(sbtf_mbqm_right(acc, o->mult[c], -o->shift[c] - 1) + o->offset,
                               o->lo, o->hi);
}

/* Channels [c, c + 4) of one pixel: out = requantized init (NULL: 0) + Σ_taps filter *
   (x + offset); with_offset (interior pixels: 0, folded into init) and right_only (every shift
   < 0) are constants at each call. */
ALWAYS_INLINE void dw_block4(const dw_taps *t, int32_t c, int32_t offset, const int32_t *init,
                             const dw_output *o, int8_t *out, int with_offset, int right_only) {
  int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  if (init != NULL) a0 = init[c], a1 = init[c + 1], a2 = init[c + 2], a3 = init[c + 3];
#if defined(SBTF_RT_DSP)
  /* Channels c, c+2 in the halves of the SXTB16 words, c+1, c+3 in the rotated ones; the
     offset added as halfwords (x + offset fits 16 bits), then one SMLAxy per channel. */
  const int32_t off2 = (int32_t)(((uint32_t)offset & 0xFFFFu) | ((uint32_t)offset << 16));
  for (int32_t r = 0; r < t->rows; ++r) {
    const int8_t *in = t->input + r * t->in_row + c, *f = t->filter + r * t->f_row + c;
    for (int32_t q = 0; q < t->cols; ++q, in += t->in_col, f += t->f_col) {
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
  for (int32_t r = 0; r < t->rows; ++r) {
    const int8_t *in = t->input + r * t->in_row + c, *f = t->filter + r * t->f_row + c;
    for (int32_t q = 0; q < t->cols; ++q, in += t->in_col, f += t->f_col) {
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
#endif

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

/* Every channel of one pixel, one at a time (channels past the blocks of four, and depth
   multipliers > 1): out[c] = requantized bias + Σ_taps filter * (x + offset). */
static void dw_pixel_scalar(const dw_taps *t, int32_t c0, int32_t c_out, int32_t dm,
                            int32_t offset, const int32_t *bias, const dw_output *o,
                            int8_t *out) {
  for (int32_t c = c0; c < c_out; ++c) {
    const int32_t ic = c / dm;
    int32_t a = bias != NULL ? bias[c] : 0;
    for (int32_t r = 0; r < t->rows; ++r) {
      const int8_t *in = t->input + r * t->in_row + ic, *f = t->filter + r * t->f_row + c;
      for (int32_t q = 0; q < t->cols; ++q, in += t->in_col, f += t->f_col) {
        a += (int32_t)*f * ((int32_t)*in + offset);
      }
    }
    out[c] = dw_requantize(o, c, a);
  }
}

int32_t sbtf_rt_depthwise_conv2d_s8_get_buffer_size(const sbtf_dims *output_dims) {
  if (!sbtf_rt_dims_ok(output_dims)) return SBTF_ERROR_BAD_SHAPE;
  return SBTF_RT_DEPTHWISE_SCRATCH_BYTES(output_dims->c);
}

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
  const sbtf_conv_params *p = params;
  if (!conv_params_ok(p, quant, output_dims->c)) return SBTF_ERROR_BAD_PARAM;
  const int32_t need = SBTF_RT_DEPTHWISE_SCRATCH_BYTES(output_dims->c);
  if (ctx->size < need || ctx->buf == NULL) return SBTF_ERROR_BUFFER_SIZE;
  const int32_t in_h = input_dims->h, in_w = input_dims->w, in_c = input_dims->c;
  const int32_t kh = filter_dims->h, kw = filter_dims->w, out_c = output_dims->c;
  const int32_t out_w = output_dims->w, dm = depth_multiplier, off = p->input_offset;
  const int32_t sw = p->stride_w, dh = p->dilation_h, dw = p->dilation_w;
  const dw_output o = {quant->multiplier, quant->shift, p->output_offset, p->activation_min,
                       p->activation_max};
  /* Interior pixels start from bias + input_offset * Σ_taps filter (unsigned: wraps as the
     reference's int32 sum would); border pixels from the bias. */
  int32_t *folded = (int32_t *)ctx->buf;
  for (int32_t c = 0; c < out_c; ++c) {
    uint32_t s = bias != NULL ? (uint32_t)bias[c] : 0u;
    for (int32_t tap = 0; tap < kh * kw; ++tap) s += (uint32_t)(off * filter[tap * out_c + c]);
    folded[c] = (int32_t)s;
  }
  const int32_t *border_init = bias; /* NULL: start from 0 */
#if !defined(SBTF_RT_MVE)
  int right_only = 1;
  for (int32_t c = 0; c < out_c; ++c) right_only &= quant->shift[c] < 0;
#endif
  const int32_t blocks = dm == 1 ? out_c / 4 * 4 : 0; /* channels done four at a time */
  int8_t *out = output;
  for (int32_t b = 0; b < output_dims->n; ++b) {
    for (int32_t oy = 0; oy < output_dims->h; ++oy) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      int32_t ky0, rows;
      dw_range(y0, dh, kh, in_h, &ky0, &rows);
      for (int32_t ox = 0; ox < out_w;) {
        const int32_t x0 = ox * sw - p->pad_w;
        int32_t kx0, cols;
        dw_range(x0, dw, kw, in_w, &kx0, &cols);
        const dw_taps t = {
            input + ((b * in_h + y0 + ky0 * dh) * in_w + x0 + kx0 * dw) * in_c,
            filter + (ky0 * kw + kx0) * out_c, rows, cols, dh * in_w * in_c, dw * in_c,
            kw * out_c, out_c};
        const int interior = rows == kh && cols == kw;
        int32_t c = 0;
        if (rows > 0 && cols > 0) {
#if defined(SBTF_RT_MVE)
          /* Up to four neighbouring interior pixels at once (the taps of x0 + q * sw inside). */
          int32_t n = 1;
          while (interior && n < 4 && ox + n < out_w && x0 + n * sw + (kw - 1) * dw < in_w) ++n;
          if (n > 1) {
            const int32_t step = sw * in_c;
            for (; c < blocks; c += 4) {
              if (n == 4) dw_block4(&t, c, 0, folded, &o, out, out_c, step, 4);
              else if (n == 3) dw_block4(&t, c, 0, folded, &o, out, out_c, step, 3);
              else dw_block4(&t, c, 0, folded, &o, out, out_c, step, 2);
            }
            for (int32_t q = 0; q < n; ++q) { /* their channels past the blocks */
              dw_taps tq = t;
              tq.input += q * step;
              dw_pixel_scalar(&tq, c, out_c, dm, off, bias, &o, out + q * out_c);
            }
            ox += n;
            out += n * out_c;
            continue;
          }
          const int32_t *init = interior ? folded : border_init;
          const int32_t offset = interior ? 0 : off;
          for (; c < blocks; c += 4) dw_block4(&t, c, offset, init, &o, out, 0, 0, 1);
#else
          if (interior && right_only) {
            for (; c < blocks; c += 4) dw_block4(&t, c, off, folded, &o, out, 0, 1);
          } else if (interior) {
            for (; c < blocks; c += 4) dw_block4(&t, c, off, folded, &o, out, 0, 0);
          } else if (right_only) {
            for (; c < blocks; c += 4) dw_block4(&t, c, off, border_init, &o, out, 1, 1);
          } else {
            for (; c < blocks; c += 4) dw_block4(&t, c, off, border_init, &o, out, 1, 0);
          }
#endif
        }
        dw_pixel_scalar(&t, c, out_c, dm, off, bias, &o, out);
        ++ox;
        out += out_c;
      }
    }
  }
  return SBTF_OK;
}
