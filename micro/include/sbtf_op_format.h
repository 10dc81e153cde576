/*
 * sbtf_op_format.h - the sbtf custom operators' format (docs/op_spec.md) for C and C++:
 * op names, format version, tensor positions, option keys and their bounds.
 *
 * GENERATED from sbtf/op_format.py by `python -m sbtf.op_format --write-header`; do not
 * edit (tests/test_op_format.py fails when this file is stale).
 */
#ifndef SBTF_OP_FORMAT_H
#define SBTF_OP_FORMAT_H

#include <stdint.h>

/** Format version of the ops (custom option `version`); readers reject other values. */
#define SBTF_OP_FORMAT_VERSION 1

/** Largest K = weights per filter (mask bits per row): 127 * 255 * K fits an int32. */
#define SBTF_MAX_FILTER_SIZE 65536

/* Op names: the custom codes in a model's operator codes. */
#define SBTF_OP_CONV_2D "SBTF_CONV_2D"  /* TFLite's int8 CONV_2D (double rounding) */
#define SBTF_OP_FULLY_CONNECTED "SBTF_FULLY_CONNECTED"  /* TFLite's int8 FULLY_CONNECTED (single rounding) */
#define SBTF_OP_DEPTHWISE_CONV_2D "SBTF_DEPTHWISE_CONV_2D"  /* TFLite's int8 DEPTHWISE_CONV_2D (double rounding) */
#define SBTF_OP_COUNT 3
#define SBTF_OP_NAMES {SBTF_OP_CONV_2D, SBTF_OP_FULLY_CONNECTED, SBTF_OP_DEPTHWISE_CONV_2D}

/* Input tensor positions (the same for every op). */
#define SBTF_TENSOR_INPUT 0  /* int8 */
#define SBTF_TENSOR_BITMASK 1  /* uint8, constant */
#define SBTF_TENSOR_SIGN 2  /* int8, constant */
#define SBTF_TENSOR_BIAS 3  /* int32, constant, optional */
#define SBTF_MIN_INPUTS 3
#define SBTF_MAX_INPUTS 4

/* Option keys; ints are valid in [_MIN, _MAX]. */
#define SBTF_OPTION_VERSION "version"  /* int: format version; readers reject other values */
#define SBTF_OPTION_VERSION_MIN INT32_MIN
#define SBTF_OPTION_VERSION_MAX INT32_MAX
#define SBTF_OPTION_INPUT_CHANNELS "input_channels"  /* int: C_in of the filter */
#define SBTF_OPTION_INPUT_CHANNELS_MIN 1
#define SBTF_OPTION_INPUT_CHANNELS_MAX 65536
#define SBTF_OPTION_FUSED_ACTIVATION_FUNCTION "fused_activation_function"  /* int: TFLite ActivationFunctionType */
#define SBTF_OPTION_FUSED_ACTIVATION_FUNCTION_MIN 0
#define SBTF_OPTION_FUSED_ACTIVATION_FUNCTION_MAX 3
#define SBTF_ACTIVATION_NONE 0
#define SBTF_ACTIVATION_RELU 1
#define SBTF_ACTIVATION_RELU_N1_TO_1 2
#define SBTF_ACTIVATION_RELU6 3
#define SBTF_OPTION_FILTER_HEIGHT "filter_height"  /* int: kernel rows */
#define SBTF_OPTION_FILTER_HEIGHT_MIN 1
#define SBTF_OPTION_FILTER_HEIGHT_MAX 65536
#define SBTF_OPTION_FILTER_WIDTH "filter_width"  /* int: kernel columns */
#define SBTF_OPTION_FILTER_WIDTH_MIN 1
#define SBTF_OPTION_FILTER_WIDTH_MAX 65536
#define SBTF_OPTION_PADDING "padding"  /* int: TFLite Padding */
#define SBTF_OPTION_PADDING_MIN 0
#define SBTF_OPTION_PADDING_MAX 1
#define SBTF_PADDING_SAME 0
#define SBTF_PADDING_VALID 1
#define SBTF_OPTION_STRIDE_H "stride_h"  /* int */
#define SBTF_OPTION_STRIDE_H_MIN 1
#define SBTF_OPTION_STRIDE_H_MAX INT32_MAX
#define SBTF_OPTION_STRIDE_W "stride_w"  /* int */
#define SBTF_OPTION_STRIDE_W_MIN 1
#define SBTF_OPTION_STRIDE_W_MAX INT32_MAX
#define SBTF_OPTION_DILATION_H_FACTOR "dilation_h_factor"  /* int */
#define SBTF_OPTION_DILATION_H_FACTOR_MIN 1
#define SBTF_OPTION_DILATION_H_FACTOR_MAX INT32_MAX
#define SBTF_OPTION_DILATION_W_FACTOR "dilation_w_factor"  /* int */
#define SBTF_OPTION_DILATION_W_FACTOR_MIN 1
#define SBTF_OPTION_DILATION_W_FACTOR_MAX INT32_MAX
#define SBTF_OPTION_KEEP_NUM_DIMS "keep_num_dims"  /* bool: as TFLite's FullyConnectedOptions */
#define SBTF_OPTION_DEPTH_MULTIPLIER "depth_multiplier"  /* int: M: C_out = input_channels * M */
#define SBTF_OPTION_DEPTH_MULTIPLIER_MIN 1
#define SBTF_OPTION_DEPTH_MULTIPLIER_MAX 65536

#endif /* SBTF_OP_FORMAT_H */
