/*
 * bench_kernels.c - instructions per layer for sbtf's kernels and a plain int8 reference on
 * MLPerf Tiny ResNet-8's 3x3 convolutions and an FC 256 -> 64 (run under -icount shift=0; see
 * sbtf_board.h). Random data (fixed seed), masks with 65% zeros. Counts run from just before
 * the call to just after it, minus the counter overhead measured around an empty call. Also
 * checks that both compute the same outputs. Prints one BENCH line per measurement.
 */
#include <stdio.h>
#include <string.h>

#include "int8_reference.h"
#include "sbtf_board.h"
#include "sbtf_nn.h"

typedef struct {
  const char *name;
  int32_t h, w, c_in, c_out, stride; /* 3x3, SAME padding */
} layer;

static const layer layers[] = {
    {"L1", 32, 32, 16, 16, 1}, {"L2", 32, 32, 16, 32, 2}, {"L3", 16, 16, 32, 32, 1},
    {"L4", 16, 16, 32, 64, 2}, {"L5", 8, 8, 64, 64, 1},
};

#define MAX_IN (32 * 32 * 16)
#define MAX_OUT (32 * 32 * 16)
#define MAX_K (3 * 3 * 64)
#define MAX_C 64
#define SCRATCH_BYTES (32 * 1024)

static int8_t input[MAX_IN];
static int8_t out_sbtf[MAX_OUT], out_ref[MAX_OUT];
static int8_t weights[MAX_C * MAX_K];
static uint8_t mask[MAX_C * MAX_K / 8];
static int8_t sign[MAX_C];
static int32_t bias[MAX_C], multiplier[MAX_C], shift[MAX_C];
static uint32_t scratch[SCRATCH_BYTES / 4];

