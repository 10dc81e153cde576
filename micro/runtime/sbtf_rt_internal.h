/*
 * sbtf_rt_internal.h - what the runtime's operator files share: the implementation path, the
 * one copy of the runtime's requantization arithmetic, and argument checks. Not installed.
 */
#ifndef SBTF_RT_INTERNAL_H
#define SBTF_RT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "sbtf_rt.h"

/* The same compile-time choice as the kernels (sbtf_nn.h): Helium, DSP extension or portable. */
#if !defined(SBTF_FORCE_PORTABLE) && defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#define SBTF_RT_MVE 1
#elif !defined(SBTF_FORCE_PORTABLE) && defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define SBTF_RT_DSP 1
#endif

#if defined(SBTF_RT_MVE)
#include <arm_mve.h>
#endif

/* ---- fixed-point arithmetic (gemmlowp / tflite::MultiplyByQuantizedMultiplier) ---- */

/* SaturatingRoundingDoublingHighMul. gemmlowp adds a nudge of 2^30 (or 1 - 2^30 when a * b < 0)
   and divides by 2^31 truncating toward zero; for negative products that equals the floor of
   (a * b + 2^30) / 2^31, so one arithmetic shift serves both signs (as VQRDMULH computes it). */
static inline int32_t sbtf_rt_srdhm_unsaturated(int32_t a, int32_t b) {
  return (int32_t)(((int64_t)a * (int64_t)b + (1 << 30)) >> 31);
}

/* The general form: saturates INT32_MIN * INT32_MIN, the only product that needs it (so a
   multiplier b >= 0 can call the unsaturated form). */
static inline int32_t sbtf_rt_srdhm(int32_t a, int32_t b) {
  if (a == b && a == INT32_MIN) return INT32_MAX;
  return sbtf_rt_srdhm_unsaturated(a, b);
}

/* RoundingDivideByPOT, exponent in [0, 31]: round half away from zero. */
static inline int32_t sbtf_rt_rounding_divide_by_pot(int32_t x, int32_t exponent) {
  const int32_t mask = (int32_t)((1u << exponent) - 1u);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* MultiplyByQuantizedMultiplier (double rounding), shift in [-31, 30]. */
/* sbtf_rt_mbqm for shift = -(n_minus_1 + 1) <= -1 and multiplier >= 0, without mask, compare or
   branch: RoundingDivideByPOT by n rounds half away from zero, i.e. half up from h - 1 when
   h < 0, and t / 2^n rounded half up is (floor(t / 2^(n-1)) + 1) / 2 floored. -2^31 < h < 2^31 - 1
   here, so nothing overflows. (The kernels' sbtf_requantize_right in micro/src is the same.) */
static inline int32_t sbtf_rt_mbqm_right(int32_t x, int32_t multiplier, int32_t n_minus_1) {
  int32_t h = sbtf_rt_srdhm_unsaturated(x, multiplier);
  h += h >> 31;
  return ((h >> n_minus_1) + 1) >> 1;
}

static inline int32_t sbtf_rt_mbqm(int32_t x, int32_t multiplier, int32_t shift) {
  if (shift < 0 && multiplier >= 0) return sbtf_rt_mbqm_right(x, multiplier, -shift - 1);
  const int32_t left = shift > 0 ? shift : 0;
  const int32_t right = shift > 0 ? 0 : -shift;
  /* TFLite computes x * (1 << left) in int32; do it in unsigned to wrap the same way. */
  const int32_t shifted = (int32_t)((uint32_t)x << left);
  return sbtf_rt_rounding_divide_by_pot(sbtf_rt_srdhm(shifted, multiplier), right);
}

/* Single rounding (ruy's rule, TF 2.21's int8 FULLY_CONNECTED), shift in [-31, 30]. */
static inline int32_t sbtf_rt_mbqm_single(int32_t x, int32_t multiplier, int32_t shift) {
  const int32_t total_shift = 31 - shift;
  return (int32_t)(((int64_t)x * multiplier + ((int64_t)1 << (total_shift - 1))) >> total_shift);
}

#if defined(SBTF_RT_MVE)
/* RoundingDivideByPOT on four lanes by -right (right in [-31, 0]), bit-exact: VRSHL rounds half
   up where gemmlowp rounds half away from zero, so negative values that are shifted round from
   x - 1 instead (saturating: INT32_MIN rounds the same either way). */
static inline int32x4_t sbtf_rt_rounding_divide_by_pot_x4(int32x4_t x, int32x4_t right) {
  x = vqsubq_m_n_s32(x, x, 1, vcmpltq_n_s32(x, 0) & vcmpltq_n_s32(right, 0));
  return vrshlq_s32(x, right);
}

/* sbtf_rt_mbqm on four lanes, bit-exact: VQRDMULH computes gemmlowp's SRDHM (see
   sbtf_rt_srdhm), saturation included; VSHL by a non-negative amount wraps like the C. */
static inline int32x4_t sbtf_rt_mbqm_x4(int32x4_t x, int32x4_t multiplier, int32x4_t shift) {
  const int32x4_t zero = vdupq_n_s32(0);
  x = vqrdmulhq_s32(vshlq_s32(x, vmaxq_s32(shift, zero)), multiplier);
  return sbtf_rt_rounding_divide_by_pot_x4(x, vminq_s32(shift, zero));
}
#endif

static inline int32_t sbtf_rt_clamp(int32_t x, int32_t lo, int32_t hi) {
  return x < lo ? lo : (x > hi ? hi : x);
}

/* ---- argument checks ---- */

static inline int sbtf_rt_dims_ok(const sbtf_dims *d) {
  return d != NULL && d->n >= 1 && d->h >= 1 && d->w >= 1 && d->c >= 1;
}

static inline int sbtf_rt_clamp_ok(int32_t lo, int32_t hi) {
  return -128 <= lo && lo <= hi && hi <= 127;
}

static inline int sbtf_rt_offsets_ok(int32_t input_offset, int32_t output_offset) {
  return input_offset >= -127 && input_offset <= 128 && output_offset >= -128 &&
         output_offset <= 127;
}

/* Multipliers in [0, 2^31) and shifts in [-31, 30] for n channels (what QuantizeMultiplier
   produces); both requantizations are defined there. */
static inline int sbtf_rt_quant_ok(const sbtf_quant_params *q, int32_t n) {
  for (int32_t c = 0; c < n; ++c) {
    if (q->multiplier[c] < 0 || q->shift[c] < -31 || q->shift[c] > 30) return 0;
  }
  return 1;
}

#endif /* SBTF_RT_INTERNAL_H */
