/*
 * sbtf_op_profile.c - instructions per operator for sbtf's runtime on a board: link it into an
 * image built with -DSBTF_MODEL_PROFILE and the generated sbtf_model_invoke calls it after each
 * operator; it prints "sbtf-op <operator index> <instructions>", the instructions since the
 * previous operator ended (the first operator's count starts at sbtf_counter_start(), so it
 * includes copying the input in). The printing itself is outside the counted spans, but it is
 * inside the inference's total: take totals from an image built without the profile.
 * Used by bench/bench_tflm.py through sbtf/micro/compare.py.
 */
#include <stdint.h>
#include <stdio.h>

#include "sbtf_board.h"

void sbtf_model_profile_op(int32_t op);

void sbtf_model_profile_op(int32_t op) {
  static uint64_t last = 0;
  static int32_t previous = INT32_MAX;
  const uint64_t now = sbtf_counter_read();
  if (op <= previous) last = 0; /* a new inference: its counter restarted from zero */
  printf("sbtf-op %ld %llu\n", (long)op, (unsigned long long)(now - last));
  previous = op;
  last = sbtf_counter_read();
}
