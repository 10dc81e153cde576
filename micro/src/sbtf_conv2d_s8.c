/*
 * sbtf_conv2d_s8.c - SBTF_CONV_2D: argument checks and the im2col row builder; the arithmetic
 * is the shared signed-binary product in sbtf_nn_core.c.
 */
#include <stddef.h>
#include <string.h>

#include "sbtf_nn_internal.h"

static sbtf_status check_shapes(const sbtf_dims *in, const sbtf_dims *filter, const sbtf_dims *out) {
  if (in == NULL || filter == NULL || out == NULL) return SBTF_ERROR_NULL_ARGUMENT;
  if (!sbtf_dims_ok(in) || !sbtf_dims_ok(filter) || !sbtf_dims_ok(out)) return SBTF_ERROR_BAD_SHAPE;
  if (filter->c != in->c || out->c != filter->n || out->n != in->n) return SBTF_ERROR_BAD_SHAPE;
  if ((int64_t)filter->h * filter->w * filter->c > SBTF_MAX_K) return SBTF_ERROR_BAD_SHAPE;
  if (filter->n > SBTF_MAX_OUTPUT_CHANNELS) return SBTF_ERROR_BAD_SHAPE;
  return SBTF_OK;
}

int32_t sbtf_conv2d_s8_get_buffer_size(const sbtf_dims *input_dims, const sbtf_dims *filter_dims,
                                       const sbtf_dims *output_dims) {
  const sbtf_status status = check_shapes(input_dims, filter_dims, output_dims);
  if (status != SBTF_OK) return status;
  return sbtf_core_buffer_size(filter_dims->h * filter_dims->w * filter_dims->c, filter_dims->n);
}

typedef struct {
  const int8_t *input;
  int32_t in_h, in_w, in_c;
  int32_t k_h, k_w;
  int32_t stride_h, stride_w, dilation_h, dilation_w, pad_h, pad_w;
  int32_t out_h, out_w;
  int32_t k;
  int per_row; /* each kernel row is its own run (segments = k_h), else one full im2col row */
  int8_t zero_point; /* padding taps: x + input_offset = 0 there */
} conv_rows;

/* n < 16 bytes (a kernel row of few channels, e.g. 3x3x3): inline, so that a 3-channel first
   layer pays a few instructions per kernel row, not a library call per 3-byte tap. Helium: one
   predicated load and store; else whole words (unaligned LDR/STR through memcpy of 4), then
   bytes. Reads and writes exactly n bytes. */
static inline void copy_short(int8_t *dst, const int8_t *src, int32_t n) {
#if defined(SBTF_PATH_MVE)
  const mve_pred16_t p = vctp8q((uint32_t)n);
  vstrbq_p_s8(dst, vldrbq_z_s8(src, p), p);
#else
  for (; n >= 4; n -= 4, dst += 4, src += 4) memcpy(dst, src, 4);
  for (; n > 0; --n) *dst++ = *src++;
#endif
}

static inline void fill_short(int8_t *dst, int8_t value, int32_t n) {
  for (; n > 0; --n) *dst++ = value;
}

/* Taps kx of kernel row ky = iy (in range) into dst; taps in the horizontal padding get the
   zero point. With dilation 1 the taps inside the image are one run (one copy). */
static void copy_kernel_row(const conv_rows *r, const int8_t *image_row, int32_t ix0, int8_t *dst) {
  const int32_t c = r->in_c;
  if (r->dilation_w == 1) {
    int32_t lo = -ix0, hi = r->in_w - ix0; /* taps lo .. hi - 1 lie inside the image */
    lo = lo < 0 ? 0 : lo > r->k_w ? r->k_w : lo;
    hi = hi > r->k_w ? r->k_w : hi < lo ? lo : hi;
    const int32_t n = (hi - lo) * c;
    if (r->k_w * c < 16) {
      fill_short(dst, r->zero_point, lo * c);
      copy_short(dst + lo * c, image_row + (size_t)(ix0 + lo) * c, n);
      fill_short(dst + hi * c, r->zero_point, (r->k_w - hi) * c);
    } else {
      if (lo > 0) memset(dst, r->zero_point, (size_t)(lo * c));
      memcpy(dst + lo * c, image_row + (size_t)(ix0 + lo) * c, (size_t)n);
      if (hi < r->k_w) memset(dst + hi * c, r->zero_point, (size_t)((r->k_w - hi) * c));
    }
    return;
  }
  for (int32_t kx = 0; kx < r->k_w; ++kx, dst += c) {
    const int32_t ix = ix0 + kx * r->dilation_w;
    if (ix >= 0 && ix < r->in_w)
      memcpy(dst, image_row + (size_t)ix * c, (size_t)c);
    else
      memset(dst, r->zero_point, (size_t)c);
  }
}

/* One output pixel's inputs. With one run per kernel row, interior rows are pointed to in
   place (no copy); rows touching the padding are built in buf. Bytes past K are left as they
   are (sbtf_row_fn: arbitrary; the mask bits there are zero). */
