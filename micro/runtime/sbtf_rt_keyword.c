/*
 * sbtf_rt_keyword.c - SVDF, full integer (int8 input and output, int16 state), SOFTMAX int8 ->
 * int16 and QUANTIZE between int8, int16 and int32 (declared in sbtf_rt_keyword.h). Written for
 * this project from the semantics of TFLite's svdf.cc / reference_ops::EvalIntegerSVDF,
 * reference_ops::Softmax (with gemmlowp's fixed-point exp and reciprocal, step for step: the
 * interpreter's results depend on each rounding) and reference_ops::Requantize.
 */
#include <stddef.h>
#include <string.h>

#include "sbtf_rt_internal.h"
#include "sbtf_rt_keyword.h"

/* ---- SVDF ---- */

static int svdf_params_ok(const sbtf_rt_svdf_params *p) {
  if (p->weights_feature == NULL || p->weights_time == NULL) return 0;
  /* feature sums of int8 * (int8 - zp) stay inside int32 for n_input <= 65536 */
  if (p->n_batch < 1 || p->n_input < 1 || p->n_input > 65536 || p->n_memory < 1 ||
      p->rank < 1 || p->n_filter < 1 || p->n_filter % p->rank != 0)
    return 0;
  if (p->input_zero_point < -128 || p->input_zero_point > 127 || p->output_zero_point < -128 ||
      p->output_zero_point > 127)
    return 0;
  return !SBTF_QUANT_CHANNEL_BAD(p->feature_multiplier, p->feature_shift) &&
         !SBTF_QUANT_CHANNEL_BAD(p->time_multiplier, p->time_shift);
}

sbtf_status sbtf_rt_svdf_s8(const sbtf_rt_svdf_params *params, const int8_t *input,
                            int16_t *state, int8_t *output) {
  if (params == NULL || input == NULL || state == NULL || output == NULL)
    return SBTF_ERROR_NULL_ARGUMENT;
  if (!svdf_params_ok(params)) return SBTF_ERROR_BAD_PARAM;
  const sbtf_rt_svdf_params *p = params;
  const int32_t n_memory = p->n_memory, n_unit = p->n_filter / p->rank;
  for (int32_t b = 0; b < p->n_batch; ++b) {
    const int8_t *x = input + (size_t)b * p->n_input;
    int16_t *batch_state = state + (size_t)b * p->n_filter * n_memory;
    /* Each filter's memory moves one step back in time; the newest slot takes this input's
       feature product, saturated to int16 (the state is symmetric: zero point 0). */
    for (int32_t f = 0; f < p->n_filter; ++f) {
      int16_t *memory = batch_state + (size_t)f * n_memory;
      memmove(memory, memory + 1, (size_t)(n_memory - 1) * sizeof(int16_t));
      const int8_t *w = p->weights_feature + (size_t)f * p->n_input;
      int32_t dot = 0;
      for (int32_t i = 0; i < p->n_input; ++i) dot += w[i] * (x[i] - p->input_zero_point);
      dot = sbtf_mbqm(dot, p->feature_multiplier, p->feature_shift);
      memory[n_memory - 1] = (int16_t)sbtf_clamp(dot, INT16_MIN, INT16_MAX);
    }
    /* Per unit: bias + the time products of its `rank` filters. TFLite sums in int32 and
       wraps on the host; unsigned arithmetic wraps the same way, defined in C. */
    for (int32_t u = 0; u < n_unit; ++u) {
      uint32_t acc = p->bias != NULL ? (uint32_t)p->bias[u] : 0u;
      for (int32_t r = 0; r < p->rank; ++r) {
        const size_t f = (size_t)u * p->rank + r;
        const int16_t *wt = p->weights_time + f * n_memory;
        const int16_t *memory = batch_state + f * n_memory;
        for (int32_t m = 0; m < n_memory; ++m) acc += (uint32_t)((int32_t)wt[m] * memory[m]);
      }
      const int32_t v = sbtf_mbqm((int32_t)acc, p->time_multiplier, p->time_shift) +
                        p->output_zero_point;
      output[(size_t)b * n_unit + u] = (int8_t)sbtf_clamp(v, -128, 127);
    }
  }
  return SBTF_OK;
}

/* ---- SOFTMAX int8 -> int16: gemmlowp's int32 fixed point ---- */

/* int32 wrap-around of an addition, as gemmlowp's raw int32 arithmetic does */
static inline int32_t add32(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }

