/*
 * sbtf_delegate_window.c - what SBTF_CONV_2D and SBTF_DEPTHWISE_CONV_2D share in the host
 * delegate: the window options (kernel size, padding, stride, dilation), the geometry checks,
 * the requantization and the output shape (docs/op_spec.md; the arithmetic is sbtf_arith.h).
 */
#include <stdint.h>

#include "sbtf_delegate.h"

bool sbtf_parse_window(sbtf_node *node, const sbtf_flex_map *map, sbtf_window *w) {
  return SBTF_READ_INT_OPTION(node, map, FILTER_HEIGHT, &w->filter_h) &&
         SBTF_READ_INT_OPTION(node, map, FILTER_WIDTH, &w->filter_w) &&
         SBTF_READ_INT_OPTION(node, map, PADDING, &w->padding) &&
         SBTF_READ_INT_OPTION(node, map, STRIDE_H, &w->stride_h) &&
         SBTF_READ_INT_OPTION(node, map, STRIDE_W, &w->stride_w) &&
         SBTF_READ_INT_OPTION(node, map, DILATION_H_FACTOR, &w->dilation_h) &&
         SBTF_READ_INT_OPTION(node, map, DILATION_W_FACTOR, &w->dilation_w);
}

TfLiteStatus sbtf_prepare_window(TfLiteContext *context, sbtf_node *node,
                                 const sbtf_node_tensors *t, sbtf_window *w) {
  sbtf_conv_params *params = &w->params;
  int32_t act_min, act_max;
  TfLiteStatus status = sbtf_prepare_requantization(context, node, t, false, &act_min, &act_max);
  if (status != kTfLiteOk) return status;
  params->input_offset = -t->input->params.zero_point;
  params->output_offset = t->output->params.zero_point;
  params->activation_min = act_min;
  params->activation_max = act_max;

  const TfLiteIntArray *d = t->input->dims;
  if (d->size != 4) return sbtf_fail(context, node, "input must be 4-D NHWC, got %d-D", d->size);
  if (d->data[3] != node->input_channels) {
    return sbtf_fail(context, node, "input has %d channels, options say input_channels = %d "
                     "(grouped convolution is not supported)", d->data[3],
                     (int)node->input_channels);
  }
  const int64_t oh =
      sbtf_conv_out_size(d->data[1], w->filter_h, w->stride_h, w->dilation_h, w->padding);
  const int64_t ow =
      sbtf_conv_out_size(d->data[2], w->filter_w, w->stride_w, w->dilation_w, w->padding);
  const int64_t eff_h = (int64_t)(w->filter_h - 1) * w->dilation_h + 1;
  const int64_t eff_w = (int64_t)(w->filter_w - 1) * w->dilation_w + 1;
  if (oh < 1 || ow < 1 || eff_h > INT32_MAX || eff_w > INT32_MAX) {
    return sbtf_fail(context, node,
                     "input %dx%d is too small for a %dx%d filter with dilation %dx%d",
                     d->data[1], d->data[2], (int)w->filter_h, (int)w->filter_w,
                     (int)w->dilation_h, (int)w->dilation_w);
  }
  w->input_dims = (sbtf_dims){d->data[0], d->data[1], d->data[2], d->data[3]};
  w->output_dims = (sbtf_dims){d->data[0], (int32_t)oh, (int32_t)ow, node->c_out};
  params->stride_h = w->stride_h;
  params->stride_w = w->stride_w;
  params->dilation_h = w->dilation_h;
  params->dilation_w = w->dilation_w;
  params->pad_h = (int32_t)sbtf_conv_pad(d->data[1], oh, w->filter_h, w->stride_h, w->dilation_h);
  params->pad_w = (int32_t)sbtf_conv_pad(d->data[2], ow, w->filter_w, w->stride_w, w->dilation_w);
  const int shape[4] = {d->data[0], (int)oh, (int)ow, node->c_out};
  return sbtf_resize_output(context, node, t->output, 4, shape);
}
