/*
 * sbtf_nn_core_portable.h - the two primitives of sbtf_nn_core_scalar.h in plain C
 * (SBTF_PATH_PORTABLE: hosts, Cortex-M without the DSP extension). Included only by
 * sbtf_nn_core.c; sbtf_nn_core_dsp.h has the same two with DSP instructions.
 */

static inline void pair_lanes(uint32_t wa, uint32_t wb, uint32_t p[4]) {
  p[0] = (wa & 0xFFu) | ((wb & 0xFFu) << 16);
  p[1] = ((wa >> 8) & 0xFFu) | ((wb << 8) & 0xFF0000u);
  p[2] = ((wa >> 16) & 0xFFu) | (wb & 0xFF0000u);
  p[3] = (wa >> 24) | ((wb >> 8) & 0xFF0000u);
}

/* Clamp to [lo, hi] (full: lo, hi are the int8 range; the DSP path saturates instead). */
static inline int8_t clamp_or_saturate(int32_t v, int32_t lo, int32_t hi, int full) {
  (void)full;
  return clamp_out(v, lo, hi);
}
