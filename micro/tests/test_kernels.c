/*
 * test_kernels.c - one test program for host and boards: every golden case (generated from the
 * NumPy reference by make_golden.py into sbtf_golden.h) must match bit for bit, and bad
 * arguments must return the documented status. Prints a summary line the pytest driver parses;
 * exits 0 only when everything passed.
 */
#include <stdio.h>
#include <string.h>

#include "../src/sbtf_nn_internal.h" /* sbtf_core_layout_bytes */
#include "sbtf_golden.h"
#include "sbtf_nn.h"
#include "test_harness.h"

#ifndef SCRATCH_BYTES
#define SCRATCH_BYTES (24 * 1024)
#endif
#define PREPARED_BYTES (16 * 1024)

static uint32_t scratch[SCRATCH_BYTES / 4];
static int8_t output[GOLDEN_MAX_OUTPUT + GUARD];

static int32_t buffer_size(const golden_case *g) {
  return g->is_fc ? sbtf_fully_connected_s8_get_buffer_size(g->input.c, g->filter.n)
                  : sbtf_conv2d_s8_get_buffer_size(&g->input, &g->filter, &g->output);
}

static sbtf_status run(const golden_case *g, const sbtf_context *ctx, int8_t *out) {
  const sbtf_quant_params quant = {g->multiplier, g->shift};
  if (g->is_fc) {
    const sbtf_fc_params params = {g->input_offset, g->output_offset, g->act_min, g->act_max};
    return sbtf_fully_connected_s8(ctx, &params, &quant, g->input.n, g->input.c, g->x, g->filter.n,
                                   g->mask, g->sign, g->bias, out);
  }
  const sbtf_conv_params params = golden_conv_params(g);
  return sbtf_conv2d_s8(ctx, &params, &quant, &g->input, g->x, &g->filter, g->mask, g->sign,
                        g->bias, &g->output, out);
}

/* The FC with prepare-time decoded masks: the same outputs, nothing written past them. */
static uint32_t prepared[PREPARED_BYTES / 4];

static void check_prepared(const golden_case *g, const sbtf_context *ctx, int32_t size) {
  const sbtf_fc_params params = {g->input_offset, g->output_offset, g->act_min, g->act_max};
  const sbtf_quant_params quant = {g->multiplier, g->shift};
  const int32_t need = sbtf_fully_connected_s8_prepared_size(g->input.c, g->filter.n);
  if (need < 0 || need > PREPARED_BYTES) {
    CHECK(0, "%s: prepared size %ld (static %d)", g->name, (long)need, PREPARED_BYTES);
    return;
  }
  CHECK(sbtf_fully_connected_s8_prepare(prepared, need, &params, g->input.c, g->filter.n, g->mask,
                                        g->sign, g->bias) == SBTF_OK, "%s: prepare", g->name);
  memset(output, OUTPUT_FILL, sizeof(output));
  const sbtf_status status = sbtf_fully_connected_s8_prepared(
      ctx, prepared, &params, &quant, g->input.n, g->input.c, g->x, g->filter.n, g->mask, g->sign,
      g->bias, output);
  CHECK(status == SBTF_OK, "%s: prepared status %d", g->name, (int)status);
  check_output(g->name, ": prepared", output, g->expected, size);
  if (need > 0) { /* a prepared buffer for other shapes or offsets is refused */
    sbtf_fc_params other = params;
    other.input_offset = params.input_offset == 0 ? 1 : 0;
    CHECK(sbtf_fully_connected_s8_prepared(ctx, prepared, &other, &quant, g->input.n, g->input.c,
                                           g->x, g->filter.n, g->mask, g->sign, g->bias,
                                           output) == SBTF_ERROR_BAD_PARAM,
          "%s: prepared with another input offset", g->name);
    CHECK(sbtf_fully_connected_s8_prepare(prepared, need - 4, &params, g->input.c, g->filter.n,
                                          g->mask, g->sign, g->bias) == SBTF_ERROR_BUFFER_SIZE,
          "%s: prepare into a small buffer", g->name);
  }
}

