/* The record micro/tests/make_golden_depthwise.py emits for each depthwise golden case. */
#ifndef GOLDEN_DEPTHWISE_TYPES_H
#define GOLDEN_DEPTHWISE_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "sbtf_nn.h"

/* The kernel's parameters of one case. */
typedef struct {
  sbtf_conv_params conv;
  int32_t depth_multiplier;
} dw_params;

typedef struct {
  const char *name;
  sbtf_dims input, filter, output; /* filter: [1, KH, KW, C_out] */
  dw_params params;
  const int8_t *x;
  const uint8_t *mask;
  const int8_t *sign;
  const int32_t *bias; /* may be NULL */
  const int32_t *multiplier;
  const int32_t *shift;
  const int8_t *expected;
} dw_case;

#endif