/* SaturatingRoundingMultiplyByPOT<e> for e > 0: a saturating left shift */
static inline int32_t sat_shl32(int32_t x, int32_t e) {
  const int32_t limit = INT32_MAX >> e;
  if (x > limit) return INT32_MAX;
  if (x < -limit - 1) return INT32_MIN;
  return (int32_t)((uint32_t)x << e);
}

/* exp(a) for a in [-1/4, 0), Q0.31 */
static int32_t exp_quarter32(int32_t a) {
  const int32_t constant_term = 1895147668; /* exp(-1/8) */
  const int32_t one_third = 715827883;
  const int32_t x = add32(a, 1 << 28); /* a + 1/8 */
  const int32_t x2 = sbtf_srdhm(x, x), x3 = sbtf_srdhm(x2, x), x4 = sbtf_srdhm(x2, x2);
  const int32_t x4_over_4 = sbtf_rounding_divide_by_pot(x4, 2);
  const int32_t poly = sbtf_rounding_divide_by_pot(
      add32(sbtf_srdhm(add32(x4_over_4, x3), one_third), x2), 1);
  return add32(constant_term, sbtf_srdhm(constant_term, add32(x, poly)));
}

/* exp(a) for a <= 0 in Q5.26 (gemmlowp's exp_on_negative_values<5>), result Q0.31 */
static int32_t exp_negative32(int32_t a) {
  static const int32_t multipliers[7] = {1672461947, 1302514674, 790015084, 290630308,
                                         39332535,   720401,     242}; /* exp(-2^k), k=-2..4 */
  const int32_t quarter = 1 << 24;
  const int32_t a_mod_quarter = add32(a & (quarter - 1), -quarter);
  int32_t result = exp_quarter32(sat_shl32(a_mod_quarter, 5));
  const int32_t remainder = add32(a_mod_quarter, (int32_t)(0u - (uint32_t)a));
  for (int k = -2; k <= 4; ++k) {
    if (remainder & (1 << (26 + k))) result = sbtf_srdhm(result, multipliers[k + 2]);
  }
  return a == 0 ? INT32_MAX : result;
}

/* 1 / (1 + a) for a in [0, 1) in Q0.31, result Q0.31 (one_over_one_plus_x_for_x_in_0_1):
   Newton-Raphson in Q2.29 from 48/17 - 32/17 * d, d = (1 + a) / 2. */
static int32_t reciprocal_one_plus32(int32_t a) {
  const int64_t sum = (int64_t)a + INT32_MAX;
  const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
  int32_t x = add32(1515870810, sbtf_srdhm(half_denominator, -1010580540));
  for (int i = 0; i < 3; ++i) {
    const int32_t one_minus = add32(1 << 29, -sbtf_srdhm(half_denominator, x));
    x = add32(x, sat_shl32(sbtf_srdhm(x, one_minus), 2));
  }
  return sat_shl32(x, 1);
}

static inline int32_t count_leading_zeros32(uint32_t x) {
  int32_t n = 0;
  while (n < 32 && !(x & (0x80000000u >> n))) ++n;
  return n;
}

/* exp((x - max) * beta * s_in) in Q0.31, from the input difference */
static inline int32_t softmax_exp(const sbtf_rt_softmax_s8_s16_params *p, int32_t diff) {
  /* MultiplyByQuantizedMultiplierGreaterThanOne: left shift in int32, then SRDHM */
  return exp_negative32(sbtf_srdhm((int32_t)((uint32_t)diff << p->input_left_shift),
                                   p->input_multiplier));
}

sbtf_status sbtf_rt_softmax_s8_s16(const sbtf_rt_softmax_s8_s16_params *params, int32_t rows,
                                   int32_t depth, const int8_t *input, int16_t *output) {
  if (params == NULL || input == NULL || output == NULL) return SBTF_ERROR_NULL_ARGUMENT;
  if (rows < 1 || depth < 1 || depth > SBTF_RT_SOFTMAX_S16_MAX_DEPTH) return SBTF_ERROR_BAD_SHAPE;
  if (params->input_multiplier < 0 || params->input_left_shift < 0 ||
      params->input_left_shift > 31 || params->diff_min > 0)
    return SBTF_ERROR_BAD_PARAM;
  for (int32_t r = 0; r < rows; ++r) {
    const int8_t *in = input + (size_t)r * depth;
    int16_t *out = output + (size_t)r * depth;
    int32_t max_val = -128;
    for (int32_t c = 0; c < depth; ++c) max_val = in[c] > max_val ? in[c] : max_val;
    int32_t sum = 0; /* Q12.19; at most 4095 terms below 1 each */
    for (int32_t c = 0; c < depth; ++c) {
      const int32_t diff = in[c] - max_val;
      if (diff >= params->diff_min)
        sum += sbtf_rounding_divide_by_pot(softmax_exp(params, diff), 12);
    }
    /* GetReciprocal: 1 / sum as a Q0.31 scale and the power of two above it */
    const int32_t headroom = count_leading_zeros32((uint32_t)sum);
    const int32_t bits_over_unit = 12 - headroom;
    const int32_t scale = reciprocal_one_plus32(
        (int32_t)(((uint32_t)sum << headroom) - 0x80000000u));
    const int32_t exponent = bits_over_unit + 31 - 16;
    for (int32_t c = 0; c < depth; ++c) {
      const int32_t diff = in[c] - max_val;
      int32_t q = INT16_MIN;
      if (diff >= params->diff_min)
        q = sbtf_clamp(sbtf_rounding_divide_by_pot(sbtf_srdhm(scale, softmax_exp(params, diff)),
                                                   exponent) + INT16_MIN,
                       INT16_MIN, INT16_MAX);
      out[c] = (int16_t)q;
    }
  }
  return SBTF_OK;
}

