/*
 * sbtf_rt_ops.c - builtin int8 operators of the ahead-of-time runtime (see sbtf_rt.h).
 *
 * Each function follows the arithmetic of the TFLite kernel named in its comment (with
 * gemmlowp's SaturatingRoundingDoublingHighMul and RoundingDivideByPOT), so the outputs equal
 * what TFLite's interpreter computes with OpResolverType.BUILTIN_REF, bit for bit.
 */
#include <stddef.h>
#include <string.h>

#include "sbtf_rt_internal.h"

#if defined(SBTF_RT_DSP)
#include <arm_acle.h>
#endif

/* ---- ADD: reference_integer_ops::AddElementwise ----
 * Each input's rescaling depends on its int8 value alone, so for large tensors it is tabulated
 * once per call (256 entries per input) instead of computed per element; Helium computes every
 * stage as vectors instead (and needs no scratch). */

#if !defined(SBTF_RT_MVE)
static int32_t add_rescale(int32_t x, int32_t offset, int32_t left_shift, int32_t m, int32_t s) {
  /* MultiplyByQuantizedMultiplierSmallerThanOneExp: shift <= 0, so no left shift. */
  return sbtf_rounding_divide_by_pot(sbtf_srdhm((offset + x) * (1 << left_shift), m), -s);
}

/* The output stage: rescale the sum of the two rescaled inputs. */
static inline int8_t add_output(const sbtf_rt_add_params *p, int32_t sum) {
  /* p->output_multiplier >= 0: the high multiply never saturates. */
  const int32_t raw = sbtf_rounding_divide_by_pot(
                          sbtf_srdhm_unsaturated(sum, p->output_multiplier), -p->output_shift) +
                      p->output_offset;
  return (int8_t)sbtf_clamp(raw, p->activation_min, p->activation_max);
}

static void add_run(const sbtf_rt_add_params *params, const int8_t *a, const int8_t *b,
                    int8_t *out, int32_t n) {
  const sbtf_rt_add_params p = *params; /* locals: int8 stores may alias the struct */
  for (int32_t i = 0; i < n; ++i) {
    out[i] = add_output(&p, add_rescale(a[i], p.input1_offset, p.left_shift, p.input1_multiplier,
                                        p.input1_shift) +
                                add_rescale(b[i], p.input2_offset, p.left_shift,
                                            p.input2_multiplier, p.input2_shift));
  }
}

static void add_table_run(const sbtf_rt_add_params *params, const int32_t *t1, const int32_t *t2,
                          const int8_t *a, const int8_t *b, int8_t *out, int32_t n) {
  const sbtf_rt_add_params p = *params;
#if defined(SBTF_RT_DSP)
  if (p.output_shift < 0 && p.activation_min == -128 && p.activation_max == 127) {
    /* The usual case: a right shift and no activation clamp (one SSAT). */
    const int32_t m = p.output_multiplier, n1 = -p.output_shift - 1, off = p.output_offset;
    for (int32_t i = 0; i < n; ++i)
      out[i] = (int8_t)__ssat(sbtf_mbqm_right(t1[a[i]] + t2[b[i]], m, n1) + off, 8);
    return;
  }
#endif
  for (int32_t i = 0; i < n; ++i) out[i] = add_output(&p, t1[a[i]] + t2[b[i]]);
}
#else
/* gemmlowp's RoundingDivideByPOT by -right, right in [-31, 0] the same for every lane: VRSHL
   rounds half up where gemmlowp rounds half away from zero, so negative values round from v - 1
   when right < 0 (neg = all ones then, else 0; saturating: INT32_MIN rounds the same). */
static inline int32x4_t add_divide_by_pot(int32x4_t v, int32x4_t neg, int32_t right) {
  return vrshlq_n_s32(vqaddq_s32(v, vandq_s32(vshrq_n_s32(v, 31), neg)), right);
}

/* Helium: four elements per step, every stage as a vector with its scalar operands in core
   registers; full (no activation clamp, a constant at each call): two saturating narrows. */
