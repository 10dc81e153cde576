/*
 * bench_depthwise.c - instructions of sbtf_depthwise_conv2d_s8 and, built with BENCH_CMSIS_NN,
 * of CMSIS-NN's int8 arm_depthwise_conv_wrapper_s8 (as TFLite Micro's CMSIS-NN kernel calls it)
 * on the same depthwise layers: KWS DS-CNN's 3x3 on 25x5x64, MobileNet v1 0.25 (VWW) blocks and
 * a depth multiplier of 2. Counted as bench_kernels.c counts (SysTick under -icount shift=0,
 * minus the counter overhead). Signed-binary weights with 65 % zeros; both libraries must give
 * the same bytes (TFLite's int8 result): `same=1`. Run by bench/bench_depthwise.py.
 */
#include <stdio.h>
#include <string.h>

#include "bench_harness.h"
#include "sbtf_nn.h"
#if defined(BENCH_CMSIS_NN)
#include "arm_nnfunctions.h"
#endif

typedef struct {
  const char *name;
  int32_t h, w, c_in, mult, stride;
} dw_layer;

static const dw_layer layers[] = {
    {"KWS", 25, 5, 64, 1, 1},    {"VWW1", 48, 48, 8, 1, 1},  {"VWW4", 24, 24, 32, 1, 2},
    {"VWW6", 12, 12, 64, 1, 1},  {"VWW12", 6, 6, 128, 1, 2}, {"M2", 16, 16, 16, 2, 1},
};
#define N_LAYERS ((int32_t)(sizeof(layers) / sizeof(layers[0])))
#define MAX_IN (48 * 48 * 8)
#define MAX_OUT (48 * 48 * 8)
#define MAX_C 128
#define K 9

static int8_t input[MAX_IN], out_sbtf[MAX_OUT];
#if defined(BENCH_CMSIS_NN)
static int8_t out_cmsis[MAX_OUT];
#endif
static int8_t weights[K * MAX_C], sign[MAX_C];
static uint8_t mask[MAX_C * 2];
static int32_t bias[MAX_C], multiplier[MAX_C], shift[MAX_C];
static uint32_t scratch[16 * 1024 / 4];

static void make_layer(const dw_layer *L) {
  bench_rng_state = 0x12345678u;
  for (int32_t i = 0; i < MAX_IN; ++i) input[i] = (int8_t)bench_rnd();
  const int32_t c_out = L->c_in * L->mult;
  memset(mask, 0, sizeof(mask));
  for (int32_t c = 0; c < c_out; ++c) {
    sign[c] = (bench_rnd() & 1u) ? 1 : -1;
    for (int32_t t = 0; t < K; ++t) {
      const int on = (int32_t)(bench_rnd() % 100u) >= 65;
      weights[t * c_out + c] = (int8_t)(on ? 127 * sign[c] : 0); /* [1, 3, 3, C_out] */
      if (on) mask[c * 2 + t / 8] |= (uint8_t)(1u << (t % 8));
    }
    bias[c] = (int32_t)(bench_rnd() % 40001u) - 20000;
    multiplier[c] = (int32_t)(0x40000000u + (bench_rnd() & 0x3FFFFFFFu));
    shift[c] = -7 - (int32_t)(bench_rnd() & 1u);
  }
}

int main(void) {
  const uint64_t overhead = bench_counter_overhead(scratch, out_sbtf);
  printf("DW board=%s counter_overhead=%llu\n", sbtf_board_name(), (unsigned long long)overhead);
  for (int32_t li = 0; li < N_LAYERS; ++li) {
    const dw_layer *L = &layers[li];
    make_layer(L);
    const int32_t c_out = L->c_in * L->mult;
    const int32_t oh = (L->h + L->stride - 1) / L->stride, ow = (L->w + L->stride - 1) / L->stride;
    const int32_t pad_h = ((oh - 1) * L->stride + 3 - L->h) / 2;
    const int32_t pad_w = ((ow - 1) * L->stride + 3 - L->w) / 2;
    const sbtf_dims in = {1, L->h, L->w, L->c_in}, f = {1, 3, 3, c_out}, out = {1, oh, ow, c_out};
    const sbtf_conv_params p = {128, -5, L->stride, L->stride, 1, 1, pad_h > 0 ? pad_h : 0,
                                pad_w > 0 ? pad_w : 0, -128, 127};
    const sbtf_quant_params q = {multiplier, shift};
    const int32_t need = sbtf_depthwise_conv2d_s8_get_buffer_size(&in, &f, &out, L->mult);
    const sbtf_context ctx = {scratch, need};
    if (need < 0 || need > (int32_t)sizeof(scratch)) return 1;
    bench_region_begin();
    sbtf_counter_start();
    uint64_t t0 = sbtf_counter_read();
    const sbtf_status st = sbtf_depthwise_conv2d_s8(&ctx, &p, L->mult, &q, &in, input, &f, mask,
                                                    sign, bias, &out, out_sbtf);
    const uint64_t n_sbtf = sbtf_counter_read() - t0 - overhead;
    bench_region_end();
    long long n_cmsis = -1;
    int same = -1, cmsis_status = 0;
#if defined(BENCH_CMSIS_NN)
    const cmsis_nn_dw_conv_params cp = {128, -5, L->mult, {L->stride, L->stride},
                                        {p.pad_w, p.pad_h}, {1, 1}, {-128, 127}};
    const cmsis_nn_per_channel_quant_params cq = {multiplier, shift};
    const cmsis_nn_dims cin = {1, L->h, L->w, L->c_in}, cf = {1, 3, 3, c_out},
                        cout = {1, oh, ow, c_out}, cb = {1, 1, 1, c_out};
    const int32_t cneed = arm_depthwise_conv_wrapper_s8_get_buffer_size(&cp, &cin, &cf, &cout);
    if (cneed > (int32_t)sizeof(scratch)) return 1;
    const cmsis_nn_context cctx = {scratch, cneed};
    sbtf_counter_start();
    t0 = sbtf_counter_read();
    cmsis_status = arm_depthwise_conv_wrapper_s8(&cctx, &cp, &cq, &cin, input, &cf, weights, &cb,
                                                 bias, &cout, out_cmsis);
    n_cmsis = (long long)(sbtf_counter_read() - t0 - overhead);
    same = memcmp(out_sbtf, out_cmsis, (size_t)(oh * ow * c_out)) == 0;
#endif
    printf("DW layer=%s status=%d sbtf=%llu cmsis_nn=%lld cmsis_status=%d same=%d macs=%ld "
           "scratch=%ld\n", L->name, (int)st, (unsigned long long)n_sbtf, n_cmsis, cmsis_status,
           same, (long)(oh * ow * c_out * K), (long)need);
  }
  sbtf_counter_stop();
  return 0;
}
