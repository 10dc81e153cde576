/*
 * sbtf_nn.h - signed-binary int8 kernels for Cortex-M (and any C99 host).
 *
 * The operators are specified in docs/op_spec.md: an sbtf op computes exactly what TFLite's
 * reference int8 CONV_2D / FULLY_CONNECTED kernels (TF 2.21, BUILTIN_REF) compute on the weights
 * sign[c] * 127 at the set bits of mask row c and 0 elsewhere. No dynamic allocation; every function checks its arguments
 * and returns a status.
 *
 * One API, three implementations chosen at compile time (all bit-exact with each other):
 * portable C, Cortex-M DSP extension (__ARM_FEATURE_DSP: M4, M7, M33) and Helium
 * (__ARM_FEATURE_MVE: M55, M85). Define SBTF_FORCE_PORTABLE to build the portable path anywhere.
 */
#ifndef SBTF_NN_H
#define SBTF_NN_H

#include <stdint.h>

/* SBTF_OP_FORMAT_VERSION (the ops' format this library implements) and SBTF_MAX_FILTER_SIZE
   (largest K = KH * KW * C_in or C_in), generated from sbtf/op_format.py. */
#include "sbtf_op_format.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Status returned by every function. */
typedef enum {
  SBTF_OK = 0,
  SBTF_ERROR_NULL_ARGUMENT = -1, /**< a required pointer is NULL */
  SBTF_ERROR_BAD_SHAPE = -2,     /**< a dimension is out of range or shapes disagree */
  SBTF_ERROR_BAD_PARAM = -3,     /**< stride, dilation, padding, offset or clamp out of range */
  SBTF_ERROR_BUFFER_SIZE = -4,   /**< the scratch buffer is smaller than *_get_buffer_size() */
} sbtf_status;

/**
 * Scratch memory owned by the caller (size in bytes), 4-byte aligned. buf may be NULL when
 * size is 0. Its contents need not survive between calls.
 */
typedef struct {
  void *buf;
  int32_t size;
} sbtf_context;

/** A 4-D shape. Activations: NHWC. Filters: n = C_out, h = KH, w = KW, c = C_in. */
typedef struct {
  int32_t n;
  int32_t h;
  int32_t w;
  int32_t c;
} sbtf_dims;

/** Convolution parameters (TFLite semantics). */
typedef struct {
  int32_t input_offset;   /**< -input zero point, in [-127, 128] */
  int32_t output_offset;  /**< output zero point, in [-128, 127] */
  int32_t stride_h, stride_w;      /**< >= 1 */
  int32_t dilation_h, dilation_w;  /**< >= 1 */
  int32_t pad_h, pad_w;   /**< padding before the first row / column, >= 0 (TFLite's SAME rule) */
  int32_t activation_min; /**< output clamp, -128 <= min <= max <= 127 */
  int32_t activation_max;
} sbtf_conv_params;

/** Fully-connected parameters (TFLite semantics). */
typedef struct {
  int32_t input_offset;   /**< -input zero point, in [-127, 128] */
  int32_t output_offset;  /**< output zero point, in [-128, 127] */
  int32_t activation_min; /**< output clamp, -128 <= min <= max <= 127 */
  int32_t activation_max;
} sbtf_fc_params;

/**
 * Per-output-channel requantization, as TFLite's QuantizeMultiplier produces it:
 * multiplier[c] in [2^30, 2^31) or 0, shift[c] in [-31, 30] (positive = left shift).
 * A per-tensor layer repeats the same value for every channel.
 */
typedef struct {
  const int32_t *multiplier;
  const int32_t *shift;
} sbtf_quant_params;

/** Bytes of one bitmask row: K bits padded to a multiple of 16 bits (docs/op_spec.md). */
static inline int32_t sbtf_mask_row_bytes(int32_t k) { return ((k + 15) / 16) * 2; }

/** Which implementation this build of the library runs: "portable", "dsp" or "helium". */
const char *sbtf_kernel_path(void);

/** Largest C_out. With K <= SBTF_MAX_FILTER_SIZE it bounds SBTF_SCRATCH_BYTES below 2^31
 *  (about 1.07e9 at both limits), so no scratch size computation can overflow an int32;
 *  larger shapes are SBTF_ERROR_BAD_SHAPE. */
#define SBTF_MAX_OUTPUT_CHANNELS 65536

/** The larger of a and b (evaluates them twice: constant expressions only). */
#define SBTF_MAX(a, b) ((a) > (b) ? (a) : (b))

