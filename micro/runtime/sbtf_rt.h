/*
 * sbtf_rt.h - the builtin int8 operators of sbtf's ahead-of-time runtime.
 *
 * `sbtf-micro codegen` turns a .tflite into C that calls these functions (and the signed-binary
 * kernels of sbtf_nn.h) in graph order on one static arena. Every function reproduces the
 * integer arithmetic of TensorFlow Lite's *reference* kernels (tensorflow/lite/kernels/internal/
 * reference/...) bit for bit, checks its arguments and returns an sbtf_status. Parameters that
 * TFLite computes in Prepare (multipliers, shifts, clamps, paddings, the input offset's share of
 * the bias) are precomputed by the code generator in Python and passed in. No dynamic
 * allocation: operators that need scratch take an sbtf_context of at least the SBTF_RT_*_SCRATCH
 * bytes below. Portable C, DSP-extension and Helium paths are chosen at compile time like the
 * kernels' (SBTF_FORCE_PORTABLE forces the portable one); all give the same bits.
 */
#ifndef SBTF_RT_H
#define SBTF_RT_H

#include <stdint.h>

#include "sbtf_arith.h" /* SBTF_PATH_*: the implementation path, which sizes some scratch */
#include "sbtf_nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Pooling parameters (TFLite Pool2DOptions after Prepare). */
typedef struct {
  int32_t stride_h, stride_w;
  int32_t filter_h, filter_w;
  int32_t pad_h, pad_w;           /**< padding before the first row / column */
  int32_t activation_min, activation_max;
} sbtf_rt_pool_params;

/** ADD parameters, as TFLite's add.cc Prepare computes them for int8. */
typedef struct {
  int32_t input1_offset, input2_offset, output_offset;
  int32_t left_shift;
  int32_t input1_multiplier, input1_shift;   /**< shift <= 0 */
  int32_t input2_multiplier, input2_shift;
  int32_t output_multiplier, output_shift;
  int32_t activation_min, activation_max;
} sbtf_rt_add_params;

/** SOFTMAX int8 -> int8 parameters. TFLite's interpreter (also with BUILTIN_REF) runs int8
 *  softmax from a float table built in Prepare (PopulateSoftmaxLookupTable):
 *  table[255 - d] = expf(-input_scale * beta * d); the generator computes it with the host's
 *  expf, the same libm TFLite uses, so the target never calls expf. */
typedef struct {
  const float *table;      /**< 256 entries */
  float output_scale;      /**< 1/256 */
  int32_t output_zero_point; /**< -128 */
} sbtf_rt_softmax_params;

/** MEAN over any subset of the 4 (extended) input axes: reference_ops::QuantizedMeanOrSum.
 *  multiplier/shift already include the 1/count factor, as TFLite folds it in:
 *  out = MBQM(sum(x) - count * zp_in, multiplier, shift) + zp_out, clamped. */
typedef struct {
  uint32_t axis_mask; /**< bit a set: axis a (of the 4-D extended input) is reduced */
  int32_t input_zero_point, output_zero_point;
  int32_t multiplier, shift;
} sbtf_rt_mean_params;

/** Requantization (QUANTIZE between quantized types, sbtf_rt_requantize in sbtf_rt_keyword.h):
 *  out = MBQM(x - zp_in, m, s) + zp_out, clamped. */
typedef struct {
  int32_t input_zero_point, output_zero_point;
  int32_t multiplier, shift;
} sbtf_rt_requant_params;

/** Scratch bytes of sbtf_rt_conv2d_s8 for K = KH * KW * C_in: SBTF_RT_CONV_ROWS gathered input
 *  rows (four on Helium, which runs four filters over a block of rows; two elsewhere). */
