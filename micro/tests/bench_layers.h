/*
 * bench_layers.h - the layers and data that bench_kernels.c (sbtf, plain int8) and
 * bench_cmsis_nn.c (CMSIS-NN) measure: the same shapes, seed and values for both.
 * Random data from a fixed seed; signed-binary weights with `zero_percent` % zeros, as int8
 * (sign * 127 or 0, for the int8 kernels) and as mask + sign (for sbtf). Included by one
 * translation unit per program (static definitions).
 */
#ifndef BENCH_LAYERS_H
#define BENCH_LAYERS_H

#include <stdint.h>
#include <string.h>

#include "bench_harness.h" /* bench_rnd */
#include "sbtf_nn.h"

typedef struct {
  const char *name;
  int32_t h, w, c_in, c_out, kernel, stride; /* conv: SAME padding; fc: kernel 0, h = w = 1 */
  int32_t zero_percent;                      /* of the signed-binary weights */
} bench_layer;

/* MLPerf Tiny ResNet-8's 3x3 layers and FC; other shapes (1x1, 3x3 stride 2 with 64 channels,
   wide 8x8x256 -> 256 as a 1x1: its 3x3 int8 weights, 576 KiB, do not fit the M55 board's
   512 KiB DTCM; a 3-channel first layer); L3 and FC again at 100/90/50/0 % zeros (density). */
static const bench_layer bench_layers[] = {
    {"L1", 32, 32, 16, 16, 3, 1, 65},    {"L2", 32, 32, 16, 32, 3, 2, 65},
    {"L3", 16, 16, 32, 32, 3, 1, 65},    {"L4", 16, 16, 32, 64, 3, 2, 65},
    {"L5", 8, 8, 64, 64, 3, 1, 65},      {"FC", 1, 1, 256, 64, 0, 1, 65},
    {"PW", 16, 16, 64, 64, 1, 1, 65},    {"S2", 16, 16, 64, 64, 3, 2, 65},
    {"WIDE", 8, 8, 256, 256, 1, 1, 65},  {"RGB", 32, 32, 3, 16, 3, 1, 65},
    {"L3d0", 16, 16, 32, 32, 3, 1, 100}, {"L3d10", 16, 16, 32, 32, 3, 1, 90},
    {"L3d50", 16, 16, 32, 32, 3, 1, 50}, {"L3d100", 16, 16, 32, 32, 3, 1, 0},
    {"FCd0", 1, 1, 256, 64, 0, 1, 100},  {"FCd10", 1, 1, 256, 64, 0, 1, 90},
    {"FCd50", 1, 1, 256, 64, 0, 1, 50},  {"FCd100", 1, 1, 256, 64, 0, 1, 0},
};
#define BENCH_LAYERS ((int32_t)(sizeof(bench_layers) / sizeof(bench_layers[0])))

#define BENCH_MAX_IN (32 * 32 * 16)
#define BENCH_MAX_OUT (32 * 32 * 16)
#define BENCH_MAX_WEIGHTS (256 * 256) /* largest C_out * K */
#define BENCH_MAX_C 256

static int8_t bench_input[BENCH_MAX_IN];
static int8_t bench_weights[BENCH_MAX_WEIGHTS];
static uint8_t bench_mask[BENCH_MAX_WEIGHTS / 8 + 2 * BENCH_MAX_C];
static int8_t bench_sign[BENCH_MAX_C];
static int32_t bench_bias[BENCH_MAX_C], bench_multiplier[BENCH_MAX_C], bench_shift[BENCH_MAX_C];

static int bench_is_fc(const bench_layer *L) { return L->kernel == 0; }
static int32_t bench_out_size(int32_t in, int32_t stride) { return (in + stride - 1) / stride; }
/* SAME padding before the first row / column. */
static int32_t bench_pad(const bench_layer *L, int32_t in) {
  const int32_t total = (bench_out_size(in, L->stride) - 1) * L->stride + L->kernel - in;
  return (total > 0 ? total : 0) / 2;
}
static int32_t bench_k(const bench_layer *L) {
  return bench_is_fc(L) ? L->c_in : L->kernel * L->kernel * L->c_in;
}

static int32_t bench_log2(int32_t v) {
  int32_t n = 0;
  while (v > 1) v >>= 1, ++n;
  return n;
}

/* Inputs, weights, bias and requantization of layer L (reseeded per layer, so every program
   sees the same values whichever layers it runs). FC: per-tensor quantization, as TFLite's. */
static void bench_make_layer(const bench_layer *L) {
  bench_rng_state = 0x12345678u;
  for (int32_t i = 0; i < BENCH_MAX_IN; ++i) bench_input[i] = (int8_t)bench_rnd();
  const int32_t k = bench_k(L), row_bytes = sbtf_mask_row_bytes(k);
  memset(bench_mask, 0, (size_t)(L->c_out * row_bytes));
  for (int32_t c = 0; c < L->c_out; ++c) {
    bench_sign[c] = (bench_rnd() & 1u) ? 1 : -1;
    for (int32_t i = 0; i < k; ++i) {
      const int on = (int32_t)(bench_rnd() % 100u) >= L->zero_percent;
      bench_weights[c * k + i] = (int8_t)(on ? 127 * bench_sign[c] : 0);
      if (on) bench_mask[c * row_bytes + i / 8] |= (uint8_t)(1u << (i % 8));
    }
    bench_bias[c] = (int32_t)(bench_rnd() % 40001u) - 20000;
    bench_multiplier[c] = (int32_t)(0x40000000u + (bench_rnd() & 0x3FFFFFFFu));
    /* About 2 more bits of shift per 4x the inputs, so that outputs are not all clamped. */
    bench_shift[c] = -11 - (int32_t)(bench_rnd() & 1u) - bench_log2(k / 144);
    if (bench_is_fc(L) && c > 0) {
      bench_multiplier[c] = bench_multiplier[0];
      bench_shift[c] = bench_shift[0];
    }
  }
}

#endif
