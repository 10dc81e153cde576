/*
 * test_arith.c - checks sbtf_arith.h (tests/test_arith.py runs it).
 *
 * Without arguments (host and boards): every fast requantization form - scalar, and the Helium
 * four-lane forms on Helium builds - against gemmlowp's literal form (sbtf_mbqm_reference) and
 * the 64-bit single rounding, over edge values and a pseudo-random sweep of accumulators,
 * multipliers and shifts. Prints "sbtf_arith_tests: path=<path> cases=<n> failures=<n>".
 *
 * With a file argument (host only): one case per line, answered on stdout one line each, for the
 * Python reference (converters/reference.py) to compare:
 *   mbqm X M S         sbtf_mbqm, sbtf_mbqm_single
 *   qm REAL            sbtf_quantize_multiplier: ok multiplier shift
 *   act A SCALE ZP     sbtf_activation_range: lo hi
 *   conv IN K STRIDE DILATION PADDING   sbtf_conv_out_size, sbtf_conv_pad
 */
#include <stdio.h>
#include <string.h>

#include "sbtf_arith.h"

static int failures, cases;

static void expect(int ok, const char *what, int32_t x, int32_t m, int32_t s) {
  ++cases;
  if (!ok && failures++ < 20)
    printf("FAIL %s x=%ld m=%ld shift=%ld\n", what, (long)x, (long)m, (long)s);
}

static uint32_t rng_state = 12345u;
static uint32_t next_random(void) { /* xorshift32 */
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

static void check_one(int32_t x, int32_t m, int32_t s) {
  const int32_t want = sbtf_mbqm_reference(x, m, s);
  if (m == INT32_MIN) return; /* the reference leaves out SRDHM's saturation */
  expect(sbtf_mbqm(x, m, s) == want, "sbtf_mbqm", x, m, s);
  if (m >= 0) expect(sbtf_mbqm_nonneg(x, m, s) == want, "sbtf_mbqm_nonneg", x, m, s);
  if (m >= 0 && s <= -1) expect(sbtf_mbqm_right(x, m, -s - 1) == want, "sbtf_mbqm_right", x, m, s);
  const int64_t single = sbtf_mbqm_single_wide(x, m, s);
  const int32_t lo = -128 + (int32_t)(next_random() % 64), hi = 127 - (int32_t)(next_random() % 64);
  const int32_t offset = (int32_t)(next_random() % 256) - 128;
  const int64_t v = single + offset;
  const int8_t want_single = (int8_t)(v < lo ? lo : v > hi ? hi : v);
  if (m >= 0)
    expect(sbtf_requantize_single(x, m, s, offset, lo, hi) == want_single,
           "sbtf_requantize_single", x, m, s);
#if defined(SBTF_PATH_MVE)
  const int32x4_t vx = vdupq_n_s32(x), vm = vdupq_n_s32(m), vs = vdupq_n_s32(s);
  expect(vgetq_lane_s32(sbtf_mbqm_x4(vx, vm, vs), 2) == want, "sbtf_mbqm_x4", x, m, s);
  if (m >= 0 && s <= 0)
    expect(vgetq_lane_s32(sbtf_mbqm_right_x4(vx, vm, vs), 1) == want, "sbtf_mbqm_right_x4", x, m,
           s);
  if (m >= 0 && s <= -1)
    expect(vgetq_lane_s32(sbtf_mbqm_neg_right_x4(vx, vm, vs), 0) == want, "sbtf_mbqm_neg_right_x4",
           x, m, s);
  if (m >= 0 && s <= -1)
    expect(vgetq_lane_s32(sbtf_mbqm_single_right_x4(vx, vm, vs), 3) == (int32_t)single,
           "sbtf_mbqm_single_right_x4", x, m, s);
#endif
}

static int self_check(void) {
  static const int32_t xs[] = {0, 1, -1, 2, -2, 127, -128, 1 << 20, -(1 << 20), INT32_MAX,
                               INT32_MIN, INT32_MIN + 1, INT32_MAX - 1, 0x40000000, -0x40000000};
  static const int32_t ms[] = {0, 1, 1 << 30, (1 << 30) + 1, INT32_MAX, 0x5A827999, 1518500250};
  const int nx = (int)(sizeof xs / sizeof xs[0]), nm = (int)(sizeof ms / sizeof ms[0]);
  for (int32_t s = -31; s <= 30; ++s)
    for (int i = 0; i < nx; ++i)
      for (int j = 0; j < nm; ++j) check_one(xs[i], ms[j], s);
  /* Ties: x * m / 2^31 lands on .5 after the right shift (the rounding direction matters). */
  for (int32_t s = -12; s <= -1; ++s)
    for (int32_t x = -4096; x <= 4096; x += 7) check_one(x * 2, 1 << 30, s);
  for (int k = 0; k < 200000; ++k) {
    const int32_t x = (int32_t)next_random() >> (next_random() % 24);
    const int32_t m = (int32_t)(next_random() & 0x7FFFFFFFu) | (int32_t)(next_random() & 1u) << 30;
    const int32_t s = (int32_t)(next_random() % 40) - 31; /* mostly right shifts, as in models */
    check_one(x, m, s);
    if ((k & 15) == 0) check_one(x, (int32_t)next_random(), s); /* any sign (sbtf_mbqm only) */
  }
  printf("sbtf_arith_tests: path=%s cases=%d failures=%d\n", SBTF_PATH_NAME, cases, failures);
  return failures == 0 ? 0 : 1;
}

#if defined(__ARM_ARCH)
/* The boards' startup code calls main() without arguments. */
int main(void) { return self_check(); }
#else
static int answer(const char *path) {
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    printf("cannot open %s\n", path);
    return 2;
  }
  char op[8];
  while (fscanf(f, "%7s", op) == 1) {
    if (strcmp(op, "mbqm") == 0) {
      long x, m, s;
      if (fscanf(f, "%ld %ld %ld", &x, &m, &s) != 3) break;
      printf("%ld %ld\n", (long)sbtf_mbqm((int32_t)x, (int32_t)m, (int32_t)s),
             (long)sbtf_mbqm_single((int32_t)x, (int32_t)m, (int32_t)s));
    } else if (strcmp(op, "qm") == 0) {
      double real;
      int32_t m = 0, s = 0;
      if (fscanf(f, "%lf", &real) != 1) break;
      const int ok = sbtf_quantize_multiplier(real, &m, &s);
      printf("%d %ld %ld\n", ok, (long)m, (long)s);
    } else if (strcmp(op, "act") == 0) {
      long a, zp;
      float scale;
      int32_t lo, hi;
      if (fscanf(f, "%ld %f %ld", &a, &scale, &zp) != 3) break;
      sbtf_activation_range((int32_t)a, scale, (int32_t)zp, &lo, &hi);
      printf("%ld %ld\n", (long)lo, (long)hi);
    } else if (strcmp(op, "conv") == 0) {
      long in, k, stride, dilation, padding;
      if (fscanf(f, "%ld %ld %ld %ld %ld", &in, &k, &stride, &dilation, &padding) != 5) break;
      const int64_t out = sbtf_conv_out_size(in, k, stride, dilation, (int32_t)padding);
      printf("%lld %lld\n", (long long)out, (long long)sbtf_conv_pad(in, out, k, stride, dilation));
    } else {
      printf("unknown case %s\n", op);
      break;
    }
  }
  fclose(f);
  return 0;
}

int main(int argc, char **argv) { return argc > 1 ? answer(argv[1]) : self_check(); }
#endif
