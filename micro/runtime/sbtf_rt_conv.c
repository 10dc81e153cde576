/*
 * sbtf_rt_conv.c - CONV_2D and FULLY_CONNECTED of the runtime (sbtf_rt.h).
 *
 * CONV_2D and FULLY_CONNECTED are one matrix product: each output pixel (or batch row) is a row
 * of K = KH * KW * C_in int8 inputs, gathered into scratch (im2col) unless it already lies
 * contiguously in the input (1x1 convolutions without padding, FC). Σ filter * (x + input_offset)
 * = Σ filter * x + input_offset * Σ filter, so the generator folds the second term into the bias
 * and padding taps read the input zero point (which adds 0). CONV_2D runs two rows by two
 * filters at a time in portable C and with SMLAD on the DSP extension; on Helium one row by four
 * filters with VMLADAVA.S8, requantized as one vector, its loops ordered by where the rows lie
 * (conv_mve). FULLY_CONNECTED runs one row by four filters whose weights the generator
 * interleaved (SBTF_RT_FC_BLOCK). Sums are the same integers as TFLite's reference loops, so the
 * outputs are bit-exact.
 */
#include <string.h>

#include "sbtf_rt_internal.h"

#if defined(SBTF_RT_DSP)
#include <arm_acle.h>
#endif

/* ---- matrix product with requantization ---- */

typedef struct {
  const int8_t *filter; /* [c_out][k] */
  const int32_t *bias;  /* [c_out], input offset folded in */
  const sbtf_quant_params *quant;
  int32_t k, c_out;
  int32_t output_offset, act_min, act_max;
} matmul;

#if defined(SBTF_RT_MVE)
/* Four sums of 16-byte vectors: acc[j] = Σ_i row[i] * f_j[i]. Whole vectors first (plain loads:
   GCC 12 sets up the predicate again for every predicated load), then one predicated tail whose
   lanes past K load as zero. k16 (a constant at each call): the row is zero from K up to a
   multiple of 16 and the filters are followed by that many bytes of the next ones, so the tail
   is one more whole vector (their bytes, read in bounds, times zero). */
ALWAYS_INLINE void dot_1x4(const int8_t *row, const int8_t *const f[4], int32_t k, int k16,
                           int32_t acc[4]) {
  const int8_t *f0 = f[0], *f1 = f[1], *f2 = f[2], *f3 = f[3];
  int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  int32_t i = 0;
  for (; k16 ? i < k : i + 16 <= k; i += 16) {
    const int8x16_t x = vldrbq_s8(row + i);
    a0 = vmladavaq_s8(a0, x, vldrbq_s8(f0 + i));
    a1 = vmladavaq_s8(a1, x, vldrbq_s8(f1 + i));
    a2 = vmladavaq_s8(a2, x, vldrbq_s8(f2 + i));
    a3 = vmladavaq_s8(a3, x, vldrbq_s8(f3 + i));
  }
  if (!k16 && i < k) {
    const mve_pred16_t p = vctp8q((uint32_t)(k - i));
    const int8x16_t x = vldrbq_z_s8(row + i, p);
    a0 = vmladavaq_s8(a0, x, vldrbq_z_s8(f0 + i, p));
    a1 = vmladavaq_s8(a1, x, vldrbq_z_s8(f1 + i, p));
    a2 = vmladavaq_s8(a2, x, vldrbq_z_s8(f2 + i, p));
    a3 = vmladavaq_s8(a3, x, vldrbq_z_s8(f3 + i, p));
  }
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
}

/* Filters c .. c + 3, the first one repeated past c_out (its sums are not stored). */
ALWAYS_INLINE void filters4(const matmul *m, int32_t c, const int8_t *f[4]) {
  const int32_t k = m->k, c_out = m->c_out;
  f[0] = m->filter + c * k;
  f[1] = c + 1 < c_out ? f[0] + k : f[0];
  f[2] = c + 2 < c_out ? f[0] + 2 * k : f[0];
  f[3] = c + 3 < c_out ? f[0] + 3 * k : f[0];
}

/* CONV_2D's bias and requantization of output channels [c, c + 4), loaded once and kept in
   registers while several pixels use them. */
