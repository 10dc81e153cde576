/*
 * sbtf_rt_keyword.h - what TFLite Micro's keyword_scrambled model needs beside FULLY_CONNECTED:
 * SVDF (TFLite's full-integer form), SOFTMAX int8 -> int16 and QUANTIZE between int8, int16 and
 * int32.
 */
#ifndef SBTF_RT_KEYWORD_H
#define SBTF_RT_KEYWORD_H

#include <stdint.h>

#include "sbtf_rt.h"

#ifdef __cplusplus
extern "C" {
#endif

/** SVDF as svdf.cc Prepare leaves it for int8 input (reference_ops::EvalIntegerSVDF): int8
 *  weights_feature [n_filter][n_input], int16 weights_time [n_filter][n_memory], optional int32
 *  bias [n_filter / rank]; the feature and time products rescaled by QuantizeMultiplier of
 *  s_in * s_wf / s_state and s_state * s_wt / s_out (float32 products, as TFLite computes). */
typedef struct {
  const int8_t *weights_feature;
  const int16_t *weights_time;
  const int32_t *bias; /**< NULL: none */
  int32_t n_batch, n_input, n_filter, n_memory, rank;
  int32_t input_zero_point, output_zero_point;
  int32_t feature_multiplier, feature_shift;
  int32_t time_multiplier, time_shift;
} sbtf_rt_svdf_params;

/** One step of the SVDF on input [n_batch][n_input] into output [n_batch][n_filter / rank].
 *  state (int16, [n_batch][n_filter][n_memory], zero point 0) is the operator's variable
 *  tensor: it keeps the last n_memory feature products of every filter from call to call,
 *  starting from zeros (TFLite's reset state). Sums wrap modulo 2^32, as TFLite's int32 sums
 *  do on the host. */
sbtf_status sbtf_rt_svdf_s8(const sbtf_rt_svdf_params *params, const int8_t *input,
                            int16_t *state, int8_t *output);

/** SOFTMAX int8 -> int16 parameters: what softmax.cc Prepare computes for TFLite's reference
 *  kernel (PreprocessSoftmaxScaling with 5 integer bits, CalculateInputRadius). */
typedef struct {
  int32_t input_multiplier, input_left_shift; /**< beta * s_in * 2^26, as multiplier << shift */
  int32_t diff_min; /**< input differences below it contribute nothing */
} sbtf_rt_softmax_s8_s16_params;

/** Rows of `depth` values in 1 .. SBTF_RT_SOFTMAX_S16_MAX_DEPTH. */
#define SBTF_RT_SOFTMAX_S16_MAX_DEPTH 4095

/** SOFTMAX int8 -> int16 (output scale 1/65536, zero point -32768) over rows of `depth`:
 *  reference_ops::Softmax, gemmlowp's int32 fixed-point exp (Q5.26 in), sum in Q12.19 and
 *  reciprocal, what TFLite's interpreter (BUILTIN_REF) and TFLite Micro run. */
sbtf_status sbtf_rt_softmax_s8_s16(const sbtf_rt_softmax_s8_s16_params *params, int32_t rows,
                                   int32_t depth, const int8_t *input, int16_t *output);

/** QUANTIZE between quantized types (reference_ops::Requantize): out = MBQM(x - zp_in, m, s) +
 *  zp_out, clamped to the output type. Input int8 or int16, output int8, int16 or int32. */
sbtf_status sbtf_rt_requantize(const sbtf_rt_requant_params *params, int32_t size,
                               sbtf_rt_type in_type, const void *input, sbtf_rt_type out_type,
                               void *output);

#ifdef __cplusplus
}
#endif

#endif /* SBTF_RT_KEYWORD_H */
