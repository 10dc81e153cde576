/*
 * fuzz_flexbuffers.c - drives sbtf_flexbuffers.c with a valid options blob, every truncation
 * of it and random byte corruptions. Built with -fsanitize=address,undefined by
 * tests/test_delegate.py: any out-of-bounds read or undefined behaviour aborts.
 *
 *     fuzz_flexbuffers <blob file> <iterations> <seed>
 *
 * Prints "key=value" for every key of the intact blob (the test compares them with what
 * Python wrote), then "ok <parsed> <rejected>" for the corrupted ones.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbtf_flexbuffers.h"

static const char *const kKeys[] = {
    "version",    "input_channels", "filter_height",     "filter_width",
    "padding",    "stride_h",       "stride_w",          "dilation_h_factor",
    "dilation_w_factor", "fused_activation_function", "keep_num_dims", "missing_key",
};
#define NUM_KEYS (sizeof(kKeys) / sizeof(kKeys[0]))

/* Reads every key both ways; returns 1 when the map opened. */
static int query(const uint8_t *buf, size_t size, int print) {
  sbtf_flex_map map;
  if (sbtf_flex_map_open(&map, buf, size) != SBTF_FLEX_OK) return 0;
  for (size_t k = 0; k < NUM_KEYS; k++) {
    int64_t i;
    bool b;
    sbtf_flex_status si = sbtf_flex_map_get_int(&map, kKeys[k], &i);
    sbtf_flex_status sb = sbtf_flex_map_get_bool(&map, kKeys[k], &b);
    if (print && si == SBTF_FLEX_OK) printf("%s=%lld\n", kKeys[k], (long long)i);
    if (print && sb == SBTF_FLEX_OK) printf("%s=%s\n", kKeys[k], b ? "true" : "false");
  }
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s <blob> <iterations> <seed>\n", argv[0]);
    return 2;
  }
  FILE *f = fopen(argv[1], "rb");
  if (f == NULL) return 2;
  uint8_t blob[4096];
  const size_t size = fread(blob, 1, sizeof(blob), f);
  fclose(f);
  const long iterations = strtol(argv[2], NULL, 10);
  srand((unsigned)strtoul(argv[3], NULL, 10));

  if (!query(blob, size, 1)) {
    fprintf(stderr, "the intact blob did not open\n");
    return 1;
  }
  long parsed = 0, rejected = 0;
  /* Exact-size heap copies so the sanitizer sees any read past the end. */
  for (size_t n = 0; n < size; n++) {
    uint8_t *prefix = malloc(n ? n : 1);
    memcpy(prefix, blob, n);
    if (query(prefix, n, 0)) parsed++; else rejected++;
    free(prefix);
  }
  for (long it = 0; it < iterations; it++) {
    uint8_t *copy = malloc(size);
    memcpy(copy, blob, size);
    const int flips = 1 + rand() % 4;
    for (int j = 0; j < flips; j++) copy[rand() % size] = (uint8_t)(rand() & 0xff);
    if (query(copy, size, 0)) parsed++; else rejected++;
    free(copy);
  }
  printf("ok %ld %ld\n", parsed, rejected);
  return 0;
}