typedef struct {
  int32x4_t bias, mult, left, right; /* left = max(shift, 0), right = min(shift, 0) */
  int32_t offset, lo, hi;
  int whole;                         /* c + 4 <= c_out: store without a predicate */
  mve_pred16_t p;                    /* the channels < c_out */
} quant4;

ALWAYS_INLINE quant4 quant4_load(const matmul *m, int32_t c) {
  const mve_pred16_t p = vctp32q((uint32_t)(m->c_out - c));
  const int32x4_t shift = vldrwq_z_s32(m->quant->shift + c, p), zero = vdupq_n_s32(0);
  const quant4 q = {vldrwq_z_s32(m->bias + c, p), vldrwq_z_s32(m->quant->multiplier + c, p),
                    vmaxq_s32(shift, zero), vminq_s32(shift, zero), m->output_offset,
                    m->act_min, m->act_max, c + 4 <= m->c_out, p};
  return q;
}

/* out[0 .. 3] = the requantized sums (sbtf_mbqm: VSHL wraps like the C, then the right shift
   with gemmlowp's rounding; multipliers are >= 0, see sbtf_rt_quant_ok). left (some shift may be
   > 0) and full (no activation clamp: two saturating narrows instead) are constants at each
   call. */
ALWAYS_INLINE void quant4_store(const quant4 *q, const int32_t acc[4], int8_t *out, int left,
                                int full) {
  int32x4_t v = vdupq_n_s32(acc[0]);
  v = vsetq_lane_s32(acc[1], v, 1);
  v = vsetq_lane_s32(acc[2], v, 2);
  v = vsetq_lane_s32(acc[3], v, 3);
  v = vaddq_s32(v, q->bias);
  if (left) v = vshlq_s32(v, q->left);
  v = vaddq_n_s32(sbtf_mbqm_right_x4(v, q->mult, q->right), q->offset);
  if (full) {
    v = sbtf_rt_saturate_s8_x4(v);
  } else {
    v = vminq_s32(vmaxq_s32(v, vdupq_n_s32(q->lo)), vdupq_n_s32(q->hi));
  }
  if (q->whole) {
    vstrbq_s32(out, v);
  } else {
    vstrbq_p_s32(out, v, q->p);
  }
}

#else
/* ---- portable C and the DSP extension: two rows by two filters ---- */

/* acc[2 * r + f] = Σ_i row_r[i] * filter_f[i] */
ALWAYS_INLINE void dot_2x2(const int8_t *r0, const int8_t *r1, const int8_t *f0,
                           const int8_t *f1, int32_t k, int32_t acc[4]) {
  int32_t a00 = 0, a01 = 0, a10 = 0, a11 = 0;
  int32_t i = 0;
#if defined(SBTF_RT_DSP)
  for (; i + 4 <= k; i += 4) {
    /* SXTB16 splits 4 bytes into two pairs of halfwords (bytes 0,2 and, rotated, 1,3); rows
       and filters split alike, so the two SMLADs together sum all four products. */
    const int32_t x0 = read_word(r0 + i), x1 = read_word(r1 + i);
    const int32_t w0 = read_word(f0 + i), w1 = read_word(f1 + i);
    const int16x2_t x0e = __sxtb16(x0), x0o = sxtb16_odd(x0);
    const int16x2_t x1e = __sxtb16(x1), x1o = sxtb16_odd(x1);
    const int16x2_t w0e = __sxtb16(w0), w0o = sxtb16_odd(w0);
    const int16x2_t w1e = __sxtb16(w1), w1o = sxtb16_odd(w1);
    a00 = __smlad(x0e, w0e, __smlad(x0o, w0o, a00));
    a01 = __smlad(x0e, w1e, __smlad(x0o, w1o, a01));
    a10 = __smlad(x1e, w0e, __smlad(x1o, w0o, a10));
    a11 = __smlad(x1e, w1e, __smlad(x1o, w1o, a11));
  }
#endif
  for (; i < k; ++i) {
    const int32_t x0 = r0[i], x1 = r1[i], w0 = f0[i], w1 = f1[i];
    a00 += x0 * w0;
    a01 += x0 * w1;
    a10 += x1 * w0;
    a11 += x1 * w1;
  }
  acc[0] = a00;
  acc[1] = a01;
  acc[2] = a10;
  acc[3] = a11;
}

