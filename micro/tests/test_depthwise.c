/*
 * test_depthwise.c - sbtf_depthwise_conv2d_s8 on host and boards: every golden case (from the
 * NumPy reference by make_golden_depthwise.py into sbtf_golden_depthwise.h) must match bit for
 * bit without writing past the output, and bad arguments must return the documented status.
 * Prints a summary line the pytest driver parses; exits 0 only when everything passed.
 */
#include <stdio.h>
#include <string.h>

#include "sbtf_golden_depthwise.h"
#include "sbtf_nn.h"
#include "test_harness.h"

#define SCRATCH_BYTES (8 * 1024)

static uint32_t scratch[SCRATCH_BYTES / 4];
static int8_t output[GOLDEN_MAX_OUTPUT + GUARD];

/* The kernel's parameters of one case (the error tests vary them). */
typedef struct {
  sbtf_conv_params conv;
  int32_t depth_multiplier;
} dw_params;

static dw_params params_of(const golden_case *g) {
  const dw_params p = {golden_conv_params(g), g->depth_multiplier};
  return p;
}

static int32_t buffer_size(const golden_case *g) {
  return sbtf_depthwise_conv2d_s8_get_buffer_size(&g->input, &g->filter, &g->output,
                                                  g->depth_multiplier);
}

static sbtf_status run(const golden_case *g, const sbtf_context *ctx, const dw_params *p,
                       const sbtf_quant_params *q, const int8_t *x, const sbtf_dims *filter,
                       const uint8_t *mask, const int8_t *sign, int8_t *out) {
  return sbtf_depthwise_conv2d_s8(ctx, p ? &p->conv : NULL, p ? p->depth_multiplier : 1, q,
                                  &g->input, x, filter, mask, sign, g->bias, &g->output, out);
}

static void check_golden(const golden_case *g) {
  const int32_t size = g->output.n * g->output.h * g->output.w * g->output.c;
  const int32_t need = buffer_size(g);
  if (need < 0 || need > SCRATCH_BYTES) {
    CHECK(0, "%s: buffer size %ld (static scratch %d)", g->name, (long)need, SCRATCH_BYTES);
    return;
  }
  const int32_t k = g->filter.h * g->filter.w, c8 = (g->filter.c + 7) / 8 * 8;
  CHECK(need == 17 * c8 + k * c8 + (k + 1) * (int32_t)sizeof(void *), "%s: documented size",
        g->name);
  CHECK(need == SBTF_DEPTHWISE_SCRATCH_BYTES(k, g->filter.c), "%s: macro", g->name);
  memset(output, OUTPUT_FILL, sizeof(output));
  memset(scratch, 0xA5, sizeof(scratch)); /* nothing may depend on the scratch's contents */
  const sbtf_context ctx = {scratch, need};
  const sbtf_quant_params q = {g->multiplier, g->shift};
  const dw_params p = params_of(g);
  const sbtf_status status = run(g, &ctx, &p, &q, g->x, &g->filter, g->mask, g->sign, output);
  CHECK(status == SBTF_OK, "%s: status %d", g->name, (int)status);
  check_output(g->name, "", output, g->expected, size);
}

