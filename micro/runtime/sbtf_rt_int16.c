/*
 * sbtf_rt_int16.c - the 16x8 builtins (sbtf_rt_int16.h): TFLite's reference loops for int16
 * activations and int8 weights, in portable C. Written for this project from the reference
 * kernels' definitions (tensorflow/lite/kernels/internal/reference/integer_ops/).
 */
#include "sbtf_rt_int16.h"

#include "sbtf_rt_internal.h"

/* TFLite's MultiplyByQuantizedMultiplier(int64_t x, ...): the multiplier rounded to 16 bits,
   one rounding. |x| < 2^47 and shift in [-31, 7] (checked by the callers) keep the product
   below 2^62 and the shift in 8..46; the narrowing wraps like TFLite's (GCC defines it). */
static inline int32_t mbqm64(int64_t x, int32_t multiplier, int32_t shift) {
  const int64_t reduced = multiplier < 0x7FFF0000 ? (multiplier + (1 << 15)) >> 16 : 0x7FFF;
  const int32_t total = 15 - shift;
  return (int32_t)((x * reduced + ((int64_t)1 << (total - 1))) >> total);
}

static int quant64_ok(const sbtf_quant_params *q, int32_t n) {
  if (q == NULL || q->multiplier == NULL || q->shift == NULL) return 0;
  for (int32_t c = 0; c < n; ++c) {
    if (q->multiplier[c] < 0 || q->shift[c] < -31 || q->shift[c] > 7) return 0;
  }
  return 1;
}

static int bias64_ok(const int64_t *bias, int32_t n) {
  if (bias == NULL) return 1;
  for (int32_t c = 0; c < n; ++c) {
    if (bias[c] > SBTF_RT_S16_MAX_BIAS || bias[c] < -SBTF_RT_S16_MAX_BIAS) return 0;
  }
  return 1;
}

static int clamp16_ok(int32_t lo, int32_t hi) { return -32768 <= lo && lo <= hi && hi <= 32767; }

/* Window parameters every convolution and pooling shares: positive strides and dilations,
   non-negative padding, and index arithmetic that stays far from int32's range. */
static int window_ok(const sbtf_dims *in, const sbtf_dims *out, int32_t kh, int32_t kw,
                     int32_t sh, int32_t sw, int32_t dh, int32_t dw, int32_t ph, int32_t pw) {
  if (sh < 1 || sw < 1 || dh < 1 || dw < 1 || ph < 0 || pw < 0) return 0;
  const int64_t reach_h = (int64_t)(out->h - 1) * sh + (int64_t)(kh - 1) * dh;
  const int64_t reach_w = (int64_t)(out->w - 1) * sw + (int64_t)(kw - 1) * dw;
  return reach_h < (1 << 30) && reach_w < (1 << 30) && ph < (1 << 30) && pw < (1 << 30) &&
         in->h < (1 << 30) && in->w < (1 << 30);
}

static int conv_args_ok(const sbtf_conv_params *p) {
  return p->input_offset == 0 && p->output_offset == 0 &&
         clamp16_ok(p->activation_min, p->activation_max);
}

static int16_t requantize(int64_t acc, const sbtf_quant_params *q, int32_t c, int32_t lo,
                          int32_t hi) {
  return (int16_t)sbtf_clamp(mbqm64(acc, q->multiplier[c], q->shift[c]), lo, hi);
}

/* Checks both convolutions share: parameters, requantization, bias and window. */
static int conv_ok(const sbtf_conv_params *p, const sbtf_quant_params *quant, const int64_t *bias,
                   const sbtf_dims *in, const sbtf_dims *filter, const sbtf_dims *out) {
  return conv_args_ok(p) && quant64_ok(quant, out->c) && bias64_ok(bias, out->c) &&
         window_ok(in, out, filter->h, filter->w, p->stride_h, p->stride_w, p->dilation_h,
                   p->dilation_w, p->pad_h, p->pad_w);
}

/* CONV_2D (depth_multiplier 0; filter [C_out, KH, KW, C_in]) or DEPTHWISE_CONV_2D (filter
   [1, KH, KW, C_out]): every output value sums its window's in-bounds taps in int64 (padding
   taps add nothing). Inlined into each caller with its constant depth_multiplier == 0 test. */
