/*
 * sbtf_rt_internal.h - what the runtime's operator files share: the implementation path, the
 * names of the shared arithmetic (sbtf_arith.h), and argument checks. Not installed.
 */
#ifndef SBTF_RT_INTERNAL_H
#define SBTF_RT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "sbtf_arith.h"
#include "sbtf_rt.h"

/* The kernels' compile-time choice (sbtf_arith.h): Helium, DSP extension or portable. */
#if defined(SBTF_PATH_MVE)
#define SBTF_RT_MVE 1
#elif defined(SBTF_PATH_DSP)
#define SBTF_RT_DSP 1
#endif

#if defined(SBTF_RT_DSP)
#include <arm_acle.h>
#include <string.h>
#endif

/* For helpers whose constant arguments select a loop: each caller gets its own copy. */
#if defined(__GNUC__)
#define ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE static inline
#endif

#if defined(SBTF_RT_DSP)
/* ---- DSP-extension helpers (CONV_2D, DEPTHWISE_CONV_2D) ---- */

static inline int32_t read_word(const int8_t *p) {
  int32_t v;
  memcpy(&v, p, 4); /* one LDR: the DSP cores allow unaligned word loads */
  return v;
}

/* Bytes 1 and 3 sign-extended to halfwords (one SXTB16 with ROR #8). */
static inline int16x2_t sxtb16_odd(int32_t x) {
#if defined(__GNUC__)
  int16x2_t r; /* GCC 12 does not fold the rotate into SXTB16 by itself */
  __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
  return r;
#else
  const uint32_t u = (uint32_t)x;
  return __sxtb16((int32_t)((u >> 8) | (u << 24)));
#endif
}
#endif

/* std::round (half away from zero) on a float, without libm (SOFTMAX, QUANTIZE float32);
   |x| >= 2^23 is already an integer. */
static inline float sbtf_rt_round_half_away_f32(float x) {
  if (!(x > -8388608.0f && x < 8388608.0f)) return x;
  const float t = (float)(int32_t)x; /* truncation toward zero, exact here */
  const float frac = x - t;          /* exact */
  if (frac >= 0.5f) return t + 1.0f;
  if (frac <= -0.5f) return t - 1.0f;
  return t;
}


#if defined(SBTF_RT_MVE)
/* Each lane saturated to int8 in its low byte, where VSTRB.32 stores from: two saturating
   narrows (int16 into the even halfwords, then int8 into the even bytes). The narrows keep the
   odd halves of their first operand, here v itself, so no other register is set up. */
static inline int32x4_t sbtf_rt_saturate_s8_x4(int32x4_t v) {
  const int16x8_t h = vqmovnbq_s32(vreinterpretq_s16_s32(v), v);
  return vreinterpretq_s32_s8(vqmovnbq_s16(vreinterpretq_s8_s16(h), h));
}
#endif

/* ---- argument checks ---- */

static inline int sbtf_rt_dims_ok(const sbtf_dims *d) {
  return d != NULL && d->n >= 1 && d->h >= 1 && d->w >= 1 && d->c >= 1;
}

/* Every one of n channels' requantization in range (SBTF_QUANT_CHANNEL_BAD, the kernels' rule). */
static inline int sbtf_rt_quant_ok(const sbtf_quant_params *q, int32_t n) {
  for (int32_t c = 0; c < n; ++c) {
    if (SBTF_QUANT_CHANNEL_BAD(q->multiplier[c], q->shift[c])) return 0;
  }
  return 1;
}

/* The parameter checks CONV_2D and DEPTHWISE_CONV_2D share (prepare time in TFLite's terms). */
static inline int conv_params_ok(const sbtf_conv_params *p, const sbtf_quant_params *quant, int32_t c_out) {
  return p->stride_h >= 1 && p->stride_w >= 1 && p->dilation_h >= 1 && p->dilation_w >= 1 &&
         p->pad_h >= 0 && p->pad_w >= 0 && sbtf_offsets_ok(p->input_offset, p->output_offset) &&
         sbtf_clamp_ok(p->activation_min, p->activation_max) && sbtf_rt_quant_ok(quant, c_out);
}

#endif /* SBTF_RT_INTERNAL_H */