/* Bad arguments on a padded 3x3 case with depth multiplier 1: documented statuses. */
static void check_errors(void) {
  const golden_case *g = NULL;
  for (int i = 0; i < GOLDEN_CASES && g == NULL; ++i)
    if (golden_cases[i].filter.h == 3 && golden_cases[i].filter.w == 3 && golden_cases[i].pad_h > 0)
      g = &golden_cases[i];
  if (g == NULL) {
    CHECK(0, "no suitable case for the error tests");
    return;
  }
  const int32_t need = buffer_size(g);
  const sbtf_context ctx = {scratch, need}, small = {scratch, need - 1};
  const sbtf_context null_buf = {NULL, need}, misaligned = {(uint8_t *)scratch + 1, need};
  const sbtf_quant_params q = {g->multiplier, g->shift}, no_shift = {g->multiplier, NULL};
  const dw_params good = params_of(g);
  dw_params p = good;
  sbtf_dims filter = g->filter;
  const int8_t *x = g->x;
  CHECK(run(g, &ctx, &p, &q, x, &filter, g->mask, g->sign, output) == SBTF_OK, "valid");
  CHECK(run(g, NULL, &p, &q, x, &filter, g->mask, g->sign, output) == SBTF_ERROR_NULL_ARGUMENT,
        "NULL ctx");
  CHECK(run(g, &ctx, NULL, &q, x, &filter, g->mask, g->sign, output) == SBTF_ERROR_NULL_ARGUMENT,
        "NULL params");
  CHECK(run(g, &ctx, &p, &no_shift, x, &filter, g->mask, g->sign, output) ==
            SBTF_ERROR_NULL_ARGUMENT, "NULL shift");
  CHECK(run(g, &ctx, &p, &q, NULL, &filter, g->mask, g->sign, output) == SBTF_ERROR_NULL_ARGUMENT,
        "NULL input");
  CHECK(run(g, &ctx, &p, &q, x, &filter, NULL, g->sign, output) == SBTF_ERROR_NULL_ARGUMENT,
        "NULL mask");
  CHECK(run(g, &ctx, &p, &q, x, &filter, g->mask, NULL, output) == SBTF_ERROR_NULL_ARGUMENT,
        "NULL sign");
  CHECK(run(g, &ctx, &p, &q, x, &filter, g->mask, g->sign, NULL) == SBTF_ERROR_NULL_ARGUMENT,
        "NULL output");
  CHECK(run(g, &ctx, &p, &q, x, NULL, g->mask, g->sign, output) == SBTF_ERROR_NULL_ARGUMENT,
        "NULL filter dims");
  CHECK(run(g, &null_buf, &p, &q, x, &filter, g->mask, g->sign, output) ==
            SBTF_ERROR_NULL_ARGUMENT, "NULL scratch");
  CHECK(run(g, &small, &p, &q, x, &filter, g->mask, g->sign, output) == SBTF_ERROR_BUFFER_SIZE,
        "scratch too small");
  CHECK(run(g, &misaligned, &p, &q, x, &filter, g->mask, g->sign, output) == SBTF_ERROR_BAD_PARAM,
        "misaligned scratch");
  filter.n = 2;
  CHECK(run(g, &ctx, &p, &q, x, &filter, g->mask, g->sign, output) == SBTF_ERROR_BAD_SHAPE,
        "filter n != 1");
  filter = g->filter;
  filter.c += 1;
  CHECK(run(g, &ctx, &p, &q, x, &filter, g->mask, g->sign, output) == SBTF_ERROR_BAD_SHAPE,
        "C_out != C_in * M");
  filter = g->filter;
  p.depth_multiplier = 0;
  CHECK(run(g, &ctx, &p, &q, x, &filter, g->mask, g->sign, output) == SBTF_ERROR_BAD_SHAPE,
        "depth multiplier 0");
  CHECK(sbtf_depthwise_conv2d_s8_get_buffer_size(&g->input, &filter, &g->output, 2) ==
            SBTF_ERROR_BAD_SHAPE, "size: wrong depth multiplier");
  CHECK(sbtf_depthwise_conv2d_s8_get_buffer_size(&g->input, NULL, &g->output, 1) ==
            SBTF_ERROR_NULL_ARGUMENT, "size: NULL");
  p = good;
  p.conv.stride_w = 0;
  CHECK(run(g, &ctx, &p, &q, x, &filter, g->mask, g->sign, output) == SBTF_ERROR_BAD_PARAM,
        "stride 0");
  p = good;
  p.conv.pad_h += 3;
  CHECK(run(g, &ctx, &p, &q, x, &filter, g->mask, g->sign, output) == SBTF_ERROR_BAD_PARAM,
        "padding neither SAME nor VALID");
  p = good;
  p.conv.output_offset = 128;
  CHECK(run(g, &ctx, &p, &q, x, &filter, g->mask, g->sign, output) == SBTF_ERROR_BAD_PARAM,
        "output offset out of range");
  p = good;
  int8_t bad_sign[256];
  memcpy(bad_sign, g->sign, (size_t)g->filter.c);
  bad_sign[g->filter.c - 1] = 2;
  CHECK(run(g, &ctx, &p, &q, x, &filter, g->mask, bad_sign, output) == SBTF_ERROR_BAD_PARAM,
        "sign 2");
  uint8_t bad_mask[256 * 2];
  memcpy(bad_mask, g->mask, (size_t)g->filter.c * 2);
  bad_mask[1] |= 0x80; /* 9 taps: bit 15 of row 0 is padding */
  CHECK(run(g, &ctx, &p, &q, x, &filter, bad_mask, g->sign, output) == SBTF_ERROR_BAD_PARAM,
        "mask padding bit set");
  int32_t bad_shift[256];
  memcpy(bad_shift, g->shift, sizeof(int32_t) * (size_t)g->filter.c);
  bad_shift[0] = 31;
  const sbtf_quant_params q_bad = {g->multiplier, bad_shift};
  CHECK(run(g, &ctx, &p, &q_bad, x, &filter, g->mask, g->sign, output) == SBTF_ERROR_BAD_PARAM,
        "shift 31");
  /* Shapes past the limits are refused by the size function and the kernel alike. */
  const sbtf_dims in = {1, 1, 1, SBTF_MAX_OUTPUT_CHANNELS + 1};
  const sbtf_dims wide = {1, 1, 1, SBTF_MAX_OUTPUT_CHANNELS + 1};
  CHECK(sbtf_depthwise_conv2d_s8_get_buffer_size(&in, &wide, &wide, 1) == SBTF_ERROR_BAD_SHAPE,
        "C_out past the limit");
  const sbtf_dims in2 = {1, 256, 256, 2}, tall = {1, 256, 256, 32768}, out2 = {1, 1, 1, 32768};
  CHECK(sbtf_depthwise_conv2d_s8_get_buffer_size(&in2, &tall, &out2, 16384) ==
            SBTF_ERROR_BAD_SHAPE, "K * C_out past INT32_MAX");
}

int main(void) {
  int32_t max_scratch = 0;
  for (int i = 0; i < GOLDEN_CASES; ++i) {
    check_golden(&golden_cases[i]);
    const int32_t need = buffer_size(&golden_cases[i]);
    max_scratch = need > max_scratch ? need : max_scratch;
  }
  check_errors();
  printf("sbtf_depthwise_tests: cases=%d max_scratch=%ld failures=%d\n", GOLDEN_CASES,
         (long)max_scratch, failures);
  return failures == 0 ? 0 : 1;
}
