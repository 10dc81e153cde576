/*
 * sbtf_nn_internal.h - pieces shared by sbtf's kernels (not part of the public API).
 *
 * Algorithm (docs/kernels.md): with u = x + 128 (x ^ 0x80 as uint8) and P_c = popcount of mask
 * row c, a filter's accumulator is
 *     acc_c = bias_c + 127 * sign_c * (S_c + (input_offset - 128) * P_c),   S_c = sum of u at set bits
 * Padded taps hold the input zero point (x + input_offset = 0), so P_c is a per-filter constant
 * and border pixels run the same code as interior ones. S_c is computed two output pixels at a
 * time from subset-sum tables: for every group of 4 inputs, T[n] (n = 0..15) holds the sums of
 * the inputs selected by the bits of n, pixel A in the low and pixel B in the high 16 bits, so
 * one load + one add serves 4 inputs x 2 pixels for every filter. Each filter's mask nibbles are
 * decoded once per call into byte offsets into these tables.
 */
#ifndef SBTF_NN_INTERNAL_H
#define SBTF_NN_INTERNAL_H

#include <stdint.h>

#include "sbtf_arith.h"
#include "sbtf_nn.h"

/* Largest K (inputs per filter): 127 * 255 * K must fit the int32 accumulator. */
#define SBTF_MAX_K SBTF_MAX_FILTER_SIZE
/* Groups of 4 inputs per table chunk: 64 * 4 * 255 fits a 16-bit half of a packed sum
   (the 64 in SBTF_SCRATCH_BYTES). */
#define SBTF_CHUNK_GROUPS 64

/* Most kernel rows handed out as separate runs (more use the copying fallback). */
#define SBTF_MAX_SEGMENTS 16
/* Groups per run must be a multiple of this (Helium builds tables 4 groups at a time). */
#if defined(SBTF_PATH_MVE)
#define SBTF_SEGMENT_GROUP_MULTIPLE 4
#else
#define SBTF_SEGMENT_GROUP_MULTIPLE 1
#endif

/* Where output pixel `pixel`'s K inputs (raw int8) are: `segments` runs of 4 * segment_groups
   bytes. The provider points segs[i] into the input when run i lies there contiguously, and
   otherwise writes it to buf + i * 4 * segment_groups (padding taps = input zero point, bytes
   past K arbitrary) and points there. buf holds 16 * ceil(K / 16) bytes. */
typedef void (*sbtf_row_fn)(const void *self, int32_t pixel, int8_t *buf, const int8_t **segs);

/* A convolution's own view of its input (the Helium path vectorized across output pixels
   reads the image itself instead of im2col rows). */
typedef struct {
  const int8_t *input;
  const sbtf_dims *input_dims, *filter_dims, *output_dims;
  const sbtf_conv_params *params;
} sbtf_conv_view;

/* One signed-binary matrix product over `pixels` rows of K inputs (conv after im2col, or FC). */
typedef struct {
  int32_t pixels;    /* output rows (N * H_out * W_out for conv, batches for FC) */
  int32_t k;         /* inputs per filter */
  int32_t c_out;     /* filters */
  int32_t segments;  /* 1..SBTF_MAX_SEGMENTS; segments > 1 only when K is a multiple of 16 */
  int32_t segment_groups; /* groups of 4 inputs per run; segments * segment_groups = 4 * ceil(K / 16) */
  const uint8_t *mask;
  const int8_t *sign;
  const int32_t *bias; /* may be NULL */
  const sbtf_quant_params *quant;
  int32_t input_offset;
  int32_t output_offset;
  int32_t act_min;
  int32_t act_max;
  int single_rounding; /* FC: (acc * m + 2^(30 - shift)) >> (31 - shift); conv: TFLite's double */
  sbtf_row_fn fill_row;
  const void *row_self;
  int8_t *output;    /* [pixels, c_out] */
  const sbtf_conv_view *conv; /* the convolution (NULL: fully connected) */
} sbtf_core_args;

/* Scratch bytes sbtf_core_run needs for (k, c_out): SBTF_SCRATCH_BYTES; both must already be
   validated. */
int32_t sbtf_core_buffer_size(int32_t k, int32_t c_out);

