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

/* ---- the pooling window, int8 (sbtf_rt_ops.c) and int16 (sbtf_rt_int16.c) ---- */

/* A pooling window along one axis starts at `start` (negative in the padding) and spans
   `filter` taps; taps [first, end) lie inside the input [0, size). The window is empty when
   end <= first (TFLite fails then, and so do the callers). */
static inline int32_t sbtf_rt_pool_first_tap(int32_t start) { return start < 0 ? -start : 0; }

static inline int32_t sbtf_rt_pool_end_tap(int32_t start, int32_t filter, int32_t size) {
  return filter < size - start ? filter : size - start;
}

/* Average pooling's division: round half away from zero, as the reference kernel. */
static inline int32_t sbtf_rt_pool_average(int32_t sum, int32_t count) {
  return sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
}

/* ---- MEAN (reference_ops::QuantizedMeanOrSum), int8 (sbtf_rt_ops.c) and int16 ---- */

/* The extended input's dims `in`, the output's `out` (reduced axes 1) and the reduced ones
   `red` from params->axis_mask, and `count`, the values each output sums. A macro, like the
   walk below: as inline functions they changed sbtf_rt_mean_s8's code. */
#define SBTF_RT_MEAN_DIMS(params, input_dims, in, out, red, count)                           \
  const int32_t in[4] = {(input_dims)->n, (input_dims)->h, (input_dims)->w, (input_dims)->c}; \
  int32_t out[4], red[4];                                                                     \
  int32_t count = 1;                                                                          \
  for (int a = 0; a < 4; ++a) {                                                               \
    const int reduced = ((params)->axis_mask >> a) & 1;                                       \
    out[a] = reduced ? 1 : in[a];                                                             \
    red[a] = reduced ? in[a] : 1;                                                             \
    count *= red[a];                                                                          \
  }

/* Every output in order: output_of(params, sum of its reduced input values, count). */
#define SBTF_RT_MEAN_ANY_AXES(params, input, output, in, out, red, count, output_of)          \
  do {                                                                                        \
    int32_t out_index = 0;                                                                    \
    for (int32_t o0 = 0; o0 < out[0]; ++o0)                                                   \
      for (int32_t o1 = 0; o1 < out[1]; ++o1)                                                 \
        for (int32_t o2 = 0; o2 < out[2]; ++o2)                                               \
          for (int32_t o3 = 0; o3 < out[3]; ++o3) {                                           \
            int32_t sum = 0; /* the order of an integer sum does not matter */                \
            for (int32_t r0 = 0; r0 < red[0]; ++r0)                                           \
              for (int32_t r1 = 0; r1 < red[1]; ++r1)                                         \
                for (int32_t r2 = 0; r2 < red[2]; ++r2)                                       \
                  for (int32_t r3 = 0; r3 < red[3]; ++r3) {                                   \
                    const int32_t i0 = o0 + r0, i1 = o1 + r1, i2 = o2 + r2, i3 = o3 + r3;     \
                    sum += input[((i0 * in[1] + i1) * in[2] + i2) * in[3] + i3];              \
                  }                                                                           \
            output[out_index++] = output_of(params, sum, count);                              \
          }                                                                                   \
  } while (0)

/* ---- MUL and SUB with broadcasting, int8 (sbtf_rt_elementwise.c) and int16 ---- */

/* The broadcast is well formed and never reads past an input of n1 / n2 elements
   (sbtf_rt_elementwise.c). */
int sbtf_rt_broadcast_ok(const sbtf_rt_broadcast *bc, int32_t n1, int32_t n2);

/* Calls `body(x1, x2)` for every output element in order, elements of type T; one macro so
   MUL and SUB (int8 and int16) share the loop without a call per element. */
#define SBTF_RT_BROADCAST_LOOP(T, bc, in1, in2, out, body)                                    \
  do {                                                                                        \
    int32_t o_ = 0;                                                                           \
    for (int32_t i0 = 0; i0 < (bc)->dims[0]; ++i0)                                            \
      for (int32_t i1 = 0; i1 < (bc)->dims[1]; ++i1)                                          \
        for (int32_t i2 = 0; i2 < (bc)->dims[2]; ++i2) {                                      \
          const T *a_ = (in1) + i0 * (bc)->stride1[0] + i1 * (bc)->stride1[1] +               \
                        i2 * (bc)->stride1[2];                                                \
          const T *b_ = (in2) + i0 * (bc)->stride2[0] + i1 * (bc)->stride2[1] +               \
                        i2 * (bc)->stride2[2];                                                \
          for (int32_t i3 = 0; i3 < (bc)->dims[3]; ++i3) {                                    \
            const int32_t x1 = a_[i3 * (bc)->stride1[3]], x2 = b_[i3 * (bc)->stride2[3]];     \
            (out)[o_++] = (T)(body);                                                          \
          }                                                                                   \
        }                                                                                     \
  } while (0)

/* MultiplyByQuantizedMultiplierSmallerThanOneExp of ADD / SUB's input stage (shift <= 0). */
static inline int32_t sbtf_rt_sub_rescale(int32_t x, int32_t offset, int32_t left_shift,
                                          int32_t m, int32_t s) {
  return sbtf_rounding_divide_by_pot(sbtf_srdhm((offset + x) * (1 << left_shift), m), -s);
}

/* One SUB output (SubElementwise's arithmetic: ADD's input stage, difference, output stage). */
static inline int32_t sbtf_rt_sub_one(const sbtf_rt_add_params *p, int32_t x1, int32_t x2) {
  const int32_t raw = sbtf_rt_sub_rescale(x1, p->input1_offset, p->left_shift,
                                          p->input1_multiplier, p->input1_shift) -
                      sbtf_rt_sub_rescale(x2, p->input2_offset, p->left_shift,
                                          p->input2_multiplier, p->input2_shift);
  const int32_t y = sbtf_rounding_divide_by_pot(sbtf_srdhm(raw, p->output_multiplier),
                                                   -p->output_shift) +
                    p->output_offset;
  return sbtf_clamp(y, p->activation_min, p->activation_max);
}

#endif /* SBTF_RT_INTERNAL_H */
