/*
 * sbtf_rt_elementwise.c - LOGISTIC (as a table), MUL, SUB, TRANSPOSE, QUANTIZE float32 -> int8,
 * DEQUANTIZE int8 -> float32 and CAST of the ahead-of-time runtime (declared in sbtf_rt.h).
 * Each follows the arithmetic of the TFLite reference kernel named in its comment.
 */
#include <stddef.h>
#include <string.h>

#include "sbtf_rt_internal.h"

sbtf_status sbtf_rt_lut_s8(const int8_t table[256], int32_t size, const int8_t *input,
                           int8_t *output) {
  if (table == NULL || input == NULL || output == NULL) return SBTF_ERROR_NULL_ARGUMENT;
  if (size < 1) return SBTF_ERROR_BAD_SHAPE;
  for (int32_t i = 0; i < size; ++i) output[i] = table[input[i] + 128];
  return SBTF_OK;
}

/* ---- broadcasting binary operators ---- */

/* Declared in sbtf_rt_internal.h: int16 MUL / SUB use it too. */
int sbtf_rt_broadcast_ok(const sbtf_rt_broadcast *bc, int32_t n1, int32_t n2) {
  int64_t last1 = 0, last2 = 0;
  for (int a = 0; a < 4; ++a) {
    if (bc->dims[a] < 1 || bc->stride1[a] < 0 || bc->stride2[a] < 0) return 0;
    last1 += (int64_t)(bc->dims[a] - 1) * bc->stride1[a];
    last2 += (int64_t)(bc->dims[a] - 1) * bc->stride2[a];
  }
  return last1 < n1 && last2 < n2;
}

sbtf_status sbtf_rt_mul_s8(const sbtf_rt_mul_params *params, const sbtf_rt_broadcast *bc,
                           int32_t size1, const int8_t *input1, int32_t size2,
                           const int8_t *input2, int8_t *output) {
  if (params == NULL || bc == NULL || input1 == NULL || input2 == NULL || output == NULL)
    return SBTF_ERROR_NULL_ARGUMENT;
  if (!sbtf_rt_broadcast_ok(bc, size1, size2)) return SBTF_ERROR_BAD_SHAPE;
  const sbtf_rt_mul_params p = *params; /* locals: int8 stores may alias the struct */
  if (!sbtf_offsets_ok(p.input1_offset, p.output_offset) ||
      !sbtf_offsets_ok(p.input2_offset, p.output_offset) || p.multiplier < 0 ||
      p.shift < -31 || p.shift > 30 || !sbtf_clamp_ok(p.activation_min, p.activation_max))
    return SBTF_ERROR_BAD_PARAM;
  SBTF_RT_BROADCAST_LOOP(
      int8_t, bc, input1, input2, output,
      sbtf_clamp(sbtf_mbqm((x1 + p.input1_offset) * (x2 + p.input2_offset), p.multiplier,
                                 p.shift) + p.output_offset,
                    p.activation_min, p.activation_max));
  return SBTF_OK;
}

sbtf_status sbtf_rt_sub_s8(const sbtf_rt_add_params *params, const sbtf_rt_broadcast *bc,
                           int32_t size1, const int8_t *input1, int32_t size2,
                           const int8_t *input2, int8_t *output) {
  if (params == NULL || bc == NULL || input1 == NULL || input2 == NULL || output == NULL)
    return SBTF_ERROR_NULL_ARGUMENT;
  if (!sbtf_rt_broadcast_ok(bc, size1, size2)) return SBTF_ERROR_BAD_SHAPE;
  const sbtf_rt_add_params p = *params;
  if (p.left_shift < 0 || p.left_shift > 20 || p.input1_shift > 0 || p.input2_shift > 0 ||
      p.output_shift > 0 || p.input1_shift < -31 || p.input2_shift < -31 ||
      p.output_shift < -31 || p.input1_multiplier < 0 || p.input2_multiplier < 0 ||
      p.output_multiplier < 0 || !sbtf_offsets_ok(p.input1_offset, p.output_offset) ||
      !sbtf_offsets_ok(p.input2_offset, p.output_offset) ||
      !sbtf_clamp_ok(p.activation_min, p.activation_max))
    return SBTF_ERROR_BAD_PARAM;
  SBTF_RT_BROADCAST_LOOP(int8_t, bc, input1, input2, output, sbtf_rt_sub_one(&p, x1, x2));
  return SBTF_OK;
}

/* ---- TRANSPOSE: reference_ops::Transpose ---- */

sbtf_status sbtf_rt_transpose_s8(const int32_t input_dims[4], const int32_t perm[4],
                                 const int8_t *input, int8_t *output) {
  if (input_dims == NULL || perm == NULL || input == NULL || output == NULL)
    return SBTF_ERROR_NULL_ARGUMENT;
  int32_t in_stride[4], out_dims[4], stride[4];
  int32_t seen = 0;
  for (int a = 3, s = 1; a >= 0; --a) {
    if (input_dims[a] < 1) return SBTF_ERROR_BAD_SHAPE;
    in_stride[a] = s;
    s *= input_dims[a];
  }
  for (int a = 0; a < 4; ++a) {
    if (perm[a] < 0 || perm[a] > 3 || (seen >> perm[a]) & 1) return SBTF_ERROR_BAD_PARAM;
    seen |= 1 << perm[a];
    out_dims[a] = input_dims[perm[a]];
    stride[a] = in_stride[perm[a]]; /* input step per step along output axis a */
  }
  int32_t o = 0;
  for (int32_t i0 = 0; i0 < out_dims[0]; ++i0)
    for (int32_t i1 = 0; i1 < out_dims[1]; ++i1)
      for (int32_t i2 = 0; i2 < out_dims[2]; ++i2) {
        const int8_t *row = input + i0 * stride[0] + i1 * stride[1] + i2 * stride[2];
        for (int32_t i3 = 0; i3 < out_dims[3]; ++i3) output[o++] = row[i3 * stride[3]];
      }
  return SBTF_OK;
}

