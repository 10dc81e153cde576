/*
 * sbtf_rt_elementwise.h - more builtin operators of sbtf's ahead-of-time runtime: LOGISTIC,
 * MUL and SUB (with broadcasting), TRANSPOSE, QUANTIZE float32 -> int8, DEQUANTIZE int8 ->
 * float32 and CAST, for the models of TFLite Micro's examples and MLPerf Tiny.
 *
 * Like sbtf_rt.h: each function reproduces TFLite's reference kernel bit for bit, checks its
 * arguments and buffer sizes and returns an sbtf_status; no dynamic allocation. Whatever TFLite
 * computes in Prepare, including lookup tables, the code generator computes in Python
 * (sbtf/micro/elementwise.py) and passes in.
 */
#ifndef SBTF_RT_ELEMENTWISE_H
#define SBTF_RT_ELEMENTWISE_H

#include <stdint.h>

#include "sbtf_rt.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One int8 -> int8 function by its 256 values: out = table[in + 128]. LOGISTIC int8 is this
 *  (TFLite's int8 LOGISTIC evaluates the table LUTPopulate builds in Prepare). */
sbtf_status sbtf_rt_lut_s8(const int8_t table[256], int32_t size, const int8_t *input,
                           int8_t *output);

/** How two inputs of a binary operator map onto its output, TFLite's 4-D broadcast: output
 *  element (i0, i1, i2, i3) reads input k at Σ i_a * stride_k[a]; a stride is 0 along an axis
 *  where that input has extent 1 (broadcast). */
typedef struct {
  int32_t dims[4];    /**< output shape, extended to 4-D */
  int32_t stride1[4]; /**< element strides of input 1 */
  int32_t stride2[4]; /**< element strides of input 2 */
} sbtf_rt_broadcast;

/** MUL int8 parameters (mul.cc Prepare): out = MBQM((x1 + off1) * (x2 + off2), m, s) + off. */
typedef struct {
  int32_t input1_offset, input2_offset, output_offset; /**< -zp1, -zp2, zp_out */
  int32_t multiplier, shift;                           /**< QuantizeMultiplier(s1 * s2 / s_out) */
  int32_t activation_min, activation_max;
} sbtf_rt_mul_params;

/** MUL int8 (reference_integer_ops::Mul / BroadcastMul4DSlow). size1, size2: elements of the
 *  inputs, checked against the broadcast's largest offsets. */
sbtf_status sbtf_rt_mul_s8(const sbtf_rt_mul_params *params, const sbtf_rt_broadcast *bc,
                           int32_t size1, const int8_t *input1, int32_t size2,
                           const int8_t *input2, int8_t *output);

/** SUB int8 (reference_ops::SubElementwise / BroadcastQuantSubSlow): ADD's rescaling
 *  (sbtf_rt_add_params, left shift 20) with the rescaled inputs subtracted. */
sbtf_status sbtf_rt_sub_s8(const sbtf_rt_add_params *params, const sbtf_rt_broadcast *bc,
                           int32_t size1, const int8_t *input1, int32_t size2,
                           const int8_t *input2, int8_t *output);

/** TRANSPOSE of 1-byte elements (int8), rank <= 4 extended to 4-D: output axis a is input axis
 *  perm[a]; input_dims is the 4-D input shape. */
sbtf_status sbtf_rt_transpose_s8(const int32_t input_dims[4], const int32_t perm[4],
                                 const int8_t *input, int8_t *output);

/** QUANTIZE float32 -> int8 (reference_ops::AffineQuantize): out = round(x / scale) + zp, the
 *  division in float, rounded half away from zero, clamped. Where TFLite's C++ is undefined (NaN,
 *  |x / scale| >= 2^31) this saturates: NaN gives the zero point. */
sbtf_status sbtf_rt_quantize_f32_s8(float scale, int32_t zero_point, int32_t size,
                                    const float *input, int8_t *output);

/** DEQUANTIZE int8 -> float32 (reference_ops::Dequantize) by its 256 values: out = table[in +
 *  128], table[v + 128] = (float)((double)scale * (v - zp)), computed by the code generator. */
sbtf_status sbtf_rt_dequantize_s8_f32(const float table[256], int32_t size, const int8_t *input,
                                      float *output);

/** Element types of CAST: TFLite's TensorType numbers. */
typedef enum {
  SBTF_RT_FLOAT32 = 0,
  SBTF_RT_INT32 = 2,
  SBTF_RT_UINT8 = 3,
  SBTF_RT_INT16 = 7,
  SBTF_RT_INT8 = 9,
} sbtf_rt_type;

/** CAST (cast.cc: static_cast<To>(from) per element) between float32, int32, int16, int8 and
 *  uint8. Integers wrap modulo 2^bits; integer -> float rounds to nearest even; float ->
 *  integer truncates toward zero to int32, then wraps to the narrower type (what TFLite does on
 *  x86-64, where C++ leaves values outside the type undefined); NaN gives 0, values beyond
 *  int32 saturate. */
sbtf_status sbtf_rt_cast(sbtf_rt_type from, sbtf_rt_type to, int32_t size, const void *input,
                         void *output);

#ifdef __cplusplus
}
#endif

#endif /* SBTF_RT_ELEMENTWISE_H */
