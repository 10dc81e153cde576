// SBTF_FULLY_CONNECTED for TFLite Micro: Init parses the custom options, Prepare checks
// tensors and computes requantization, Eval runs sbtf_fully_connected_s8 (docs/op_spec.md).
#include <stdint.h>

#include "sbtf_common.h"
#include "sbtf_nn.h"
#include "sbtf_ops.h"
#include "tensorflow/lite/c/common.h"
#include "tensorflow/lite/kernels/kernel_util.h"
#include "tensorflow/lite/micro/kernels/kernel_util.h"
#include "tensorflow/lite/micro/micro_context.h"
#include "tensorflow/lite/micro/micro_log.h"

namespace sbtf {
namespace {

constexpr char kOp[] = SBTF_OP_FULLY_CONNECTED;

struct OpDataSbtfFullyConnected {
  // Custom options (Init).
  int32_t input_channels;
  TfLiteFusedActivation activation;
  bool keep_num_dims;
  // Prepare.
  bool prepared;
  sbtf_fc_params params;
  int32_t batches;
  int32_t output_channels;
  int32_t* multiplier;  // [C_out], persistent
  int32_t* shift;       // [C_out], persistent
  int32_t scratch_size;
  int scratch_index;
};

void* Init(TfLiteContext* context, const char* buffer, size_t length) {
  OptionsReader options(kOp);
  if (!options.Open(buffer, length)) return nullptr;
  OpDataSbtfFullyConnected read = {};
  if (!SBTF_READ_INT_OPTION(options, INPUT_CHANNELS, &read.input_channels) ||
      !ReadActivation(options, &read.activation) ||
      !options.ReadBool(SBTF_OPTION_KEEP_NUM_DIMS, &read.keep_num_dims)) {
    return nullptr;
  }
  read.scratch_index = -1;
  return NewOpData(context, kOp, read);
}

// The output shape TFLite's FULLY_CONNECTED produces: [batches, C_out], or the input's leading
// dims plus C_out with keep_num_dims.
bool OutputShapeMatches(const TfLiteTensor* input, const TfLiteTensor* output, bool keep_num_dims,
                        int32_t batches, int32_t c_out) {
  const TfLiteIntArray* in = input->dims;
  const TfLiteIntArray* out = output->dims;
  if (!keep_num_dims) {
    return out->size == 2 && out->data[0] == batches && out->data[1] == c_out;
  }
  if (out->size != in->size || out->data[out->size - 1] != c_out) return false;
  for (int i = 0; i + 1 < in->size; ++i) {
    if (out->data[i] != in->data[i]) return false;
  }
  return true;
}

TfLiteStatus PrepareWithTensors(TfLiteContext* context, OpDataSbtfFullyConnected* data,
                                const TfLiteTensor* input, const TfLiteTensor* mask,
                                const TfLiteTensor* sign, const TfLiteTensor* bias,
                                TfLiteTensor* output) {
  TF_LITE_ENSURE_STATUS(CheckActivationTensor(kOp, "input", input));
  TF_LITE_ENSURE_STATUS(CheckActivationTensor(kOp, "output", output));
  const int32_t c_in = data->input_channels;
  const int64_t input_size = tflite::NumElements(input);
  if (input->dims->size < 1 || input_size % c_in != 0 ||
      (data->keep_num_dims && input->dims->data[input->dims->size - 1] != c_in)) {
    MicroPrintf("%s: input of %d-D, %d elements does not split into rows of input_channels = %d",
                kOp, input->dims->size, static_cast<int>(input_size), static_cast<int>(c_in));
    return kTfLiteError;
  }
  TF_LITE_ENSURE_STATUS(CheckWeightTensors(kOp, mask, sign, bias, c_in));
  const int32_t c_out = OutputChannels(sign);
  const int32_t batches = static_cast<int32_t>(input_size / c_in);
  if (!OutputShapeMatches(input, output, data->keep_num_dims, batches, c_out)) {
    MicroPrintf("%s: output shape (%d-D, last dim %d) differs from the expected %s with %d rows "
                "of %d",
                kOp, output->dims->size,
                output->dims->size > 0 ? output->dims->data[output->dims->size - 1] : 0,
                data->keep_num_dims ? "input shape" : "[batches, C_out]",
                static_cast<int>(batches), static_cast<int>(c_out));
    return kTfLiteError;
  }

  data->multiplier = static_cast<int32_t*>(
      context->AllocatePersistentBuffer(context, c_out * sizeof(int32_t)));
  data->shift = static_cast<int32_t*>(
      context->AllocatePersistentBuffer(context, c_out * sizeof(int32_t)));
  if (data->multiplier == nullptr || data->shift == nullptr) {
    MicroPrintf("%s: could not allocate requantization data for %d channels", kOp,
                static_cast<int>(c_out));
    return kTfLiteError;
  }
  FullyConnectedMultipliers(input, sign, output, data->multiplier, data->shift);
  TF_LITE_ENSURE_STATUS(CheckShifts(kOp, data->shift, c_out));

  int32_t act_min = 0, act_max = 0;
  TF_LITE_ENSURE_STATUS(tflite::CalculateActivationRangeQuantized(context, data->activation,
                                                                  output, &act_min, &act_max));
  data->params.input_offset = -input->params.zero_point;
  data->params.output_offset = output->params.zero_point;
  data->params.activation_min = act_min;
  data->params.activation_max = act_max;
  data->batches = batches;
  data->output_channels = c_out;
  data->scratch_size = sbtf_fully_connected_s8_get_buffer_size(c_in, c_out);
  TF_LITE_ENSURE_STATUS(RequestScratch(context, kOp, data->scratch_size, &data->scratch_index));
  data->prepared = true;
  return kTfLiteOk;
}

TfLiteStatus Prepare(TfLiteContext* context, TfLiteNode* node) {
  return PrepareNode<OpDataSbtfFullyConnected>(context, node, kOp, PrepareWithTensors);
}

TfLiteStatus Eval(TfLiteContext* context, TfLiteNode* node) {
  const auto* data = static_cast<const OpDataSbtfFullyConnected*>(node->user_data);
  EvalTensors t;
  TF_LITE_ENSURE_STATUS(GetEvalTensors(context, node, kOp, data != nullptr && data->prepared, &t));
  const sbtf_context ctx = ScratchContext(context, data->scratch_index, data->scratch_size);
  const sbtf_quant_params quant = {data->multiplier, data->shift};
  return ReportStatus(
      kOp, sbtf_fully_connected_s8(
               &ctx, &data->params, &quant, data->batches, data->input_channels,
               tflite::micro::GetTensorData<int8_t>(t.input), data->output_channels,
               tflite::micro::GetTensorData<uint8_t>(t.mask),
               tflite::micro::GetTensorData<int8_t>(t.sign),
               t.bias != nullptr ? tflite::micro::GetTensorData<int32_t>(t.bias) : nullptr,
               tflite::micro::GetTensorData<int8_t>(t.output)));
}

}  // namespace

TFLMRegistration* Register_SBTF_FULLY_CONNECTED() {
  static TFLMRegistration registration = tflite::micro::RegisterOp(Init, Prepare, Eval);
  return &registration;
}

}  // namespace sbtf