ALWAYS_INLINE int32x4_t add_x4(const sbtf_rt_add_params *p, int32x4_t x1, int32x4_t x2,
                               int32x4_t base1, int32x4_t base2, int32x4_t neg1, int32x4_t neg2,
                               int32x4_t neg_out, int full) {
  const int32_t scale = 1 << p->left_shift; /* (x + offset) << left_shift as one VMLA */
  x1 = add_divide_by_pot(vqrdmulhq_n_s32(vmlaq_n_s32(base1, x1, scale), p->input1_multiplier),
                         neg1, p->input1_shift);
  x2 = add_divide_by_pot(vqrdmulhq_n_s32(vmlaq_n_s32(base2, x2, scale), p->input2_multiplier),
                         neg2, p->input2_shift);
  int32x4_t y = vqrdmulhq_n_s32(vaddq_s32(x1, x2), p->output_multiplier);
  y = vaddq_n_s32(add_divide_by_pot(y, neg_out, p->output_shift), p->output_offset);
  if (full) return sbtf_rt_saturate_s8_x4(y);
  return vminq_s32(vmaxq_s32(y, vdupq_n_s32(p->activation_min)), vdupq_n_s32(p->activation_max));
}

ALWAYS_INLINE void add_run_x4(const sbtf_rt_add_params *params, const int8_t *a,
                              const int8_t *b, int8_t *out, int32_t n, int full) {
  const sbtf_rt_add_params p = *params; /* locals: int8 stores may alias the struct */
  const int32_t scale = 1 << p.left_shift;
  const int32x4_t base1 = vdupq_n_s32(p.input1_offset * scale);
  const int32x4_t base2 = vdupq_n_s32(p.input2_offset * scale);
  const int32x4_t neg1 = vdupq_n_s32(p.input1_shift < 0 ? -1 : 0);
  const int32x4_t neg2 = vdupq_n_s32(p.input2_shift < 0 ? -1 : 0);
  const int32x4_t neg_out = vdupq_n_s32(p.output_shift < 0 ? -1 : 0);
  int32_t i = 0;
  for (; i + 4 <= n; i += 4) {
    vstrbq_s32(out + i, add_x4(&p, vldrbq_s32(a + i), vldrbq_s32(b + i), base1, base2, neg1,
                               neg2, neg_out, full));
  }
  if (i < n) {
    const mve_pred16_t pr = vctp32q((uint32_t)(n - i));
    vstrbq_p_s32(out + i, add_x4(&p, vldrbq_z_s32(a + i, pr), vldrbq_z_s32(b + i, pr), base1,
                                 base2, neg1, neg2, neg_out, full), pr);
  }
}
#endif

sbtf_status sbtf_rt_add_s8(const sbtf_context *ctx, const sbtf_rt_add_params *params,
                           int32_t size, const int8_t *input1, const int8_t *input2,
                           int32_t b2_size, int8_t *output) {
  if (ctx == NULL || params == NULL || input1 == NULL || input2 == NULL || output == NULL)
    return SBTF_ERROR_NULL_ARGUMENT;
  if (size < 1 || b2_size < 0 || (b2_size > 0 && size % b2_size != 0)) return SBTF_ERROR_BAD_SHAPE;
  const sbtf_rt_add_params p = *params;
  if (p.left_shift < 0 || p.left_shift > 20 || p.input1_shift > 0 || p.input2_shift > 0 ||
      p.output_shift > 0 || p.input1_shift < -31 || p.input2_shift < -31 ||
      p.output_shift < -31 || p.input1_multiplier < 0 || p.input2_multiplier < 0 ||
      p.output_multiplier < 0 || p.input1_offset < -127 || p.input1_offset > 128 ||
      p.input2_offset < -127 || p.input2_offset > 128 ||
      !sbtf_clamp_ok(p.activation_min, p.activation_max))
    return SBTF_ERROR_BAD_PARAM;
  const int32_t need = SBTF_RT_ADD_SCRATCH_BYTES(size);
  if (ctx->size < need || (need > 0 && ctx->buf == NULL)) return SBTF_ERROR_BUFFER_SIZE;
  const int32_t period = b2_size > 0 ? b2_size : size;
#if defined(SBTF_RT_MVE)
  const int full = p.activation_min == -128 && p.activation_max == 127;
  for (int32_t i = 0; i < size; i += period) {
    if (full) add_run_x4(&p, input1 + i, input2, output + i, period, 1);
    else add_run_x4(&p, input1 + i, input2, output + i, period, 0);
  }
#else
  if (need == 0) {
    for (int32_t i = 0; i < size; i += period) add_run(&p, input1 + i, input2, output + i, period);
    return SBTF_OK;
  }
  int32_t *t1 = (int32_t *)ctx->buf + 128; /* indexed by the int8 value */
  int32_t *t2 = t1 + 256;
  for (int32_t v = -128; v < 128; ++v) {
    t1[v] = add_rescale(v, p.input1_offset, p.left_shift, p.input1_multiplier, p.input1_shift);
    t2[v] = add_rescale(v, p.input2_offset, p.left_shift, p.input2_multiplier, p.input2_shift);
  }
  for (int32_t i = 0; i < size; i += period) {
    add_table_run(&p, t1, t2, input1 + i, input2, output + i, period);
  }
#endif
  return SBTF_OK;
}

