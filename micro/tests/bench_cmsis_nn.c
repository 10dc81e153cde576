/*
 * bench_cmsis_nn.c - CMSIS-NN's int8 instructions on the layers of bench_layers.h, counted
 * exactly as bench_kernels.c counts sbtf (SysTick under -icount shift=0, from just before the
 * call to just after it, minus the counter overhead). Built against CMSIS-NN's sources by
 * bench/bench_kernels.py (never part of the repository). Entry points as TFLite Micro's CMSIS-NN
 * kernels call them: arm_convolve_wrapper_s8 and arm_fully_connected_wrapper_s8 (per-tensor),
 * with the FC's prepare-time kernel sums (arm_vector_sum_s8) computed before counting.
 * Prints one CMSIS line per layer with a checksum of the output (the bench compares it with
 * sbtf's: both must compute TFLite's int8 result).
 */
#include <stdio.h>

#include "arm_nnfunctions.h"
#include "bench_harness.h"
#include "bench_layers.h"

#define SCRATCH_BYTES (64 * 1024)

static int8_t output[BENCH_MAX_OUT];
static uint32_t scratch[SCRATCH_BYTES / 4];

int main(void) {
  const uint64_t overhead = bench_counter_overhead(scratch, output);
  printf("CMSIS board=%s counter_overhead=%llu\n", sbtf_board_name(),
         (unsigned long long)overhead);
  for (int32_t li = 0; li < BENCH_LAYERS; ++li) {
    const bench_layer *L = &bench_layers[li];
    bench_make_layer(L);
    const int32_t oh = bench_out_size(L->h, L->stride), ow = bench_out_size(L->w, L->stride);
    const cmsis_nn_dims out = {1, oh, ow, L->c_out}, bias_dims = {1, 1, 1, L->c_out};
    arm_cmsis_nn_status st;
    uint64_t n;
    int32_t need;
    if (bench_is_fc(L)) {
      const cmsis_nn_fc_params fp = {128, 0, -5, {-128, 127}};
      const cmsis_nn_quant_params q = {bench_multiplier, bench_shift, 0};
      const cmsis_nn_dims in = {1, 1, 1, L->c_in}, f = {L->c_in, 1, 1, L->c_out};
      need = arm_fully_connected_s8_get_buffer_size(&f);
      if (need > SCRATCH_BYTES) return 1;
      const cmsis_nn_context ctx = {scratch, need};
      if (need > 0) /* prepare time (TFLM: persistent kernel sums) */
        arm_vector_sum_s8((int32_t *)scratch, L->c_in, L->c_out, bench_weights, 128, 0, bench_bias);
      bench_region_begin();
      sbtf_counter_start();
      const uint64_t t0 = sbtf_counter_read();
      st = arm_fully_connected_wrapper_s8(&ctx, &fp, &q, &in, bench_input, &f, bench_weights,
                                          &bias_dims, bench_bias, &out, output);
      n = sbtf_counter_read() - t0 - overhead;
      bench_region_end();
    } else {
      const int32_t pad_h = bench_pad(L, L->h), pad_w = bench_pad(L, L->w);
      const cmsis_nn_conv_params p = {128, -5, {L->stride, L->stride}, {pad_w, pad_h}, {1, 1},
                                      {-128, 127}};
      const cmsis_nn_per_channel_quant_params q = {bench_multiplier, bench_shift};
      const cmsis_nn_dims in = {1, L->h, L->w, L->c_in},
                          f = {L->c_out, L->kernel, L->kernel, L->c_in};
      need = arm_convolve_wrapper_s8_get_buffer_size(&p, &in, &f, &out);
      if (need > SCRATCH_BYTES) return 1;
      const cmsis_nn_context ctx = {scratch, need};
      bench_region_begin();
      sbtf_counter_start();
      const uint64_t t0 = sbtf_counter_read();
      st = arm_convolve_wrapper_s8(&ctx, &p, &q, &in, bench_input, &f, bench_weights, &bias_dims,
                                   bench_bias, &out, output);
      n = sbtf_counter_read() - t0 - overhead;
      bench_region_end();
    }
    printf("CMSIS layer=%s instructions=%llu scratch=%ld status=%d checksum=%08lx\n", L->name,
           (unsigned long long)n, (long)need, (int)st,
           (unsigned long)bench_checksum(output, oh * ow * L->c_out));
  }
  sbtf_counter_stop();
  return 0;
}