static void check_golden(const golden_case *g) {
  const int32_t size = g->output.n * g->output.h * g->output.w * g->output.c;
  const int32_t need = buffer_size(g);
  if (need < 0 || need > SCRATCH_BYTES) {
    CHECK(0, "%s: buffer size %ld (static scratch %d)", g->name, (long)need, SCRATCH_BYTES);
    return;
  }
  /* One definition of the size: the macro, what get_buffer_size returns and the layout agree. */
  const int32_t k = g->is_fc ? g->input.c : g->filter.h * g->filter.w * g->filter.c;
  CHECK(need == SBTF_SCRATCH_BYTES(k, g->filter.n), "%s: get_buffer_size %ld, macro %ld", g->name,
        (long)need, (long)SBTF_SCRATCH_BYTES(k, g->filter.n));
  CHECK(sbtf_core_layout_bytes(k, g->filter.n) == need, "%s: layout ends at %ld, size %ld",
        g->name, (long)sbtf_core_layout_bytes(k, g->filter.n), (long)need);
  memset(output, OUTPUT_FILL, sizeof(output));
  const sbtf_context ctx = {scratch, need};
  const sbtf_status status = run(g, &ctx, output);
  CHECK(status == SBTF_OK, "%s: status %d", g->name, (int)status);
  check_output(g->name, "", output, g->expected, size);
  if (g->is_fc) check_prepared(g, &ctx, size);
}