/* ---- AVERAGE_POOL_2D / MAX_POOL_2D: reference_integer_ops::AveragePool / MaxPool ---- */

static sbtf_status pool_check(const sbtf_rt_pool_params *p, const sbtf_dims *in_d,
                              const int8_t *in, const sbtf_dims *out_d, const int8_t *out) {
  if (p == NULL || in_d == NULL || in == NULL || out_d == NULL || out == NULL)
    return SBTF_ERROR_NULL_ARGUMENT;
  if (!sbtf_rt_dims_ok(in_d) || !sbtf_rt_dims_ok(out_d) || in_d->n != out_d->n || in_d->c != out_d->c)
    return SBTF_ERROR_BAD_SHAPE;
  if (p->stride_h < 1 || p->stride_w < 1 || p->filter_h < 1 || p->filter_w < 1 || p->pad_h < 0 ||
      p->pad_w < 0 || !sbtf_clamp_ok(p->activation_min, p->activation_max))
    return SBTF_ERROR_BAD_PARAM;
  return SBTF_OK;
}

/* One output pixel's window, POOL_CHUNK channels at a time: the window's rows are read with the
   channels innermost (contiguous). Sums of at most POOL_NARROW_MAX int8 values fit int16, so the
   DSP extension adds four channels per word into halfword pairs (SXTAB16) and Helium eight per
   vector; maxima take four bytes per SSUB8 + SEL, or sixteen per VMAX. */
#define POOL_CHUNK 16
#define POOL_NARROW_MAX 256

#if defined(SBTF_RT_DSP)
/* acc + bytes 1 and 3 of x, sign-extended, as halfwords (one SXTAB16 with ROR #8). */
static inline int32_t sxtab16_odd(int32_t acc, int32_t x) {
#if defined(__GNUC__)
  int32_t r; /* GCC 12 does not fold the rotate into SXTAB16 by itself */
  __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(acc), "r"(x));
  return r;
#else
  return __sxtab16(acc, (int32_t)(((uint32_t)x >> 8) | ((uint32_t)x << 24)));
#endif
}
#endif

typedef struct {
  const int8_t *window; /* the first in-bounds tap, channel c0 */
  int32_t rows, cols, row_step, ch;
} pool_window;

