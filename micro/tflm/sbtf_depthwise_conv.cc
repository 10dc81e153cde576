// SBTF_DEPTHWISE_CONV_2D for TFLite Micro: Init parses the custom options, Prepare checks
// tensors and computes requantization (the window part shared with conv: sbtf_window.cc), Eval
// runs sbtf_depthwise_conv2d_s8 (docs/op_spec.md).
#include <stdint.h>

#include "sbtf_common.h"
#include "sbtf_nn.h"
#include "sbtf_ops.h"
#include "sbtf_window.h"
#include "tensorflow/lite/c/common.h"
#include "tensorflow/lite/micro/kernels/kernel_util.h"
#include "tensorflow/lite/micro/micro_context.h"
#include "tensorflow/lite/micro/micro_log.h"

namespace sbtf {
namespace {

constexpr char kOp[] = SBTF_OP_DEPTHWISE_CONV_2D;

void* Init(TfLiteContext* context, const char* buffer, size_t length) {
  OptionsReader options(kOp);
  WindowOpData data = {};
  if (!options.Open(buffer, length) || !ReadWindow(options, &data.window) ||
      !SBTF_READ_INT_OPTION(options, DEPTH_MULTIPLIER, &data.depth_multiplier)) {
    return nullptr;
  }
  return NewWindowOpData(context, kOp, data);
}

// Everything that needs the temporary tensors; the caller frees them.
TfLiteStatus PrepareWithTensors(TfLiteContext* context, WindowOpData* data,
                                const TfLiteTensor* input, const TfLiteTensor* mask,
                                const TfLiteTensor* sign, const TfLiteTensor* bias,
                                TfLiteTensor* output) {
  const Window& w = data->window;
  TF_LITE_ENSURE_STATUS(PrepareWindow(context, kOp, data, 1, input, mask, sign, bias, output));
  const int32_t c_out = OutputChannels(sign);
  if (static_cast<int64_t>(w.input_channels) * data->depth_multiplier != c_out) {
    MicroPrintf("%s: sign has %d values, expected input_channels * depth_multiplier = %d * %d",
                kOp, static_cast<int>(c_out), static_cast<int>(w.input_channels),
                static_cast<int>(data->depth_multiplier));
    return kTfLiteError;
  }
  const PreparedWindow& pw = data->prepared_window;
  data->filter_dims = sbtf_dims{1, w.filter_height, w.filter_width, c_out};
  return FinishPrepare(context, kOp, data,
                       sbtf_depthwise_conv2d_s8_get_buffer_size(
                           &pw.input_dims, &data->filter_dims, &pw.output_dims,
                           data->depth_multiplier));
}

TfLiteStatus Prepare(TfLiteContext* context, TfLiteNode* node) {
  return PrepareNode<WindowOpData>(context, node, kOp, PrepareWithTensors);
}

TfLiteStatus Eval(TfLiteContext* context, TfLiteNode* node) {
  WindowEval e;
  TF_LITE_ENSURE_STATUS(StartWindowEval(context, node, kOp, &e));
  const PreparedWindow& pw = e.data->prepared_window;
  return ReportStatus(
      kOp, sbtf_depthwise_conv2d_s8(&e.scratch, &pw.params, e.data->depth_multiplier, &e.quant,
                                    &pw.input_dims, e.input, &e.data->filter_dims, e.mask, e.sign,
                                    e.bias, &pw.output_dims, e.output));
}

}  // namespace

TFLMRegistration* Register_SBTF_DEPTHWISE_CONV_2D() {
  static TFLMRegistration registration = tflite::micro::RegisterOp(Init, Prepare, Eval);
  return &registration;
}

}  // namespace sbtf