/* ---- QUANTIZE float32 -> int8 and DEQUANTIZE int8 -> float32 ---- */

/* float -> int32 truncating toward zero; NaN gives 0, values beyond int32 saturate. */
static int32_t f32_to_i32(float x) {
  if (!(x == x)) return 0;
  if (x >= 2147483648.0f) return INT32_MAX;
  if (x < -2147483648.0f) return INT32_MIN;
  return (int32_t)x;
}

sbtf_status sbtf_rt_quantize_f32_s8(float scale, int32_t zero_point, int32_t size,
                                    const float *input, int8_t *output) {
  if (input == NULL || output == NULL) return SBTF_ERROR_NULL_ARGUMENT;
  if (size < 1) return SBTF_ERROR_BAD_SHAPE;
  if (!(scale > 0.0f) || zero_point < -128 || zero_point > 127) return SBTF_ERROR_BAD_PARAM;
  for (int32_t i = 0; i < size; ++i) {
    const float q = input[i] / scale;
    /* NaN -> the zero point: f32_to_i32(NaN) is 0. Wide values saturate before adding zp. */
    int32_t v = f32_to_i32(sbtf_rt_round_half_away_f32(q));
    v = sbtf_clamp(v, -256, 256) + zero_point;
    output[i] = (int8_t)sbtf_clamp(v, -128, 127);
  }
  return SBTF_OK;
}

sbtf_status sbtf_rt_dequantize_s8_f32(const float table[256], int32_t size, const int8_t *input,
                                      float *output) {
  if (table == NULL || input == NULL || output == NULL) return SBTF_ERROR_NULL_ARGUMENT;
  if (size < 1) return SBTF_ERROR_BAD_SHAPE;
  for (int32_t i = 0; i < size; ++i) output[i] = table[input[i] + 128];
  return SBTF_OK;
}

/* ---- CAST: static_cast<To>(from) per element (cast.cc) ---- */

static int type_ok(sbtf_rt_type t) {
  return t == SBTF_RT_FLOAT32 || t == SBTF_RT_INT32 || t == SBTF_RT_UINT8 ||
         t == SBTF_RT_INT16 || t == SBTF_RT_INT8;
}

/* Element i of `p` as a float (exact for every integer type but int32, rounded to nearest even
   there, as C converts) or as an int32 (floats truncated, see f32_to_i32). */
static float load_f32(sbtf_rt_type t, const void *p, int32_t i) {
  switch (t) {
    case SBTF_RT_FLOAT32: return ((const float *)p)[i];
    case SBTF_RT_INT32: return (float)((const int32_t *)p)[i];
    case SBTF_RT_INT16: return (float)((const int16_t *)p)[i];
    case SBTF_RT_UINT8: return (float)((const uint8_t *)p)[i];
    default: return (float)((const int8_t *)p)[i];
  }
}

static int32_t load_i32(sbtf_rt_type t, const void *p, int32_t i) {
  switch (t) {
    case SBTF_RT_FLOAT32: return f32_to_i32(((const float *)p)[i]);
    case SBTF_RT_INT32: return ((const int32_t *)p)[i];
    case SBTF_RT_INT16: return ((const int16_t *)p)[i];
    case SBTF_RT_UINT8: return ((const uint8_t *)p)[i];
    default: return ((const int8_t *)p)[i];
  }
}

sbtf_status sbtf_rt_cast(sbtf_rt_type from, sbtf_rt_type to, int32_t size, const void *input,
                         void *output) {
  if (input == NULL || output == NULL) return SBTF_ERROR_NULL_ARGUMENT;
  if (size < 1) return SBTF_ERROR_BAD_SHAPE;
  if (!type_ok(from) || !type_ok(to)) return SBTF_ERROR_BAD_PARAM;
  for (int32_t i = 0; i < size; ++i) {
    if (to == SBTF_RT_FLOAT32) {
      ((float *)output)[i] = load_f32(from, input, i);
      continue;
    }
    /* Wrap modulo 2^bits through unsigned arithmetic (defined in C, GCC's rule for signed). */
    const uint32_t v = (uint32_t)load_i32(from, input, i);
    switch (to) {
      case SBTF_RT_INT32: ((int32_t *)output)[i] = (int32_t)v; break;
      case SBTF_RT_INT16: ((int16_t *)output)[i] = (int16_t)(uint16_t)v; break;
      case SBTF_RT_UINT8: ((uint8_t *)output)[i] = (uint8_t)v; break;
      default: ((int8_t *)output)[i] = (int8_t)(uint8_t)v; break;
    }
  }
  return SBTF_OK;
}