/* full: [lo, hi] is the whole int8 range (no activation clamp), one SSAT on the DSP extension. */
ALWAYS_INLINE int8_t requantize(int32_t acc, int32_t mult, int32_t shift, int32_t offset,
                                int32_t lo, int32_t hi, int full) {
  const int32_t v = sbtf_mbqm(acc, mult, shift);
#if defined(SBTF_RT_DSP)
  if (full) return (int8_t)__ssat(v + offset, 8);
#else
  (void)full;
#endif
  return (int8_t)sbtf_clamp(v + offset, lo, hi);
}

/* acc[j] = Σ_i row[i] * f_j[i] for one row and four filters (an odd last pixel). */
ALWAYS_INLINE void dot_1x4(const int8_t *row, const int8_t *f0, const int8_t *f1,
                           const int8_t *f2, const int8_t *f3, int32_t k, int32_t acc[4]) {
  int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  int32_t i = 0;
#if defined(SBTF_RT_DSP)
  for (; i + 4 <= k; i += 4) {
    const int32_t x = read_word(row + i);
    const int16x2_t xe = __sxtb16(x), xo = sxtb16_odd(x);
    const int32_t w0 = read_word(f0 + i), w1 = read_word(f1 + i);
    const int32_t w2 = read_word(f2 + i), w3 = read_word(f3 + i);
    a0 = __smlad(xe, __sxtb16(w0), __smlad(xo, sxtb16_odd(w0), a0));
    a1 = __smlad(xe, __sxtb16(w1), __smlad(xo, sxtb16_odd(w1), a1));
    a2 = __smlad(xe, __sxtb16(w2), __smlad(xo, sxtb16_odd(w2), a2));
    a3 = __smlad(xe, __sxtb16(w3), __smlad(xo, sxtb16_odd(w3), a3));
  }
#endif
  for (; i < k; ++i) {
    const int32_t x = row[i];
    a0 += x * f0[i];
    a1 += x * f1[i];
    a2 += x * f2[i];
    a3 += x * f3[i];
  }
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
}

/* out0 = requantize(filter x row0), and out1 likewise for row1 unless out1 is NULL (an odd
   last pixel). full is a constant at each call, so each caller gets its own loop. Parameters are
   copied to locals: int8 stores may alias anything, so fields would be reloaded after each. */
ALWAYS_INLINE void matmul_rows(const matmul *m, const int8_t *row0, const int8_t *row1,
                               int8_t *out0, int8_t *out1, int full) {
  const int32_t *mult = m->quant->multiplier, *shift = m->quant->shift, *bias = m->bias;
  const int8_t *filter = m->filter;
  const int32_t k = m->k, c_out = m->c_out, off = m->output_offset, lo = m->act_min,
                hi = m->act_max;
  if (out1 == NULL) {
    for (int32_t c = 0; c < c_out; c += 4) {
      const int8_t *f0 = filter + c * k;
      const int8_t *f1 = c + 1 < c_out ? f0 + k : f0, *f2 = c + 2 < c_out ? f0 + 2 * k : f0;
      const int8_t *f3 = c + 3 < c_out ? f0 + 3 * k : f0;
      int32_t acc[4];
      dot_1x4(row0, f0, f1, f2, f3, k, acc);
      for (int32_t j = 0; j < 4 && c + j < c_out; ++j) {
        out0[c + j] = requantize(acc[j] + bias[c + j], mult[c + j], shift[c + j], off, lo, hi,
                                 full);
      }
    }
    return;
  }
  for (int32_t c = 0; c < c_out; c += 2) {
    const int8_t *f0 = filter + c * k;
    const int has_c1 = c + 1 < c_out;
    int32_t acc[4];
    dot_2x2(row0, row1, f0, has_c1 ? f0 + k : f0, k, acc);
    const int32_t b0 = bias[c], m0 = mult[c], s0 = shift[c];
    out0[c] = requantize(acc[0] + b0, m0, s0, off, lo, hi, full);
    out1[c] = requantize(acc[2] + b0, m0, s0, off, lo, hi, full);
    if (has_c1) {
      const int32_t b1 = bias[c + 1], m1 = mult[c + 1], s1 = shift[c + 1];
      out0[c + 1] = requantize(acc[1] + b1, m1, s1, off, lo, hi, full);
      out1[c + 1] = requantize(acc[3] + b1, m1, s1, off, lo, hi, full);
    }
  }
}