/**
 * Scratch bytes the kernels need for K inputs per filter and C_out filters, as an integer
 * constant expression usable to size static buffers. For valid shapes it equals what
 * sbtf_conv2d_s8_get_buffer_size() (k = KH * KW * C_in, c_out = C_out) and
 * sbtf_fully_connected_s8_get_buffer_size() (k = C_in) return. With G = ceil(K / 4) groups
 * rounded up to 4 and C4 = C_out rounded up to 4 (filter lanes), the parts are
 * 12 * C4 (base, two accumulators) + 64 * min(G, 64) (subset-sum tables of one chunk)
 * + 8 * G (two input rows) + C4 * G rounded up to 4 (decoded masks); see sbtf_nn_core.c.
 * Helium builds take at least 4096 + 68 * C4 + 32 * G: room for the pixel-vectorized
 * convolution's 4-vector layout on 3x3 layers of stride <= 2 (sbtf_nn_core_helium.h); it sizes
 * no layer of ResNet-8 above its largest (3x3x64 -> 64). The size depends on the target, as
 * CMSIS-NN's does: size buffers with the compiler and flags of the kernels.
 * The Helium paths use parts of that area: across output pixels (sbtf_nn_core_helium.h)
 * and, for K <= 32, one pixel at a time (sbtf_nn_core_helium_short.h:
 * 8 * C4 + 4 * G bytes, per-filter constants and one input row).
 * Arguments are evaluated several times. Defined (no int overflow) for 1 <= k <=
 * SBTF_MAX_FILTER_SIZE and 1 <= c_out <= SBTF_MAX_OUTPUT_CHANNELS only: check shapes from a
 * model with the *_get_buffer_size() functions, which return SBTF_ERROR_BAD_SHAPE outside.
 */
#define SBTF_SCRATCH_BYTES(k, c_out) \
  SBTF_MAX(SBTF_SCRATCH_TABLES_(k, c_out), SBTF_SCRATCH_HELIUM_(k, c_out))
#define SBTF_SCRATCH_TABLES_(k, c_out)                                                   \
  (12 * SBTF_SCRATCH_C4_(c_out) + 64 * SBTF_SCRATCH_CHUNK_(k) + 8 * SBTF_SCRATCH_G_(k) + \
   (SBTF_SCRATCH_C4_(c_out) * SBTF_SCRATCH_G_(k) + 3) / 4 * 4)
/* Helium: the condition of SBTF_PATH_MVE (sbtf_arith.h; sbtf_nn_core_helium.h checks it). */
#if !defined(SBTF_FORCE_PORTABLE) && defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#define SBTF_SCRATCH_HELIUM_(k, c_out) \
  (4096 + 68 * SBTF_SCRATCH_C4_(c_out) + 32 * SBTF_SCRATCH_G_(k))
#else
#define SBTF_SCRATCH_HELIUM_(k, c_out) 0
#endif
#define SBTF_SCRATCH_G_(k) ((((k) + 3) / 4 + 3) / 4 * 4)
#define SBTF_SCRATCH_C4_(c_out) (((c_out) + 3) / 4 * 4)
#define SBTF_SCRATCH_CHUNK_(k) (SBTF_SCRATCH_G_(k) < 64 ? SBTF_SCRATCH_G_(k) : 64)

/**
 * Scratch bytes sbtf_conv2d_s8() needs for these shapes, SBTF_SCRATCH_BYTES(KH * KW * C_in,
 * C_out). It grows with C_out * K / 4 (decoded masks) plus 4 KiB of tables: about 15 KiB for a
 * 3x3x64 -> 64 layer.
 * Returns a negative sbtf_status when the shapes are invalid.
 */
int32_t sbtf_conv2d_s8_get_buffer_size(const sbtf_dims *input_dims, const sbtf_dims *filter_dims,
                                       const sbtf_dims *output_dims);

