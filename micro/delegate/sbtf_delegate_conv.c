/*
 * sbtf_delegate_conv.c - SBTF_CONV_2D in the host delegate: its options, geometry and output
 * shape, and sbtf_conv2d_s8 (docs/op_spec.md). The common part is sbtf_delegate.c.
 */
#include <stdint.h>

#include "sbtf_delegate.h"

typedef struct {
  /* Options. */
  int32_t filter_h, filter_w, padding, stride_h, stride_w, dilation_h, dilation_w;
  /* Computed in Prepare. */
  sbtf_conv_params params;
  sbtf_dims input_dims, filter_dims, output_dims;
} conv_data;

static bool parse_options(sbtf_node *node, const sbtf_flex_map *map) {
  conv_data *d = node->data;
  return SBTF_READ_INT_OPTION(node, map, FILTER_HEIGHT, &d->filter_h) &&
         SBTF_READ_INT_OPTION(node, map, FILTER_WIDTH, &d->filter_w) &&
         SBTF_READ_INT_OPTION(node, map, PADDING, &d->padding) &&
         SBTF_READ_INT_OPTION(node, map, STRIDE_H, &d->stride_h) &&
         SBTF_READ_INT_OPTION(node, map, STRIDE_W, &d->stride_w) &&
         SBTF_READ_INT_OPTION(node, map, DILATION_H_FACTOR, &d->dilation_h) &&
         SBTF_READ_INT_OPTION(node, map, DILATION_W_FACTOR, &d->dilation_w);
}

static int64_t filter_size(const sbtf_node *node) {
  const conv_data *d = node->data;
  return (int64_t)d->filter_h * d->filter_w * node->input_channels;
}

static TfLiteStatus prepare(TfLiteContext *context, sbtf_node *node, const sbtf_node_tensors *t,
                            int32_t *scratch_size) {
  conv_data *op = node->data;
  int32_t act_min, act_max;
  TfLiteStatus status = sbtf_prepare_requantization(context, node, t, false, &act_min, &act_max);
  if (status != kTfLiteOk) return status;
  op->params.input_offset = -t->input->params.zero_point;
  op->params.output_offset = t->output->params.zero_point;
  op->params.activation_min = act_min;
  op->params.activation_max = act_max;

  const TfLiteIntArray *d = t->input->dims;
  if (d->size != 4) return sbtf_fail(context, node, "input must be 4-D NHWC, got %d-D", d->size);
  if (d->data[3] != node->input_channels) {
    return sbtf_fail(context, node, "input has %d channels, options say input_channels = %d "
                     "(grouped convolution is not supported)", d->data[3],
                     (int)node->input_channels);
  }
  const int64_t oh = sbtf_conv_out_size(d->data[1], op->filter_h, op->stride_h, op->dilation_h,
                                   op->padding);
  const int64_t ow = sbtf_conv_out_size(d->data[2], op->filter_w, op->stride_w, op->dilation_w,
                                   op->padding);
  const int64_t eff_h = (int64_t)(op->filter_h - 1) * op->dilation_h + 1;
  const int64_t eff_w = (int64_t)(op->filter_w - 1) * op->dilation_w + 1;
  if (oh < 1 || ow < 1 || eff_h > INT32_MAX || eff_w > INT32_MAX) {
    return sbtf_fail(context, node,
                     "input %dx%d is too small for a %dx%d filter with dilation %dx%d",
                     d->data[1], d->data[2], (int)op->filter_h, (int)op->filter_w,
                     (int)op->dilation_h, (int)op->dilation_w);
  }
  op->input_dims = (sbtf_dims){d->data[0], d->data[1], d->data[2], d->data[3]};
  op->filter_dims = (sbtf_dims){node->c_out, op->filter_h, op->filter_w, node->input_channels};
  op->output_dims = (sbtf_dims){d->data[0], (int32_t)oh, (int32_t)ow, node->c_out};
  op->params.stride_h = op->stride_h;
  op->params.stride_w = op->stride_w;
  op->params.dilation_h = op->dilation_h;
  op->params.dilation_w = op->dilation_w;
  op->params.pad_h = (int32_t)sbtf_conv_pad(d->data[1], oh, op->filter_h, op->stride_h, op->dilation_h);
  op->params.pad_w = (int32_t)sbtf_conv_pad(d->data[2], ow, op->filter_w, op->stride_w, op->dilation_w);
  const int shape[4] = {d->data[0], (int)oh, (int)ow, node->c_out};
  status = sbtf_resize_output(context, node, t->output, 4, shape);
  if (status != kTfLiteOk) return status;
  *scratch_size =
      sbtf_conv2d_s8_get_buffer_size(&op->input_dims, &op->filter_dims, &op->output_dims);
  return kTfLiteOk;
}

static sbtf_status invoke(const sbtf_node *node, const sbtf_node_tensors *t,
                          const sbtf_context *scratch) {
  const conv_data *op = node->data;
  const sbtf_quant_params quant = {node->multiplier, node->shift};
  return sbtf_conv2d_s8(scratch, &op->params, &quant, &op->input_dims, t->input->data.int8,
                        &op->filter_dims, t->mask->data.uint8, t->sign->data.int8,
                        t->bias ? t->bias->data.i32 : NULL, &op->output_dims,
                        t->output->data.int8);
}

const sbtf_delegate_op sbtf_delegate_conv_2d = {
    SBTF_OP_CONV_2D, SBTF_OP_FORMAT_VERSION, sizeof(conv_data),
    parse_options,   filter_size,            prepare,
    invoke,
};