ALWAYS_INLINE void conv_loop_s16(const sbtf_conv_params *params, int32_t depth_multiplier,
                                 const sbtf_quant_params *quant, const sbtf_dims *input_dims,
                                 const int16_t *input, const sbtf_dims *filter_dims,
                                 const int8_t *filter, const int64_t *bias,
                                 const sbtf_dims *output_dims, int16_t *output) {
  const sbtf_conv_params p = *params;
  const int32_t in_h = input_dims->h, in_w = input_dims->w, c_in = input_dims->c;
  const int32_t kh = filter_dims->h, kw = filter_dims->w, c_out = output_dims->c;
  int16_t *y = output;
  for (int32_t b = 0; b < output_dims->n; ++b) {
    const int16_t *image = input + (int64_t)b * in_h * in_w * c_in;
    for (int32_t oy = 0; oy < output_dims->h; ++oy) {
      const int32_t y0 = oy * p.stride_h - p.pad_h;
      for (int32_t ox = 0; ox < output_dims->w; ++ox) {
        const int32_t x0 = ox * p.stride_w - p.pad_w;
        for (int32_t c = 0; c < c_out; ++c) {
          const int32_t ic = depth_multiplier == 0 ? 0 : c / depth_multiplier;
          int64_t acc = 0;
          for (int32_t fy = 0; fy < kh; ++fy) {
            const int32_t iy = y0 + fy * p.dilation_h;
            if (iy < 0 || iy >= in_h) continue;
            for (int32_t fx = 0; fx < kw; ++fx) {
              const int32_t ix = x0 + fx * p.dilation_w;
              if (ix < 0 || ix >= in_w) continue;
              const int16_t *xs = image + ((int64_t)iy * in_w + ix) * c_in;
              if (depth_multiplier == 0) {
                const int8_t *ws = filter + (((int64_t)c * kh + fy) * kw + fx) * c_in;
                /* int64 += int32 product: one SMLAL on Cortex-M (int32 partial sums were slower) */
                for (int32_t i = 0; i < c_in; ++i) acc += (int32_t)ws[i] * xs[i];
              } else {
                acc += (int32_t)filter[((int64_t)fy * kw + fx) * c_out + c] * xs[ic];
              }
            }
          }
          if (bias != NULL) acc += bias[c];
          *y++ = requantize(acc, quant, c, p.activation_min, p.activation_max);
        }
      }
    }
  }
}

sbtf_status sbtf_rt_conv2d_s16(const sbtf_conv_params *params, const sbtf_quant_params *quant,
                               const sbtf_dims *input_dims, const int16_t *input,
                               const sbtf_dims *filter_dims, const int8_t *filter,
                               const int64_t *bias, const sbtf_dims *output_dims,
                               int16_t *output) {
  if (params == NULL || quant == NULL || input == NULL || filter == NULL || output == NULL)
    return SBTF_ERROR_NULL_ARGUMENT;
  if (!sbtf_rt_dims_ok(input_dims) || !sbtf_rt_dims_ok(filter_dims) ||
      !sbtf_rt_dims_ok(output_dims) || filter_dims->c != input_dims->c ||
      filter_dims->n != output_dims->c || input_dims->n != output_dims->n ||
      (int64_t)filter_dims->h * filter_dims->w * filter_dims->c > SBTF_MAX_FILTER_SIZE)
    return SBTF_ERROR_BAD_SHAPE;
  if (!conv_ok(params, quant, bias, input_dims, filter_dims, output_dims))
    return SBTF_ERROR_BAD_PARAM;
  conv_loop_s16(params, 0, quant, input_dims, input, filter_dims, filter, bias, output_dims,
                output);
  return SBTF_OK;
}