/* acc[j] = Σ (or max of) channel j of the window, j < n <= POOL_CHUNK. */
static void pool_reduce(const pool_window *w, int32_t n, int is_max, int32_t acc[POOL_CHUNK]) {
#if defined(SBTF_RT_MVE)
  if (is_max) {
    const mve_pred16_t pn = vctp8q((uint32_t)n);
    int8x16_t m = vdupq_n_s8(-128);
    for (int32_t y = 0; y < w->rows; ++y) {
      const int8_t *row = w->window + y * w->row_step;
      for (int32_t x = 0; x < w->cols; ++x, row += w->ch) m = vmaxq_s8(m, vldrbq_z_s8(row, pn));
    }
    int8_t v[POOL_CHUNK];
    vstrbq_s8(v, m);
    for (int32_t j = 0; j < n; ++j) acc[j] = v[j];
    return;
  }
  if (w->rows * w->cols <= POOL_NARROW_MAX) {
    const mve_pred16_t plo = vctp16q((uint32_t)n), phi = vctp16q((uint32_t)(n > 8 ? n - 8 : 0));
    int16x8_t lo = vdupq_n_s16(0), hi = vdupq_n_s16(0);
    for (int32_t y = 0; y < w->rows; ++y) {
      const int8_t *row = w->window + y * w->row_step;
      for (int32_t x = 0; x < w->cols; ++x, row += w->ch) {
        lo = vaddq_s16(lo, vldrbq_z_s16(row, plo));
        hi = vaddq_s16(hi, vldrbq_z_s16(row + 8, phi));
      }
    }
    int16_t v[POOL_CHUNK];
    vstrhq_s16(v, lo);
    vstrhq_s16(v + 8, hi);
    for (int32_t j = 0; j < n; ++j) acc[j] = v[j];
    return;
  }
#elif defined(SBTF_RT_DSP)
  if (n == POOL_CHUNK && (is_max || w->rows * w->cols <= POOL_NARROW_MAX)) {
    /* Word k holds channels 4k..4k+3: sums in halfword pairs (even channels, odd channels),
       maxima as bytes. */
    int32_t e0 = 0, e1 = 0, e2 = 0, e3 = 0, o0 = 0, o1 = 0, o2 = 0, o3 = 0;
    if (is_max) e0 = e1 = e2 = e3 = (int32_t)0x80808080u;
    for (int32_t y = 0; y < w->rows; ++y) {
      const int8_t *row = w->window + y * w->row_step;
      for (int32_t x = 0; x < w->cols; ++x, row += w->ch) {
        const int32_t x0 = read_word(row), x1 = read_word(row + 4);
        const int32_t x2 = read_word(row + 8), x3 = read_word(row + 12);
        if (is_max) { /* SSUB8 sets GE per byte where x >= max; SEL takes those bytes */
          (void)__ssub8(x0, e0), e0 = __sel(x0, e0);
          (void)__ssub8(x1, e1), e1 = __sel(x1, e1);
          (void)__ssub8(x2, e2), e2 = __sel(x2, e2);
          (void)__ssub8(x3, e3), e3 = __sel(x3, e3);
        } else {
          e0 = __sxtab16(e0, x0), o0 = sxtab16_odd(o0, x0);
          e1 = __sxtab16(e1, x1), o1 = sxtab16_odd(o1, x1);
          e2 = __sxtab16(e2, x2), o2 = sxtab16_odd(o2, x2);
          e3 = __sxtab16(e3, x3), o3 = sxtab16_odd(o3, x3);
        }
      }
    }
    const int32_t ev[4] = {e0, e1, e2, e3}, od[4] = {o0, o1, o2, o3};
    for (int32_t k = 0; k < 4; ++k) {
      if (is_max) {
        for (int32_t j = 0; j < 4; ++j) acc[4 * k + j] = (int8_t)(ev[k] >> (8 * j));
      } else {
        acc[4 * k] = (int16_t)ev[k];
        acc[4 * k + 1] = (int16_t)od[k];
        acc[4 * k + 2] = ev[k] >> 16;
        acc[4 * k + 3] = od[k] >> 16;
      }
    }
    return;
  }
#endif
  for (int32_t j = 0; j < n; ++j) acc[j] = is_max ? -128 : 0;
  for (int32_t y = 0; y < w->rows; ++y) {
    const int8_t *row = w->window + y * w->row_step;
    for (int32_t x = 0; x < w->cols; ++x, row += w->ch) {
      if (is_max) {
        for (int32_t j = 0; j < n; ++j) acc[j] = row[j] > acc[j] ? row[j] : acc[j];
      } else {
        for (int32_t j = 0; j < n; ++j) acc[j] += row[j];
      }
    }
  }
}

