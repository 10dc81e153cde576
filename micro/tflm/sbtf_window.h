/*
 * sbtf_window.h - what SBTF_CONV_2D and SBTF_DEPTHWISE_CONV_2D share in their TFLM glue (as
 * TFLM's conv_common.cc does for its conv and depthwise conv): the window options, the geometry
 * and output shape checks, and TFLite's conv requantization.
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

// Reads input_channels, the filter size, padding, strides, dilations and the activation.
bool ReadWindow(const OptionsReader& options, Window* window);

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
  Window window;             // custom options (Init)
  int32_t depth_multiplier;  // SBTF_DEPTHWISE_CONV_2D's option (Init)
  // Prepare.
  bool prepared;
  PreparedWindow prepared_window;
  sbtf_dims filter_dims;
  int32_t scratch_size;
  int scratch_index;
};

// Init's end: a persistent copy of `options` (the options read), nullptr if out of memory.
void* NewWindowOpData(TfLiteContext* context, const char* op, const WindowOpData& options);

// Prepare, up to the op's filter shape: K = filter height * width * filter_depth within
// SBTF_MAX_FILTER_SIZE, the weight tensors (CheckWeightTensors), int8 4-D input of
// input_channels channels and output [N, H_out, W_out, C_out] by TFLite's padding rule,
// requantization as TFLite's conv computes it (s_in * s_w[c] / s_out in double) and the clamp.
TfLiteStatus PrepareWindow(TfLiteContext* context, const char* op, WindowOpData* data,
                           int32_t filter_depth, const TfLiteTensor* input,
                           const TfLiteTensor* mask, const TfLiteTensor* sign,
                           const TfLiteTensor* bias, TfLiteTensor* output);

// Prepare's end, once the op set data->filter_dims and the kernel's scratch size.
TfLiteStatus FinishPrepare(TfLiteContext* context, const char* op, WindowOpData* data,
                           int32_t scratch_size);

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
