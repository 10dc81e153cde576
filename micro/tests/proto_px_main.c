/* proto_px_main.c - PROTOTYPE harness: sbtf_conv2d_s8 vs px_conv2d_s8 on bench layers. */
#include <stdio.h>
#include <string.h>

#include "bench_layers.h"
#include "sbtf_board.h"
#include "sbtf_nn.h"

int sbtf_conv_pixels(void *scratch, int32_t budget, const sbtf_conv_params *p,
                     const sbtf_quant_params *q, const sbtf_dims *in, const int8_t *input,
                     const sbtf_dims *fd, const uint8_t *mask, const int8_t *sign,
                     const int32_t *bias, const sbtf_dims *od, int8_t *output, int32_t shift_max);
static sbtf_status px_conv2d_s8(const sbtf_context *ctx, const sbtf_conv_params *p,
                         const sbtf_quant_params *q, const sbtf_dims *in, const int8_t *input,
                         const sbtf_dims *fd, const uint8_t *mask, const int8_t *sign,
                         const int32_t *bias, const sbtf_dims *od, int8_t *output) {
  return sbtf_conv_pixels(ctx->buf, ctx->size, p, q, in, input, fd, mask, sign, bias, od, output, -1) ? SBTF_OK : SBTF_ERROR_BAD_SHAPE;
}

static int8_t out_a[BENCH_MAX_OUT], out_b[BENCH_MAX_OUT];
static uint32_t scratch[64 * 1024 / 4];

__attribute__((noinline)) void bench_region_begin(void) { __asm__ volatile("" ::: "memory"); }
__attribute__((noinline)) void bench_region_end(void) { __asm__ volatile("" ::: "memory"); }

int main(void) {
  for (int32_t i = 0; i < BENCH_LAYERS; ++i) {
    const bench_layer *L = &bench_layers[i];
    if (bench_is_fc(L) || L->c_in % 4 != 0 || L->name[2] == 'd') continue;
#ifdef PXSEL
    if (strcmp(L->name, PXSEL) != 0 && strcmp(L->name, PXSEL2) != 0) continue;
#endif
    bench_make_layer(L);
    const int32_t oh = bench_out_size(L->h, L->stride), ow = bench_out_size(L->w, L->stride);
    const sbtf_dims in = {1, L->h, L->w, L->c_in}, f = {L->c_out, L->kernel, L->kernel, L->c_in},
                    out = {1, oh, ow, L->c_out};
    const sbtf_conv_params p = {128, -5, L->stride, L->stride, 1, 1, bench_pad(L, L->h),
                                bench_pad(L, L->w), -128, 127};
    const sbtf_quant_params q = {bench_multiplier, bench_shift};
    const int32_t need = sbtf_conv2d_s8_get_buffer_size(&in, &f, &out), n = oh * ow * L->c_out;
    const sbtf_context ctx = {scratch, need};
    memset(out_b, 0x55, sizeof(out_b));
    sbtf_counter_start();
    uint64_t t0 = sbtf_counter_read();
    sbtf_status sa = sbtf_conv2d_s8(&ctx, &p, &q, &in, bench_input, &f, bench_mask, bench_sign,
                                    bench_bias, &out, out_a);
    const uint64_t ca = sbtf_counter_read() - t0;
    bench_region_begin();
    sbtf_counter_start();
    t0 = sbtf_counter_read();
    sbtf_status sb = px_conv2d_s8(&ctx, &p, &q, &in, bench_input, &f, bench_mask, bench_sign,
                                  bench_bias, &out, out_b);
    const uint64_t cb = sbtf_counter_read() - t0;
    bench_region_end();
    int32_t bad = 0;
    for (int32_t j = 0; j < n; ++j) bad += out_a[j] != out_b[j];
    printf("PX layer=%s old=%llu px=%llu ratio=%ld status=%d/%d bad=%ld after=%d\n", L->name,
           (unsigned long long)ca, (unsigned long long)cb, (long)(1000 * cb / ca), sa, sb,
           (long)bad, out_b[n] == 0x55);
  }
  sbtf_counter_stop();
  return 0;
}
