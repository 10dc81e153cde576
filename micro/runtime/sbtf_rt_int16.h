/*
 * sbtf_rt_int16.h - 16x8 builtins of sbtf's runtime: int16 activations, int8 weights (TFLite's
 * EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8 models).
 *
 * Same contract as sbtf_rt.h: each function reproduces TFLite's reference kernel bit for bit,
 * checks its arguments and returns an sbtf_status; Prepare math comes from the generator. int16
 * activations are symmetric, so every zero point is 0 (checked). Portable C only.
 */
#ifndef SBTF_RT_INT16_H
#define SBTF_RT_INT16_H

#include <stdint.h>

#include "sbtf_rt.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Largest |bias| the 16x8 conv / FC accept: with K <= SBTF_MAX_FILTER_SIZE products of
 *  int16 x int8 the accumulator stays below 2^47, the range TFLite's 64-bit
 *  MultiplyByQuantizedMultiplier assumes (and its 64-bit product cannot overflow). */
#define SBTF_RT_S16_MAX_BIAS ((int64_t)1 << 46)

/** CONV_2D 16x8 (reference_integer_ops::ConvPerChannel, int64 accumulator and bias).
 *  params: offsets 0, activation clamp within int16; quant: C_out entries, shifts in [-31, 7].
 *  bias: C_out int64 values or NULL. */
sbtf_status sbtf_rt_conv2d_s16(const sbtf_conv_params *params, const sbtf_quant_params *quant,
                               const sbtf_dims *input_dims, const int16_t *input,
                               const sbtf_dims *filter_dims, const int8_t *filter,
                               const int64_t *bias, const sbtf_dims *output_dims,
                               int16_t *output);

/** DEPTHWISE_CONV_2D 16x8 (DepthwiseConvPerChannel); filter [1, KH, KW, C_out]. */
sbtf_status sbtf_rt_depthwise_conv2d_s16(const sbtf_conv_params *params, int32_t depth_multiplier,
                                         const sbtf_quant_params *quant,
                                         const sbtf_dims *input_dims, const int16_t *input,
                                         const sbtf_dims *filter_dims, const int8_t *filter,
                                         const int64_t *bias, const sbtf_dims *output_dims,
                                         int16_t *output);

/** FULLY_CONNECTED 16x8 as TF 2.21's interpreter runs it (also with BUILTIN_REF): the sum in
 *  int32 (the generator proves |sum + bias| < 2^31 from the weights and refuses the model
 *  otherwise), then single rounding (acc * m + 2^(30 - s)) >> (31 - s) with the full multiplier,
 *  like int8 FC (docs/op_spec.md), not the reference's 16-bit-multiplier rounding. Filter
 *  [C_out, C_in]; quant C_out entries (repeated if per tensor). */
sbtf_status sbtf_rt_fully_connected_s16(const sbtf_fc_params *params,
                                        const sbtf_quant_params *quant, int32_t batches,
                                        int32_t input_channels, const int16_t *input,
                                        int32_t output_channels, const int8_t *filter,
                                        const int64_t *bias, int16_t *output);

/** ADD int16, general scales (add.cc with pot_scale_int16 false: AddElementwise, inputs
 *  shifted left by 15). Shapes as sbtf_rt_add_s8 (equal, or input2 along the last axis). */
sbtf_status sbtf_rt_add_s16(const sbtf_rt_add_params *params, int32_t size, const int16_t *input1,
                            const int16_t *input2, int32_t b2_size, int16_t *output);

/** MUL int16 (MulElementwise / BroadcastMul4DSlow with int16): MBQM(x1 * x2), any 4-D
 *  broadcast as sbtf_rt_mul_s8; offsets 0. */
sbtf_status sbtf_rt_mul_s16(const sbtf_rt_mul_params *params, const sbtf_rt_broadcast *bc,
                            int32_t size1, const int16_t *input1, int32_t size2,
                            const int16_t *input2, int16_t *output);

/** SUB int16, general scales: ADD's arithmetic (inputs shifted left by 15) with the rescaled
 *  inputs subtracted; any 4-D broadcast as sbtf_rt_sub_s8; offsets 0. */
sbtf_status sbtf_rt_sub_s16(const sbtf_rt_add_params *params, const sbtf_rt_broadcast *bc,
                            int32_t size1, const int16_t *input1, int32_t size2,
                            const int16_t *input2, int16_t *output);

/** AVERAGE_POOL_2D / MAX_POOL_2D int16 (reference_integer_ops::AveragePool / MaxPool). */
sbtf_status sbtf_rt_avg_pool_s16(const sbtf_rt_pool_params *params, const sbtf_dims *input_dims,
                                 const int16_t *input, const sbtf_dims *output_dims,
                                 int16_t *output);
sbtf_status sbtf_rt_max_pool_s16(const sbtf_rt_pool_params *params, const sbtf_dims *input_dims,
                                 const int16_t *input, const sbtf_dims *output_dims,
                                 int16_t *output);

/** MEAN int16 (QuantizedMeanOrSum<int16_t, int32_t>) over params->axis_mask as
 *  sbtf_rt_mean_s8; zero points 0, at most 65536 values per output. */
sbtf_status sbtf_rt_mean_s16(const sbtf_rt_mean_params *params, const sbtf_dims *input_dims,
                             const int16_t *input, int16_t *output);

/** SOFTMAX int16 -> int16 parameters (softmax.cc Prepare): TFLite's two 513-entry LUTs and the
 *  multiplier that maps input differences [-65535, 0] onto the exp LUT's [-10, 0]. */
typedef struct {
  const int16_t *exp_lut;            /**< exp on [-10, 0], 513 entries */
  const int16_t *one_over_one_plus_x_lut; /**< 1 / (1 + x) on [0, 1], 513 entries */
  int32_t input_multiplier, input_shift; /**< shift in [-31, 15] */
} sbtf_rt_softmax_s16_params;

/** SOFTMAX int16 (reference_ops::SoftmaxInt16) over rows of `depth` <= 65536; output scale
 *  1/32768, zero point 0. */
sbtf_status sbtf_rt_softmax_s16(const sbtf_rt_softmax_s16_params *params, int32_t rows,
                                int32_t depth, const int16_t *input, int16_t *output);

/** QUANTIZE float32 -> int16 (AffineQuantize: round(x / scale) half away from zero, clamped;
 *  zero point 0). NaN gives 0. */
sbtf_status sbtf_rt_quantize_f32_s16(float scale, int32_t size, const float *input,
                                     int16_t *output);

/** DEQUANTIZE int16 -> float32: (float)((double)scale * q), computed as the float product
 *  (exact in double, so one rounding either way; no double arithmetic on the target). */
sbtf_status sbtf_rt_dequantize_s16_f32(float scale, int32_t size, const int16_t *input,
                                       float *output);

#ifdef __cplusplus
}
#endif

#endif /* SBTF_RT_INT16_H */
