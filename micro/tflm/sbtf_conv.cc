// SBTF_CONV_2D for TFLite Micro: Init parses the custom options, Prepare checks tensors and
// computes requantization (the window part shared with depthwise: sbtf_window.cc), Eval runs
// sbtf_conv2d_s8 (docs/op_spec.md).
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

constexpr char kOp[] = SBTF_OP_CONV_2D;

struct OpDataSbtfConv {
  Window window;  // custom options (Init)
  // Prepare.
  bool prepared;
  PreparedWindow prepared_window;
  sbtf_dims filter_dims;
  int32_t scratch_size;
  int scratch_index;
};

void* Init(TfLiteContext* context, const char* buffer, size_t length) {
  OptionsReader options(kOp);
  Window window = {};
  if (!options.Open(buffer, length) || !ReadWindow(options, &window)) return nullptr;
  auto* data = static_cast<OpDataSbtfConv*>(
      context->AllocatePersistentBuffer(context, sizeof(OpDataSbtfConv)));
  if (data == nullptr) {
    MicroPrintf("%s: could not allocate %d bytes of op data", kOp,
                static_cast<int>(sizeof(OpDataSbtfConv)));
    return nullptr;
  }
  *data = OpDataSbtfConv{};
  data->window = window;
  data->scratch_index = -1;
  return data;
}

// Everything that needs the temporary tensors; the caller frees them.
TfLiteStatus PrepareWithTensors(TfLiteContext* context, OpDataSbtfConv* data,
                                const TfLiteTensor* input, const TfLiteTensor* mask,
                                const TfLiteTensor* sign, const TfLiteTensor* bias,
                                TfLiteTensor* output) {
  const Window& w = data->window;
  const int64_t k = static_cast<int64_t>(w.filter_height) * w.filter_width * w.input_channels;
  if (k > SBTF_MAX_FILTER_SIZE) {
    MicroPrintf("%s: filter of %d x %d x %d weights exceeds SBTF_MAX_FILTER_SIZE = %d", kOp,
                static_cast<int>(w.filter_height), static_cast<int>(w.filter_width),
                static_cast<int>(w.input_channels), SBTF_MAX_FILTER_SIZE);
    return kTfLiteError;
  }
  TF_LITE_ENSURE_STATUS(CheckWeightTensors(kOp, mask, sign, bias, static_cast<int32_t>(k)));
  const int32_t c_out = OutputChannels(sign);
  PreparedWindow& pw = data->prepared_window;
  TF_LITE_ENSURE_STATUS(PrepareWindow(context, kOp, w, c_out, input, sign, bias, output, &pw));
  data->filter_dims = sbtf_dims{c_out, w.filter_height, w.filter_width, w.input_channels};
  data->scratch_size =
      sbtf_conv2d_s8_get_buffer_size(&pw.input_dims, &data->filter_dims, &pw.output_dims);
  TF_LITE_ENSURE_STATUS(RequestScratch(context, kOp, data->scratch_size, &data->scratch_index));
  data->prepared = true;
  return kTfLiteOk;
}

TfLiteStatus Prepare(TfLiteContext* context, TfLiteNode* node) {
  return PrepareNode<OpDataSbtfConv>(context, node, kOp, PrepareWithTensors);
}

TfLiteStatus Eval(TfLiteContext* context, TfLiteNode* node) {
  const auto* data = static_cast<const OpDataSbtfConv*>(node->user_data);
  EvalTensors t;
  TF_LITE_ENSURE_STATUS(GetEvalTensors(context, node, kOp, data != nullptr && data->prepared, &t));
  const PreparedWindow& pw = data->prepared_window;
  const sbtf_context ctx = ScratchContext(context, data->scratch_index, data->scratch_size);
  const sbtf_quant_params quant = {pw.multiplier, pw.shift};
  return ReportStatus(
      kOp, sbtf_conv2d_s8(&ctx, &pw.params, &quant, &pw.input_dims,
                          tflite::micro::GetTensorData<int8_t>(t.input), &data->filter_dims,
                          tflite::micro::GetTensorData<uint8_t>(t.mask),
                          tflite::micro::GetTensorData<int8_t>(t.sign),
                          t.bias != nullptr ? tflite::micro::GetTensorData<int32_t>(t.bias)
                                            : nullptr,
                          &pw.output_dims, tflite::micro::GetTensorData<int8_t>(t.output)));
}

}  // namespace

TFLMRegistration* Register_SBTF_CONV_2D() {
  static TFLMRegistration registration = tflite::micro::RegisterOp(Init, Prepare, Eval);
  return &registration;
}

}  // namespace sbtf