/* End offset of the scratch layout sbtf_core_run uses (tests: equals SBTF_SCRATCH_BYTES). */
int32_t sbtf_core_layout_bytes(int32_t k, int32_t c_out);

/* Runs the product. Checks sign, mask padding and quant values; returns a status. */
sbtf_status sbtf_core_run(const sbtf_context *ctx, const sbtf_core_args *args);

/* Scratch parts another kernel may reuse when it does not run sbtf_core_run (buf of
   SBTF_SCRATCH_BYTES(k, c_out) bytes): an int32 accumulator per filter and the 4-aligned area
   after the accumulators (*area_bytes >= 64 * ceil(K / 4) rounded up to 4 groups, up to 4096,
   plus C_out * ceil(K / 4)). buf NULL: only *area_bytes is set. */
void sbtf_core_scratch(void *buf, int32_t k, int32_t c_out, int32_t **acc, uint8_t **area,
                       int32_t *area_bytes);

/* Mask padding bits past K are zero in every row (docs/op_spec.md). */
int sbtf_mask_padding_ok(const uint8_t *mask, int32_t k, int32_t c_out);

/* Bytes of one input row buffer: K rounded up to 16 (whole blocks of 4 table groups). */
static inline int32_t sbtf_row_bytes_padded(int32_t k) { return ((k + 15) / 16) * 16; }

/* Every dimension >= 1 and the element count within int32 (pixel indices, sizes). */
static inline int sbtf_dims_ok(const sbtf_dims *d) {
  return d->n > 0 && d->h > 0 && d->w > 0 && d->c > 0 &&
         (int64_t)d->n * d->h * d->w * d->c <= INT32_MAX;
}

/* A conv's (or depthwise conv's) output size and padding along one axis, TFLite's: the SAME
   layout (pad = SAME's pad before) or VALID (pad 0). */
static inline sbtf_status sbtf_check_conv_dim(int32_t in, int32_t k, int32_t stride,
                                              int32_t dilation, int32_t pad, int32_t out) {
  const int32_t effective = (k - 1) * dilation + 1;
  const int32_t same_out = (in + stride - 1) / stride;
  int32_t total = (same_out - 1) * stride + effective - in;
  total = total > 0 ? total : 0;
  const int32_t valid_out = in >= effective ? (in - effective + stride) / stride : 0;
  if (pad != 0 && pad != total / 2) return SBTF_ERROR_BAD_PARAM;
  if (pad == total / 2 && out == same_out) return SBTF_OK;
  if (pad == 0 && out == valid_out) return SBTF_OK;
  return SBTF_ERROR_BAD_SHAPE;
}

/* A conv's (or depthwise conv's) window arguments: strides and dilations >= 1, pads >= 0, the
   int8 offsets and clamp, and the output size along both axes (dims already checked). Returns
   the failing status from the calling kernel (sbtf_status `status` is its variable). A macro:
   as an inline function it moved GCC's register allocation in the depthwise kernel's loops
   (+240 instructions on a bench layer); expanded in place, both kernels compile as before. */
#define SBTF_RETURN_IF_BAD_CONV_WINDOW(status, p, input_dims, filter_dims, output_dims)          \
  do {                                                                                         \
    if ((p)->stride_h < 1 || (p)->stride_w < 1 || (p)->dilation_h < 1 || (p)->dilation_w < 1 || \
        (p)->pad_h < 0 || (p)->pad_w < 0 ||                                                    \
        !sbtf_int8_args_ok((p)->input_offset, (p)->output_offset, (p)->activation_min,         \
                           (p)->activation_max))                                               \
      return SBTF_ERROR_BAD_PARAM;                                                             \
    (status) = sbtf_check_conv_dim((input_dims)->h, (filter_dims)->h, (p)->stride_h,           \
                                   (p)->dilation_h, (p)->pad_h, (output_dims)->h);             \
    if ((status) != SBTF_OK) return (status);                                                  \
    (status) = sbtf_check_conv_dim((input_dims)->w, (filter_dims)->w, (p)->stride_w,           \
                                   (p)->dilation_w, (p)->pad_w, (output_dims)->w);             \
    if ((status) != SBTF_OK) return (status);                                                  \
  } while (0)

#endif /* SBTF_NN_INTERNAL_H */