/* Bad arguments on a small valid conv (golden case 0 is conv) and FC: documented statuses. */
static void check_errors(void) {
  const golden_case *g = NULL;
  const golden_case *f = NULL;
  for (int i = 0; i < GOLDEN_CASES; ++i) {
    const golden_case *c = &golden_cases[i];
    const int32_t k = c->filter.h * c->filter.w * c->filter.c;
    /* A padded 3x3 conv whose mask rows have padding bits (to test that they are rejected). */
    if (!c->is_fc && c->filter.h == 3 && c->pad_h > 0 && sbtf_mask_row_bytes(k) * 8 > k && !g)
      g = c;
    if (golden_cases[i].is_fc && golden_cases[i].input.c > 9 && !f) f = &golden_cases[i];
  }
  if (!g || !f) {
    CHECK(0, "no suitable cases for the error tests");
    return;
  }
  const int32_t need = buffer_size(g);
  const sbtf_context ctx = {scratch, need};
  const sbtf_context small = {scratch, need - 4};
  const sbtf_context null_buf = {NULL, need};
  const sbtf_context misaligned = {(uint8_t *)scratch + 1, need};
  const sbtf_quant_params quant = {g->multiplier, g->shift};
  const sbtf_quant_params no_mult = {NULL, g->shift};
  sbtf_conv_params p = {g->input_offset, g->output_offset, g->stride_h, g->stride_w,
                        g->dilation_h, g->dilation_w, g->pad_h, g->pad_w, g->act_min, g->act_max};
  const sbtf_conv_params good = p;
  sbtf_dims in = g->input, filt = g->filter, out = g->output;
#define CONV(c, q, i, x, fl, m, s, o, y) \
  sbtf_conv2d_s8(c, &p, q, i, x, fl, m, s, g->bias, o, y)
  CHECK(CONV(&ctx, &quant, &in, g->x, &filt, g->mask, g->sign, &out, output) == SBTF_OK, "valid");
  CHECK(CONV(NULL, &quant, &in, g->x, &filt, g->mask, g->sign, &out, output) ==
            SBTF_ERROR_NULL_ARGUMENT, "NULL ctx");
  CHECK(CONV(&ctx, &quant, &in, NULL, &filt, g->mask, g->sign, &out, output) ==
            SBTF_ERROR_NULL_ARGUMENT, "NULL input");
  CHECK(CONV(&ctx, &quant, &in, g->x, &filt, NULL, g->sign, &out, output) ==
            SBTF_ERROR_NULL_ARGUMENT, "NULL mask");
  CHECK(CONV(&ctx, &quant, &in, g->x, &filt, g->mask, NULL, &out, output) ==
            SBTF_ERROR_NULL_ARGUMENT, "NULL sign");
  CHECK(CONV(&ctx, &quant, &in, g->x, &filt, g->mask, g->sign, &out, NULL) ==
            SBTF_ERROR_NULL_ARGUMENT, "NULL output");
  CHECK(CONV(&ctx, &no_mult, &in, g->x, &filt, g->mask, g->sign, &out, output) ==
            SBTF_ERROR_NULL_ARGUMENT, "NULL multiplier");
  CHECK(CONV(&ctx, &quant, NULL, g->x, &filt, g->mask, g->sign, &out, output) ==
            SBTF_ERROR_NULL_ARGUMENT, "NULL input dims");
  CHECK(CONV(&null_buf, &quant, &in, g->x, &filt, g->mask, g->sign, &out, output) ==
            SBTF_ERROR_NULL_ARGUMENT, "NULL scratch");
  CHECK(CONV(&small, &quant, &in, g->x, &filt, g->mask, g->sign, &out, output) ==
            SBTF_ERROR_BUFFER_SIZE, "scratch too small");
  CHECK(CONV(&misaligned, &quant, &in, g->x, &filt, g->mask, g->sign, &out, output) ==
            SBTF_ERROR_BAD_PARAM, "misaligned scratch");
  filt.c += 1;
  CHECK(CONV(&ctx, &quant, &in, g->x, &filt, g->mask, g->sign, &out, output) ==
            SBTF_ERROR_BAD_SHAPE, "filter/input channels disagree");
  CHECK(sbtf_conv2d_s8_get_buffer_size(&in, &filt, &out) == SBTF_ERROR_BAD_SHAPE, "size: channels");
  filt = g->filter;
  out.h += 1;
  CHECK(CONV(&ctx, &quant, &in, g->x, &filt, g->mask, g->sign, &out, output) ==
            SBTF_ERROR_BAD_SHAPE, "wrong output height");
  out = g->output;
  out.c = 0;
  CHECK(CONV(&ctx, &quant, &in, g->x, &filt, g->mask, g->sign, &out, output) ==
            SBTF_ERROR_BAD_SHAPE, "zero channels");
  CHECK(sbtf_conv2d_s8_get_buffer_size(&in, &filt, NULL) == SBTF_ERROR_NULL_ARGUMENT, "size: NULL");
  out = g->output;
  p.stride_h = 0;
  CHECK(CONV(&ctx, &quant, &in, g->x, &filt, g->mask, g->sign, &out, output) ==
            SBTF_ERROR_BAD_PARAM, "stride 0");
  p = good;
  p.pad_h = g->pad_h + 3;
  CHECK(CONV(&ctx, &quant, &in, g->x, &filt, g->mask, g->sign, &out, output) ==
            SBTF_ERROR_BAD_PARAM, "padding neither SAME nor VALID");
  p = good;
  p.input_offset = 129;
  CHECK(CONV(&ctx, &quant, &in, g->x, &filt, g->mask, g->sign, &out, output) ==
            SBTF_ERROR_BAD_PARAM, "input offset out of range");
  p = good;
  p.activation_min = 10;
  p.activation_max = 9;
  CHECK(CONV(&ctx, &quant, &in, g->x, &filt, g->mask, g->sign, &out, output) ==
            SBTF_ERROR_BAD_PARAM, "min > max");
  p = good;
  int8_t bad_sign[128];
  memcpy(bad_sign, g->sign, (size_t)g->filter.n);
  bad_sign[g->filter.n - 1] = 0;
  CHECK(CONV(&ctx, &quant, &in, g->x, &filt, g->mask, bad_sign, &out, output) ==
            SBTF_ERROR_BAD_PARAM, "sign 0");
  static uint8_t bad_mask[128 * 4 * 32];
  const int32_t row_bytes = sbtf_mask_row_bytes(g->filter.h * g->filter.w * g->filter.c);
  CHECK(g->filter.n * row_bytes <= (int32_t)sizeof(bad_mask), "bad_mask too small");
  if (g->filter.n * row_bytes <= (int32_t)sizeof(bad_mask)) {
    memcpy(bad_mask, g->mask, (size_t)(g->filter.n * row_bytes));
    bad_mask[row_bytes - 1] |= 0x80; /* the last padding bit of row 0 */
    CHECK(CONV(&ctx, &quant, &in, g->x, &filt, bad_mask, g->sign, &out, output) ==
              SBTF_ERROR_BAD_PARAM, "mask padding bit set");
  }
#undef CONV
  /* Fully connected. */
  const sbtf_fc_params fp = {f->input_offset, f->output_offset, f->act_min, f->act_max};
  const sbtf_quant_params fq = {f->multiplier, f->shift};
  const int32_t fneed = sbtf_fully_connected_s8_get_buffer_size(f->input.c, f->filter.n);
  const sbtf_context fctx = {scratch, fneed}, fsmall = {scratch, fneed - 1};
  CHECK(sbtf_fully_connected_s8(&fctx, &fp, &fq, f->input.n, f->input.c, f->x, f->filter.n,
                                f->mask, f->sign, f->bias, output) == SBTF_OK, "fc valid");
  CHECK(sbtf_fully_connected_s8(&fsmall, &fp, &fq, f->input.n, f->input.c, f->x, f->filter.n,
                                f->mask, f->sign, f->bias, output) == SBTF_ERROR_BUFFER_SIZE,
        "fc scratch too small");
  CHECK(sbtf_fully_connected_s8(&fctx, NULL, &fq, f->input.n, f->input.c, f->x, f->filter.n,
                                f->mask, f->sign, f->bias, output) == SBTF_ERROR_NULL_ARGUMENT,
        "fc NULL params");
  CHECK(sbtf_fully_connected_s8(&fctx, &fp, &fq, 0, f->input.c, f->x, f->filter.n, f->mask,
                                f->sign, f->bias, output) == SBTF_ERROR_BAD_SHAPE, "fc 0 batches");
  CHECK(sbtf_fully_connected_s8_get_buffer_size(0, 4) == SBTF_ERROR_BAD_SHAPE, "fc size 0");
  CHECK(sbtf_fully_connected_s8_get_buffer_size(SBTF_MAX_FILTER_SIZE + 1, 4) ==
            SBTF_ERROR_BAD_SHAPE, "fc K too large");
  const int32_t bad_shift[128] = {31};
  const sbtf_quant_params fq_bad = {f->multiplier, bad_shift};
  CHECK(sbtf_fully_connected_s8(&fctx, &fp, &fq_bad, f->input.n, f->input.c, f->x, f->filter.n,
                                f->mask, f->sign, f->bias, output) == SBTF_ERROR_BAD_PARAM,
        "fc shift 31");
}