#if defined(SBTF_PATH_MVE)
#define SBTF_RT_CONV_ROWS 4
#else
#define SBTF_RT_CONV_ROWS 2
#endif
#define SBTF_RT_CONV_SCRATCH_BYTES(k) (SBTF_RT_CONV_ROWS * (((k) + 15) / 16 * 16))
/** Scratch bytes of sbtf_rt_depthwise_conv2d_s8: the bias with the input offset folded in (one
 *  int32 per output channel) and, on Helium, for a layer whose taps reach outside its input, KH
 *  padded input rows of row_bytes = C_in * (last tap column + pad_w + 1) (0 for a layer that does
 *  not). */
#if defined(SBTF_PATH_MVE)
#define SBTF_RT_DEPTHWISE_SCRATCH_BYTES(c_out, kh, row_bytes) (4 * (c_out) + (kh) * (row_bytes))
#else
#define SBTF_RT_DEPTHWISE_SCRATCH_BYTES(c_out, kh, row_bytes) (4 * (c_out))
#endif
/** Scratch bytes of sbtf_rt_add_s8 for `size` elements: two 256-entry tables when it pays (none
 *  on Helium, which computes every element as vectors). */
#if defined(SBTF_PATH_MVE)
#define SBTF_RT_ADD_SCRATCH_BYTES(size) 0
#else
#define SBTF_RT_ADD_SCRATCH_BYTES(size) ((size) >= SBTF_RT_ADD_TABLE_MIN ? 2 * 256 * 4 : 0)
#endif
#define SBTF_RT_ADD_TABLE_MIN 1024

/** SBTF_RT_CONV_SCRATCH_BYTES(KH * KW * C_in), or a negative sbtf_status for bad dims or
 *  K > SBTF_MAX_FILTER_SIZE. */
int32_t sbtf_rt_conv2d_s8_get_buffer_size(const sbtf_dims *filter_dims);

/** CONV_2D int8 (reference_integer_ops::ConvPerChannel); filter int8 OHWI.
 *  folded_bias[c] = bias[c] + input_offset * Σ filter[c] (the generator computes it), so the
 *  kernel sums filter * x and pads with the input zero point. quant: C_out entries. */
sbtf_status sbtf_rt_conv2d_s8(const sbtf_context *ctx, const sbtf_conv_params *params,
                              const sbtf_quant_params *quant, const sbtf_dims *input_dims,
                              const int8_t *input, const sbtf_dims *filter_dims,
                              const int8_t *filter, const int32_t *folded_bias,
                              const sbtf_dims *output_dims, int8_t *output);

/** SBTF_RT_DEPTHWISE_SCRATCH_BYTES for this layer, or a negative sbtf_status for bad dims or
 *  parameters. */
int32_t sbtf_rt_depthwise_conv2d_s8_get_buffer_size(const sbtf_conv_params *params,
                                                    const sbtf_dims *input_dims,
                                                    const sbtf_dims *filter_dims,
                                                    const sbtf_dims *output_dims);

/** DEPTHWISE_CONV_2D int8 (DepthwiseConvPerChannel); filter [1, KH, KW, C_out]; bias may be
 *  NULL. */
sbtf_status sbtf_rt_depthwise_conv2d_s8(const sbtf_context *ctx, const sbtf_conv_params *params,
                                        int32_t depth_multiplier, const sbtf_quant_params *quant,
                                        const sbtf_dims *input_dims, const int8_t *input,
                                        const sbtf_dims *filter_dims, const int8_t *filter,
                                        const int32_t *bias, const sbtf_dims *output_dims,
                                        int8_t *output);

/** FULLY_CONNECTED's filter layout, so the inner loop reads one pointer forward and four
 *  filters share each input load: filters in groups of four (C_out zero-padded to a multiple of
 *  4), each group's inputs in blocks of SBTF_RT_FC_BLOCK (C_in zero-padded to a multiple of it),
 *  a block of filter 0, 1, 2, 3 in turn: filter c's input i is at
 *  ((c / 4 * C_in' / B + i / B) * 4 + c % 4) * B + i % B (B = SBTF_RT_FC_BLOCK, C_in' padded).
 *  B is one Helium vector (16) on MVE builds, one word (4) otherwise. The code generator writes
 *  it; sbtf_rt_fc_interleave converts a [C_out, C_in] filter on the target. */