static void matmul_rows_conv(const matmul *m, const int8_t *row0, const int8_t *row1,
                             int8_t *out0, int8_t *out1) {
#if defined(SBTF_RT_DSP)
  if (m->act_min == -128 && m->act_max == 127) {
    matmul_rows(m, row0, row1, out0, out1, 1);
    return;
  }
#endif
  matmul_rows(m, row0, row1, out0, out1, 0);
}
#endif

/* ---- CONV_2D ---- */

typedef struct {
  const sbtf_conv_params *p;
  const sbtf_dims *in, *filter, *out;
  const int8_t *input;
  int8_t pad_value; /* the input zero point: padding adds nothing */
  int direct;       /* 1x1, no padding: a pixel's inputs are contiguous */
} conv_geometry;

static inline void copy_bytes(int8_t *dst, const int8_t *src, int32_t n) {
#if defined(SBTF_RT_MVE)
  for (; n >= 16; n -= 16, dst += 16, src += 16) vstrbq_s8(dst, vldrbq_s8(src)); /* 16 a step */
  if (n > 0) { /* then one predicated step: nothing read or written past n */
    const mve_pred16_t p = vctp8q((uint32_t)n);
    vstrbq_p_s8(dst, vldrbq_z_s8(src, p), p);
  }
#else
  for (; n >= 4; n -= 4, dst += 4, src += 4) memcpy(dst, src, 4); /* word moves, any alignment */
  for (; n > 0; --n) *dst++ = *src++;
#endif
}

static inline void fill_bytes(int8_t *dst, int8_t v, int32_t n) {
  for (; n > 0; --n) *dst++ = v;
}

/* The K inputs of output pixel `pixel` (flat over N, H_out, W_out), in filter order. */
static const int8_t *conv_row(const conv_geometry *g, int32_t pixel, int8_t *buf) {
  const int32_t ox = pixel % g->out->w, t = pixel / g->out->w;
  const int32_t oy = t % g->out->h, b = t / g->out->h;
  const int32_t in_h = g->in->h, in_w = g->in->w, c_in = g->in->c;
  const int32_t y0 = oy * g->p->stride_h - g->p->pad_h, x0 = ox * g->p->stride_w - g->p->pad_w;
  if (g->direct) return g->input + ((b * in_h + y0) * in_w + x0) * c_in;
  const int32_t kh = g->filter->h, kw = g->filter->w, dh = g->p->dilation_h,
                dw = g->p->dilation_w;
  int8_t *dst = buf;
  if (dw == 1 && x0 >= 0 && x0 + kw <= in_w && y0 >= 0 && y0 + (kh - 1) * dh < in_h) {
    /* Interior pixel (most of them): kernel rows copied with no bounds per row. */
    const int32_t n = kw * c_in, step = dh * in_w * c_in;
    const int8_t *src = g->input + ((b * in_h + y0) * in_w + x0) * c_in;
    for (int32_t ky = 0; ky < kh; ++ky, src += step, dst += n) copy_bytes(dst, src, n);
    return buf;
  }
  for (int32_t ky = 0; ky < kh; ++ky) {
    const int32_t iy = y0 + ky * dh;
    if (iy < 0 || iy >= in_h) {
      fill_bytes(dst, g->pad_value, kw * c_in);
      dst += kw * c_in;
      continue;
    }
    const int8_t *row = g->input + (b * in_h + iy) * in_w * c_in;
    if (dw == 1 && x0 >= 0 && x0 + kw <= in_w) {
      copy_bytes(dst, row + x0 * c_in, kw * c_in);
      dst += kw * c_in;
      continue;
    }
    for (int32_t kx = 0; kx < kw; ++kx, dst += c_in) {
      const int32_t ix = x0 + kx * dw;
      if (ix < 0 || ix >= in_w) {
        fill_bytes(dst, g->pad_value, c_in);
      } else {
        copy_bytes(dst, row + ix * c_in, c_in);
      }
    }
  }
  return buf;
}

