#include "sbtf_window.h"

#include "tensorflow/lite/kernels/kernel_util.h"
#include "tensorflow/lite/kernels/padding.h"
#include "tensorflow/lite/micro/kernels/kernel_util.h"
#include "tensorflow/lite/micro/micro_log.h"

namespace sbtf {
namespace {

const char* WindowOpName(bool depthwise) {
  return depthwise ? SBTF_OP_DEPTHWISE_CONV_2D : SBTF_OP_CONV_2D;
}

// Reads input_channels, the filter size, padding, strides, dilations and the activation.
bool ReadWindow(const OptionsReader& options, Window* window) {
  int32_t padding = 0, stride_h = 0, stride_w = 0, dilation_h = 0, dilation_w = 0;
  TfLiteConvParams p = {};
  if (!SBTF_READ_INT_OPTION(options, INPUT_CHANNELS, &window->input_channels) ||
      !SBTF_READ_INT_OPTION(options, FILTER_HEIGHT, &window->filter_height) ||
      !SBTF_READ_INT_OPTION(options, FILTER_WIDTH, &window->filter_width) ||
      !SBTF_READ_INT_OPTION(options, PADDING, &padding) ||
      !SBTF_READ_INT_OPTION(options, STRIDE_H, &stride_h) ||
      !SBTF_READ_INT_OPTION(options, STRIDE_W, &stride_w) ||
      !SBTF_READ_INT_OPTION(options, DILATION_H_FACTOR, &dilation_h) ||
      !SBTF_READ_INT_OPTION(options, DILATION_W_FACTOR, &dilation_w) ||
      !ReadActivation(options, &p.activation)) {
    return false;
  }
  // Schema Padding (0 SAME, 1 VALID) -> TfLitePadding (0 is "unknown" there).
  p.padding = padding == SBTF_PADDING_SAME ? kTfLitePaddingSame : kTfLitePaddingValid;
  p.stride_height = stride_h;
  p.stride_width = stride_w;
  p.dilation_height_factor = dilation_h;
  p.dilation_width_factor = dilation_w;
  window->options = p;
  return true;
}

sbtf_dims Dims4(const TfLiteTensor* t) {
  return sbtf_dims{t->dims->data[0], t->dims->data[1], t->dims->data[2], t->dims->data[3]};
}

// Prepare up to the op's filter shape: everything but the filter dims and the scratch.
TfLiteStatus PrepareWindow(TfLiteContext* context, const char* op, WindowOpData* data,
                           int32_t filter_depth, const TfLiteTensor* input,
                           const TfLiteTensor* mask, const TfLiteTensor* sign,
                           const TfLiteTensor* bias, TfLiteTensor* output) {
  const Window& window = data->window;
  const int64_t k = static_cast<int64_t>(window.filter_height) * window.filter_width * filter_depth;
  if (k > SBTF_MAX_FILTER_SIZE) {
    MicroPrintf("%s: filter of %d x %d x %d weights exceeds SBTF_MAX_FILTER_SIZE = %d", op,
                static_cast<int>(window.filter_height), static_cast<int>(window.filter_width),
                static_cast<int>(filter_depth), SBTF_MAX_FILTER_SIZE);
    return kTfLiteError;
  }
  TF_LITE_ENSURE_STATUS(CheckWeightTensors(op, mask, sign, bias, static_cast<int32_t>(k)));
  const int32_t c_out = OutputChannels(sign);
  PreparedWindow* out = &data->prepared_window;
  TF_LITE_ENSURE_STATUS(CheckActivationTensor(op, "input", input));
  TF_LITE_ENSURE_STATUS(CheckActivationTensor(op, "output", output));
  if (input->dims->size != 4 || output->dims->size != 4) {
    MicroPrintf("%s: input and output must be 4-D NHWC, got %d-D and %d-D", op,
                input->dims->size, output->dims->size);
    return kTfLiteError;
  }
  if (input->dims->data[3] != window.input_channels) {
    MicroPrintf("%s: input has %d channels, the filter expects input_channels = %d", op,
                input->dims->data[3], static_cast<int>(window.input_channels));
    return kTfLiteError;
  }
  const TfLiteConvParams& o = window.options;
  int out_height = 0, out_width = 0;
  TfLitePaddingValues padding = {};
  if (tflite::ComputePaddingHeightWidthChecked(
          o.stride_height, o.stride_width, o.dilation_height_factor, o.dilation_width_factor,
          input->dims->data[1], input->dims->data[2], window.filter_height, window.filter_width,
          o.padding, &out_height, &out_width, &padding) != kTfLiteOk) {
    MicroPrintf("%s: no output size for a %dx%d input and a %dx%d filter (stride %d/%d, "
                "dilation %d/%d)",
                op, input->dims->data[1], input->dims->data[2],
                static_cast<int>(window.filter_height), static_cast<int>(window.filter_width),
                o.stride_height, o.stride_width, o.dilation_height_factor,
                o.dilation_width_factor);
    return kTfLiteError;
  }
  const int* od = output->dims->data;
  if (od[0] != input->dims->data[0] || od[1] != out_height || od[2] != out_width ||
      od[3] != c_out) {
    MicroPrintf("%s: output shape [%d, %d, %d, %d] differs from the expected [%d, %d, %d, %d]",
                op, od[0], od[1], od[2], od[3], input->dims->data[0], out_height, out_width,
                static_cast<int>(c_out));
    return kTfLiteError;
  }

  out->multiplier = static_cast<int32_t*>(
      context->AllocatePersistentBuffer(context, c_out * sizeof(int32_t)));
  out->shift = static_cast<int32_t*>(
      context->AllocatePersistentBuffer(context, c_out * sizeof(int32_t)));
  if (out->multiplier == nullptr || out->shift == nullptr) {
    MicroPrintf("%s: could not allocate requantization data for %d channels", op,
                static_cast<int>(c_out));
    return kTfLiteError;
  }
  // TFLite's own conv arithmetic: s_in * s_w[c] / s_out in double, and the clamp.
  int32_t unused_multiplier = 0;
  int unused_shift = 0;
  int32_t act_min = 0, act_max = 0;
  TF_LITE_ENSURE_STATUS(tflite::PopulateConvolutionQuantizationParams(
      context, input, sign, bias, output, o.activation, &unused_multiplier, &unused_shift,
      &act_min, &act_max, out->multiplier, out->shift, c_out));
  TF_LITE_ENSURE_STATUS(CheckShifts(op, out->shift, c_out));

  sbtf_conv_params& p = out->params;
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
  out->input_dims = Dims4(input);
  out->output_dims = Dims4(output);
  return kTfLiteOk;
}

// Prepare with the node's tensors (PrepareNode frees them).
TfLiteStatus PrepareWithTensors(TfLiteContext* context, WindowOpData* data,
                                const TfLiteTensor* input, const TfLiteTensor* mask,
                                const TfLiteTensor* sign, const TfLiteTensor* bias,
                                TfLiteTensor* output) {
  const char* op = WindowOpName(data->depthwise);
  const Window& w = data->window;
  TF_LITE_ENSURE_STATUS(PrepareWindow(context, op, data, data->depthwise ? 1 : w.input_channels,
                                      input, mask, sign, bias, output));
  const PreparedWindow& pw = data->prepared_window;
  const int32_t c_out = OutputChannels(sign);
  int32_t scratch_size = 0;
  if (data->depthwise) {
    if (static_cast<int64_t>(w.input_channels) * data->depth_multiplier != c_out) {
      MicroPrintf("%s: sign has %d values, expected input_channels * depth_multiplier = %d * %d",
                  op, static_cast<int>(c_out), static_cast<int>(w.input_channels),
                  static_cast<int>(data->depth_multiplier));
      return kTfLiteError;
    }
    data->filter_dims = sbtf_dims{1, w.filter_height, w.filter_width, c_out};
    scratch_size = sbtf_depthwise_conv2d_s8_get_buffer_size(
        &pw.input_dims, &data->filter_dims, &pw.output_dims, data->depth_multiplier);
  } else {
    data->filter_dims = sbtf_dims{c_out, w.filter_height, w.filter_width, w.input_channels};
    scratch_size =
        sbtf_conv2d_s8_get_buffer_size(&pw.input_dims, &data->filter_dims, &pw.output_dims);
  }
  data->scratch_size = scratch_size;
  TF_LITE_ENSURE_STATUS(RequestScratch(context, op, scratch_size, &data->scratch_index));
  data->prepared = true;
  return kTfLiteOk;
}

}  // namespace

void* InitWindowOp(TfLiteContext* context, bool depthwise, const char* buffer, size_t length) {
  const char* op = WindowOpName(depthwise);
  OptionsReader options(op);
  WindowOpData read = {};
  if (!options.Open(buffer, length) || !ReadWindow(options, &read.window) ||
      (depthwise && !SBTF_READ_INT_OPTION(options, DEPTH_MULTIPLIER, &read.depth_multiplier))) {
    return nullptr;
  }
  read.depthwise = depthwise;
  read.scratch_index = -1;
  return NewOpData(context, op, read);
}

TfLiteStatus PrepareWindowOp(TfLiteContext* context, TfLiteNode* node, bool depthwise) {
  return PrepareNode<WindowOpData>(context, node, WindowOpName(depthwise), PrepareWithTensors);
}

TfLiteStatus StartWindowEval(TfLiteContext* context, TfLiteNode* node, const char* op,
                             WindowEval* e) {
  const auto* data = static_cast<const WindowOpData*>(node->user_data);
  EvalTensors t;
  TF_LITE_ENSURE_STATUS(GetEvalTensors(context, node, op, data != nullptr && data->prepared, &t));
  e->data = data;
  e->scratch = ScratchContext(context, data->scratch_index, data->scratch_size);
  e->quant = sbtf_quant_params{data->prepared_window.multiplier, data->prepared_window.shift};
  e->input = tflite::micro::GetTensorData<int8_t>(t.input);
  e->mask = tflite::micro::GetTensorData<uint8_t>(t.mask);
  e->sign = tflite::micro::GetTensorData<int8_t>(t.sign);
  e->bias = t.bias != nullptr ? tflite::micro::GetTensorData<int32_t>(t.bias) : nullptr;
  e->output = tflite::micro::GetTensorData<int8_t>(t.output);
  return kTfLiteOk;
}

}  // namespace sbtf