#if defined(SBTF_PATH_MVE)
#define SBTF_RT_FC_BLOCK 16
#else
#define SBTF_RT_FC_BLOCK 4
#endif
#define SBTF_RT_FC_PAD(n, to) (((n) + (to) - 1) / (to) * (to))
/** Bytes of a FULLY_CONNECTED filter in that layout. */
#define SBTF_RT_FC_FILTER_BYTES(c_out, c_in) \
  (SBTF_RT_FC_PAD(c_out, 4) * SBTF_RT_FC_PAD(c_in, SBTF_RT_FC_BLOCK))

/** Writes filter [C_out, C_in] to dst (SBTF_RT_FC_FILTER_BYTES) in the layout above. */
sbtf_status sbtf_rt_fc_interleave(int32_t output_channels, int32_t input_channels,
                                  const int8_t *filter, int8_t *dst);

/** FULLY_CONNECTED int8; filter in the layout above, 4-byte aligned; quant has C_out entries
 *  (repeated if per tensor); folded_bias as for conv. Requantizes with single rounding, as TF
 *  2.21's interpreter does (docs/op_spec.md). */
sbtf_status sbtf_rt_fully_connected_s8(const sbtf_fc_params *params,
                                       const sbtf_quant_params *quant, int32_t batches,
                                       int32_t input_channels, const int8_t *input,
                                       int32_t output_channels, const int8_t *filter,
                                       const int32_t *folded_bias, int8_t *output);

/** ADD int8, same shapes (size elements), or input2 broadcast along the last axis of length
 *  b2_size when b2_size > 0 and b2_size < size (e.g. a per-channel constant). With
 *  SBTF_RT_ADD_SCRATCH_BYTES(size) of scratch, each input's rescaling is a 256-entry table. */
sbtf_status sbtf_rt_add_s8(const sbtf_context *ctx, const sbtf_rt_add_params *params,
                           int32_t size, const int8_t *input1,
                           const int8_t *input2, int32_t b2_size, int8_t *output);

/** AVERAGE_POOL_2D int8 (reference_integer_ops::AveragePool). */
sbtf_status sbtf_rt_avg_pool_s8(const sbtf_rt_pool_params *params, const sbtf_dims *input_dims,
                                const int8_t *input, const sbtf_dims *output_dims,
                                int8_t *output);

/** MAX_POOL_2D int8 (reference_integer_ops::MaxPool). */
sbtf_status sbtf_rt_max_pool_s8(const sbtf_rt_pool_params *params, const sbtf_dims *input_dims,
                                const int8_t *input, const sbtf_dims *output_dims,
                                int8_t *output);

/** MEAN int8 over the axes of params->axis_mask; input_dims is the 4-D extended input shape. */
sbtf_status sbtf_rt_mean_s8(const sbtf_rt_mean_params *params, const sbtf_dims *input_dims,
                            const int8_t *input, int8_t *output);

/** SOFTMAX int8 -> int8 over rows of `depth` (optimized_ops::Softmax with the float table). */
sbtf_status sbtf_rt_softmax_s8(const sbtf_rt_softmax_params *params, int32_t rows, int32_t depth,
                               const int8_t *input, int8_t *output);

/** PAD int8 on a 4-D extended shape; before/after paddings per axis; pad_value = output zp. */
sbtf_status sbtf_rt_pad_s8(const sbtf_dims *input_dims, const int32_t before[4],
                           const int32_t after[4], int8_t pad_value, const int8_t *input,
                           int8_t *output);

/* ---- sbtf_rt_elementwise.c: LOGISTIC, MUL, SUB, TRANSPOSE, QUANTIZE float32 -> int8,
   DEQUANTIZE int8 -> float32, CAST. Tables TFLite builds in Prepare come from the generator. */

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