#if defined(SBTF_RT_MVE)
/* A 1x1 convolution read in place, every shift <= 0: four output channels at a time over every
   pixel, so their filters' addresses, biases and requantization stay in registers; with K <= 16
   the filters themselves too, and a pixel costs one load and four VMLADAVAs. */
ALWAYS_INLINE void conv_direct_mve_loop(const matmul *m, const conv_geometry *g, int8_t *output,
                                        int full) {
  const int32_t k = m->k, c_out = m->c_out, in_w = g->in->w, out_w = g->out->w;
  const int32_t out_h = g->out->h, lines = g->out->n * out_h, pixel_step = g->p->stride_w * k;
  const mve_pred16_t pk = vctp8q((uint32_t)k);
  for (int32_t c = 0; c < c_out; c += 4) {
    const quant4 q = quant4_load(m, c);
    const int8_t *f[4];
    filters4(m, c, f);
    const int8x16_t w0 = vldrbq_z_s8(f[0], pk), w1 = vldrbq_z_s8(f[1], pk);
    const int8x16_t w2 = vldrbq_z_s8(f[2], pk), w3 = vldrbq_z_s8(f[3], pk);
    int8_t *out = output + c;
    for (int32_t y = 0; y < lines; ++y) {
      const int32_t b = y / out_h, oy = y - b * out_h;
      const int8_t *line = g->input + (b * g->in->h + oy * g->p->stride_h) * in_w * k;
      const int8_t *row = line;
      if (k <= 16) {
        for (int32_t ox = 0; ox < out_w; ++ox, row += pixel_step, out += c_out) {
          const int8x16_t x = vldrbq_z_s8(row, pk);
          const int32_t acc[4] = {vmladavq_s8(x, w0), vmladavq_s8(x, w1), vmladavq_s8(x, w2),
                                  vmladavq_s8(x, w3)};
          quant4_store(&q, acc, out, 0, full);
        }
      } else {
        for (int32_t ox = 0; ox < out_w; ++ox, row += pixel_step, out += c_out) {
          int32_t acc[4];
          dot_1x4(row, f, k, 0, acc);
          quant4_store(&q, acc, out, 0, full);
        }
      }
    }
  }
}

/* Any convolution: pixels gathered SBTF_RT_CONV_ROWS at a time (conv_row, into rows zero from K
   up to the next multiple of 16), then four filters at a time against each of those rows, so a
   group's filter addresses, biases and requantization are loaded once per block of rows. */
ALWAYS_INLINE void conv_gathered_mve_loop(const matmul *m, const conv_geometry *g, int8_t *buf,
                                          int8_t *output, int full) {
  const int32_t k = m->k, c_out = m->c_out, padded = (k + 15) / 16 * 16;
  const int32_t pixels = g->out->n * g->out->h * g->out->w;
  for (int r = 0; r < SBTF_RT_CONV_ROWS; ++r) { /* conv_row writes the first K bytes only */
    fill_bytes(buf + r * padded + k, 0, padded - k);
  }
  for (int32_t px = 0; px < pixels; px += SBTF_RT_CONV_ROWS) {
    const int32_t n = pixels - px < SBTF_RT_CONV_ROWS ? pixels - px : SBTF_RT_CONV_ROWS;
    const int8_t *rows[SBTF_RT_CONV_ROWS];
    for (int32_t r = 0; r < n; ++r) rows[r] = conv_row(g, px + r, buf + r * padded);
    int8_t *out = output + px * c_out;
    for (int32_t c = 0; c < c_out; c += 4) {
      const quant4 q = quant4_load(m, c);
      const int8_t *f[4];
      filters4(m, c, f);
      int32_t acc[4];
      if (!g->direct && (c + 3) * k + padded <= c_out * k) { /* the padding's reads in bounds */
        for (int32_t r = 0; r < n; ++r) {
          dot_1x4(rows[r], f, k, 1, acc);
          quant4_store(&q, acc, out + r * c_out + c, 1, full);
        }
      } else {
        for (int32_t r = 0; r < n; ++r) {
          dot_1x4(rows[r], f, k, 0, acc);
          quant4_store(&q, acc, out + r * c_out + c, 1, full);
        }
      }
    }
  }
}