sbtf_status sbtf_rt_depthwise_conv2d_s16(const sbtf_conv_params *params, int32_t depth_multiplier,
                                         const sbtf_quant_params *quant,
                                         const sbtf_dims *input_dims, const int16_t *input,
                                         const sbtf_dims *filter_dims, const int8_t *filter,
                                         const int64_t *bias, const sbtf_dims *output_dims,
                                         int16_t *output) {
  if (params == NULL || quant == NULL || input == NULL || filter == NULL || output == NULL)
    return SBTF_ERROR_NULL_ARGUMENT;
  if (!sbtf_rt_dims_ok(input_dims) || !sbtf_rt_dims_ok(filter_dims) ||
      !sbtf_rt_dims_ok(output_dims) || depth_multiplier < 1 || filter_dims->n != 1 ||
      filter_dims->c != output_dims->c || input_dims->n != output_dims->n ||
      (int64_t)input_dims->c * depth_multiplier != output_dims->c ||
      (int64_t)filter_dims->h * filter_dims->w > SBTF_MAX_FILTER_SIZE)
    return SBTF_ERROR_BAD_SHAPE;
  if (!conv_ok(params, quant, bias, input_dims, filter_dims, output_dims))
    return SBTF_ERROR_BAD_PARAM;
  conv_loop_s16(params, depth_multiplier, quant, input_dims, input, filter_dims, filter, bias,
                output_dims, output);
  return SBTF_OK;
}

sbtf_status sbtf_rt_fully_connected_s16(const sbtf_fc_params *params,
                                        const sbtf_quant_params *quant, int32_t batches,
                                        int32_t input_channels, const int16_t *input,
                                        int32_t output_channels, const int8_t *filter,
                                        const int64_t *bias, int16_t *output) {
  if (params == NULL || quant == NULL || input == NULL || filter == NULL || output == NULL)
    return SBTF_ERROR_NULL_ARGUMENT;
  if (batches < 1 || input_channels < 1 || output_channels < 1 ||
      input_channels > SBTF_MAX_FILTER_SIZE)
    return SBTF_ERROR_BAD_SHAPE;
  const sbtf_fc_params p = *params;
  if (p.input_offset != 0 || p.output_offset != 0 ||
      !clamp16_ok(p.activation_min, p.activation_max) || !quant64_ok(quant, output_channels) ||
      !bias64_ok(bias, output_channels))
    return SBTF_ERROR_BAD_PARAM;
  for (int32_t b = 0; b < batches; ++b) {
    const int16_t *x = input + (int64_t)b * input_channels;
    int16_t *y = output + (int64_t)b * output_channels;
    for (int32_t c = 0; c < output_channels; ++c) {
      const int8_t *w = filter + (int64_t)c * input_channels;
      int64_t acc = 0;
      for (int32_t i = 0; i < input_channels; ++i) acc += (int32_t)w[i] * x[i];
      if (bias != NULL) acc += bias[c];
      /* The generator bounds |acc| below 2^31 (where TF's int32 accumulation is exact);
         saturate rather than wrap if a caller does not. */
      const int32_t acc32 = acc > INT32_MAX ? INT32_MAX : acc < INT32_MIN ? INT32_MIN : (int32_t)acc;
      const int64_t scaled = sbtf_mbqm_single_wide(acc32, quant->multiplier[c], quant->shift[c]);
      y[c] = (int16_t)(scaled < p.activation_min ? p.activation_min
                       : scaled > p.activation_max ? p.activation_max : scaled);
    }
  }
  return SBTF_OK;
}

/* MultiplyByQuantizedMultiplierSmallerThanOneExp (double rounding), shift <= 0. */
static inline int32_t rescale(int32_t x, int32_t multiplier, int32_t shift) {
  return sbtf_rounding_divide_by_pot(sbtf_srdhm(x, multiplier), -shift);
}

/* ADD's and SUB's parameters. Offsets 0 and a left shift <= 15 keep (x << left_shift) within
   int32; the rescalings' shifts are <= 0, so |a|, |b| <= 2^30 and their sum or difference fits. */
static int add_args_ok(const sbtf_rt_add_params *p) {
  return p->input1_offset == 0 && p->input2_offset == 0 && p->output_offset == 0 &&
         p->left_shift >= 0 && p->left_shift <= 15 && p->input1_shift <= 0 &&
         p->input2_shift <= 0 && p->output_shift <= 0 && p->input1_shift >= -31 &&
         p->input2_shift >= -31 && p->output_shift >= -31 && p->input1_multiplier >= 0 &&
         p->input2_multiplier >= 0 && p->output_multiplier >= 0 &&
         clamp16_ok(p->activation_min, p->activation_max);
}

