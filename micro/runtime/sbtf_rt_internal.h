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

/* The operator files' names for the one copy of TFLite's arithmetic in sbtf_arith.h. */
#define sbtf_rt_srdhm sbtf_srdhm
#define sbtf_rt_srdhm_unsaturated sbtf_srdhm_unsaturated
#define sbtf_rt_rounding_divide_by_pot sbtf_rounding_divide_by_pot
#define sbtf_rt_mbqm_right sbtf_mbqm_right
#define sbtf_rt_mbqm sbtf_mbqm
#define sbtf_rt_mbqm_single sbtf_mbqm_single
#define sbtf_rt_rounding_divide_by_pot_x4 sbtf_rounding_divide_by_pot_x4
#define sbtf_rt_mbqm_x4 sbtf_mbqm_x4
#define sbtf_rt_clamp sbtf_clamp
#define sbtf_rt_clamp_ok sbtf_clamp_ok
#define sbtf_rt_offsets_ok sbtf_offsets_ok

/* ---- argument checks ---- */

static inline int sbtf_rt_dims_ok(const sbtf_dims *d) {
  return d != NULL && d->n >= 1 && d->h >= 1 && d->w >= 1 && d->c >= 1;
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
