/* The record micro/tests/make_golden.py emits for each golden case (conv, fully connected, and
   depthwise conv from make_golden_depthwise.py). */
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
  int32_t depth_multiplier; /* > 0: depthwise conv, filter [1, KH, KW, C_out] */
} golden_case;

/* The kernel parameters of a conv or depthwise case. */
static inline sbtf_conv_params golden_conv_params(const golden_case *g) {
  const sbtf_conv_params p = {g->input_offset, g->output_offset, g->stride_h, g->stride_w,
                              g->dilation_h, g->dilation_w, g->pad_h, g->pad_w,
                              g->act_min, g->act_max};
  return p;
}

#endif
