/*
 * bench_builtins.c - instructions per call of the runtime's int8 builtins (sbtf_rt.h) and of
 * CMSIS-NN's kernels for the same operators on the same shapes and data (run under -icount
 * shift=0; see sbtf_board.h). Shapes: the int8 operators of MLPerf Tiny ResNet-8 as sbtf runs it
 * (first 3x3 conv on 3 channels, 1x1 stride-2 shortcuts, ADDs, the final pool, FC and softmax),
 * two 3x3 layers of its int8 twin and a depthwise 3x3. Counts run from just before the call to
 * just after it, minus the counter overhead around an empty call; CMSIS-NN's prepare-time work
 * (FC kernel sums) is done outside the count, as TFLM does it in Prepare. Each pair's outputs
 * are compared. Prints one BENCH line per measurement.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "arm_nnfunctions.h"
#include "sbtf_board.h"
#include "sbtf_rt.h"

#define MAX_ACT (32 * 32 * 16)
#define MAX_C 256
#define MAX_W (640 * 128) /* the AD autoencoder's widest FULLY_CONNECTED */
#define SCRATCH_BYTES (16 * 1024)

static int8_t in1[MAX_ACT], in2[MAX_ACT], out_sbtf[MAX_ACT], out_cmsis[MAX_ACT];
static int8_t weights[MAX_W];
static int8_t fc_filter[MAX_W] __attribute__((aligned(4))); /* SBTF_RT_FC_BLOCK layout */
static int32_t bias[MAX_C], folded[MAX_C], multiplier[MAX_C], shift[MAX_C];
static uint32_t scratch[SCRATCH_BYTES / 4], cmsis_buf[SCRATCH_BYTES / 4];
static float softmax_table[256];