/* ---- sbtf_rt_slice.c ---- */

/** STRIDED_SLICE of int8 (reference_ops::StridedSlice) over the 4-D input: along axis a the
 *  indices start[a], start[a] + stride[a], ... before stop[a] (TFLite's StartForAxis /
 *  StopForAxis, masks and negative indices already resolved). SBTF_ERROR_BAD_PARAM when a range
 *  leaves the input, SBTF_ERROR_BAD_SHAPE when it does not yield output_size elements. */
sbtf_status sbtf_rt_strided_slice_s8(const int32_t input_dims[4], const int32_t start[4],
                                     const int32_t stop[4], const int32_t stride[4],
                                     int32_t output_size, const int8_t *input, int8_t *output);

/* ---- sbtf_rt_lstm.c: UNIDIRECTIONAL_SEQUENCE_LSTM, int8 (TFLite's 8x8_16 integer LSTM) ---- */

/** Largest input and cell sizes: int32 sums of int8 products never overflow below them. */
#define SBTF_RT_LSTM_MAX_SIZE 16384
/** Scratch of sbtf_rt_lstm_s8: the four int16 gate vectors of one step. */
#define SBTF_RT_LSTM_SCRATCH_BYTES(n_cell) (8 * (n_cell))

/** A Keras-style LSTM without projection, peephole, layer norm or CIFG; gates in the order
 *  input, forget, cell, output. The generator computes everything TFLite's Prepare does
 *  (tflite_math.lstm_prepare). */
typedef struct {
  const int8_t *input_weights[4];      /**< [n_cell][n_input] per gate */
  const int8_t *recurrent_weights[4];  /**< [n_cell][n_cell] per gate */
  const int32_t *input_bias[4];        /**< gate bias - input zp * row sums */
  const int32_t *recurrent_bias[4];    /**< - output state zp * row sums */
  int32_t input_multiplier[4], input_shift[4];         /**< s_w * s_in / 2^-12 */
  int32_t recurrent_multiplier[4], recurrent_shift[4]; /**< s_rw * s_h / 2^-12 */
  int32_t hidden_multiplier, hidden_shift;             /**< 2^-30 / s_hidden */
  int32_t hidden_zero_point, output_state_zero_point;
  int32_t cell_scale_log2; /**< cell state scale 2^cell_scale_log2, -15 .. -9 */
  int32_t cell_clip;       /**< > 0: the cell state is clamped to [-cell_clip, cell_clip] */
  int32_t n_batch, n_time, n_input, n_cell;
  int32_t time_major; /**< input / output [time, batch, .] rather than [batch, time, .] */
} sbtf_rt_lstm_params;

/** gemmlowp's int16 fixed-point logistic and tanh, what TFLite's integer LSTM applies: x in
 *  Q(int_bits).(15 - int_bits), int_bits 0..6; result Q0.15. */
int16_t sbtf_rt_logistic_s16(int16_t x, int32_t int_bits);
int16_t sbtf_rt_tanh_s16(int16_t x, int32_t int_bits);

/** SBTF_RT_LSTM_SCRATCH_BYTES(n_cell), or SBTF_ERROR_BAD_SHAPE. */
int32_t sbtf_rt_lstm_s8_get_buffer_size(int32_t n_cell);

/** The whole sequence, every output step (lstm_eval.cc EvalInteger8x8_16). output_state (int8,
 *  n_batch * n_cell) and cell_state (int16, same count) are the operator's state tensors; each
 *  call starts a new sequence from TFLite's reset state (the zero point, 0). */
sbtf_status sbtf_rt_lstm_s8(const sbtf_context *ctx, const sbtf_rt_lstm_params *params,
                            const int8_t *input, int8_t *output_state, int16_t *cell_state,
                            int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* SBTF_RT_H */