/* CONV_2D on Helium: one loop per (read in place with every shift <= 0, no activation clamp). */
static void conv_mve(const matmul *m, const conv_geometry *g, int8_t *buf, int8_t *output) {
  int left = 0;
  for (int32_t c = 0; c < m->c_out; ++c) left |= m->quant->shift[c] > 0;
  const int full = m->act_min == -128 && m->act_max == 127;
  if (g->direct && !left) {
    if (full) conv_direct_mve_loop(m, g, output, 1);
    else conv_direct_mve_loop(m, g, output, 0);
  } else if (full) {
    conv_gathered_mve_loop(m, g, buf, output, 1);
  } else {
    conv_gathered_mve_loop(m, g, buf, output, 0);
  }
}
#endif

int32_t sbtf_rt_conv2d_s8_get_buffer_size(const sbtf_dims *filter_dims) {
  if (!sbtf_rt_dims_ok(filter_dims)) return SBTF_ERROR_BAD_SHAPE;
  const int64_t k = (int64_t)filter_dims->h * filter_dims->w * filter_dims->c;
  if (k > SBTF_MAX_FILTER_SIZE) return SBTF_ERROR_BAD_SHAPE;
  return SBTF_RT_CONV_SCRATCH_BYTES((int32_t)k);
}

sbtf_status sbtf_rt_conv2d_s8(const sbtf_context *ctx, const sbtf_conv_params *params,
                              const sbtf_quant_params *quant, const sbtf_dims *input_dims,
                              const int8_t *input, const sbtf_dims *filter_dims,
                              const int8_t *filter, const int32_t *folded_bias,
                              const sbtf_dims *output_dims, int8_t *output) {
  if (ctx == NULL || params == NULL || quant == NULL || quant->multiplier == NULL ||
      quant->shift == NULL || input == NULL || filter == NULL || folded_bias == NULL ||
      output == NULL || input_dims == NULL || filter_dims == NULL || output_dims == NULL)
    return SBTF_ERROR_NULL_ARGUMENT;
  const int32_t need = sbtf_rt_conv2d_s8_get_buffer_size(filter_dims);
  if (need < 0 || !sbtf_rt_dims_ok(input_dims) || !sbtf_rt_dims_ok(output_dims) ||
      filter_dims->c != input_dims->c || output_dims->c != filter_dims->n ||
      output_dims->n != input_dims->n)
    return SBTF_ERROR_BAD_SHAPE;
  const sbtf_conv_params *p = params;
  if (!conv_params_ok(p, quant, output_dims->c)) return SBTF_ERROR_BAD_PARAM;
  /* 1x1 without padding: a pixel's inputs are read in place when the last pixel lies inside. */
  const int64_t last_y = (int64_t)(output_dims->h - 1) * p->stride_h;
  const int64_t last_x = (int64_t)(output_dims->w - 1) * p->stride_w;
  if (ctx->size < need || (ctx->buf == NULL && need > 0)) return SBTF_ERROR_BUFFER_SIZE;
  const conv_geometry g = {
      p, input_dims, filter_dims, output_dims, input, (int8_t)(-p->input_offset),
      filter_dims->h == 1 && filter_dims->w == 1 && p->pad_h == 0 && p->pad_w == 0 &&
          last_y < input_dims->h && last_x < input_dims->w,
  };
  const int32_t k = filter_dims->h * filter_dims->w * filter_dims->c;
  const matmul m = {filter, folded_bias, quant, k, output_dims->c, p->output_offset,
                    p->activation_min, p->activation_max};
#if defined(SBTF_RT_MVE)
  conv_mve(&m, &g, (int8_t *)ctx->buf, output);
#else
  int8_t *buf0 = (int8_t *)ctx->buf, *buf1 = buf0 + need / 2;
  const int32_t pixels = output_dims->n * output_dims->h * output_dims->w;
  for (int32_t px = 0; px < pixels; px += 2) {
    const int two = px + 1 < pixels;
    const int8_t *row0 = conv_row(&g, px, buf0);
    const int8_t *row1 = two ? conv_row(&g, px + 1, buf1) : row0;
    int8_t *out0 = output + px * output_dims->c;
    matmul_rows_conv(&m, row0, row1, out0, two ? out0 + output_dims->c : NULL);
  }
#endif
  return SBTF_OK;
}