/* SBTF_SCRATCH_BYTES in 64 bits, from its documented parts. */
static int64_t scratch_bytes_64(int64_t k, int64_t c_out) {
  const int64_t g = ((k + 3) / 4 + 3) / 4 * 4, c4 = (c_out + 3) / 4 * 4;
  const int64_t tables = 12 * c4 + 64 * (g < 64 ? g : 64) + 8 * g + (c4 * g + 3) / 4 * 4;
  const int64_t helium = SBTF_SCRATCH_HELIUM_(4, 4) ? 4096 + 68 * c4 + 32 * g : 0;
  return tables > helium ? tables : helium;
}

/* Issue 10 item 4: sizes near and past the limits neither overflow (UBSan in the sanitized
   build) nor wrap into a small size that a kernel would accept; kernels refuse such shapes
   before touching any buffer. */
static void check_size_limits(void) {
  const int32_t kmax = SBTF_MAX_FILTER_SIZE, cmax = SBTF_MAX_OUTPUT_CHANNELS;
  CHECK(sbtf_fully_connected_s8_get_buffer_size(kmax, cmax) == scratch_bytes_64(kmax, cmax),
        "size at both limits %ld", (long)sbtf_fully_connected_s8_get_buffer_size(kmax, cmax));
  CHECK(SBTF_SCRATCH_BYTES(SBTF_MAX_FILTER_SIZE, SBTF_MAX_OUTPUT_CHANNELS) ==
            scratch_bytes_64(kmax, cmax), "macro at both limits");
  CHECK(sbtf_core_layout_bytes(kmax, cmax) == scratch_bytes_64(kmax, cmax), "layout at limits");
  const int32_t big[][2] = {{kmax, cmax + 1}, {kmax, 1 << 20}, {kmax, INT32_MAX}, {4, INT32_MAX},
                            {INT32_MAX, 4}, {kmax + 1, 1}};
  for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); ++i)
    CHECK(sbtf_fully_connected_s8_get_buffer_size(big[i][0], big[i][1]) == SBTF_ERROR_BAD_SHAPE,
          "fc size (%ld, %ld) not refused", (long)big[i][0], (long)big[i][1]);
  /* A 1x1 conv with C_out past the limit, and activations past INT32_MAX elements. */
  const sbtf_dims in = {1, 1, 1, 4}, filt = {cmax + 1, 1, 1, 4}, out = {1, 1, 1, cmax + 1};
  CHECK(sbtf_conv2d_s8_get_buffer_size(&in, &filt, &out) == SBTF_ERROR_BAD_SHAPE, "conv C_out");
  const sbtf_dims huge_in = {2, 32768, 32768, 4}, f4 = {4, 1, 1, 4}, huge_out = {2, 32768, 32768, 4};
  CHECK(sbtf_conv2d_s8_get_buffer_size(&huge_in, &f4, &huge_out) == SBTF_ERROR_BAD_SHAPE,
        "conv activation elements");
  static const int8_t x[4] = {0}, sgn[1] = {1};
  static const uint8_t m[2] = {0};
  static const int32_t mult[1] = {1 << 30}, sh[1] = {0};
  const sbtf_quant_params q = {mult, sh};
  const sbtf_conv_params cp = {0, 0, 1, 1, 1, 1, 0, 0, -128, 127};
  const sbtf_context ctx = {scratch, INT32_MAX}; /* claims enough: the shape must be refused */
  CHECK(sbtf_conv2d_s8(&ctx, &cp, &q, &in, x, &filt, m, sgn, NULL, &out, output) ==
            SBTF_ERROR_BAD_SHAPE, "conv kernel C_out");
  CHECK(sbtf_conv2d_s8(&ctx, &cp, &q, &huge_in, x, &f4, m, sgn, NULL, &huge_out, output) ==
            SBTF_ERROR_BAD_SHAPE, "conv kernel activation elements");
  const sbtf_fc_params fp = {0, 0, -128, 127};
  CHECK(sbtf_fully_connected_s8(&ctx, &fp, &q, 1, kmax, x, 1 << 20, m, sgn, NULL, output) ==
            SBTF_ERROR_BAD_SHAPE, "fc kernel C_out");
  CHECK(sbtf_fully_connected_s8(&ctx, &fp, &q, 1 << 20, 4096, x, 4, m, sgn, NULL, output) ==
            SBTF_ERROR_BAD_SHAPE, "fc kernel batches * C_in");
}

/* SBTF_SCRATCH_BYTES is a constant expression: it sizes a static buffer (3x3x64 -> 64 conv). */
static uint8_t static_sized[SBTF_SCRATCH_BYTES(3 * 3 * 64, 64)];

int main(void) {
  int32_t max_scratch = 0;
  const sbtf_dims in = {1, 8, 8, 64}, filter = {64, 3, 3, 64}, out = {1, 6, 6, 64};
  CHECK(sbtf_conv2d_s8_get_buffer_size(&in, &filter, &out) == (int32_t)sizeof(static_sized),
        "static buffer %ld, conv needs %ld", (long)sizeof(static_sized),
        (long)sbtf_conv2d_s8_get_buffer_size(&in, &filter, &out));
  for (int i = 0; i < GOLDEN_CASES; ++i) {
    check_golden(&golden_cases[i]);
    const int32_t need = buffer_size(&golden_cases[i]);
    max_scratch = need > max_scratch ? need : max_scratch;
  }
  check_errors();
  check_size_limits();
  printf("sbtf_kernel_tests: path=%s cases=%d max_scratch=%ld failures=%d\n", sbtf_kernel_path(),
         GOLDEN_CASES, (long)max_scratch, failures);
  return failures == 0 ? 0 : 1;
}
