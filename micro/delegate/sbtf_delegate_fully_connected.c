/*
 * sbtf_delegate_fully_connected.c - SBTF_FULLY_CONNECTED in the host delegate: its options,
 * batches and output shape, and sbtf_fully_connected_s8 (docs/op_spec.md). The common part is
 * sbtf_delegate.c.
 */
#include <stdint.h>
#include <string.h>

#include "sbtf_delegate.h"

typedef struct {
  bool keep_num_dims; /* option */
  /* Computed in Prepare. */
  sbtf_fc_params params;
  int32_t batches;
} fc_data;

static bool parse_options(sbtf_node *node, const sbtf_flex_map *map) {
  fc_data *d = node->data;
  return sbtf_option_bool(node, map, SBTF_OPTION_KEEP_NUM_DIMS, &d->keep_num_dims);
}

static int64_t filter_size(const sbtf_node *node) { return node->input_channels; }

static TfLiteStatus prepare(TfLiteContext *context, sbtf_node *node, const sbtf_node_tensors *t,
                            int32_t *scratch_size) {
  fc_data *op = node->data;
  int32_t act_min, act_max;
  /* TFLite rounds a per-tensor layer's s_in * s_w to float before dividing. */
  TfLiteStatus status = sbtf_prepare_requantization(context, node, t, true, &act_min, &act_max);
  if (status != kTfLiteOk) return status;
  op->params.input_offset = -t->input->params.zero_point;
  op->params.output_offset = t->output->params.zero_point;
  op->params.activation_min = act_min;
  op->params.activation_max = act_max;

  const TfLiteIntArray *d = t->input->dims;
  const int64_t size = sbtf_num_elements(d);
  if (d->size < 1 || size < 1 || size % node->input_channels != 0) {
    return sbtf_fail(context, node, "input of %lld elements is not a whole number of rows of "
                     "input_channels = %d", (long long)size, (int)node->input_channels);
  }
  if (size / node->input_channels > INT32_MAX) {
    return sbtf_fail(context, node, "input is too large");
  }
  op->batches = (int32_t)(size / node->input_channels);
  if (!op->keep_num_dims) {
    const int shape[2] = {op->batches, node->c_out};
    status = sbtf_resize_output(context, node, t->output, 2, shape);
  } else if (d->data[d->size - 1] != node->input_channels) {
    return sbtf_fail(context, node, "keep_num_dims needs the input's last dimension (%d) to "
                     "equal input_channels = %d", d->data[d->size - 1],
                     (int)node->input_channels);
  } else {
    int shape[16];
    if (d->size > 16) return sbtf_fail(context, node, "input rank %d is too large", d->size);
    memcpy(shape, d->data, (size_t)d->size * sizeof(int));
    shape[d->size - 1] = node->c_out;
    status = sbtf_resize_output(context, node, t->output, d->size, shape);
  }
  if (status != kTfLiteOk) return status;
  *scratch_size = sbtf_fully_connected_s8_get_buffer_size(node->input_channels, node->c_out);
  return kTfLiteOk;
}

static sbtf_status invoke(const sbtf_node *node, const sbtf_node_tensors *t,
                          const sbtf_context *scratch) {
  const fc_data *op = node->data;
  const sbtf_quant_params quant = {node->multiplier, node->shift};
  return sbtf_fully_connected_s8(scratch, &op->params, &quant, op->batches, node->input_channels,
                                 t->input->data.int8, node->c_out, t->mask->data.uint8,
                                 t->sign->data.int8, t->bias ? t->bias->data.i32 : NULL,
                                 t->output->data.int8);
}

const sbtf_delegate_op sbtf_delegate_fully_connected = {
    SBTF_OP_FULLY_CONNECTED, SBTF_OP_FORMAT_VERSION, sizeof(fc_data),
    parse_options,           filter_size,            prepare,
    invoke,
};