/* ---- FULLY_CONNECTED ---- */

/* acc[j] = Σ_i row[i] * filter_j[i] for the group of four filters at w (SBTF_RT_FC_BLOCK layout:
   the filters' padding is zero, so only the row's last block needs care). */
#if defined(SBTF_RT_MVE)
ALWAYS_INLINE void fc_dot_1x4(const int8_t *row, const int8_t *w, int32_t k, int32_t acc[4]) {
  int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  int32_t i = 0;
  for (; i + 16 <= k; i += 16, w += 64) {
    const int8x16_t x = vldrbq_s8(row + i);
    a0 = vmladavaq_s8(a0, x, vldrbq_s8(w));
    a1 = vmladavaq_s8(a1, x, vldrbq_s8(w + 16));
    a2 = vmladavaq_s8(a2, x, vldrbq_s8(w + 32));
    a3 = vmladavaq_s8(a3, x, vldrbq_s8(w + 48));
  }
  if (i < k) { /* lanes past K load as zero */
    const int8x16_t x = vldrbq_z_s8(row + i, vctp8q((uint32_t)(k - i)));
    a0 = vmladavaq_s8(a0, x, vldrbq_s8(w));
    a1 = vmladavaq_s8(a1, x, vldrbq_s8(w + 16));
    a2 = vmladavaq_s8(a2, x, vldrbq_s8(w + 32));
    a3 = vmladavaq_s8(a3, x, vldrbq_s8(w + 48));
  }
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
}
#elif defined(SBTF_RT_DSP)
/* Four inputs (x, one word) times four filters' next four weights (w[j], aligned words). */
ALWAYS_INLINE void fc_step(int32_t x, const int32_t *w, int32_t *a0, int32_t *a1, int32_t *a2,
                           int32_t *a3) {
  const int16x2_t xe = __sxtb16(x), xo = sxtb16_odd(x);
  const int32_t w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3];
  *a0 = __smlad(xe, __sxtb16(w0), __smlad(xo, sxtb16_odd(w0), *a0));
  *a1 = __smlad(xe, __sxtb16(w1), __smlad(xo, sxtb16_odd(w1), *a1));
  *a2 = __smlad(xe, __sxtb16(w2), __smlad(xo, sxtb16_odd(w2), *a2));
  *a3 = __smlad(xe, __sxtb16(w3), __smlad(xo, sxtb16_odd(w3), *a3));
}

/* Not inlined: in the caller GCC 12 spills the sums on M7. */
__attribute__((noinline)) static void fc_dot_1x4(const int8_t *row, const int8_t *w8, int32_t k,
                                                 int32_t acc[4]) {
  const int32_t *w = (const int32_t *)(const void *)w8; /* aligned: checked by the caller */
  int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  int32_t i = 0;
  for (; i + 4 <= k; i += 4, w += 4) fc_step(read_word(row + i), w, &a0, &a1, &a2, &a3);
  if (i < k) { /* the last 1-3 inputs, nothing read past the row */
    uint32_t x = (uint8_t)row[i];
    if (i + 1 < k) x |= (uint32_t)(uint8_t)row[i + 1] << 8;
    if (i + 2 < k) x |= (uint32_t)(uint8_t)row[i + 2] << 16;
    fc_step((int32_t)x, w, &a0, &a1, &a2, &a3);
  }
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
}
#else
ALWAYS_INLINE void fc_dot_1x4(const int8_t *row, const int8_t *w, int32_t k, int32_t acc[4]) {
  int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  for (int32_t i = 0; i < k; ++i) {
    const int32_t x = row[i];
    const int8_t *wi = w + i / 4 * 16 + i % 4;
    a0 += x * wi[0];
    a1 += x * wi[4];
    a2 += x * wi[8];
    a3 += x * wi[12];
  }
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
}
#endif

