/*
 * sbtf_arith.h - TFLite's int8 arithmetic, written once in C: the instruction-set choice, the
 * fixed-point requantization (gemmlowp / tflite::MultiplyByQuantizedMultiplier, double and
 * single rounding) in its scalar, Cortex-M DSP and Helium forms, the parameter checks, and the
 * prepare math (QuantizeMultiplier, activation range, conv output size and padding).
 *
 * Internal: used by the kernels (micro/src), the runtime (micro/runtime), the tests and
 * benchmarks (micro/tests, bench) and the host delegate; not part of sbtf_nn.h's API. Every
 * function is static inline, so including it costs nothing that is not called.
 */
#ifndef SBTF_ARITH_H
#define SBTF_ARITH_H

#include <math.h>
#include <stdint.h>

#include "sbtf_op_format.h" /* activation and padding values */

/* ---- instruction set: Helium (MVE), the DSP extension, or portable C ---- */

#if !defined(SBTF_FORCE_PORTABLE) && defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#define SBTF_PATH_MVE 1
#define SBTF_PATH_NAME "helium"
#elif !defined(SBTF_FORCE_PORTABLE) && defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define SBTF_PATH_DSP 1
#define SBTF_PATH_NAME "dsp"
#else
#define SBTF_PATH_PORTABLE 1
#define SBTF_PATH_NAME "portable"
#endif

#if defined(SBTF_PATH_MVE)
#include <arm_mve.h>
#endif

/* ---- requantization, double rounding (TFLite's MultiplyByQuantizedMultiplier) ---- */

/* The definition, literally as gemmlowp writes it (sign-dependent nudge, truncating division,
   RoundingDivideByPOT with mask and threshold), less SRDHM's saturation of INT32_MIN * INT32_MIN,
   which a multiplier >= 0 never reaches: the tests' plain int8 loops (micro/tests) use it, and
   the faster forms below are checked against it (micro/tests/test_arith.c). */
static inline int32_t sbtf_mbqm_reference(int32_t acc, int32_t multiplier, int32_t shift) {
  const int32_t left = shift > 0 ? shift : 0;
  const int32_t right = shift > 0 ? 0 : -shift;
  const int32_t x = (int32_t)((uint32_t)acc << left);
  const int64_t ab = (int64_t)x * multiplier;
  const int64_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
  const int32_t high = (int32_t)((ab + nudge) / ((int64_t)1 << 31));
  const int32_t mask = (int32_t)(((int64_t)1 << right) - 1);
  const int32_t remainder = high & mask;
  const int32_t threshold = (mask >> 1) + (high < 0 ? 1 : 0);
  return (high >> right) + (remainder > threshold ? 1 : 0);
}

/* SaturatingRoundingDoublingHighMul. gemmlowp adds a nudge of 2^30 (or 1 - 2^30 when a * b < 0)
   and divides by 2^31 truncating toward zero; for negative products that equals the floor of
   (a * b + 2^30) / 2^31, so one arithmetic shift (one SMLAL) serves both signs (as VQRDMULH
   computes it). Only INT32_MIN * INT32_MIN saturates, so b >= 0 needs no check. */
static inline int32_t sbtf_srdhm_unsaturated(int32_t a, int32_t b) {
  return (int32_t)(((int64_t)a * (int64_t)b + (1 << 30)) >> 31);
}

static inline int32_t sbtf_srdhm(int32_t a, int32_t b) {
  if (a == b && a == INT32_MIN) return INT32_MAX;
  return sbtf_srdhm_unsaturated(a, b);
}