static uint32_t rng_state = 0x2468ACE1u;
static uint32_t rnd(void) { /* xorshift32 */
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

static void fill(int8_t *p, int32_t n) {
  for (int32_t i = 0; i < n; ++i) p[i] = (int8_t)(rnd() & 0xFF);
}

/* Weights, biases and per-channel requantization in the ranges a converted model has. */
static void make_layer(int32_t c_out, int32_t k, int32_t input_offset) {
  fill(weights, c_out * k);
  for (int32_t c = 0; c < c_out; ++c) {
    bias[c] = (int32_t)(rnd() % 4001u) - 2000;
    multiplier[c] = (int32_t)(0x40000000u + (rnd() & 0x3FFFFFFFu));
    shift[c] = -7 - (int32_t)(rnd() % 3u);
    int32_t sum = 0;
    for (int32_t i = 0; i < k; ++i) sum += weights[c * k + i];
    folded[c] = bias[c] + input_offset * sum;
  }
}

__attribute__((noinline)) static void empty_call(void *a, void *b) {
  __asm__ volatile("" ::"r"(a), "r"(b) : "memory");
}

static uint64_t overhead;

static uint64_t counter_overhead(void) {
  sbtf_counter_start();
  const uint64_t t0 = sbtf_counter_read();
  empty_call(scratch, cmsis_buf);
  return sbtf_counter_read() - t0;
}

#define COUNT(result, call)                                   \
  do {                                                        \
    sbtf_counter_start();                                     \
    const uint64_t t0_ = sbtf_counter_read();                 \
    const int st_ = (int)(call);                              \
    result = sbtf_counter_read() - t0_ - overhead;            \
    if (st_ != 0) printf("BENCH-ERROR %s status=%d\n", #call, st_); \
  } while (0)

static void report(const char *op, const char *shape, uint64_t sb, uint64_t cm, int32_t n) {
  int32_t bad = 0;
  for (int32_t i = 0; i < n; ++i) bad += out_sbtf[i] != out_cmsis[i];
  printf("BENCH op=%s shape=%s sbtf=%llu cmsis=%llu outputs=%ld differ=%ld\n", op, shape,
         (unsigned long long)sb, (unsigned long long)cm, (long)n, (long)bad);
}

typedef struct {
  const char *shape;
  int32_t h, w, c_in, c_out, k, stride, pad;
} conv_case;

static const conv_case convs[] = {
    {"32x32x3-16-3x3", 32, 32, 3, 16, 3, 1, 1},  /* ResNet-8 first layer */
    {"32x32x16-32-1x1s2", 32, 32, 16, 32, 1, 2, 0}, /* ResNet-8 shortcuts */
    {"16x16x32-64-1x1s2", 16, 16, 32, 64, 1, 2, 0},
    {"32x32x16-16-3x3", 32, 32, 16, 16, 3, 1, 1}, /* int8 twin L1 and L5 */
    {"8x8x64-64-3x3", 8, 8, 64, 64, 3, 1, 1},
};

static void bench_conv(const conv_case *cc) {
  const int32_t in_off = 5, out_off = -3;
  const int32_t oh = (cc->h + 2 * cc->pad - cc->k) / cc->stride + 1;
  const int32_t ow = (cc->w + 2 * cc->pad - cc->k) / cc->stride + 1;
  fill(in1, cc->h * cc->w * cc->c_in);
  make_layer(cc->c_out, cc->k * cc->k * cc->c_in, in_off);
  const sbtf_dims in_d = {1, cc->h, cc->w, cc->c_in}, f_d = {cc->c_out, cc->k, cc->k, cc->c_in};
  const sbtf_dims out_d = {1, oh, ow, cc->c_out};
  const sbtf_conv_params p = {in_off, out_off, cc->stride, cc->stride, 1, 1, cc->pad, cc->pad,
                              -128, 127};
  const sbtf_quant_params q = {multiplier, shift};
  const sbtf_context ctx = {scratch, sizeof(scratch)};
  uint64_t sb, cm;
  COUNT(sb, sbtf_rt_conv2d_s8(&ctx, &p, &q, &in_d, in1, &f_d, weights, folded, &out_d, out_sbtf));

  const cmsis_nn_conv_params cp = {in_off, out_off, {cc->stride, cc->stride}, {cc->pad, cc->pad},
                                   {1, 1}, {-128, 127}};
  const cmsis_nn_per_channel_quant_params cq = {multiplier, shift};
  const cmsis_nn_dims ci = {1, cc->h, cc->w, cc->c_in}, cf = {cc->c_out, cc->k, cc->k, cc->c_in};
  const cmsis_nn_dims cb = {1, 1, 1, cc->c_out}, co = {1, oh, ow, cc->c_out};
  const cmsis_nn_context cctx = {cmsis_buf, arm_convolve_wrapper_s8_get_buffer_size(&cp, &ci, &cf, &co)};
  if (cctx.size > (int32_t)sizeof(cmsis_buf)) printf("BENCH-ERROR cmsis buffer %ld\n", (long)cctx.size);
  COUNT(cm, arm_convolve_wrapper_s8(&cctx, &cp, &cq, &ci, in1, &cf, weights, &cb, bias, &co,
                                    out_cmsis));
  report("CONV_2D", cc->shape, sb, cm, oh * ow * cc->c_out);
}

typedef struct {
  const char *shape;
  int32_t h, w, c, stride, pad; /* 3x3 filter, depth multiplier 1, SAME when pad is 1 */
} dw_case;

static const dw_case depthwise_cases[] = {
    {"16x16x64-3x3", 16, 16, 64, 1, 1},
    {"25x5x64-3x3", 25, 5, 64, 1, 1},   /* KWS DS-CNN */
    {"12x12x64-3x3", 12, 12, 64, 1, 1},   /* VWW MobileNetV1-0.25 */
    {"12x12x64-3x3s2", 12, 12, 64, 2, 0},
};

static void bench_depthwise(const dw_case *dc) {
  const int32_t h = dc->h, w = dc->w, c = dc->c, in_off = -7, out_off = 4;
  const int32_t oh = (h + 2 * dc->pad - 3) / dc->stride + 1, ow = (w + 2 * dc->pad - 3) / dc->stride + 1;
  fill(in1, h * w * c);
  /* filter [1, 3, 3, C]: make_layer's per-channel sums are not used by depthwise */
  make_layer(c, 9, 0);
  const sbtf_dims in_d = {1, h, w, c}, f_d = {1, 3, 3, c}, out_d = {1, oh, ow, c};
  const sbtf_conv_params p = {in_off, out_off, dc->stride, dc->stride, 1, 1, dc->pad, dc->pad,
                              -128, 127};
  const sbtf_quant_params q = {multiplier, shift};
  const sbtf_context ctx = {scratch, sizeof(scratch)};
  uint64_t sb, cm;
  COUNT(sb, sbtf_rt_depthwise_conv2d_s8(&ctx, &p, 1, &q, &in_d, in1, &f_d, weights, bias, &out_d,
                                        out_sbtf));
  const cmsis_nn_dw_conv_params dp = {in_off, out_off, 1, {dc->stride, dc->stride},
                                      {dc->pad, dc->pad}, {1, 1}, {-128, 127}};
  const cmsis_nn_per_channel_quant_params cq = {multiplier, shift};
  const cmsis_nn_dims ci = {1, h, w, c}, cf = {1, 3, 3, c}, cb = {1, 1, 1, c}, co = {1, oh, ow, c};
  const cmsis_nn_context cctx = {cmsis_buf,
                                 arm_depthwise_conv_wrapper_s8_get_buffer_size(&dp, &ci, &cf, &co)};
  if (cctx.size > (int32_t)sizeof(cmsis_buf)) printf("BENCH-ERROR cmsis buffer %ld\n", (long)cctx.size);
  COUNT(cm, arm_depthwise_conv_wrapper_s8(&cctx, &dp, &cq, &ci, in1, &cf, weights, &cb, bias, &co,
                                          out_cmsis));
  report("DEPTHWISE_CONV_2D", dc->shape, sb, cm, oh * ow * c);
}

static void bench_fc(const char *shape, int32_t c_in, int32_t c_out) {
  const int32_t in_off = 3, out_off = -10;
  fill(in1, c_in);
  make_layer(c_out, c_in, in_off);
  for (int32_t c = 0; c < c_out; ++c) multiplier[c] = multiplier[0], shift[c] = shift[0];
  const sbtf_fc_params p = {in_off, out_off, -128, 127};
  const sbtf_quant_params q = {multiplier, shift};
  uint64_t sb, cm;
  if (SBTF_RT_FC_FILTER_BYTES(c_out, c_in) > MAX_W ||
      sbtf_rt_fc_interleave(c_out, c_in, weights, fc_filter) != SBTF_OK) /* the generator's job */
    printf("BENCH-ERROR fc filter %s\n", shape);
  COUNT(sb, sbtf_rt_fully_connected_s8(&p, &q, 1, c_in, in1, c_out, fc_filter, folded, out_sbtf));
  const cmsis_nn_fc_params fp = {in_off, 0, out_off, {-128, 127}};
  const cmsis_nn_per_tensor_quant_params tq = {multiplier[0], shift[0]};
  const cmsis_nn_dims ci = {1, 1, 1, c_in}, cf = {c_in, 1, 1, c_out}, cb = {1, 1, 1, c_out};
  const cmsis_nn_dims co = {1, 1, 1, c_out};
  const cmsis_nn_context cctx = {cmsis_buf, arm_fully_connected_s8_get_buffer_size(&cf)};
  if (cctx.size > 0) /* prepare-time kernel sums, as TFLM computes them in Prepare */
    arm_vector_sum_s8((int32_t *)cmsis_buf, c_in, c_out, weights, in_off, 0, bias);
  COUNT(cm, arm_fully_connected_s8(&cctx, &fp, &tq, &ci, in1, &cf, weights, &cb, bias, &co,
                                   out_cmsis));
  /* TF 2.21 requantizes FC with single rounding, CMSIS-NN with double: rare ties differ. */
  report("FULLY_CONNECTED", shape, sb, cm, c_out);
}

static void bench_add(const char *shape, int32_t size) {
  fill(in1, size);
  fill(in2, size);
  const sbtf_rt_add_params p = {6, -3, -2, 20, 1518500250, -1, 1073741824, 0, 1431655765, -19,
                                -128, 127};
  const sbtf_context ctx = {scratch, sizeof(scratch)};
  uint64_t sb, cm;
  COUNT(sb, sbtf_rt_add_s8(&ctx, &p, size, in1, in2, 0, out_sbtf));
  COUNT(cm, arm_elementwise_add_s8(in1, in2, p.input1_offset, p.input1_multiplier, p.input1_shift,
                                   p.input2_offset, p.input2_multiplier, p.input2_shift,
                                   p.left_shift, out_cmsis, p.output_offset,
                                   p.output_multiplier, p.output_shift, p.activation_min,
                                   p.activation_max, size));
  report("ADD", shape, sb, cm, size);
}

/* Global average pooling of an h x w x c input (what the MLPerf Tiny models end with). */
static void bench_avg_pool(const char *shape, int32_t h, int32_t w, int32_t c) {
  fill(in1, h * w * c);
  const sbtf_rt_pool_params p = {h, w, h, w, 0, 0, -128, 127};
  const sbtf_dims in_d = {1, h, w, c}, out_d = {1, 1, 1, c};
  uint64_t sb, cm;
  COUNT(sb, sbtf_rt_avg_pool_s8(&p, &in_d, in1, &out_d, out_sbtf));
  const cmsis_nn_pool_params pp = {{h, w}, {0, 0}, {-128, 127}};
  const cmsis_nn_dims ci = {1, h, w, c}, cf = {1, h, w, 1}, co = {1, 1, 1, c};
  const cmsis_nn_context cctx = {cmsis_buf, arm_avgpool_s8_get_buffer_size(1, c)};
  COUNT(cm, arm_avgpool_s8(&cctx, &pp, &ci, in1, &cf, &co, out_cmsis));
  report("AVERAGE_POOL_2D", shape, sb, cm, c);
}

static void bench_softmax(void) {
  const int32_t n = 10;
  const float input_scale = 0.0625f; /* TFLite's table for beta 1 */
  for (int32_t d = 0; d < 256; ++d) softmax_table[255 - d] = expf(-input_scale * (float)d);
  fill(in1, n);
  const sbtf_rt_softmax_params p = {softmax_table, 1.0f / 256.0f, -128};
  uint64_t sb, cm;
  COUNT(sb, sbtf_rt_softmax_s8(&p, 1, n, in1, out_sbtf));
  /* TFLM's PreprocessSoftmaxScaling for that scale: 0.0625 * 2^26 = 2^22 = 2^30 * 2^(23 - 31),
     input radius 31 * 2^26 / 2^23 = 248. */
  sbtf_counter_start();
  const uint64_t t0 = sbtf_counter_read();
  arm_softmax_s8(in1, 1, n, 1073741824, 23, -248, out_cmsis);
  cm = sbtf_counter_read() - t0 - overhead;
  /* CMSIS-NN's integer exp differs from TFLite's float table by design: differ is not 0. */
  report("SOFTMAX", "1x10", sb, cm, n);
}

int main(void) {
  overhead = counter_overhead();
  printf("BENCH board=%s counter_overhead=%llu\n", sbtf_board_name(),
         (unsigned long long)overhead);
  for (size_t i = 0; i < sizeof(convs) / sizeof(convs[0]); ++i) bench_conv(&convs[i]);
  for (size_t i = 0; i < sizeof(depthwise_cases) / sizeof(depthwise_cases[0]); ++i)
    bench_depthwise(&depthwise_cases[i]);
  bench_fc("64-10", 64, 10);
  bench_fc("256-64", 256, 64);
  bench_fc("640-128", 640, 128);
  bench_fc("128-128", 128, 128);
  bench_add("32x32x16", 32 * 32 * 16);
  bench_add("8x8x64", 8 * 8 * 64);
  bench_avg_pool("8x8x64-8x8", 8, 8, 64);
  bench_avg_pool("25x5x64-25x5", 25, 5, 64);
  bench_softmax();
  sbtf_counter_stop();
  printf("BENCH done\n");
  return 0;
}