sbtf_status sbtf_rt_add_s16(const sbtf_rt_add_params *params, int32_t size, const int16_t *input1,
                            const int16_t *input2, int32_t b2_size, int16_t *output) {
  if (params == NULL || input1 == NULL || input2 == NULL || output == NULL)
    return SBTF_ERROR_NULL_ARGUMENT;
  if (size < 1 || b2_size < 0 || (b2_size > 0 && size % b2_size != 0)) return SBTF_ERROR_BAD_SHAPE;
  const sbtf_rt_add_params p = *params;
  if (!add_args_ok(&p)) return SBTF_ERROR_BAD_PARAM;
  const int32_t period = b2_size > 0 ? b2_size : size;
  for (int32_t i = 0; i < size; ++i) {
    const int32_t a = rescale(input1[i] * (1 << p.left_shift), p.input1_multiplier, p.input1_shift);
    const int32_t b =
        rescale(input2[i % period] * (1 << p.left_shift), p.input2_multiplier, p.input2_shift);
    /* |a|, |b| <= 2^30: the sum fits int32. */
    output[i] = (int16_t)sbtf_clamp(rescale(a + b, p.output_multiplier, p.output_shift),
                                    p.activation_min, p.activation_max);
  }
  return SBTF_OK;
}

static sbtf_status pool_args(const sbtf_rt_pool_params *p, const sbtf_dims *in,
                             const void *input, const sbtf_dims *out, const void *output) {
  if (p == NULL || input == NULL || output == NULL) return SBTF_ERROR_NULL_ARGUMENT;
  if (!sbtf_rt_dims_ok(in) || !sbtf_rt_dims_ok(out) || in->n != out->n || in->c != out->c ||
      p->filter_h < 1 || p->filter_w < 1)
    return SBTF_ERROR_BAD_SHAPE;
  if (!clamp16_ok(p->activation_min, p->activation_max) ||
      !window_ok(in, out, p->filter_h, p->filter_w, p->stride_h, p->stride_w, 1, 1, p->pad_h,
                 p->pad_w) ||
      (int64_t)p->filter_h * p->filter_w > (1 << 16))
    return SBTF_ERROR_BAD_PARAM;
  return SBTF_OK;
}

/* One pooling loop for both: average (TFLite rounds half away from zero; an empty window is
   an error, as in TFLite) or maximum. */
static sbtf_status pool_s16(const sbtf_rt_pool_params *params, const sbtf_dims *in,
                            const int16_t *input, const sbtf_dims *out, int16_t *output,
                            int average) {
  const sbtf_status st = pool_args(params, in, input, out, output);
  if (st != SBTF_OK) return st;
  const sbtf_rt_pool_params p = *params;
  const int32_t c_n = in->c;
  int16_t *y = output;
  for (int32_t b = 0; b < out->n; ++b) {
    const int16_t *image = input + (int64_t)b * in->h * in->w * c_n;
    for (int32_t oy = 0; oy < out->h; ++oy) {
      const int32_t y0 = oy * p.stride_h - p.pad_h;
      const int32_t fy0 = sbtf_rt_pool_first_tap(y0);
      const int32_t fy1 = sbtf_rt_pool_end_tap(y0, p.filter_h, in->h);
      for (int32_t ox = 0; ox < out->w; ++ox) {
        const int32_t x0 = ox * p.stride_w - p.pad_w;
        const int32_t fx0 = sbtf_rt_pool_first_tap(x0);
        const int32_t fx1 = sbtf_rt_pool_end_tap(x0, p.filter_w, in->w);
        if (fy1 <= fy0 || fx1 <= fx0) return SBTF_ERROR_BAD_PARAM;
        const int32_t count = (fy1 - fy0) * (fx1 - fx0);
        for (int32_t c = 0; c < c_n; ++c) {
          int32_t acc = average ? 0 : -32768;
          for (int32_t fy = fy0; fy < fy1; ++fy) {
            for (int32_t fx = fx0; fx < fx1; ++fx) {
              const int32_t v = image[((int64_t)(y0 + fy) * in->w + (x0 + fx)) * c_n + c];
              if (average) acc += v;             /* |acc| <= 2^16 * 2^15 */
              else if (v > acc) acc = v;
            }
          }
          if (average) acc = sbtf_rt_pool_average(acc, count);
          *y++ = (int16_t)sbtf_clamp(acc, p.activation_min, p.activation_max);
        }
      }
    }
  }
  return SBTF_OK;
}

sbtf_status sbtf_rt_avg_pool_s16(const sbtf_rt_pool_params *params, const sbtf_dims *input_dims,
                                 const int16_t *input, const sbtf_dims *output_dims,
                                 int16_t *output) {
  return pool_s16(params, input_dims, input, output_dims, output, 1);
}

