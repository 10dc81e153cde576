#include "sbtf_common.h"

#include "tensorflow/lite/kernels/internal/quantization_util.h"
#include "tensorflow/lite/kernels/kernel_util.h"
#include "tensorflow/lite/micro/micro_log.h"

namespace sbtf {

bool OptionsReader::Open(const char* buffer, size_t length) {
  if (buffer == nullptr || length == 0) {
    MicroPrintf("%s: custom options are missing (expected a FlexBuffer map)", op_);
    return false;
  }
  const uint8_t* bytes = reinterpret_cast<const uint8_t*>(buffer);
  // The options come from the model file: verify before reading so a corrupt model cannot
  // make the reader run outside the buffer.
  if (!flexbuffers::VerifyBuffer(bytes, length)) {
    MicroPrintf("%s: custom options (%d bytes) are not a valid FlexBuffer", op_,
                static_cast<int>(length));
    return false;
  }
  flexbuffers::Reference root = flexbuffers::GetRoot(bytes, length);
  if (!root.IsMap()) {
    MicroPrintf("%s: custom options are not a FlexBuffer map", op_);
    return false;
  }
  map_ = root.AsMap();
  int32_t version = 0;
  if (!SBTF_READ_INT_OPTION(*this, VERSION, &version)) return false;
  if (version != SBTF_OP_FORMAT_VERSION) {
    MicroPrintf("%s: unknown op format version %d (this build reads version %d)", op_,
                static_cast<int>(version), SBTF_OP_FORMAT_VERSION);
    return false;
  }
  return true;
}

bool OptionsReader::ReadInt(const char* key, int32_t min, int32_t max, int32_t* value) const {
  const flexbuffers::Reference ref = map_[key];
  if (ref.IsNull()) {
    MicroPrintf("%s: custom option '%s' is missing", op_, key);
    return false;
  }
  if (!ref.IsIntOrUint()) {
    MicroPrintf("%s: custom option '%s' must be an int (FlexBuffer type %d)", op_, key,
                static_cast<int>(ref.GetType()));
    return false;
  }
  // Compare in 64 bits (unsigned values above INT64_MAX count as too large). Messages print
  // int, not long long: newlib-nano's printf has no %lld.
  const int64_t v = ref.IsUInt() && ref.AsUInt64() > static_cast<uint64_t>(INT64_MAX)
                        ? INT64_MAX
                        : ref.AsInt64();
  if (v < INT32_MIN || v > INT32_MAX) {
    MicroPrintf("%s: custom option '%s' does not fit an int32", op_, key);
    return false;
  }
  if (v < min || v > max) {
    MicroPrintf("%s: custom option '%s' = %d is outside [%d, %d]", op_, key, static_cast<int>(v),
                static_cast<int>(min), static_cast<int>(max));
    return false;
  }
  *value = static_cast<int32_t>(v);
  return true;
}

bool OptionsReader::ReadBool(const char* key, bool* value) const {
  const flexbuffers::Reference ref = map_[key];
  if (ref.IsNull()) {
    MicroPrintf("%s: custom option '%s' is missing", op_, key);
    return false;
  }
  if (!ref.IsBool()) {
    MicroPrintf("%s: custom option '%s' must be a bool (FlexBuffer type %d)", op_, key,
                static_cast<int>(ref.GetType()));
    return false;
  }
  *value = ref.AsBool();
  return true;
}

bool ReadActivation(const OptionsReader& options, TfLiteFusedActivation* activation) {
  // TFLite's ActivationFunctionType and TfLiteFusedActivation share values 0..3.
  int32_t value = 0;
  static_assert(SBTF_ACTIVATION_RELU6 == kTfLiteActRelu6, "activation enums differ");
  if (!SBTF_READ_INT_OPTION(options, FUSED_ACTIVATION_FUNCTION, &value)) {
    return false;
  }
  *activation = static_cast<TfLiteFusedActivation>(value);
  return true;
}

namespace {

const char* TypeName(TfLiteType type) { return TfLiteTypeGetName(type); }

bool IsPerTensorAffine(const TfLiteTensor* tensor) {
  if (tensor->quantization.type != kTfLiteAffineQuantization) return false;
  const auto* q = static_cast<const TfLiteAffineQuantization*>(tensor->quantization.params);
  return q == nullptr || q->scale == nullptr || q->scale->size == 1;
}

}  // namespace

TfLiteStatus CheckActivationTensor(const char* op, const char* name, const TfLiteTensor* tensor) {
  if (tensor->type != kTfLiteInt8) {
    MicroPrintf("%s: %s must be int8, got %s", op, name, TypeName(tensor->type));
    return kTfLiteError;
  }
  if (!IsPerTensorAffine(tensor) || !(tensor->params.scale > 0.0f)) {
    MicroPrintf("%s: %s needs per-tensor affine quantization with a positive scale", op, name);
    return kTfLiteError;
  }
  return kTfLiteOk;
}

TfLiteStatus CheckWeightTensors(const char* op, const TfLiteTensor* mask, const TfLiteTensor* sign,
                                const TfLiteTensor* bias, int32_t k) {
  if (sign->type != kTfLiteInt8 || sign->dims->size != 1 || sign->dims->data[0] < 1) {
    MicroPrintf("%s: sign must be int8 [C_out], got %s with %d dims", op, TypeName(sign->type),
                sign->dims->size);
    return kTfLiteError;
  }
  const int32_t c_out = sign->dims->data[0];
  const auto* q = static_cast<const TfLiteAffineQuantization*>(sign->quantization.params);
  if (sign->quantization.type != kTfLiteAffineQuantization || q == nullptr || q->scale == nullptr ||
      (q->scale->size != 1 && q->scale->size != c_out) || q->zero_point == nullptr ||
      q->zero_point->size != q->scale->size || q->quantized_dimension != 0) {
    MicroPrintf("%s: sign needs affine quantization with 1 or C_out = %d scales on dimension 0",
                op, static_cast<int>(c_out));
    return kTfLiteError;
  }
  for (int i = 0; i < q->scale->size; ++i) {
    if (!(q->scale->data[i] > 0.0f) || q->zero_point->data[i] != 0) {
      // No %f: newlib-nano's printf lacks floats unless linked with -u _printf_float.
      MicroPrintf("%s: sign channel %d needs a scale > 0 and zero point 0 (zero point %d)", op, i,
                  q->zero_point->data[i]);
      return kTfLiteError;
    }
  }

  if (k > SBTF_MAX_FILTER_SIZE) {
    MicroPrintf("%s: filter of K = %d weights per channel exceeds SBTF_MAX_FILTER_SIZE = %d", op,
                static_cast<int>(k), SBTF_MAX_FILTER_SIZE);
    return kTfLiteError;
  }
  const int32_t row_bytes = sbtf_mask_row_bytes(k);
  if (mask->type != kTfLiteUInt8 || mask->dims->size != 2 || mask->dims->data[0] != c_out ||
      mask->dims->data[1] != row_bytes) {
    MicroPrintf("%s: bitmask must be uint8 [C_out, row_bytes] = [%d, %d] for K = %d, got %s with "
                "%d dims [%d, %d]",
                op, static_cast<int>(c_out), static_cast<int>(row_bytes), static_cast<int>(k),
                TypeName(mask->type), mask->dims->size,
                mask->dims->size > 0 ? mask->dims->data[0] : 0,
                mask->dims->size > 1 ? mask->dims->data[1] : 0);
    return kTfLiteError;
  }

  if (bias != nullptr &&
      (bias->type != kTfLiteInt32 || bias->dims->size != 1 || bias->dims->data[0] != c_out)) {
    MicroPrintf("%s: bias must be int32 [C_out] = [%d], got %s with %d dims (first %d)", op,
                static_cast<int>(c_out), TypeName(bias->type), bias->dims->size,
                bias->dims->size > 0 ? bias->dims->data[0] : 0);
    return kTfLiteError;
  }

  // Constant weights can be validated once here instead of on every Eval.
  if (tflite::IsConstantTensor(sign) && sign->data.int8 != nullptr) {
    for (int32_t c = 0; c < c_out; ++c) {
      if (sign->data.int8[c] != 1 && sign->data.int8[c] != -1) {
        MicroPrintf("%s: sign[%d] = %d, expected -1 or +1", op, static_cast<int>(c),
                    sign->data.int8[c]);
        return kTfLiteError;
      }
    }
  }
  if (tflite::IsConstantTensor(mask) && mask->data.uint8 != nullptr) {
    for (int32_t c = 0; c < c_out; ++c) {
      const uint8_t* row = mask->data.uint8 + c * row_bytes;
      for (int32_t byte = k / 8; byte < row_bytes; ++byte) {
        // Bits below k in the first byte are weights; everything above is padding.
        const int32_t first_pad_bit = byte == k / 8 ? k % 8 : 0;
        if ((row[byte] >> first_pad_bit) != 0) {
          MicroPrintf("%s: bitmask row %d has padding bits set (K = %d); they must be zero", op,
                      static_cast<int>(c), static_cast<int>(k));
          return kTfLiteError;
        }
      }
    }
  }
  return kTfLiteOk;
}

void FullyConnectedMultipliers(const TfLiteTensor* input, const TfLiteTensor* sign,
                               const TfLiteTensor* output, int32_t* multiplier, int32_t* shift) {
  const auto* q = static_cast<const TfLiteAffineQuantization*>(sign->quantization.params);
  const int32_t c_out = OutputChannels(sign);
  const bool per_channel = q->scale->size > 1;
  for (int32_t c = 0; c < c_out; ++c) {
    const float weight_scale = q->scale->data[per_channel ? c : 0];
    // As TFLite: per tensor the scales are multiplied in float before widening
    // (GetQuantizedConvolutionMultipler), per channel everything is double.
    const double product =
        per_channel ? static_cast<double>(input->params.scale) * static_cast<double>(weight_scale)
                    : static_cast<double>(input->params.scale * weight_scale);
    int exponent = 0;
    tflite::QuantizeMultiplier(product / static_cast<double>(output->params.scale),
                               &multiplier[c], &exponent);
    shift[c] = exponent;
  }
}

TfLiteStatus CheckShifts(const char* op, const int32_t* shift, int32_t channels) {
  for (int32_t c = 0; c < channels; ++c) {
    if (shift[c] < -31 || shift[c] > 30) {
      MicroPrintf("%s: channel %d's requantization scale s_in * s_w / s_out is too large "
                  "(shift %d > 30)",
                  op, static_cast<int>(c), static_cast<int>(shift[c]));
      return kTfLiteError;
    }
  }
  return kTfLiteOk;
}

TfLiteStatus RequestScratch(TfLiteContext* context, const char* op, int32_t size, int* index) {
  *index = -1;
  if (size < 0) {
    return ReportStatus(op, static_cast<sbtf_status>(size));
  }
  if (size == 0) return kTfLiteOk;
  const TfLiteStatus status = context->RequestScratchBufferInArena(context, size, index);
  if (status != kTfLiteOk) {
    MicroPrintf("%s: could not reserve %d scratch bytes in the arena", op, static_cast<int>(size));
  }
  return status;
}

sbtf_context ScratchContext(TfLiteContext* context, int index, int32_t size) {
  sbtf_context ctx = {nullptr, 0};
  if (index >= 0) {
    ctx.buf = context->GetScratchBuffer(context, index);
    ctx.size = ctx.buf != nullptr ? size : 0;
  }
  return ctx;
}

TfLiteStatus ReportStatus(const char* op, sbtf_status status) {
  switch (status) {
    case SBTF_OK:
      return kTfLiteOk;
    case SBTF_ERROR_NULL_ARGUMENT:
      MicroPrintf("%s: the C kernel got a NULL pointer", op);
      break;
    case SBTF_ERROR_BAD_SHAPE:
      MicroPrintf("%s: the C kernel rejected the shapes", op);
      break;
    case SBTF_ERROR_BAD_PARAM:
      MicroPrintf("%s: the C kernel rejected a parameter (stride, dilation, padding, offset or "
                  "clamp)",
                  op);
      break;
    case SBTF_ERROR_BUFFER_SIZE:
      MicroPrintf("%s: the scratch buffer is smaller than the C kernel needs", op);
      break;
    default:
      MicroPrintf("%s: the C kernel returned unknown status %d", op, static_cast<int>(status));
      break;
  }
  return kTfLiteError;
}

}  // namespace sbtf
