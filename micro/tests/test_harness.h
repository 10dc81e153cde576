/*
 * test_harness.h - what the C kernel test programs (test_kernels.c, test_depthwise.c) share:
 * CHECK, which prints and counts a failure, and the golden-output check with a guard band.
 * One include per program (it defines the failure count).
 */
#ifndef TEST_HARNESS_H
#define TEST_HARNESS_H

#include <stdint.h>
#include <stdio.h>

/* Bytes past every output that must still hold OUTPUT_FILL after a kernel call. */
#define GUARD 16
#define OUTPUT_FILL 0x5A

static int failures;

#define CHECK(cond, ...)                          \
  do {                                            \
    if (!(cond)) {                                \
      printf("FAIL %s:%d: ", __FILE__, __LINE__); \
      printf(__VA_ARGS__);                        \
      printf("\n");                               \
      failures++;                                 \
    }                                             \
  } while (0)

/* output (filled with OUTPUT_FILL before the call) equals expected[0..size) bit for bit, and
   the GUARD bytes after it are untouched. name: the case; call: "" or which call it was. */
static void check_output(const char *name, const char *call, const int8_t *output,
                         const int8_t *expected, int32_t size) {
  int32_t wrong = 0, first = -1;
  for (int32_t i = 0; i < size; ++i)
    if (output[i] != expected[i]) {
      if (first < 0) first = i;
      wrong++;
    }
  CHECK(wrong == 0, "%s%s: %ld of %ld outputs differ, first at %ld: got %d expected %d", name,
        call, (long)wrong, (long)size, (long)first, first >= 0 ? output[first] : 0,
        first >= 0 ? expected[first] : 0);
  for (int32_t i = size; i < size + GUARD; ++i)
    CHECK(output[i] == OUTPUT_FILL, "%s%s: wrote past the output (byte %ld)", name, call,
          (long)i);
}

#endif