sbtf_status sbtf_rt_fc_interleave(int32_t output_channels, int32_t input_channels,
                                  const int8_t *filter, int8_t *dst) {
  if (filter == NULL || dst == NULL) return SBTF_ERROR_NULL_ARGUMENT;
  if (output_channels < 1 || input_channels < 1 || input_channels > SBTF_MAX_FILTER_SIZE ||
      output_channels > SBTF_MAX_FILTER_SIZE)
    return SBTF_ERROR_BAD_SHAPE;
  const int32_t bl = SBTF_RT_FC_BLOCK, kp = SBTF_RT_FC_PAD(input_channels, bl);
  const int32_t cp = SBTF_RT_FC_PAD(output_channels, 4);
  for (int32_t c = 0; c < cp; ++c) {
    for (int32_t i = 0; i < kp; ++i) {
      const int32_t at = ((c / 4 * kp / bl + i / bl) * 4 + c % 4) * bl + i % bl;
      dst[at] = c < output_channels && i < input_channels ? filter[c * input_channels + i] : 0;
    }
  }
  return SBTF_OK;
}

sbtf_status sbtf_rt_fully_connected_s8(const sbtf_fc_params *params,
                                       const sbtf_quant_params *quant, int32_t batches,
                                       int32_t input_channels, const int8_t *input,
                                       int32_t output_channels, const int8_t *filter,
                                       const int32_t *folded_bias, int8_t *output) {
  if (params == NULL || quant == NULL || quant->multiplier == NULL || quant->shift == NULL ||
      input == NULL || filter == NULL || folded_bias == NULL || output == NULL)
    return SBTF_ERROR_NULL_ARGUMENT;
  if (batches < 1 || input_channels < 1 || output_channels < 1 ||
      input_channels > SBTF_MAX_FILTER_SIZE)
    return SBTF_ERROR_BAD_SHAPE;
  if (!sbtf_offsets_ok(params->input_offset, params->output_offset) ||
      !sbtf_clamp_ok(params->activation_min, params->activation_max) ||
      !sbtf_rt_quant_ok(quant, output_channels) || ((uintptr_t)filter & 3) != 0)
    return SBTF_ERROR_BAD_PARAM;
  const int32_t *mult = quant->multiplier, *shift = quant->shift, *bias = folded_bias;
  const int32_t k = input_channels, c_out = output_channels, off = params->output_offset;
  const int32_t lo = params->activation_min, hi = params->activation_max;
  const int32_t group = 4 * SBTF_RT_FC_PAD(k, SBTF_RT_FC_BLOCK); /* bytes of four filters */
  for (int32_t b = 0; b < batches; ++b) {
    const int8_t *row = input + b * k, *w = filter;
    int8_t *out = output + b * c_out;
    for (int32_t c = 0; c < c_out; c += 4, w += group) {
      int32_t acc[4];
      fc_dot_1x4(row, w, k, acc);
#if defined(SBTF_RT_MVE) /* bias as one vector, clamp and store as one (single rounding by lane) */
      const mve_pred16_t p = vctp32q((uint32_t)(c_out - c));
      vstrwq_s32(acc, vaddq_s32(vldrwq_s32(acc), vldrwq_z_s32(bias + c, p)));
      for (int32_t j = 0; j < 4 && c + j < c_out; ++j) {
        acc[j] = sbtf_mbqm_single(acc[j], mult[c + j], shift[c + j]);
      }
      const int32x4_t v = vaddq_n_s32(vldrwq_s32(acc), off);
      vstrbq_p_s32(out + c, vminq_s32(vmaxq_s32(v, vdupq_n_s32(lo)), vdupq_n_s32(hi)), p);
#else
      for (int32_t j = 0; j < 4 && c + j < c_out; ++j) {
        const int32_t v = sbtf_mbqm_single(acc[j] + bias[c + j], mult[c + j], shift[c + j]);
        out[c + j] = (int8_t)sbtf_clamp(v + off, lo, hi);
      }
#endif
    }
  }
  return SBTF_OK;
}