/**
 * Signed-binary 2-D convolution, int8 in and out.
 *
 * @param ctx          scratch buffer of at least sbtf_conv2d_s8_get_buffer_size() bytes
 * @param params       offsets, stride, dilation, padding, clamp
 * @param quant        per-channel multiplier/shift, C_out entries each
 * @param input_dims   [N, H, W, C_in]
 * @param input        int8 NHWC
 * @param filter_dims  [C_out, KH, KW, C_in]
 * @param mask         uint8 [C_out, row_bytes], row_bytes = sbtf_mask_row_bytes(KH*KW*C_in);
 *                     bit i = (ky*KW + kx)*C_in + ci of row c, LSB first; padding bits zero
 * @param sign         int8 [C_out], each -1 or +1
 * @param bias         int32 [C_out], or NULL
 * @param output_dims  [N, H_out, W_out, C_out]; H_out, W_out must match stride/dilation/padding
 * @param output       int8 NHWC
 * @return SBTF_OK; SBTF_ERROR_NULL_ARGUMENT for a NULL pointer (bias may be NULL);
 *         SBTF_ERROR_BAD_SHAPE when dims are < 1, disagree, K > SBTF_MAX_FILTER_SIZE,
 *         C_out > SBTF_MAX_OUTPUT_CHANNELS, an activation has more than INT32_MAX elements or
 *         H_out/W_out do not follow TFLite's SAME/VALID rule for the given padding;
 *         SBTF_ERROR_BAD_PARAM for stride/dilation < 1, a padding that is neither 0 nor SAME's,
 *         offsets/clamp out of range, a sign other than +-1, non-zero mask padding bits,
 *         multiplier < 0, shift outside [-31, 30] or a misaligned scratch buffer;
 *         SBTF_ERROR_BUFFER_SIZE when ctx->size < sbtf_conv2d_s8_get_buffer_size().
 */
sbtf_status sbtf_conv2d_s8(const sbtf_context *ctx, const sbtf_conv_params *params,
                           const sbtf_quant_params *quant, const sbtf_dims *input_dims,
                           const int8_t *input, const sbtf_dims *filter_dims, const uint8_t *mask,
                           const int8_t *sign, const int32_t *bias, const sbtf_dims *output_dims,
                           int8_t *output);

/** Scratch bytes sbtf_fully_connected_s8() needs, SBTF_SCRATCH_BYTES(C_in, C_out) (negative
 *  sbtf_status on invalid sizes). */
int32_t sbtf_fully_connected_s8_get_buffer_size(int32_t input_channels, int32_t output_channels);

/**
 * Signed-binary fully connected layer, int8 in and out. Requantizes with single rounding,
 * (acc * multiplier + 2^(30 - shift)) >> (31 - shift) on the 64-bit product, as TF 2.21's
 * FULLY_CONNECTED does (docs/op_spec.md); the convolution uses TFLite's double rounding.
 *
 * @param batches          rows of input, >= 1
 * @param input_channels   C_in, >= 1
 * @param input            int8 [batches, C_in]
 * @param output_channels  C_out, >= 1
 * @param mask             uint8 [C_out, row_bytes], row_bytes = sbtf_mask_row_bytes(C_in)
 * @param sign             int8 [C_out], each -1 or +1
 * @param bias             int32 [C_out], or NULL
 * @param output           int8 [batches, C_out]
 * @return as sbtf_conv2d_s8 (C_in > SBTF_MAX_FILTER_SIZE, C_out > SBTF_MAX_OUTPUT_CHANNELS or
 *         batches * C_in or batches * C_out > INT32_MAX is SBTF_ERROR_BAD_SHAPE)
 */
sbtf_status sbtf_fully_connected_s8(const sbtf_context *ctx, const sbtf_fc_params *params,
                                    const sbtf_quant_params *quant, int32_t batches,
                                    int32_t input_channels, const int8_t *input,
                                    int32_t output_channels, const uint8_t *mask,
                                    const int8_t *sign, const int32_t *bias, int8_t *output);

/*
 * Fully connected with the masks decoded once (optional; the caller chooses): prepare writes
 * per-filter table offsets for groups of 6 inputs and per-filter constants into persistent
 * memory the caller owns, so that each call does one offset load, one table load and one add
 * per filter and 6 inputs instead of decoding mask nibbles (FC 256 -> 64: 0.63x the
 * instructions of sbtf_fully_connected_s8, 0.47x CMSIS-NN's on Cortex-M4 and M7;
 * bench/bench_kernels.py). It costs sbtf_fully_connected_s8_prepared_size() bytes of
 * persistent memory: 24 + 4 * C_out + 2 * C4 * G with C4 = C_out rounded up to 4 and
 * G = ceil(C_in / 6) rounded up to 4 (5912 B for 256 -> 64, against 2048 B of mask), and
 * prepare-time work once (about 359 K instructions for 256 -> 64 on Cortex-M4). The call's
 * scratch is sbtf_fully_connected_s8's.
 * Helium builds keep their one-pixel path, faster there: prepared size 0, nothing stored.
 */

/** Persistent bytes sbtf_fully_connected_s8_prepare() writes (0 on Helium), or a negative
 *  sbtf_status for invalid sizes. */
int32_t sbtf_fully_connected_s8_prepared_size(int32_t input_channels, int32_t output_channels);

