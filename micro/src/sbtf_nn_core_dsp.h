/*
 * sbtf_nn_core_dsp.h - the two primitives of sbtf_nn_core_scalar.h on the Cortex-M DSP
 * extension (SBTF_PATH_DSP): UXTB16 / PKH lane pairing and SSAT. Included only by
 * sbtf_nn_core.c; sbtf_nn_core_portable.h has the same two in plain C.
 */
#include <arm_acle.h>

/* GCC neither folds a rotate into UXTB16 nor emits PKH from C; CMSIS does the same with asm. */
static inline uint32_t uxtb16_ror8(uint32_t w) {
  uint32_t r;
  __asm__("uxtb16 %0, %1, ror #8" : "=r"(r) : "r"(w));
  return r;
}
static inline uint32_t pkhbt16(uint32_t lo, uint32_t hi) { /* lo[15:0] | hi[15:0] << 16 */
  uint32_t r;
  __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(lo), "r"(hi));
  return r;
}
static inline uint32_t pkhtb16(uint32_t lo, uint32_t hi) { /* lo[31:16] | hi[31:16] << 16 */
  uint32_t r;
  __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(hi), "r"(lo));
  return r;
}

/* Byte lanes of two pixels' words paired into 16-bit halves: 4 UXTB16 + 4 PKH. */
static inline void pair_lanes(uint32_t wa, uint32_t wb, uint32_t p[4]) {
  const uint32_t xa = __uxtb16(wa), xb = __uxtb16(wb);         /* bytes [0, 2] */
  const uint32_t ya = uxtb16_ror8(wa), yb = uxtb16_ror8(wb); /* bytes [1, 3] */
  p[0] = pkhbt16(xa, xb);
  p[1] = pkhbt16(ya, yb);
  p[2] = pkhtb16(xa, xb);
  p[3] = pkhtb16(ya, yb);
}

/* Clamp to [lo, hi]; full: lo, hi are the int8 range, one SSAT. */
static inline int8_t clamp_or_saturate(int32_t v, int32_t lo, int32_t hi, int full) {
  if (full) return (int8_t)__ssat(v, 8);
  return clamp_out(v, lo, hi);
}