static sbtf_status pool(const sbtf_rt_pool_params *p, const sbtf_dims *in_d, const int8_t *in,
                        const sbtf_dims *out_d, int8_t *out, int is_max) {
  const sbtf_status st = pool_check(p, in_d, in, out_d, out);
  if (st != SBTF_OK) return st;
  const int32_t in_w = in_d->w, ch = in_d->c, lo = p->activation_min, hi = p->activation_max;
  for (int32_t b = 0; b < out_d->n; ++b) {
    for (int32_t oy = 0; oy < out_d->h; ++oy) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      const int32_t fy0 = sbtf_rt_pool_first_tap(y0);
      const int32_t fy1 = sbtf_rt_pool_end_tap(y0, p->filter_h, in_d->h);
      for (int32_t ox = 0; ox < out_d->w; ++ox) {
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        const int32_t fx0 = sbtf_rt_pool_first_tap(x0);
        const int32_t fx1 = sbtf_rt_pool_end_tap(x0, p->filter_w, in_d->w);
        if (fy1 <= fy0 || fx1 <= fx0) return SBTF_ERROR_BAD_PARAM; /* TFLite fails the same way */
        const int32_t count = (fy1 - fy0) * (fx1 - fx0);
        pool_window w = {in + ((b * in_d->h + y0 + fy0) * in_w + x0 + fx0) * ch, fy1 - fy0,
                         fx1 - fx0, in_w * ch, ch};
        int8_t *o = out + ((b * out_d->h + oy) * out_d->w + ox) * ch;
        for (int32_t c0 = 0; c0 < ch; c0 += POOL_CHUNK, w.window += POOL_CHUNK) {
          const int32_t n = ch - c0 < POOL_CHUNK ? ch - c0 : POOL_CHUNK;
          int32_t acc[POOL_CHUNK];
          pool_reduce(&w, n, is_max, acc);
          for (int32_t j = 0; j < n; ++j) {
            int32_t v = acc[j];
            if (!is_max) v = sbtf_rt_pool_average(v, count);
            o[c0 + j] = (int8_t)sbtf_clamp(v, lo, hi);
          }
        }
      }
    }
  }
  return SBTF_OK;
}

sbtf_status sbtf_rt_avg_pool_s8(const sbtf_rt_pool_params *params, const sbtf_dims *input_dims,
                                const int8_t *input, const sbtf_dims *output_dims,
                                int8_t *output) {
  return pool(params, input_dims, input, output_dims, output, 0);
}

sbtf_status sbtf_rt_max_pool_s8(const sbtf_rt_pool_params *params, const sbtf_dims *input_dims,
                                const int8_t *input, const sbtf_dims *output_dims,
                                int8_t *output) {
  return pool(params, input_dims, input, output_dims, output, 1);
}

/* ---- MEAN: reference_ops::QuantizedMeanOrSum (what reduce.cc runs for int8 MEAN) ---- */

static inline int8_t mean_output(const sbtf_rt_mean_params *p, int32_t sum, int32_t count) {
  const int32_t acc = sbtf_mbqm(sum - count * p->input_zero_point, p->multiplier, p->shift);
  return (int8_t)sbtf_clamp(acc + p->output_zero_point, -128, 127);
}

sbtf_status sbtf_rt_mean_s8(const sbtf_rt_mean_params *params, const sbtf_dims *input_dims,
                            const int8_t *input, int8_t *output) {
  if (params == NULL || input_dims == NULL || input == NULL || output == NULL)
    return SBTF_ERROR_NULL_ARGUMENT;
  if (!sbtf_rt_dims_ok(input_dims)) return SBTF_ERROR_BAD_SHAPE;
  if (params->axis_mask == 0 || params->axis_mask > 0xF || params->shift > 30 ||
      params->shift < -31)
    return SBTF_ERROR_BAD_PARAM;
  SBTF_RT_MEAN_DIMS(params, input_dims, in_dims, out_dims, red_dims, count)
  if (params->axis_mask == 0x6) { /* over H and W (global average pooling): channels innermost */
    const sbtf_dims *d = input_dims;
    for (int32_t b = 0; b < d->n; ++b) {
      pool_window w = {input + b * d->h * d->w * d->c, d->h, d->w, d->w * d->c, d->c};
      for (int32_t c0 = 0; c0 < d->c; c0 += POOL_CHUNK, w.window += POOL_CHUNK) {
        const int32_t n = d->c - c0 < POOL_CHUNK ? d->c - c0 : POOL_CHUNK;
        int32_t acc[POOL_CHUNK];
        pool_reduce(&w, n, 0, acc);
        for (int32_t j = 0; j < n; ++j) output[b * d->c + c0 + j] = mean_output(params, acc[j], count);
      }
    }
    return SBTF_OK;
  }
  SBTF_RT_MEAN_ANY_AXES(params, input, output, in_dims, out_dims, red_dims, count, mean_output);
  return SBTF_OK;
}

