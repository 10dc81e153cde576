/*
 * sbtf_rt_ops.c - builtin int8 operators of the ahead-of-time runtime (see sbtf_rt.h).
 *
 * Each function follows the arithmetic of the TFLite kernel named in its comment (with
 * gemmlowp's SaturatingRoundingDoublingHighMul and RoundingDivideByPOT), so the outputs equal
 * what TFLite's interpreter computes with OpResolverType.BUILTIN_REF, bit for bit.
 */
#include "sbtf_rt.h"

#include <stddef.h>
#include <string.h>

/* ---- fixed-point helpers (gemmlowp / tflite::MultiplyByQuantizedMultiplier) ---- */

static int32_t srdhm(int32_t a, int32_t b) {
  if (a == b && a == INT32_MIN) return INT32_MAX;
  const int64_t ab = (int64_t)a * (int64_t)b;
  const int64_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
  /* C division truncates toward zero, like gemmlowp's. */
  return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

static int32_t rounding_divide_by_pot(int32_t x, int32_t exponent) {
  const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

int32_t sbtf_rt_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int32_t shift) {
  const int32_t left = shift > 0 ? shift : 0;
  const int32_t right = shift > 0 ? 0 : -shift;
  /* TFLite computes x * (1 << left) in int32; do it in unsigned to wrap the same way. */
  const int32_t shifted = (int32_t)((uint32_t)x << left);
  return rounding_divide_by_pot(srdhm(shifted, multiplier), right);
}

static int32_t clamp_i32(int32_t x, int32_t lo, int32_t hi) {
  return x < lo ? lo : (x > hi ? hi : x);
}

static int dims_ok(const sbtf_dims *d) {
  return d != NULL && d->n >= 1 && d->h >= 1 && d->w >= 1 && d->c >= 1;
}

static int clamp_ok(int32_t lo, int32_t hi) { return -128 <= lo && lo <= hi && hi <= 127; }

static int quant_ok(const sbtf_quant_params *q) {
  return q != NULL && q->multiplier != NULL && q->shift != NULL;
}

static int conv_params_ok(const sbtf_conv_params *p) {
  return p->stride_h >= 1 && p->stride_w >= 1 && p->dilation_h >= 1 && p->dilation_w >= 1 &&
         p->pad_h >= 0 && p->pad_w >= 0 && p->input_offset >= -127 && p->input_offset <= 128 &&
         p->output_offset >= -128 && p->output_offset <= 127 &&
         clamp_ok(p->activation_min, p->activation_max);
}

static int8_t requantize_out(int32_t acc, int32_t m, int32_t s, int32_t offset, int32_t lo,
                             int32_t hi) {
  acc = sbtf_rt_multiply_by_quantized_multiplier(acc, m, s) + offset;
  return (int8_t)clamp_i32(acc, lo, hi);
}

/* ---- CONV_2D: reference_integer_ops::ConvPerChannel ---- */

sbtf_status sbtf_rt_conv2d_s8(const sbtf_conv_params *params, const sbtf_quant_params *quant,
                              const sbtf_dims *input_dims, const int8_t *input,
                              const sbtf_dims *filter_dims, const int8_t *filter,
                              const int32_t *bias, const sbtf_dims *output_dims, int8_t *output) {
  if (params == NULL || !quant_ok(quant) || input == NULL || filter == NULL || output == NULL ||
      input_dims == NULL || filter_dims == NULL || output_dims == NULL)
    return SBTF_ERROR_NULL_ARGUMENT;
  if (!dims_ok(input_dims) || !dims_ok(filter_dims) || !dims_ok(output_dims) ||
      filter_dims->c != input_dims->c || output_dims->c != filter_dims->n ||
      output_dims->n != input_dims->n)
    return SBTF_ERROR_BAD_SHAPE;
  if (!conv_params_ok(params)) return SBTF_ERROR_BAD_PARAM;
  const int32_t in_h = input_dims->h, in_w = input_dims->w, in_c = input_dims->c;
  const int32_t kh = filter_dims->h, kw = filter_dims->w;
  for (int32_t b = 0; b < output_dims->n; ++b) {
    for (int32_t oy = 0; oy < output_dims->h; ++oy) {
      const int32_t y0 = oy * params->stride_h - params->pad_h;
      for (int32_t ox = 0; ox < output_dims->w; ++ox) {
        const int32_t x0 = ox * params->stride_w - params->pad_w;
        for (int32_t oc = 0; oc < output_dims->c; ++oc) {
          int32_t acc = 0;
          for (int32_t ky = 0; ky < kh; ++ky) {
            const int32_t iy = y0 + ky * params->dilation_h;
            if (iy < 0 || iy >= in_h) continue;
            for (int32_t kx = 0; kx < kw; ++kx) {
              const int32_t ix = x0 + kx * params->dilation_w;
              if (ix < 0 || ix >= in_w) continue;
              const int8_t *in = input + ((b * in_h + iy) * in_w + ix) * in_c;
              const int8_t *f = filter + ((oc * kh + ky) * kw + kx) * in_c;
              for (int32_t ic = 0; ic < in_c; ++ic) {
                acc += (int32_t)f[ic] * ((int32_t)in[ic] + params->input_offset);
              }
            }
          }
          if (bias != NULL) acc += bias[oc];
          output[((b * output_dims->h + oy) * output_dims->w + ox) * output_dims->c + oc] =
              requantize_out(acc, quant->multiplier[oc], quant->shift[oc], params->output_offset,
                             params->activation_min, params->activation_max);
        }
      }
    }
  }
  return SBTF_OK;
}

/* ---- DEPTHWISE_CONV_2D: reference_integer_ops::DepthwiseConvPerChannel ---- */

sbtf_status sbtf_rt_depthwise_conv2d_s8(const sbtf_conv_params *params, int32_t depth_multiplier,
                                        const sbtf_quant_params *quant,
                                        const sbtf_dims *input_dims, const int8_t *input,
                                        const sbtf_dims *filter_dims, const int8_t *filter,
                                        const int32_t *bias, const sbtf_dims *output_dims,
                                        int8_t *output) {
  if (params == NULL || !quant_ok(quant) || input == NULL || filter == NULL || output == NULL ||
      input_dims == NULL || filter_dims == NULL || output_dims == NULL)
    return SBTF_ERROR_NULL_ARGUMENT;
  if (!dims_ok(input_dims) || !dims_ok(filter_dims) || !dims_ok(output_dims) ||
      depth_multiplier < 1 || filter_dims->n != 1 ||
      output_dims->c != input_dims->c * depth_multiplier || filter_dims->c != output_dims->c ||
      output_dims->n != input_dims->n)
    return SBTF_ERROR_BAD_SHAPE;
  if (!conv_params_ok(params)) return SBTF_ERROR_BAD_PARAM;
  const int32_t in_h = input_dims->h, in_w = input_dims->w, in_c = input_dims->c;
  const int32_t kh = filter_dims->h, kw = filter_dims->w, out_c = output_dims->c;
  for (int32_t b = 0; b < output_dims->n; ++b) {
    for (int32_t oy = 0; oy < output_dims->h; ++oy) {
      const int32_t y0 = oy * params->stride_h - params->pad_h;
      for (int32_t ox = 0; ox < output_dims->w; ++ox) {
        const int32_t x0 = ox * params->stride_w - params->pad_w;
        for (int32_t ic = 0; ic < in_c; ++ic) {
          for (int32_t m = 0; m < depth_multiplier; ++m) {
            const int32_t oc = m + ic * depth_multiplier;
            int32_t acc = 0;
            for (int32_t ky = 0; ky < kh; ++ky) {
              const int32_t iy = y0 + ky * params->dilation_h;
              if (iy < 0 || iy >= in_h) continue;
              for (int32_t kx = 0; kx < kw; ++kx) {
                const int32_t ix = x0 + kx * params->dilation_w;
                if (ix < 0 || ix >= in_w) continue;
                const int32_t x = input[((b * in_h + iy) * in_w + ix) * in_c + ic];
                acc += (int32_t)filter[(ky * kw + kx) * out_c + oc] * (x + params->input_offset);
              }
            }
            if (bias != NULL) acc += bias[oc];
            output[((b * output_dims->h + oy) * output_dims->w + ox) * out_c + oc] =
                requantize_out(acc, quant->multiplier[oc], quant->shift[oc],
                               params->output_offset, params->activation_min,
                               params->activation_max);
          }
        }
      }
    }
  }
  return SBTF_OK;
}

/* ---- FULLY_CONNECTED: what TF 2.21's interpreter computes with BUILTIN_REF (filter zp 0) ----
 * Unlike conv, its int8 FULLY_CONNECTED requantizes with single rounding (ruy's rule), measured
 * against the interpreter; see docs/op_spec.md. */

static int8_t requantize_single(int32_t acc, int32_t m, int32_t s, int32_t offset, int32_t lo,
                                int32_t hi) {
  const int32_t total_shift = 31 - s;
  const int64_t rounded = ((int64_t)acc * m + ((int64_t)1 << (total_shift - 1))) >> total_shift;
  return (int8_t)clamp_i32((int32_t)rounded + offset, lo, hi);
}

sbtf_status sbtf_rt_fully_connected_s8(const sbtf_fc_params *params,
                                       const sbtf_quant_params *quant, int32_t batches,
                                       int32_t input_channels, const int8_t *input,
                                       int32_t output_channels, const int8_t *filter,
                                       const int32_t *bias, int8_t *output) {
  if (params == NULL || !quant_ok(quant) || input == NULL || filter == NULL || output == NULL)
    return SBTF_ERROR_NULL_ARGUMENT;
  if (batches < 1 || input_channels < 1 || output_channels < 1) return SBTF_ERROR_BAD_SHAPE;
  if (params->input_offset < -127 || params->input_offset > 128 || params->output_offset < -128 ||
      params->output_offset > 127 || !clamp_ok(params->activation_min, params->activation_max))
    return SBTF_ERROR_BAD_PARAM;
  for (int32_t b = 0; b < batches; ++b) {
    const int8_t *in = input + b * input_channels;
    for (int32_t oc = 0; oc < output_channels; ++oc) {
      const int8_t *f = filter + oc * input_channels;
      int32_t acc = 0;
      for (int32_t i = 0; i < input_channels; ++i) {
        acc += (int32_t)f[i] * ((int32_t)in[i] + params->input_offset);
      }
      if (bias != NULL) acc += bias[oc];
      if (quant->shift[oc] > 30 || quant->shift[oc] < -31) return SBTF_ERROR_BAD_PARAM;
      output[b * output_channels + oc] =
          requantize_single(acc, quant->multiplier[oc], quant->shift[oc], params->output_offset,
                            params->activation_min, params->activation_max);
    }
  }
  return SBTF_OK;
}

/* ---- ADD: reference_integer_ops::AddElementwise ---- */

sbtf_status sbtf_rt_add_s8(const sbtf_rt_add_params *params, int32_t size, const int8_t *input1,
                           const int8_t *input2, int32_t b2_size, int8_t *output) {
  if (params == NULL || input1 == NULL || input2 == NULL || output == NULL)
    return SBTF_ERROR_NULL_ARGUMENT;
  if (size < 1 || b2_size < 0 || (b2_size > 0 && size % b2_size != 0)) return SBTF_ERROR_BAD_SHAPE;
  if (params->left_shift < 0 || params->left_shift > 20 || params->input1_shift > 0 ||
      params->input2_shift > 0 || params->output_shift > 0 ||
      !clamp_ok(params->activation_min, params->activation_max))
    return SBTF_ERROR_BAD_PARAM;
  const int32_t period = b2_size > 0 ? b2_size : size;
  for (int32_t i = 0; i < size; ++i) {
    const int32_t in1 = (params->input1_offset + input1[i]) * (1 << params->left_shift);
    const int32_t in2 = (params->input2_offset + input2[i % period]) * (1 << params->left_shift);
    /* MultiplyByQuantizedMultiplierSmallerThanOneExp: shift <= 0, so no left shift. */
    const int32_t s1 =
        rounding_divide_by_pot(srdhm(in1, params->input1_multiplier), -params->input1_shift);
    const int32_t s2 =
        rounding_divide_by_pot(srdhm(in2, params->input2_multiplier), -params->input2_shift);
    const int32_t raw = rounding_divide_by_pot(srdhm(s1 + s2, params->output_multiplier),
                                               -params->output_shift) +
                        params->output_offset;
    output[i] = (int8_t)clamp_i32(raw, params->activation_min, params->activation_max);
  }
  return SBTF_OK;
}

/* ---- AVERAGE_POOL_2D / MAX_POOL_2D: reference_integer_ops::AveragePool / MaxPool ---- */

static sbtf_status pool_check(const sbtf_rt_pool_params *p, const sbtf_dims *in_d,
                              const int8_t *in, const sbtf_dims *out_d, const int8_t *out) {
  if (p == NULL || in_d == NULL || in == NULL || out_d == NULL || out == NULL)
    return SBTF_ERROR_NULL_ARGUMENT;
  if (!dims_ok(in_d) || !dims_ok(out_d) || in_d->n != out_d->n || in_d->c != out_d->c)
    return SBTF_ERROR_BAD_SHAPE;
  if (p->stride_h < 1 || p->stride_w < 1 || p->filter_h < 1 || p->filter_w < 1 || p->pad_h < 0 ||
      p->pad_w < 0 || !clamp_ok(p->activation_min, p->activation_max))
    return SBTF_ERROR_BAD_PARAM;
  return SBTF_OK;
}

static sbtf_status pool(const sbtf_rt_pool_params *p, const sbtf_dims *in_d, const int8_t *in,
                        const sbtf_dims *out_d, int8_t *out, int is_max) {
  const sbtf_status st = pool_check(p, in_d, in, out_d, out);
  if (st != SBTF_OK) return st;
  for (int32_t b = 0; b < out_d->n; ++b) {
    for (int32_t oy = 0; oy < out_d->h; ++oy) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      const int32_t fy0 = y0 < 0 ? -y0 : 0;
      const int32_t fy1 = p->filter_h < in_d->h - y0 ? p->filter_h : in_d->h - y0;
      for (int32_t ox = 0; ox < out_d->w; ++ox) {
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        const int32_t fx0 = x0 < 0 ? -x0 : 0;
        const int32_t fx1 = p->filter_w < in_d->w - x0 ? p->filter_w : in_d->w - x0;
        for (int32_t c = 0; c < out_d->c; ++c) {
          int32_t acc = is_max ? -128 : 0;
          int32_t count = 0;
          for (int32_t fy = fy0; fy < fy1; ++fy) {
            for (int32_t fx = fx0; fx < fx1; ++fx) {
              const int32_t v = in[((b * in_d->h + y0 + fy) * in_d->w + x0 + fx) * in_d->c + c];
              if (is_max) {
                acc = v > acc ? v : acc;
              } else {
                acc += v;
              }
              ++count;
            }
          }
          if (count == 0) return SBTF_ERROR_BAD_PARAM; /* TFLite fails the same way */
          if (!is_max) {
            /* Round half away from zero, as the reference kernel. */
            acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
          }
          out[((b * out_d->h + oy) * out_d->w + ox) * out_d->c + c] =
              (int8_t)clamp_i32(acc, p->activation_min, p->activation_max);
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

sbtf_status sbtf_rt_mean_s8(const sbtf_rt_mean_params *params, const sbtf_dims *input_dims,
                            const int8_t *input, int8_t *output) {
  if (params == NULL || input_dims == NULL || input == NULL || output == NULL)
    return SBTF_ERROR_NULL_ARGUMENT;
  if (!dims_ok(input_dims)) return SBTF_ERROR_BAD_SHAPE;
  if (params->axis_mask == 0 || params->axis_mask > 0xF || params->shift > 30 ||
      params->shift < -31)
    return SBTF_ERROR_BAD_PARAM;
  const int32_t in_dims[4] = {input_dims->n, input_dims->h, input_dims->w, input_dims->c};
  int32_t out_dims[4], red_dims[4];
  int32_t count = 1;
  for (int a = 0; a < 4; ++a) {
    const int reduced = (params->axis_mask >> a) & 1;
    out_dims[a] = reduced ? 1 : in_dims[a];
    red_dims[a] = reduced ? in_dims[a] : 1;
    count *= red_dims[a];
  }
  int32_t out_index = 0;
  for (int32_t o0 = 0; o0 < out_dims[0]; ++o0)
    for (int32_t o1 = 0; o1 < out_dims[1]; ++o1)
      for (int32_t o2 = 0; o2 < out_dims[2]; ++o2)
        for (int32_t o3 = 0; o3 < out_dims[3]; ++o3) {
          int32_t sum = 0; /* the order of an integer sum does not matter */
          for (int32_t r0 = 0; r0 < red_dims[0]; ++r0)
            for (int32_t r1 = 0; r1 < red_dims[1]; ++r1)
              for (int32_t r2 = 0; r2 < red_dims[2]; ++r2)
                for (int32_t r3 = 0; r3 < red_dims[3]; ++r3) {
                  const int32_t i0 = o0 + r0, i1 = o1 + r1, i2 = o2 + r2, i3 = o3 + r3;
                  sum += input[((i0 * in_dims[1] + i1) * in_dims[2] + i2) * in_dims[3] + i3];
                }
          const int32_t acc = sbtf_rt_multiply_by_quantized_multiplier(
              sum - count * params->input_zero_point, params->multiplier, params->shift);
          output[out_index++] = (int8_t)clamp_i32(acc + params->output_zero_point, -128, 127);
        }
  return SBTF_OK;
}

/* ---- SOFTMAX: optimized_ops::Softmax(int8) with PopulateSoftmaxLookupTable's float table ---- */

/* std::round (half away from zero) for floats of moderate magnitude, without libm. */
static float round_half_away(float x) {
  const float t = (float)(int32_t)x; /* truncation toward zero, exact for |x| < 2^31 */
  const float frac = x - t;          /* exact */
  if (frac >= 0.5f) return t + 1.0f;
  if (frac <= -0.5f) return t - 1.0f;
  return t;
}

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
      const int32_t q = (int32_t)round_half_away(prob_rescaled) + params->output_zero_point;
      out[c] = (int8_t)clamp_i32(q, -128, 127);
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
  if (!dims_ok(input_dims)) return SBTF_ERROR_BAD_SHAPE;
  const int32_t in[4] = {input_dims->n, input_dims->h, input_dims->w, input_dims->c};
  int32_t out[4];
  for (int a = 0; a < 4; ++a) {
    if (before[a] < 0 || after[a] < 0) return SBTF_ERROR_BAD_PARAM;
    out[a] = before[a] + in[a] + after[a];
  }
  int32_t o = 0;
  for (int32_t i0 = 0; i0 < out[0]; ++i0)
    for (int32_t i1 = 0; i1 < out[1]; ++i1)
      for (int32_t i2 = 0; i2 < out[2]; ++i2)
        for (int32_t i3 = 0; i3 < out[3]; ++i3) {
          const int32_t j0 = i0 - before[0], j1 = i1 - before[1], j2 = i2 - before[2],
                        j3 = i3 - before[3];
          const int inside = j0 >= 0 && j0 < in[0] && j1 >= 0 && j1 < in[1] && j2 >= 0 &&
                             j2 < in[2] && j3 >= 0 && j3 < in[3];
          output[o++] =
              inside ? input[((j0 * in[1] + j1) * in[2] + j2) * in[3] + j3] : pad_value;
        }
  return SBTF_OK;
}

/* ---- QUANTIZE int8 -> int8: reference_ops::Requantize ---- */

sbtf_status sbtf_rt_requantize_s8(const sbtf_rt_requant_params *params, int32_t size,
                                  const int8_t *input, int8_t *output) {
  if (params == NULL || input == NULL || output == NULL) return SBTF_ERROR_NULL_ARGUMENT;
  if (size < 1) return SBTF_ERROR_BAD_SHAPE;
  for (int32_t i = 0; i < size; ++i) {
    const int32_t v = sbtf_rt_multiply_by_quantized_multiplier(
                          (int32_t)input[i] - params->input_zero_point, params->multiplier,
                          params->shift) +
                      params->output_zero_point;
    output[i] = (int8_t)clamp_i32(v, -128, 127);
  }
  return SBTF_OK;
}
