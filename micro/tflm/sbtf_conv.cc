// SBTF_CONV_2D for TFLite Micro: Init parses the custom options, Prepare checks tensors and
// computes requantization, Eval runs sbtf_conv2d_s8 (docs/op_spec.md).
#include <stdint.h>

#include "sbtf_common.h"
#include "sbtf_nn.h"
#include "sbtf_ops.h"
#include "tensorflow/lite/c/common.h"
#include "tensorflow/lite/kernels/kernel_util.h"
#include "tensorflow/lite/kernels/padding.h"
#include "tensorflow/lite/micro/kernels/kernel_util.h"
#include "tensorflow/lite/micro/micro_context.h"
#include "tensorflow/lite/micro/micro_log.h"

namespace sbtf {
namespace {

constexpr char kOp[] = SBTF_OP_CONV_2D;

struct OpDataSbtfConv {
  // Custom options (Init).
  TfLiteConvParams options;
  int32_t input_channels;
  int32_t filter_height;
  int32_t filter_width;
  // Prepare.
  bool prepared;
  sbtf_conv_params params;
  sbtf_dims input_dims;
  sbtf_dims filter_dims;
  sbtf_dims output_dims;
  int32_t* multiplier;  // [C_out], persistent
  int32_t* shift;       // [C_out], persistent
  int32_t scratch_size;
  int scratch_index;
};

void* Init(TfLiteContext* context, const char* buffer, size_t length) {
  OptionsReader options(kOp);
  if (!options.Open(buffer, length)) return nullptr;

  int32_t input_channels = 0, filter_height = 0, filter_width = 0, padding = 0;
  int32_t stride_h = 0, stride_w = 0, dilation_h = 0, dilation_w = 0;
  TfLiteConvParams p = {};
  if (!SBTF_READ_INT_OPTION(options, INPUT_CHANNELS, &input_channels) ||
      !SBTF_READ_INT_OPTION(options, FILTER_HEIGHT, &filter_height) ||
      !SBTF_READ_INT_OPTION(options, FILTER_WIDTH, &filter_width) ||
      !SBTF_READ_INT_OPTION(options, PADDING, &padding) ||
      !SBTF_READ_INT_OPTION(options, STRIDE_H, &stride_h) ||
      !SBTF_READ_INT_OPTION(options, STRIDE_W, &stride_w) ||
      !SBTF_READ_INT_OPTION(options, DILATION_H_FACTOR, &dilation_h) ||
      !SBTF_READ_INT_OPTION(options, DILATION_W_FACTOR, &dilation_w) ||
      !ReadActivation(options, &p.activation)) {
    return nullptr;
  }
  // Schema Padding (0 SAME, 1 VALID) -> TfLitePadding (0 is "unknown" there).
  p.padding = padding == SBTF_PADDING_SAME ? kTfLitePaddingSame : kTfLitePaddingValid;
  p.stride_height = stride_h;
  p.stride_width = stride_w;
  p.dilation_height_factor = dilation_h;
  p.dilation_width_factor = dilation_w;

  auto* data = static_cast<OpDataSbtfConv*>(
      context->AllocatePersistentBuffer(context, sizeof(OpDataSbtfConv)));
  if (data == nullptr) {
    MicroPrintf("%s: could not allocate %d bytes of op data", kOp,
                static_cast<int>(sizeof(OpDataSbtfConv)));
    return nullptr;
  }
  *data = OpDataSbtfConv{};
  data->options = p;
  data->input_channels = input_channels;
  data->filter_height = filter_height;
  data->filter_width = filter_width;
  data->scratch_index = -1;
  return data;
}

sbtf_dims Dims4(const TfLiteTensor* t) {
  return sbtf_dims{t->dims->data[0], t->dims->data[1], t->dims->data[2], t->dims->data[3]};
}

// Everything that needs the temporary tensors; the caller frees them.
TfLiteStatus PrepareWithTensors(TfLiteContext* context, OpDataSbtfConv* data,
                                const TfLiteTensor* input, const TfLiteTensor* mask,
                                const TfLiteTensor* sign, const TfLiteTensor* bias,
                                TfLiteTensor* output) {
  TF_LITE_ENSURE_STATUS(CheckActivationTensor(kOp, "input", input));
  TF_LITE_ENSURE_STATUS(CheckActivationTensor(kOp, "output", output));
  if (input->dims->size != 4 || output->dims->size != 4) {
    MicroPrintf("%s: input and output must be 4-D NHWC, got %d-D and %d-D", kOp,
                input->dims->size, output->dims->size);
    return kTfLiteError;
  }
  if (input->dims->data[3] != data->input_channels) {
    MicroPrintf("%s: input has %d channels, the filter expects input_channels = %d", kOp,
                input->dims->data[3], static_cast<int>(data->input_channels));
    return kTfLiteError;
  }
  const int64_t k =
      static_cast<int64_t>(data->filter_height) * data->filter_width * data->input_channels;
  if (k > SBTF_MAX_FILTER_SIZE) {
    MicroPrintf("%s: filter of %d x %d x %d weights exceeds SBTF_MAX_FILTER_SIZE = %d", kOp,
                static_cast<int>(data->filter_height), static_cast<int>(data->filter_width),
                static_cast<int>(data->input_channels), SBTF_MAX_FILTER_SIZE);
    return kTfLiteError;
  }
  TF_LITE_ENSURE_STATUS(CheckWeightTensors(kOp, mask, sign, bias, static_cast<int32_t>(k)));
  const int32_t c_out = OutputChannels(sign);

  const TfLiteConvParams& o = data->options;
  int out_height = 0, out_width = 0;
  TfLitePaddingValues padding = {};
  if (tflite::ComputePaddingHeightWidthChecked(
          o.stride_height, o.stride_width, o.dilation_height_factor, o.dilation_width_factor,
          input->dims->data[1], input->dims->data[2], data->filter_height, data->filter_width,
          o.padding, &out_height, &out_width, &padding) != kTfLiteOk) {
    MicroPrintf("%s: no output size for a %dx%d input and a %dx%d filter (stride %d/%d, "
                "dilation %d/%d)",
                kOp, input->dims->data[1], input->dims->data[2],
                static_cast<int>(data->filter_height), static_cast<int>(data->filter_width),
                o.stride_height, o.stride_width, o.dilation_height_factor,
                o.dilation_width_factor);
    return kTfLiteError;
  }
  const int* od = output->dims->data;
  if (od[0] != input->dims->data[0] || od[1] != out_height || od[2] != out_width ||
      od[3] != c_out) {
    MicroPrintf("%s: output shape [%d, %d, %d, %d] differs from the expected [%d, %d, %d, %d]",
                kOp, od[0], od[1], od[2], od[3], input->dims->data[0], out_height, out_width,
                static_cast<int>(c_out));
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
  // TFLite's own conv arithmetic: s_in * s_w[c] / s_out in double, and the clamp.
  int32_t unused_multiplier = 0;
  int unused_shift = 0;
  int32_t act_min = 0, act_max = 0;
  TF_LITE_ENSURE_STATUS(tflite::PopulateConvolutionQuantizationParams(
      context, input, sign, bias, output, o.activation, &unused_multiplier, &unused_shift,
      &act_min, &act_max, data->multiplier, data->shift, c_out));
  TF_LITE_ENSURE_STATUS(CheckShifts(kOp, data->shift, c_out));

  sbtf_conv_params& p = data->params;
  p.input_offset = -input->params.zero_point;
  p.output_offset = output->params.zero_point;
  p.stride_h = o.stride_height;
  p.stride_w = o.stride_width;
  p.dilation_h = o.dilation_height_factor;
  p.dilation_w = o.dilation_width_factor;
  p.pad_h = padding.height;
  p.pad_w = padding.width;
  p.activation_min = act_min;
  p.activation_max = act_max;

  data->input_dims = Dims4(input);
  data->filter_dims = sbtf_dims{c_out, data->filter_height, data->filter_width,
                                data->input_channels};
  data->output_dims = Dims4(output);
  data->scratch_size =
      sbtf_conv2d_s8_get_buffer_size(&data->input_dims, &data->filter_dims, &data->output_dims);
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
  const sbtf_context ctx = ScratchContext(context, data->scratch_index, data->scratch_size);
  const sbtf_quant_params quant = {data->multiplier, data->shift};
  return ReportStatus(
      kOp, sbtf_conv2d_s8(&ctx, &data->params, &quant, &data->input_dims,
                          tflite::micro::GetTensorData<int8_t>(t.input), &data->filter_dims,
                          tflite::micro::GetTensorData<uint8_t>(t.mask),
                          tflite::micro::GetTensorData<int8_t>(t.sign),
                          t.bias != nullptr ? tflite::micro::GetTensorData<int32_t>(t.bias)
                                            : nullptr,
                          &data->output_dims, tflite::micro::GetTensorData<int8_t>(t.output)));
}

}  // namespace

TFLMRegistration* Register_SBTF_CONV_2D() {
  static TFLMRegistration registration = tflite::micro::RegisterOp(Init, Prepare, Eval);
  return &registration;
}

}  // namespace sbtf