static void conv_fill_row(const void *self, int32_t pixel, int8_t *buf, const int8_t **segs) {
  const conv_rows *r = (const conv_rows *)self;
  const int32_t per_image = r->out_h * r->out_w;
  const int32_t n = pixel / per_image;
  const int32_t oy = (pixel - n * per_image) / r->out_w;
  const int32_t ox = pixel - n * per_image - oy * r->out_w;
  const int8_t *image = r->input + (size_t)n * r->in_h * r->in_w * r->in_c;
  const int32_t ix0 = ox * r->stride_w - r->pad_w;
  const int32_t run = r->k_w * r->in_c;
  const int inside_w = r->dilation_w == 1 && ix0 >= 0 && ix0 + r->k_w <= r->in_w;
  const int in_place = r->per_row && inside_w;
  const int32_t iy0 = oy * r->stride_h - r->pad_h;
  if (inside_w && iy0 >= 0 && iy0 + (r->k_h - 1) * r->dilation_h < r->in_h) {
    /* Interior pixel (most of them): every kernel row in place, or short rows copied, with no
       bounds per row. */
    const size_t row_step = (size_t)r->dilation_h * r->in_w * r->in_c;
    const int8_t *p = image + ((size_t)iy0 * r->in_w + ix0) * r->in_c;
    if (in_place) {
      for (int32_t ky = 0; ky < r->k_h; ++ky, p += row_step) segs[ky] = p;
      return;
    }
    if (run < 16) {
      for (int32_t ky = 0; ky < r->k_h; ++ky, p += row_step) copy_short(buf + ky * run, p, run);
      segs[0] = buf;
      return;
    }
  }
  int8_t *dst = buf;
  for (int32_t ky = 0; ky < r->k_h; ++ky, dst += run) {
    const int32_t iy = iy0 + ky * r->dilation_h;
    if (r->per_row) segs[ky] = dst;
    if (iy < 0 || iy >= r->in_h) {
      memset(dst, r->zero_point, (size_t)run);
      continue;
    }
    const int8_t *image_row = image + (size_t)iy * r->in_w * r->in_c;
    if (in_place)
      segs[ky] = image_row + (size_t)ix0 * r->in_c;
    else
      copy_kernel_row(r, image_row, ix0, dst);
  }
  if (!r->per_row) segs[0] = buf;
}

sbtf_status sbtf_conv2d_s8(const sbtf_context *ctx, const sbtf_conv_params *params,
                           const sbtf_quant_params *quant, const sbtf_dims *input_dims,
                           const int8_t *input, const sbtf_dims *filter_dims, const uint8_t *mask,
                           const int8_t *sign, const int32_t *bias, const sbtf_dims *output_dims,
                           int8_t *output) {
  if (ctx == NULL || params == NULL || quant == NULL || quant->multiplier == NULL ||
      quant->shift == NULL || input == NULL || mask == NULL || sign == NULL || output == NULL)
    return SBTF_ERROR_NULL_ARGUMENT;
  sbtf_status status = check_shapes(input_dims, filter_dims, output_dims);
  if (status != SBTF_OK) return status;
  const sbtf_conv_params *p = params;
  SBTF_RETURN_IF_BAD_CONV_WINDOW(status, p, input_dims, filter_dims, output_dims);

  const int32_t k = filter_dims->h * filter_dims->w * filter_dims->c;
  const int32_t run = filter_dims->w * filter_dims->c;
  /* One run per kernel row when rows are whole table groups and no row padding is needed. */
  const int per_row = filter_dims->h <= SBTF_MAX_SEGMENTS && k % 16 == 0 &&
                      run % (4 * SBTF_SEGMENT_GROUP_MULTIPLE) == 0;
  const conv_rows rows = {
      .input = input,
      .in_h = input_dims->h, .in_w = input_dims->w, .in_c = input_dims->c,
      .k_h = filter_dims->h, .k_w = filter_dims->w,
      .stride_h = p->stride_h, .stride_w = p->stride_w,
      .dilation_h = p->dilation_h, .dilation_w = p->dilation_w,
      .pad_h = p->pad_h, .pad_w = p->pad_w,
      .out_h = output_dims->h, .out_w = output_dims->w,
      .k = k,
      .per_row = per_row,
      .zero_point = (int8_t)(-p->input_offset),
  };
  const sbtf_conv_view view = {input, input_dims, filter_dims, output_dims, p};
  const sbtf_core_args args = {
      .pixels = output_dims->n * output_dims->h * output_dims->w,
      .k = k,
      .c_out = filter_dims->n,
      .segments = per_row ? filter_dims->h : 1,
      .segment_groups = per_row ? run / 4 : sbtf_row_bytes_padded(k) / 4,
      .mask = mask, .sign = sign, .bias = bias, .quant = quant,
      .input_offset = p->input_offset, .output_offset = p->output_offset,
      .act_min = p->activation_min, .act_max = p->activation_max,
      .fill_row = conv_fill_row, .row_self = &rows,
      .output = output, .conv = &view,
  };
  return sbtf_core_run(ctx, &args);
}
