/*
 * sbtf_fully_connected_s8.c - SBTF_FULLY_CONNECTED: argument checks and the row copier; the
 * arithmetic is the shared signed-binary product in sbtf_nn_core.c.
 */
#include <stddef.h>
#include <string.h>

#include "sbtf_nn_internal.h"

static int sizes_ok(int32_t input_channels, int32_t output_channels) {
  return input_channels >= 1 && output_channels >= 1 && input_channels <= SBTF_MAX_K &&
         output_channels <= SBTF_MAX_OUTPUT_CHANNELS;
}

int32_t sbtf_fully_connected_s8_get_buffer_size(int32_t input_channels, int32_t output_channels) {
  if (!sizes_ok(input_channels, output_channels)) return SBTF_ERROR_BAD_SHAPE;
  return sbtf_core_buffer_size(input_channels, output_channels);
}

typedef struct {
  const int8_t *input;
  int32_t k, k_padded;
} fc_rows;

/* A batch row is contiguous: used in place unless K needs padding to whole table blocks. */
static void fc_fill_row(const void *self, int32_t batch, int8_t *buf, const int8_t **segs) {
  const fc_rows *r = (const fc_rows *)self;
  const int8_t *row = r->input + (size_t)batch * r->k;
  if (r->k == r->k_padded) {
    segs[0] = row;
    return;
  }
  memcpy(buf, row, (size_t)r->k);
  memset(buf + r->k, 0, (size_t)(r->k_padded - r->k)); /* mask bits are 0 there */
  segs[0] = buf;
}

sbtf_status sbtf_fully_connected_s8(const sbtf_context *ctx, const sbtf_fc_params *params,
                                    const sbtf_quant_params *quant, int32_t batches,
                                    int32_t input_channels, const int8_t *input,
                                    int32_t output_channels, const uint8_t *mask,
                                    const int8_t *sign, const int32_t *bias, int8_t *output) {
  if (ctx == NULL || params == NULL || quant == NULL || quant->multiplier == NULL ||
      quant->shift == NULL || input == NULL || mask == NULL || sign == NULL || output == NULL)
    return SBTF_ERROR_NULL_ARGUMENT;
  if (batches < 1 || !sizes_ok(input_channels, output_channels) ||
      (int64_t)batches * input_channels > INT32_MAX ||
      (int64_t)batches * output_channels > INT32_MAX)
    return SBTF_ERROR_BAD_SHAPE;
  if (!sbtf_int8_args_ok(params->input_offset, params->output_offset, params->activation_min,
                         params->activation_max))
    return SBTF_ERROR_BAD_PARAM;
  const fc_rows rows = {input, input_channels, sbtf_row_bytes_padded(input_channels)};
  const sbtf_core_args args = {
      .pixels = batches,
      .k = input_channels,
      .c_out = output_channels,
      .segments = 1,
      .segment_groups = rows.k_padded / 4,
      .mask = mask, .sign = sign, .bias = bias, .quant = quant,
      .input_offset = params->input_offset, .output_offset = params->output_offset,
      .act_min = params->activation_min, .act_max = params->activation_max,
      .single_rounding = 1, /* docs/op_spec.md: as TF 2.21's FULLY_CONNECTED */
      .fill_row = fc_fill_row, .row_self = &rows,
      .output = output,
  };
  return sbtf_core_run(ctx, &args);
}