sbtf_status sbtf_rt_max_pool_s16(const sbtf_rt_pool_params *params, const sbtf_dims *input_dims,
                                 const int16_t *input, const sbtf_dims *output_dims,
                                 int16_t *output) {
  return pool_s16(params, input_dims, input, output_dims, output, 0);
}

sbtf_status sbtf_rt_mul_s16(const sbtf_rt_mul_params *params, const sbtf_rt_broadcast *bc,
                            int32_t size1, const int16_t *input1, int32_t size2,
                            const int16_t *input2, int16_t *output) {
  if (params == NULL || bc == NULL || input1 == NULL || input2 == NULL || output == NULL)
    return SBTF_ERROR_NULL_ARGUMENT;
  if (!sbtf_rt_broadcast_ok(bc, size1, size2)) return SBTF_ERROR_BAD_SHAPE;
  const sbtf_rt_mul_params p = *params; /* locals: int16 stores may alias the struct */
  if (p.input1_offset != 0 || p.input2_offset != 0 || p.output_offset != 0 || p.multiplier < 0 ||
      p.shift < -31 || p.shift > 30 || !clamp16_ok(p.activation_min, p.activation_max))
    return SBTF_ERROR_BAD_PARAM;
  /* |x1 * x2| <= 2^30 fits int32, as in TFLite's MulElementwise. */
  SBTF_RT_BROADCAST_LOOP(int16_t, bc, input1, input2, output,
                         sbtf_clamp(sbtf_mbqm(x1 * x2, p.multiplier, p.shift), p.activation_min,
                                    p.activation_max));
  return SBTF_OK;
}

sbtf_status sbtf_rt_sub_s16(const sbtf_rt_add_params *params, const sbtf_rt_broadcast *bc,
                            int32_t size1, const int16_t *input1, int32_t size2,
                            const int16_t *input2, int16_t *output) {
  if (params == NULL || bc == NULL || input1 == NULL || input2 == NULL || output == NULL)
    return SBTF_ERROR_NULL_ARGUMENT;
  if (!sbtf_rt_broadcast_ok(bc, size1, size2)) return SBTF_ERROR_BAD_SHAPE;
  const sbtf_rt_add_params p = *params;
  if (!add_args_ok(&p)) return SBTF_ERROR_BAD_PARAM;
  SBTF_RT_BROADCAST_LOOP(int16_t, bc, input1, input2, output, sbtf_rt_sub_one(&p, x1, x2));
  return SBTF_OK;
}

static inline int16_t mean_output(const sbtf_rt_mean_params *p, int32_t sum, int32_t count) {
  const int32_t acc = sbtf_mbqm(sum - count * p->input_zero_point, p->multiplier, p->shift);
  return (int16_t)sbtf_clamp(acc + p->output_zero_point, -32768, 32767);
}

sbtf_status sbtf_rt_mean_s16(const sbtf_rt_mean_params *params, const sbtf_dims *input_dims,
                             const int16_t *input, int16_t *output) {
  if (params == NULL || input_dims == NULL || input == NULL || output == NULL)
    return SBTF_ERROR_NULL_ARGUMENT;
  if (!sbtf_rt_dims_ok(input_dims)) return SBTF_ERROR_BAD_SHAPE;
  if (params->axis_mask == 0 || params->axis_mask > 0xF || params->shift > 30 ||
      params->shift < -31 || params->input_zero_point != 0 || params->output_zero_point != 0)
    return SBTF_ERROR_BAD_PARAM;
  SBTF_RT_MEAN_DIMS(params, input_dims, in_dims, out_dims, red_dims, count)
  /* |sum| <= count * 2^15 must fit int32. */
  if (count > (1 << 16)) return SBTF_ERROR_BAD_SHAPE;
  SBTF_RT_MEAN_ANY_AXES(params, input, output, in_dims, out_dims, red_dims, count, mean_output);
  return SBTF_OK;
}