/**
 * Decodes the masks into `prepared` (4-byte aligned, `size` bytes, kept by the caller for as
 * long as it calls sbtf_fully_connected_s8_prepared). The constants depend on
 * params->input_offset, mask, sign and bias: calls must pass the same ones.
 * @return SBTF_OK; SBTF_ERROR_BAD_SHAPE, SBTF_ERROR_NULL_ARGUMENT, SBTF_ERROR_BAD_PARAM (offsets,
 *         sign, mask padding, misaligned buffer) or SBTF_ERROR_BUFFER_SIZE (size too small).
 */
sbtf_status sbtf_fully_connected_s8_prepare(void *prepared, int32_t size,
                                            const sbtf_fc_params *params, int32_t input_channels,
                                            int32_t output_channels, const uint8_t *mask,
                                            const int8_t *sign, const int32_t *bias);

/**
 * sbtf_fully_connected_s8 using `prepared` (from sbtf_fully_connected_s8_prepare; NULL: the
 * plain kernel). Same arguments, scratch size, results and statuses; a `prepared` whose
 * header does not match input_channels, output_channels and params->input_offset is
 * SBTF_ERROR_BAD_PARAM.
 */
sbtf_status sbtf_fully_connected_s8_prepared(const sbtf_context *ctx, const void *prepared,
                                             const sbtf_fc_params *params,
                                             const sbtf_quant_params *quant, int32_t batches,
                                             int32_t input_channels, const int8_t *input,
                                             int32_t output_channels, const uint8_t *mask,
                                             const int8_t *sign, const int32_t *bias,
                                             int8_t *output);

/**
 * Scratch bytes sbtf_depthwise_conv2d_s8() needs for k = KH * KW taps and C_out channels, as an
 * integer constant expression: with C8 = C_out rounded up to 8, 17 * C8 (per-channel constants
 * and a row of zero points) + k * C8 (decoded byte masks) + (k + 1) pointers (one pixel's tap
 * addresses, aligned). 3x3 with 64 channels: 1704 B on Cortex-M. Arguments are evaluated several
 * times; for shapes from a model use sbtf_depthwise_conv2d_s8_get_buffer_size(), which checks.
 */
#define SBTF_DEPTHWISE_SCRATCH_BYTES(k, c_out)                                  \
  ((17 + (k)) * (((c_out) + 7) / 8 * 8) + ((k) + 1) * (int32_t)sizeof(const int8_t *))

/** SBTF_DEPTHWISE_SCRATCH_BYTES(KH * KW, C_out), or a negative sbtf_status when the shapes are
 *  invalid. */
int32_t sbtf_depthwise_conv2d_s8_get_buffer_size(const sbtf_dims *input_dims,
                                                 const sbtf_dims *filter_dims,
                                                 const sbtf_dims *output_dims,
                                                 int32_t depth_multiplier);

/**
 * Signed-binary depthwise 2-D convolution, int8 in and out (SBTF_DEPTHWISE_CONV_2D): TFLite's
 * reference int8 DEPTHWISE_CONV_2D (double rounding) on the weights sign[c] * 127 at the set
 * bits of mask row c.
 *
 * @param ctx          scratch buffer of at least sbtf_depthwise_conv2d_s8_get_buffer_size() bytes
 * @param params       offsets, stride, dilation, padding, clamp (as sbtf_conv2d_s8)
 * @param depth_multiplier  M >= 1: output channel c reads input channel c / M
 * @param quant        per-channel multiplier/shift, C_out entries each
 * @param input_dims   [N, H, W, C_in]
 * @param input        int8 NHWC
 * @param filter_dims  [1, KH, KW, C_out] (TFLite's depthwise filter shape), C_out = C_in * M
 * @param mask         uint8 [C_out, row_bytes], row_bytes = sbtf_mask_row_bytes(KH * KW); bit
 *                     i = ky * KW + kx of row c, LSB first; padding bits zero
 * @param sign         int8 [C_out], each -1 or +1
 * @param bias         int32 [C_out], or NULL
 * @param output_dims  [N, H_out, W_out, C_out]
 * @param output       int8 NHWC
 * @return as sbtf_conv2d_s8; SBTF_ERROR_BAD_SHAPE also when filter n != 1, M < 1 or
 *         C_out != C_in * M.
 */
sbtf_status sbtf_depthwise_conv2d_s8(const sbtf_context *ctx, const sbtf_conv_params *params,
                                     int32_t depth_multiplier, const sbtf_quant_params *quant,
                                     const sbtf_dims *input_dims, const int8_t *input,
                                     const sbtf_dims *filter_dims,
                                     const uint8_t *mask, const int8_t *sign, const int32_t *bias,
                                     const sbtf_dims *output_dims, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* SBTF_NN_H */
