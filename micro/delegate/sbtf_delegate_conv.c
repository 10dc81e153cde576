/*
 * sbtf_delegate_conv.c - SBTF_CONV_2D in the host delegate: its filter size and shape, and
 * sbtf_conv2d_s8 (docs/op_spec.md). The window is sbtf_delegate_window.c, the common part
 * sbtf_delegate.c.
 */
#include <stdint.h>

#include "sbtf_delegate.h"

static bool parse_options(sbtf_node *node, const sbtf_flex_map *map) {
  return sbtf_parse_window(node, map, node->data);
}

static int64_t filter_size(const sbtf_node *node) {
  const sbtf_window *w = node->data;
  return (int64_t)w->filter_h * w->filter_w * node->input_channels;
}

static TfLiteStatus prepare(TfLiteContext *context, sbtf_node *node, const sbtf_node_tensors *t,
                            int32_t *scratch_size) {
  sbtf_window *op = node->data;
  const TfLiteStatus status = sbtf_prepare_window(context, node, t, op);
  if (status != kTfLiteOk) return status;
  op->filter_dims = (sbtf_dims){node->c_out, op->filter_h, op->filter_w, node->input_channels};
  *scratch_size =
      sbtf_conv2d_s8_get_buffer_size(&op->input_dims, &op->filter_dims, &op->output_dims);
  return kTfLiteOk;
}

static sbtf_status invoke(const sbtf_node *node, const sbtf_node_tensors *t,
                          const sbtf_context *scratch) {
  const sbtf_window *op = node->data;
  const sbtf_quant_params quant = {node->multiplier, node->shift};
  return sbtf_conv2d_s8(scratch, &op->params, &quant, &op->input_dims, t->input->data.int8,
                        &op->filter_dims, t->mask->data.uint8, t->sign->data.int8,
                        t->bias ? t->bias->data.i32 : NULL, &op->output_dims,
                        t->output->data.int8);
}

const sbtf_delegate_op sbtf_delegate_conv_2d = {
    SBTF_OP_CONV_2D, SBTF_OP_FORMAT_VERSION, sizeof(sbtf_window),
    parse_options,   filter_size,            prepare,
    invoke,
};