sbtf_status sbtf_rt_quantize_f32_s16(float scale, int32_t size, const float *input,
                                     int16_t *output) {
  if (input == NULL || output == NULL) return SBTF_ERROR_NULL_ARGUMENT;
  if (size < 1) return SBTF_ERROR_BAD_SHAPE;
  if (!(scale > 0.0f)) return SBTF_ERROR_BAD_PARAM;
  for (int32_t i = 0; i < size; ++i) {
    const float q = sbtf_rt_round_half_away_f32(input[i] / scale);
    /* NaN -> 0 (the zero point); the comparisons are false for NaN. */
    output[i] = q >= 32767.0f ? 32767 : q <= -32768.0f ? -32768 : q == q ? (int16_t)q : 0;
  }
  return SBTF_OK;
}

sbtf_status sbtf_rt_dequantize_s16_f32(float scale, int32_t size, const int16_t *input,
                                       float *output) {
  if (input == NULL || output == NULL) return SBTF_ERROR_NULL_ARGUMENT;
  if (size < 1) return SBTF_ERROR_BAD_SHAPE;
  for (int32_t i = 0; i < size; ++i) output[i] = scale * (float)input[i];
  return SBTF_OK;
}

/* TFLite's LUTLookup: the high 9 bits index, the low 7 interpolate to the next entry. */
static inline int16_t lut_lookup(int16_t value, const int16_t *lut) {
  const int32_t index = 256 + (value >> 7); /* 0 .. 511 */
  const int32_t offset = value & 0x7f;
  const int32_t base = lut[index];
  const int32_t slope = lut[index + 1] - base;
  return (int16_t)(base + ((slope * offset + 64) >> 7));
}

static inline int32_t count_leading_zeros(uint32_t x) {
  int32_t n = 0;
  while (n < 32 && !(x & 0x80000000u)) {
    x <<= 1;
    ++n;
  }
  return n;
}

sbtf_status sbtf_rt_softmax_s16(const sbtf_rt_softmax_s16_params *params, int32_t rows,
                                int32_t depth, const int16_t *input, int16_t *output) {
  if (params == NULL || params->exp_lut == NULL || params->one_over_one_plus_x_lut == NULL ||
      input == NULL || output == NULL)
    return SBTF_ERROR_NULL_ARGUMENT;
  if (rows < 1 || depth < 1 || depth > 65536) return SBTF_ERROR_BAD_SHAPE;
  const sbtf_rt_softmax_s16_params p = *params;
  /* A left shift <= 15 keeps 65535 << shift within int32, as TFLite computes it. */
  if (p.input_multiplier < 0 || p.input_shift < -31 || p.input_shift > 15)
    return SBTF_ERROR_BAD_PARAM;
  for (int32_t r = 0; r < rows; ++r) {
    const int16_t *x = input + (int64_t)r * depth;
    int16_t *y = output + (int64_t)r * depth;
    int32_t max = -32768;
    for (int32_t c = 0; c < depth; ++c) max = x[c] > max ? x[c] : max;
    /* exp(x - max) in Q0.15, kept in the output row (as TFLite does; x may alias nothing). */
    int32_t sum = 0; /* <= 65536 * 32767 */
    for (int32_t c = 0; c < depth; ++c) {
      const int32_t scaled = sbtf_mbqm(x[c] - max, p.input_multiplier, p.input_shift) + 32767;
      y[c] = lut_lookup((int16_t)sbtf_clamp(scaled, -32768, 32767), p.exp_lut);
      sum += y[c];
    }
    if (sum < 2) return SBTF_ERROR_BAD_PARAM; /* only with a LUT that is not TFLite's */
    const int32_t headroom_plus_one = count_leading_zeros((uint32_t)sum);
    const int32_t shifted_sum =
        (int32_t)((((int64_t)sum << (headroom_plus_one - 1)) + (1 << 13)) >> 14);
    /* 1 / (1 + x) with x = sum - 1, recentred from [0, 65535] to [-32768, 32767]. */
    const int32_t sym = sbtf_clamp(shifted_sum - ((1 << 15) + (1 << 16)), -32768, 32767);
    const int32_t reciprocal = lut_lookup((int16_t)sym, p.one_over_one_plus_x_lut);
    const int32_t right_shift = 31 - headroom_plus_one;
    for (int32_t c = 0; c < depth; ++c) {
      const int32_t v = (int32_t)(((int64_t)y[c] * reciprocal + ((int64_t)1 << (right_shift - 1)))
                                  >> right_shift);
      y[c] = (int16_t)sbtf_clamp(v, 0, 32767);
    }
  }
  return SBTF_OK;
}
