/* The record micro/tests/make_golden.py emits for each golden case. */
#ifndef GOLDEN_TYPES_H
#define GOLDEN_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "sbtf_nn.h"

typedef struct {
  const char *name;
  int is_fc; /* FC: input [n, C_in] with dims n,1,1,C_in; filter C_out,1,1,C_in */
  sbtf_dims input, filter, output;
  int32_t stride_h, stride_w, dilation_h, dilation_w, pad_h, pad_w;
  int32_t input_offset, output_offset, act_min, act_max;
  const int8_t *x;
  const uint8_t *mask;
  const int8_t *sign;
  const int32_t *bias; /* may be NULL */
  const int32_t *multiplier;
  const int32_t *shift;
  const int8_t *expected;
} golden_case;

#endif
