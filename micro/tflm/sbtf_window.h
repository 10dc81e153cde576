/*
 * sbtf_window.h - what SBTF_CONV_2D and SBTF_DEPTHWISE_CONV_2D share in their TFLM glue (as
 * TFLM's conv_common.cc does for its conv and depthwise conv): Init (the window options), Prepare
 * (the geometry and output shape checks, TFLite's conv requantization, the kernel's scratch) and
 * Eval's set-up; each op's file keeps only its kernel call (Eval) and its registration.
 */
#ifndef SBTF_TFLM_SBTF_WINDOW_H_
#define SBTF_TFLM_SBTF_WINDOW_H_

#include <stdint.h>

#include "sbtf_common.h"
#include "sbtf_nn.h"
#include "tensorflow/lite/c/builtin_op_data.h"
#include "tensorflow/lite/c/common.h"

namespace sbtf {

// Custom options of a windowed op (Init).
struct Window {
  TfLiteConvParams options;  // padding, strides, dilations, fused activation
  int32_t input_channels;
  int32_t filter_height;
  int32_t filter_width;
};

// What Prepare computes for a windowed op; multiplier and shift are persistent [C_out].
struct PreparedWindow {
  sbtf_conv_params params;
  sbtf_dims input_dims;
  sbtf_dims output_dims;
  int32_t* multiplier;
  int32_t* shift;
};

// What a windowed op keeps between calls (node->user_data).
struct WindowOpData {
  bool depthwise;            // SBTF_DEPTHWISE_CONV_2D (else SBTF_CONV_2D)
  Window window;             // custom options (Init)
  int32_t depth_multiplier;  // SBTF_DEPTHWISE_CONV_2D's option (Init)
  // Prepare.
  bool prepared;
  PreparedWindow prepared_window;
  sbtf_dims filter_dims;
  int32_t scratch_size;
  int scratch_index;
};

// Init: reads input_channels, the filter size, padding, strides, dilations, the activation and,
// when `depthwise`, depth_multiplier into a persistent WindowOpData; nullptr (after a message)
// when an option is rejected or memory is short.
void* InitWindowOp(TfLiteContext* context, bool depthwise, const char* buffer, size_t length);

// Prepare: K = filter height * width * (C_in, or 1 when depthwise) within SBTF_MAX_FILTER_SIZE,
// the weight tensors (CheckWeightTensors), int8 4-D input of input_channels channels and output
// [N, H_out, W_out, C_out] by TFLite's padding rule (depthwise: C_out = C_in * depth_multiplier),
// requantization as TFLite's conv computes it (s_in * s_w[c] / s_out in double), the clamp and
// the kernel's scratch buffer.
TfLiteStatus PrepareWindowOp(TfLiteContext* context, TfLiteNode* node, bool depthwise);

// The two as TFLMRegistration's init and prepare of SBTF_CONV_2D (kDepthwise false) and
// SBTF_DEPTHWISE_CONV_2D.
template <bool kDepthwise>
void* WindowInit(TfLiteContext* context, const char* buffer, size_t length) {
  return InitWindowOp(context, kDepthwise, buffer, length);
}
template <bool kDepthwise>
TfLiteStatus WindowPrepare(TfLiteContext* context, TfLiteNode* node) {
  return PrepareWindowOp(context, node, kDepthwise);
}

// What Eval hands a windowed op's kernel besides data's prepared parameters.
struct WindowEval {
  const WindowOpData* data;
  sbtf_context scratch;
  sbtf_quant_params quant;
  const int8_t* input;
  const uint8_t* mask;
  const int8_t* sign;
  const int32_t* bias;  // nullptr: none
  int8_t* output;
};

// Eval's start: fails unless Prepare succeeded; otherwise fills `e` from the node.
TfLiteStatus StartWindowEval(TfLiteContext* context, TfLiteNode* node, const char* op,
                             WindowEval* e);

}  // namespace sbtf

#endif  // SBTF_TFLM_SBTF_WINDOW_H_
