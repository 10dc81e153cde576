/*
 * bench_kernels.c - instructions per layer for sbtf's kernels and a plain int8 reference on
 * the layers of bench_layers.h (run under -icount shift=0; see sbtf_board.h). Counts run from
 * just before the call to just after it, minus the counter overhead measured around an empty
 * call. Also checks that both compute the same outputs. Prints one BENCH line per measurement.
 * -DBENCH_NO_REFERENCE leaves the int8 reference out (for instruction-address profiles, where
 * bench_region_begin/end bracket each sbtf call: bench/profile_kernels.py).
 */
#include <stdio.h>
#include <string.h>

#include "bench_harness.h"
#include "bench_layers.h"
#include "int8_reference.h"
#include "sbtf_nn.h"

#define SCRATCH_BYTES (64 * 1024)
#if defined(BENCH_NO_REFERENCE)
#define RUN_REFERENCE 0
#else
#define RUN_REFERENCE 1
#endif

static int8_t out_sbtf[BENCH_MAX_OUT], out_ref[BENCH_MAX_OUT];
static uint32_t scratch[SCRATCH_BYTES / 4];
static uint32_t prepared[16 * 1024 / 4]; /* FC masks decoded at prepare time */

static int32_t mismatches(int32_t n) {
  int32_t bad = 0;
  for (int32_t i = 0; i < n; ++i) bad += out_sbtf[i] != out_ref[i];
  return bad;
}

/* One layer: sbtf (and the reference unless BENCH_NO_REFERENCE); prints the BENCH lines. */
static int run_layer(const bench_layer *L, uint64_t overhead) {
  bench_make_layer(L);
  const int fc = bench_is_fc(L);
  const int32_t oh = bench_out_size(L->h, L->stride), ow = bench_out_size(L->w, L->stride);
  const int32_t pad_h = fc ? 0 : bench_pad(L, L->h), pad_w = fc ? 0 : bench_pad(L, L->w);
  const sbtf_dims in = {1, L->h, L->w, L->c_in}, f = {L->c_out, L->kernel, L->kernel, L->c_in},
                  out = {1, oh, ow, L->c_out};
  const int32_t k = bench_k(L), n_out = oh * ow * L->c_out;
  const sbtf_conv_params p = {128, -5, L->stride, L->stride, 1, 1, pad_h, pad_w, -128, 127};
  const sbtf_fc_params fp = {128, -5, -128, 127};
  const sbtf_quant_params q = {bench_multiplier, bench_shift};
  const int32_t need = fc ? sbtf_fully_connected_s8_get_buffer_size(L->c_in, L->c_out)
                          : sbtf_conv2d_s8_get_buffer_size(&in, &f, &out);
  if (need < 0 || need > SCRATCH_BYTES) {
    printf("%s: scratch %ld too large\n", L->name, (long)need);
    return 1;
  }
  const sbtf_context ctx = {scratch, need};
  bench_region_begin();
  sbtf_counter_start();
  uint64_t t0 = sbtf_counter_read();
  const sbtf_status st =
      fc ? sbtf_fully_connected_s8(&ctx, &fp, &q, 1, L->c_in, bench_input, L->c_out, bench_mask,
                                   bench_sign, bench_bias, out_sbtf)
         : sbtf_conv2d_s8(&ctx, &p, &q, &in, bench_input, &f, bench_mask, bench_sign, bench_bias,
                          &out, out_sbtf);
  const uint64_t sb = sbtf_counter_read() - t0 - overhead;
  bench_region_end();
  uint64_t rf = 0;
  int32_t bad = 0;
  if (RUN_REFERENCE) {
    sbtf_counter_start();
    t0 = sbtf_counter_read();
    if (fc)
      int8_reference_fc(&fp, &q, 1, L->c_in, bench_input, L->c_out, bench_weights, bench_bias,
                        out_ref);
    else
      int8_reference_conv(&p, &q, &in, bench_input, &f, bench_weights, bench_bias, &out, out_ref);
    rf = sbtf_counter_read() - t0 - overhead;
    bad = mismatches(n_out);
  }
  if (st != SBTF_OK) bad = n_out;
  /* FC: also with the masks decoded at prepare time (prepare counted on its own). */
  uint64_t prep = 0, with_prepared = 0;
  int32_t persistent = 0;
  if (fc) {
    persistent = sbtf_fully_connected_s8_prepared_size(L->c_in, L->c_out);
    if (persistent < 0 || persistent > (int32_t)sizeof(prepared)) return 1;
    sbtf_counter_start();
    t0 = sbtf_counter_read();
    const sbtf_status sp = sbtf_fully_connected_s8_prepare(prepared, persistent, &fp, L->c_in,
                                                           L->c_out, bench_mask, bench_sign,
                                                           bench_bias);
    prep = sbtf_counter_read() - t0 - overhead;
    bench_region_begin(); /* profiled as layer "<name>prep" (bench/profile_kernels.py) */
    sbtf_counter_start();
    t0 = sbtf_counter_read();
    const sbtf_status sr = sbtf_fully_connected_s8_prepared(
        &ctx, prepared, &fp, &q, 1, L->c_in, bench_input, L->c_out, bench_mask, bench_sign,
        bench_bias, out_ref + BENCH_MAX_OUT / 2);
    with_prepared = sbtf_counter_read() - t0 - overhead;
    bench_region_end();
    if (sp != SBTF_OK || sr != SBTF_OK ||
        memcmp(out_ref + BENCH_MAX_OUT / 2, out_sbtf, (size_t)n_out) != 0)
      bad = n_out;
  }
  printf("BENCH layer=%s sbtf=%llu int8_reference=%llu macs=%ld scratch=%ld mismatches=%ld "
         "checksum=%08lx prepared=%llu prepare=%llu persistent=%ld\n", L->name,
         (unsigned long long)sb, (unsigned long long)rf, (long)(n_out * k), (long)need, (long)bad,
         (unsigned long)bench_checksum(out_sbtf, n_out), (unsigned long long)with_prepared,
         (unsigned long long)prep, (long)persistent);
  if (fc) printf("BENCH layer=%sprep sbtf=%llu\n", L->name, (unsigned long long)with_prepared);
  return 0;
}

int main(void) {
  const uint64_t overhead = bench_counter_overhead(scratch, out_sbtf);
  printf("BENCH board=%s path=%s counter_overhead=%llu\n", sbtf_board_name(), sbtf_kernel_path(),
         (unsigned long long)overhead);
  for (int32_t i = 0; i < BENCH_LAYERS; ++i)
    if (run_layer(&bench_layers[i], overhead) != 0) return 1;
  sbtf_counter_stop();
  return 0;
}