/* RoundingDivideByPOT, exponent in [0, 31]: round half away from zero. */
static inline int32_t sbtf_rounding_divide_by_pot(int32_t x, int32_t exponent) {
  const int32_t mask = (int32_t)((1u << exponent) - 1u);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* For shift = -(n_minus_1 + 1) <= -1 and multiplier >= 0, with no mask, compare or branch:
   RoundingDivideByPOT by n rounds half away from zero, i.e. half up from h - 1 when h < 0, and
   t / 2^n rounded half up is (floor(t / 2^(n-1)) + 1) / 2 floored. So h += h >> 31, then
   ((h >> (n - 1)) + 1) >> 1. No overflow: -2^31 < h < 2^31 - 1 for any int32 x and
   0 <= m < 2^31. Pass n - 1 (0 .. 30). */
static inline int32_t sbtf_mbqm_right(int32_t x, int32_t multiplier, int32_t n_minus_1) {
  int32_t h = sbtf_srdhm_unsaturated(x, multiplier);
  h += h >> 31;
  return ((h >> n_minus_1) + 1) >> 1;
}

/* The general form, shift in [-31, 30], any multiplier. */
static inline int32_t sbtf_mbqm(int32_t x, int32_t multiplier, int32_t shift) {
  if (shift < 0 && multiplier >= 0) return sbtf_mbqm_right(x, multiplier, -shift - 1);
  const int32_t left = shift > 0 ? shift : 0;
  const int32_t right = shift > 0 ? 0 : -shift;
  /* TFLite computes x * (1 << left) in int32; do it in unsigned to wrap the same way. */
  const int32_t shifted = (int32_t)((uint32_t)x << left);
  return sbtf_rounding_divide_by_pot(sbtf_srdhm(shifted, multiplier), right);
}

/* Any shift in [-31, 30] without a branch on its sign, for multiplier >= 0 (checked by the
   caller, which rules out SRDHM's saturation): the kernels' per-filter loops. */
static inline int32_t sbtf_mbqm_nonneg(int32_t acc, int32_t multiplier, int32_t shift) {
  int32_t left = shift > 0 ? shift : 0;
  const int32_t right = left - shift;
#if defined(__GNUC__)
  /* Keep GCC from duplicating the multiply for the two signs of shift (it spills then). */
  __asm__("" : "+r"(left));
#endif
  const int32_t x = (int32_t)((uint32_t)acc << left);
  const int32_t high = sbtf_srdhm_unsaturated(x, multiplier);
  const int32_t mask = (int32_t)((1u << right) - 1u);
  const int32_t remainder = high & mask;
  const int32_t threshold = (mask >> 1) + (int32_t)((uint32_t)high >> 31);
  return (high >> right) + (remainder > threshold);
}

/* ---- requantization, single rounding (ruy's rule: TF 2.21's int8 FULLY_CONNECTED) ---- */

/* (x * m + 2^(30 - shift)) >> (31 - shift) on the 64-bit product, shift in [-31, 30]; TFLite
   narrows the result to int32 (sbtf_mbqm_single), the kernels add offset and clamp first. */
static inline int64_t sbtf_mbqm_single_wide(int32_t x, int32_t multiplier, int32_t shift) {
  const int32_t total = 31 - shift; /* 1 .. 62 */
  return ((int64_t)x * multiplier + ((int64_t)1 << (total - 1))) >> total;
}

static inline int32_t sbtf_mbqm_single(int32_t x, int32_t multiplier, int32_t shift) {
  return (int32_t)sbtf_mbqm_single_wide(x, multiplier, shift);
}

/* Single rounding plus output offset and clamp to int8, all before narrowing. For shift <= -1
   the rounding constant is a multiple of 2^31, so this equals floor(P / 2^31) (one SMULL, fits
   int32 as |P| < 2^62) shifted right by n = -shift rounding half up, i.e. (h >> n) plus bit
   n - 1 of h: no 64-bit shifts by a variable amount (library calls or long sequences on M4). */
static inline int8_t sbtf_requantize_single(int32_t acc, int32_t multiplier, int32_t shift,
                                            int32_t offset, int32_t lo, int32_t hi) {
  if (shift < 0) {
    const int32_t h = (int32_t)(((int64_t)acc * multiplier) >> 31), n = -shift;
    const int32_t v = (h >> n) + ((h >> (n - 1)) & 1) + offset;
    return (int8_t)(v < lo ? lo : v > hi ? hi : v);
  }
  /* sbtf_mbqm_single_wide written out: calling it, GCC 12 allocates the callers' registers
     differently and the kernels' instruction counts move. */
  const int32_t total = 31 - shift; /* 1 .. 31 */
  int64_t v = ((int64_t)acc * multiplier + ((int64_t)1 << (total - 1))) >> total;
  v += offset;
  return (int8_t)(v < lo ? lo : v > hi ? hi : v);
}

/* ---- the same on four Helium lanes, bit-exact with the scalar forms ---- */

#if defined(SBTF_PATH_MVE)
/* RoundingDivideByPOT by -right (right in [-31, 0]): VRSHL rounds half up where gemmlowp rounds
   half away from zero, so negative values that are shifted round from x - 1 instead
   (saturating: INT32_MIN rounds the same either way). */
static inline int32x4_t sbtf_rounding_divide_by_pot_x4(int32x4_t x, int32x4_t right) {
  x = vqsubq_m_n_s32(x, x, 1, vcmpltq_n_s32(x, 0) & vcmpltq_n_s32(right, 0));
  return vrshlq_s32(x, right);
}

/* sbtf_mbqm: VQRDMULH computes gemmlowp's SRDHM, saturation included; VSHL by a non-negative
   amount wraps like the C. */
static inline int32x4_t sbtf_mbqm_x4(int32x4_t x, int32x4_t multiplier, int32x4_t shift) {
  const int32x4_t zero = vdupq_n_s32(0);
  x = vqrdmulhq_s32(vshlq_s32(x, vmaxq_s32(shift, zero)), multiplier);
  return sbtf_rounding_divide_by_pot_x4(x, vminq_s32(shift, zero));
}

/* sbtf_mbqm for multiplier >= 0 and right = shift <= 0 (the caller applies any left shift):
   the half-away-from-zero fix-up as one AND + shift + saturating add (v - 1 where v < 0 and
   right < 0). */
static inline int32x4_t sbtf_mbqm_right_x4(int32x4_t v, int32x4_t multiplier, int32x4_t right) {
  v = vqrdmulhq_s32(v, multiplier);
  return vrshlq_s32(vqaddq_s32(v, vshrq_n_s32(vandq_s32(v, right), 31)), right);
}

/* sbtf_mbqm_right_x4 for right <= -1 in every lane: the fix-up needs only v's sign. */
static inline int32x4_t sbtf_mbqm_neg_right_x4(int32x4_t v, int32x4_t multiplier,
                                               int32x4_t right) {
  v = vqrdmulhq_s32(v, multiplier);
  return vrshlq_s32(vqaddq_s32(v, vshrq_n_s32(v, 31)), right);
}

/* sbtf_mbqm_single_wide for shift <= -1 and multiplier >= 0: with P = v * m and t = 31 - shift,
   (P + 2^(t-1)) >> t = (floor(P / 2^31) + 2^(t-32)) >> (t-31); VQDMULH gives floor(P / 2^31)
   (m >= 0 rules out its saturation) and VRSHL by shift the rounding right shift. */
static inline int32x4_t sbtf_mbqm_single_right_x4(int32x4_t v, int32x4_t multiplier,
                                                  int32x4_t shift) {
  return vrshlq_s32(vqdmulhq_s32(v, multiplier), shift);
}
#endif

static inline int32_t sbtf_clamp(int32_t x, int32_t lo, int32_t hi) {
  return x < lo ? lo : (x > hi ? hi : x);
}

/* ---- parameter checks ---- */

/* input_offset = -input zero point (int8), output_offset = output zero point. */
static inline int sbtf_offsets_ok(int32_t input_offset, int32_t output_offset) {
  return input_offset >= -127 && input_offset <= 128 && output_offset >= -128 &&
         output_offset <= 127;
}

static inline int sbtf_clamp_ok(int32_t lo, int32_t hi) {
  return -128 <= lo && lo <= hi && hi <= 127;
}

/* One channel's requantization is out of range: both requantizations are defined for a
   multiplier in [0, 2^31) and a shift in [-31, 30] (what QuantizeMultiplier produces). A macro:
   as an inline function it moved GCC's register allocation in the kernels' loops. */
#define SBTF_QUANT_CHANNEL_BAD(multiplier, shift) \
  ((multiplier) < 0 || (shift) < -31 || (shift) > 30)

/* Both, as the kernels check them: one expression (GCC allocates the kernels' registers worse
   for the two calls, which would move their instruction counts). */
static inline int sbtf_int8_args_ok(int32_t input_offset, int32_t output_offset, int32_t lo,
                                    int32_t hi) {
  return input_offset >= -127 && input_offset <= 128 && output_offset >= -128 &&
         output_offset <= 127 && lo >= -128 && hi <= 127 && lo <= hi;
}

/* ---- prepare math (TFLite's, from the float scales; host side: uses double and float) ---- */

/* QuantizeMultiplier: real = multiplier * 2^(shift - 31), rounding half away from zero.
   Returns 0 where TFLite would overflow (shift > 30) rather than differ from it. */
static inline int sbtf_quantize_multiplier(double real, int32_t *multiplier, int32_t *shift) {
  if (real == 0.0) {
    *multiplier = 0;
    *shift = 0;
    return 1;
  }
  int exponent;
  const double q = frexp(real, &exponent);
  int64_t q_fixed = (int64_t)round(q * (double)(1LL << 31));
  if (q_fixed == (1LL << 31)) {
    q_fixed /= 2;
    exponent++;
  }
  if (exponent < -31) {
    exponent = 0;
    q_fixed = 0;
  }
  if (exponent > 30) return 0;
  *multiplier = (int32_t)q_fixed;
  *shift = exponent;
  return 1;
}

/* CalculateActivationRangeQuantized for int8 (TFLite divides in float: f / scale). */
static inline void sbtf_activation_range(int32_t activation, float scale, int32_t zero_point,
                                         int32_t *lo, int32_t *hi) {
  *lo = -128;
  *hi = 127;
  if (activation == SBTF_ACTIVATION_RELU || activation == SBTF_ACTIVATION_RELU6) {
    const int32_t q0 = zero_point + (int32_t)roundf(0.0f / scale);
    if (q0 > *lo) *lo = q0;
  }
  if (activation == SBTF_ACTIVATION_RELU6) {
    const int32_t q6 = zero_point + (int32_t)roundf(6.0f / scale);
    if (q6 < *hi) *hi = q6;
  }
  if (activation == SBTF_ACTIVATION_RELU_N1_TO_1) {
    const int32_t qm1 = zero_point + (int32_t)roundf(-1.0f / scale);
    const int32_t q1 = zero_point + (int32_t)roundf(1.0f / scale);
    if (qm1 > *lo) *lo = qm1;
    if (q1 < *hi) *hi = q1;
  }
}

/* Conv / pool output size along one axis (TFLite's ComputeOutSize); 64-bit so that hostile
   sizes cannot overflow. */
static inline int64_t sbtf_conv_out_size(int64_t in, int64_t k, int64_t stride, int64_t dilation,
                                         int32_t padding) {
  const int64_t effective = (k - 1) * dilation + 1;
  return padding == SBTF_PADDING_SAME ? (in + stride - 1) / stride
                                      : (in - effective + stride) / stride;
}

/* Padding before the first row / column (TFLite's ComputePaddingWithOffset, offset dropped). */
static inline int64_t sbtf_conv_pad(int64_t in, int64_t out, int64_t k, int64_t stride,
                                    int64_t dilation) {
  const int64_t total = (out - 1) * stride + (k - 1) * dilation + 1 - in;
  return total > 0 ? total / 2 : 0;
}

#endif /* SBTF_ARITH_H */
