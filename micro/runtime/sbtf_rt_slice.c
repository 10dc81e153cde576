/*
 * sbtf_rt_slice.c - STRIDED_SLICE of int8 tensors (reference_ops::StridedSlice), declared in
 * sbtf_rt.h. The generator resolves masks and negative indices (tflite_math.strided_slice_ranges);
 * this walks the ranges and checks that they stay inside the input and the output.
 */
#include <stddef.h>

#include "sbtf_rt_internal.h"

/* Indices visited along one axis; -1 when they would leave [0, size). */
static int32_t axis_count(int32_t size, int32_t start, int32_t stop, int32_t stride) {
  if (size < 1 || stride == 0) return -1;
  if (stride > 0) {
    if (start < 0 || start > size || stop < 0 || stop > size) return -1;
    return stop > start ? (int32_t)(((int64_t)stop - start + stride - 1) / stride) : 0;
  }
  if (start < -1 || start > size - 1 || stop < -1 || stop > size - 1) return -1;
  return start > stop ? (int32_t)(((int64_t)start - stop - stride - 1) / -(int64_t)stride) : 0;
}

sbtf_status sbtf_rt_strided_slice_s8(const int32_t input_dims[4], const int32_t start[4],
                                     const int32_t stop[4], const int32_t stride[4],
                                     int32_t output_size, const int8_t *input, int8_t *output) {
  if (input_dims == NULL || start == NULL || stop == NULL || stride == NULL || input == NULL ||
      output == NULL)
    return SBTF_ERROR_NULL_ARGUMENT;
  int64_t count = 1;
  for (int a = 0; a < 4; ++a) {
    const int32_t n = axis_count(input_dims[a], start[a], stop[a], stride[a]);
    if (n < 0) return SBTF_ERROR_BAD_PARAM;
    count *= n;
  }
  if (count != output_size) return SBTF_ERROR_BAD_SHAPE;
  const int64_t s2 = input_dims[3], s1 = s2 * input_dims[2], s0 = s1 * input_dims[1];
  int32_t o = 0;
  /* int64 indices: start + stride may pass INT32_MAX on the last step */
  for (int64_t i0 = start[0]; stride[0] > 0 ? i0 < stop[0] : i0 > stop[0]; i0 += stride[0])
    for (int64_t i1 = start[1]; stride[1] > 0 ? i1 < stop[1] : i1 > stop[1]; i1 += stride[1])
      for (int64_t i2 = start[2]; stride[2] > 0 ? i2 < stop[2] : i2 > stop[2]; i2 += stride[2]) {
        const int8_t *row = input + i0 * s0 + i1 * s1 + i2 * s2;
        for (int64_t i3 = start[3]; stride[3] > 0 ? i3 < stop[3] : i3 > stop[3]; i3 += stride[3])
          output[o++] = row[i3];
      }
  return SBTF_OK;
}