static uint32_t rng_state = 0x12345678u;
static uint32_t rnd(void) { /* xorshift32 */
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

/* Signed-binary weights with 65% zeros, as int8 (for the reference) and as mask + sign. */
static void make_weights(int32_t c_out, int32_t k) {
  const int32_t row_bytes = sbtf_mask_row_bytes(k);
  memset(mask, 0, (size_t)(c_out * row_bytes));
  for (int32_t c = 0; c < c_out; ++c) {
    sign[c] = (rnd() & 1u) ? 1 : -1;
    for (int32_t i = 0; i < k; ++i) {
      const int on = (rnd() % 100u) >= 65u;
      weights[c * k + i] = (int8_t)(on ? 127 * sign[c] : 0);
      if (on) mask[c * row_bytes + i / 8] |= (uint8_t)(1u << (i % 8));
    }
    bias[c] = (int32_t)(rnd() % 40001u) - 20000;
    multiplier[c] = (int32_t)(0x40000000u + (rnd() & 0x3FFFFFFFu));
    shift[c] = -11 - (int32_t)(rnd() & 1u);
  }
}

__attribute__((noinline)) static sbtf_status empty_call(const sbtf_context *ctx,
                                                        const sbtf_conv_params *params) {
  __asm__ volatile("" ::"r"(ctx), "r"(params) : "memory");
  return SBTF_OK;
}

static uint64_t counter_overhead(void) {
  const sbtf_context ctx = {scratch, 0};
  const sbtf_conv_params params = {0};
  sbtf_counter_start();
  const uint64_t t0 = sbtf_counter_read();
  empty_call(&ctx, &params);
  return sbtf_counter_read() - t0;
}

static int32_t mismatches(int32_t n) {
  int32_t bad = 0;
  for (int32_t i = 0; i < n; ++i) bad += out_sbtf[i] != out_ref[i];
  return bad;
}

static void report(const char *layer_name, const char *impl, uint64_t instructions, int32_t macs,
                   int32_t scratch_bytes, int32_t bad) {
  printf("BENCH layer=%s impl=%s instructions=%llu macs=%ld scratch=%ld mismatches=%ld\n",
         layer_name, impl, (unsigned long long)instructions, (long)macs, (long)scratch_bytes,
         (long)bad);
}

int main(void) {
  const uint64_t overhead = counter_overhead();
  printf("BENCH board=%s path=%s counter_overhead=%llu\n", sbtf_board_name(), sbtf_kernel_path(),
         (unsigned long long)overhead);
  for (int32_t i = 0; i < MAX_IN; ++i) input[i] = (int8_t)rnd();
  for (size_t li = 0; li < sizeof(layers) / sizeof(layers[0]); ++li) {
    const layer *L = &layers[li];
    const int32_t oh = (L->h + L->stride - 1) / L->stride, ow = (L->w + L->stride - 1) / L->stride;
    const int32_t pad_total = (oh - 1) * L->stride + 3 - L->h;
    const int32_t pad = (pad_total > 0 ? pad_total : 0) / 2;
    const sbtf_dims in = {1, L->h, L->w, L->c_in}, f = {L->c_out, 3, 3, L->c_in},
                    out = {1, oh, ow, L->c_out};
    const int32_t k = 9 * L->c_in, n_out = oh * ow * L->c_out;
    make_weights(L->c_out, k);
    const sbtf_conv_params p = {128, -5, L->stride, L->stride, 1, 1, pad, pad, -128, 127};
    const sbtf_quant_params q = {multiplier, shift};
    const int32_t need = sbtf_conv2d_s8_get_buffer_size(&in, &f, &out);
    const sbtf_context ctx = {scratch, need};
    if (need < 0 || need > SCRATCH_BYTES) {
      printf("scratch %ld too large\n", (long)need);
      return 1;
    }
    sbtf_counter_start();
    uint64_t t0 = sbtf_counter_read();
    const sbtf_status st = sbtf_conv2d_s8(&ctx, &p, &q, &in, input, &f, mask, sign, bias, &out,
                                          out_sbtf);
    const uint64_t sb = sbtf_counter_read() - t0 - overhead;
    sbtf_counter_start();
    t0 = sbtf_counter_read();
    int8_reference_conv(&p, &q, &in, input, &f, weights, bias, &out, out_ref);
    const uint64_t rf = sbtf_counter_read() - t0 - overhead;
    const int32_t bad = st == SBTF_OK ? mismatches(n_out) : n_out;
    report(L->name, "sbtf", sb, n_out * k, need, bad);
    report(L->name, "int8_reference", rf, n_out * k, 0, 0);
  }
  { /* FC 256 -> 64, one batch */
    const int32_t c_in = 256, c_out = 64;
    make_weights(c_out, c_in);
    for (int32_t c = 1; c < c_out; ++c) { /* per-tensor quantization, as TFLite's FC */
      multiplier[c] = multiplier[0];
      shift[c] = shift[0];
    }
    const sbtf_fc_params p = {128, -5, -128, 127};
    const sbtf_quant_params q = {multiplier, shift};
    const int32_t need = sbtf_fully_connected_s8_get_buffer_size(c_in, c_out);
    const sbtf_context ctx = {scratch, need};
    sbtf_counter_start();
    uint64_t t0 = sbtf_counter_read();
    const sbtf_status st = sbtf_fully_connected_s8(&ctx, &p, &q, 1, c_in, input, c_out, mask, sign,
                                                   bias, out_sbtf);
    const uint64_t sb = sbtf_counter_read() - t0 - overhead;
    sbtf_counter_start();
    t0 = sbtf_counter_read();
    int8_reference_fc(&p, &q, 1, c_in, input, c_out, weights, bias, out_ref);
    const uint64_t rf = sbtf_counter_read() - t0 - overhead;
    report("FC", "sbtf", sb, c_in * c_out, need, st == SBTF_OK ? mismatches(c_out) : c_out);
    report("FC", "int8_reference", rf, c_in * c_out, 0, 0);
  }
  sbtf_counter_stop();
  return 0;
}