/* ---- QUANTIZE between quantized types ---- */

ALWAYS_INLINE void requantize_loop(const sbtf_rt_requant_params *p, int32_t size,
                                   sbtf_rt_type in_type, const void *input,
                                   sbtf_rt_type out_type, void *output) {
  for (int32_t i = 0; i < size; ++i) {
    const int32_t x = in_type == SBTF_RT_INT8 ? ((const int8_t *)input)[i]
                                              : ((const int16_t *)input)[i];
    /* int64: an int32 output's zero point may be anywhere in int32 */
    const int64_t v = (int64_t)sbtf_mbqm(x - p->input_zero_point, p->multiplier, p->shift) +
                      p->output_zero_point;
    if (out_type == SBTF_RT_INT8)
      ((int8_t *)output)[i] = (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
    else if (out_type == SBTF_RT_INT16)
      ((int16_t *)output)[i] = (int16_t)(v < INT16_MIN ? INT16_MIN : v > INT16_MAX ? INT16_MAX : v);
    else
      ((int32_t *)output)[i] = (int32_t)(v < INT32_MIN ? INT32_MIN : v > INT32_MAX ? INT32_MAX : v);
  }
}

static int zero_point_ok(sbtf_rt_type t, int32_t zp) {
  if (t == SBTF_RT_INT8) return zp >= -128 && zp <= 127;
  if (t == SBTF_RT_INT16) return zp >= INT16_MIN && zp <= INT16_MAX;
  return 1;
}

sbtf_status sbtf_rt_requantize(const sbtf_rt_requant_params *params, int32_t size,
                               sbtf_rt_type in_type, const void *input, sbtf_rt_type out_type,
                               void *output) {
  if (params == NULL || input == NULL || output == NULL) return SBTF_ERROR_NULL_ARGUMENT;
  if (size < 1) return SBTF_ERROR_BAD_SHAPE;
  if ((in_type != SBTF_RT_INT8 && in_type != SBTF_RT_INT16) ||
      (out_type != SBTF_RT_INT8 && out_type != SBTF_RT_INT16 && out_type != SBTF_RT_INT32) ||
      !zero_point_ok(in_type, params->input_zero_point) ||
      !zero_point_ok(out_type, params->output_zero_point) ||
      SBTF_QUANT_CHANNEL_BAD(params->multiplier, params->shift))
    return SBTF_ERROR_BAD_PARAM;
  /* one loop per type pair, each with its loads and stores resolved at compile time */
#define SBTF_REQUANT_CASE(in, out)                                            \
  if (in_type == (in) && out_type == (out)) {                                 \
    requantize_loop(params, size, (in), input, (out), output);                \
    return SBTF_OK;                                                           \
  }
  SBTF_REQUANT_CASE(SBTF_RT_INT8, SBTF_RT_INT8)
  SBTF_REQUANT_CASE(SBTF_RT_INT8, SBTF_RT_INT16)
  SBTF_REQUANT_CASE(SBTF_RT_INT8, SBTF_RT_INT32)
  SBTF_REQUANT_CASE(SBTF_RT_INT16, SBTF_RT_INT8)
  SBTF_REQUANT_CASE(SBTF_RT_INT16, SBTF_RT_INT16)
  SBTF_REQUANT_CASE(SBTF_RT_INT16, SBTF_RT_INT32)
#undef SBTF_REQUANT_CASE
  return SBTF_ERROR_BAD_PARAM;
}
