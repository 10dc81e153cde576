/*
 * bench_harness.h - what the kernel benchmark programs (bench_kernels.c, bench_cmsis_nn.c,
 * bench_depthwise.c) share: the counter overhead around an empty call, the profiler's region
 * markers, the output checksum and the random numbers. Counts run from just before a call to
 * just after it (SysTick under -icount shift=0; sbtf_board.h), minus that overhead. Included by
 * one translation unit per program (it defines bench_region_begin/end).
 */
#ifndef BENCH_HARNESS_H
#define BENCH_HARNESS_H

#include <stdint.h>

#include "sbtf_board.h"

__attribute__((noinline)) static int bench_empty_call(const void *a, const void *b) {
  __asm__ volatile("" ::"r"(a), "r"(b) : "memory");
  return 0;
}

/* Markers for a bench/profile_kernels.py trace (outside the counted span). */
__attribute__((noinline)) void bench_region_begin(void) { __asm__ volatile("" ::: "memory"); }
__attribute__((noinline)) void bench_region_end(void) { __asm__ volatile("" ::: "memory"); }

/* Instructions the counter itself adds around a call with two pointer arguments. */
static uint64_t bench_counter_overhead(const void *a, const void *b) {
  sbtf_counter_start();
  const uint64_t t0 = sbtf_counter_read();
  bench_empty_call(a, b);
  return sbtf_counter_read() - t0;
}

/* FNV-1a of the output bytes: equal checksums, equal outputs across programs. */
static inline uint32_t bench_checksum(const int8_t *p, int32_t n) {
  uint32_t h = 2166136261u;
  for (int32_t i = 0; i < n; ++i) h = (h ^ (uint8_t)p[i]) * 16777619u;
  return h;
}

static uint32_t bench_rng_state = 0x12345678u;
static inline uint32_t bench_rnd(void) { /* xorshift32 */
  bench_rng_state ^= bench_rng_state << 13;
  bench_rng_state ^= bench_rng_state >> 17;
  bench_rng_state ^= bench_rng_state << 5;
  return bench_rng_state;
}

#endif