/* ---- SOFTMAX: optimized_ops::Softmax(int8) with PopulateSoftmaxLookupTable's float table ---- */

sbtf_status sbtf_rt_softmax_s8(const sbtf_rt_softmax_params *params, int32_t rows, int32_t depth,
                               const int8_t *input, int8_t *output) {
  if (params == NULL || params->table == NULL || input == NULL || output == NULL)
    return SBTF_ERROR_NULL_ARGUMENT;
  if (rows < 1 || depth < 1) return SBTF_ERROR_BAD_SHAPE;
  if (!(params->output_scale > 0.0f) || params->output_zero_point < -128 ||
      params->output_zero_point > 127)
    return SBTF_ERROR_BAD_PARAM;
  for (int32_t r = 0; r < rows; ++r) {
    const int8_t *in = input + r * depth;
    int8_t *out = output + r * depth;
    int32_t max_val = -128;
    for (int32_t c = 0; c < depth; ++c) max_val = in[c] > max_val ? in[c] : max_val;
    /* table_offset[v] = exp(input_scale * beta * (v - max)), v <= max */
    const float *table_offset = params->table + (255 - max_val);
    float sum_exp = 0.0f; /* summed in the same order as TFLite: float addition is not associative */
    for (int32_t c = 0; c < depth; ++c) sum_exp += table_offset[in[c]];
    const float inv_sum_exp = 1.0f / (sum_exp * params->output_scale);
    for (int32_t c = 0; c < depth; ++c) {
      const float prob_rescaled = table_offset[in[c]] * inv_sum_exp;
      const int32_t q = (int32_t)sbtf_rt_round_half_away_f32(prob_rescaled) + params->output_zero_point;
      out[c] = (int8_t)sbtf_clamp(q, -128, 127);
    }
  }
  return SBTF_OK;
}

/* ---- PAD: reference_ops::Pad with the output zero point as the constant ---- */

sbtf_status sbtf_rt_pad_s8(const sbtf_dims *input_dims, const int32_t before[4],
                           const int32_t after[4], int8_t pad_value, const int8_t *input,
                           int8_t *output) {
  if (input_dims == NULL || before == NULL || after == NULL || input == NULL || output == NULL)
    return SBTF_ERROR_NULL_ARGUMENT;
  if (!sbtf_rt_dims_ok(input_dims)) return SBTF_ERROR_BAD_SHAPE;
  int32_t in[4] = {input_dims->n, input_dims->h, input_dims->w, input_dims->c};
  int32_t pre[4], post[4], out[4];
  for (int a = 0; a < 4; ++a) {
    if (before[a] < 0 || after[a] < 0) return SBTF_ERROR_BAD_PARAM;
    pre[a] = before[a], post[a] = after[a];
  }
  if (pre[3] == 0 && post[3] == 0) { /* the usual H/W padding: W and C are one contiguous axis */
    pre[2] *= in[3], post[2] *= in[3];
    const int32_t merged[4] = {1, in[0], in[1], in[2] * in[3]};
    for (int a = 3; a > 0; --a) pre[a] = pre[a - 1], post[a] = post[a - 1];
    pre[0] = post[0] = 0;
    memcpy(in, merged, sizeof in);
  }
  for (int a = 0; a < 4; ++a) out[a] = pre[a] + in[a] + post[a];
  /* Row by row along the last axis: padding, the input row (contiguous), padding. */
  const int32_t row = out[3];
  for (int32_t i0 = 0; i0 < out[0]; ++i0)
    for (int32_t i1 = 0; i1 < out[1]; ++i1)
      for (int32_t i2 = 0; i2 < out[2]; ++i2, output += row) {
        const int32_t j0 = i0 - pre[0], j1 = i1 - pre[1], j2 = i2 - pre[2];
        if (j0 < 0 || j0 >= in[0] || j1 < 0 || j1 >= in[1] || j2 < 0 || j2 >= in[2]) {
          memset(output, pad_value, (size_t)row);
          continue;
        }
        memset(output, pad_value, (size_t)pre[3]);
        memcpy(output + pre[3], input + ((j0 * in[1] + j1) * in[2] + j2) * in[3], (size_t)in[3]);
        memset(output + pre[3] + in[3], pad_value, (size_t)post[3]);
      }
  return SBTF_OK;
}

