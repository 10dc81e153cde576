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

// Prepare, after the op's CheckWeightTensors gave c_out: int8 4-D input of input_channels
// channels and output [N, H_out, W_out, c_out] by TFLite's padding rule, requantization as
// TFLite's conv computes it (s_in * s_w[c] / s_out in double) and the clamp.
TfLiteStatus PrepareWindow(TfLiteContext* context, const char* op, const Window& window,
                           int32_t c_out, const TfLiteTensor* input, const TfLiteTensor* sign,
                           const TfLiteTensor* bias, TfLiteTensor* output, PreparedWindow* out);

}  // namespace sbtf

#endif  // SBTF_TFLM_SBTF_WINDOW_H_
