/*
 * sbtf_common.h - what SBTF_CONV_2D and SBTF_FULLY_CONNECTED share in their TFLM glue:
 * custom-option parsing, tensor checks, requantization and status reporting.
 * Every check prints a message naming the op (MicroPrintf) before it fails.
 */
#ifndef SBTF_TFLM_SBTF_COMMON_H_
#define SBTF_TFLM_SBTF_COMMON_H_

#include <stddef.h>
#include <stdint.h>

#include "flatbuffers/flexbuffers.h"
#include "sbtf_nn.h"
#include "sbtf_op_format.h"
#include "tensorflow/lite/c/builtin_op_data.h"
#include "tensorflow/lite/c/common.h"
#include "tensorflow/lite/micro/kernels/kernel_util.h"
#include "tensorflow/lite/micro/micro_context.h"
#include "tensorflow/lite/micro/micro_log.h"

namespace sbtf {

// Tensor indices of every sbtf op (sbtf_op_format.h, generated from sbtf/op_format.py).
constexpr int kInputTensor = SBTF_TENSOR_INPUT;
constexpr int kMaskTensor = SBTF_TENSOR_BITMASK;
constexpr int kSignTensor = SBTF_TENSOR_SIGN;
constexpr int kBiasTensor = SBTF_TENSOR_BIAS;  // optional: absent, or index -1
constexpr int kOutputTensor = 0;

// Custom options of one node, validated as a FlexBuffer map of format version
// SBTF_OP_FORMAT_VERSION. Use only after Open() returned true.
class OptionsReader {
 public:
  explicit OptionsReader(const char* op) : op_(op), map_(flexbuffers::Map::EmptyMap()) {}

  // Verifies the buffer (untrusted model data) before reading anything from it.
  bool Open(const char* buffer, size_t length);
  // An int key whose value lies in [min, max].
  bool ReadInt(const char* key, int32_t min, int32_t max, int32_t* value) const;
  bool ReadBool(const char* key, bool* value) const;

 private:
  const char* op_;
  flexbuffers::Map map_;
};

// Reads the int option NAME of sbtf_op_format.h: its key and bounds come from the one spec.
#define SBTF_READ_INT_OPTION(options, NAME, value)                                   \
  (options).ReadInt(SBTF_OPTION_##NAME, SBTF_OPTION_##NAME##_MIN, SBTF_OPTION_##NAME##_MAX, \
                    (value))

// Reads `fused_activation_function` (NONE, RELU, RELU_N1_TO_1 or RELU6).
bool ReadActivation(const OptionsReader& options, TfLiteFusedActivation* activation);

// input/output: int8 with per-tensor affine quantization and a positive scale.
TfLiteStatus CheckActivationTensor(const char* op, const char* name, const TfLiteTensor* tensor);

// k <= SBTF_MAX_FILTER_SIZE.
// mask: uint8 [c_out, sbtf_mask_row_bytes(k)], padding bits zero when the data is known.
// sign: int8 [c_out] of -1/+1, affine scales (1 or c_out, positive) with zero points 0.
// bias (may be null): int32 [c_out].
TfLiteStatus CheckWeightTensors(const char* op, const TfLiteTensor* mask, const TfLiteTensor* sign,
                                const TfLiteTensor* bias, int32_t k);

// Output channels C_out, taken from the sign tensor (call after CheckWeightTensors).
inline int32_t OutputChannels(const TfLiteTensor* sign) { return sign->dims->data[0]; }

// Fully connected's multipliers (docs/op_spec.md): QuantizeMultiplier(double(float(s_in * s_w))
// / s_out) per tensor, s_in * s_w[c] / s_out in double per channel.
void FullyConnectedMultipliers(const TfLiteTensor* input, const TfLiteTensor* sign,
                               const TfLiteTensor* output, int32_t* multiplier, int32_t* shift);

// The C kernels accept shifts in [-31, 30]; QuantizeMultiplier does not bound them above.
TfLiteStatus CheckShifts(const char* op, const int32_t* shift, int32_t channels);

// Requests the scratch buffer the C kernel asked for (index -1 when it needs none).
TfLiteStatus RequestScratch(TfLiteContext* context, const char* op, int32_t size, int* index);

// Scratch buffer for Eval.
sbtf_context ScratchContext(TfLiteContext* context, int index, int32_t size);

// kTfLiteOk for SBTF_OK; otherwise prints what the C kernel rejected and returns kTfLiteError.
TfLiteStatus ReportStatus(const char* op, sbtf_status status);

// Init's end: a persistent copy of `read` (the op data with the options Init read); nullptr,
// after a message, when the arena has no room.
template <typename OpData>
OpData* NewOpData(TfLiteContext* context, const char* op, const OpData& read) {
  auto* data = static_cast<OpData*>(context->AllocatePersistentBuffer(context, sizeof(OpData)));
  if (data == nullptr) {
    MicroPrintf("%s: could not allocate %d bytes of op data", op,
                static_cast<int>(sizeof(OpData)));
    return nullptr;
  }
  *data = read;
  return data;
}

// What both ops' Prepare share: op data present (Init accepted the options), 3 or 4 inputs and
// 1 output; the tensors are TFLM temporaries, allocated for `prepare` and released after it.
template <typename OpData>
TfLiteStatus PrepareNode(TfLiteContext* context, TfLiteNode* node, const char* op,
                         TfLiteStatus (*prepare)(TfLiteContext*, OpData*, const TfLiteTensor* input,
                                                 const TfLiteTensor* mask,
                                                 const TfLiteTensor* sign,
                                                 const TfLiteTensor* bias, TfLiteTensor* output)) {
  auto* data = static_cast<OpData*>(node->user_data);
  if (data == nullptr) {
    MicroPrintf("%s: no op data (the custom options were rejected in Init)", op);
    return kTfLiteError;
  }
  if ((node->inputs->size != 3 && node->inputs->size != 4) || node->outputs->size != 1) {
    MicroPrintf("%s: expected 3 or 4 inputs and 1 output, got %d and %d", op, node->inputs->size,
                node->outputs->size);
    return kTfLiteError;
  }
  tflite::MicroContext* micro_context = tflite::GetMicroContext(context);
  TfLiteTensor* input = micro_context->AllocateTempInputTensor(node, kInputTensor);
  TfLiteTensor* mask = micro_context->AllocateTempInputTensor(node, kMaskTensor);
  TfLiteTensor* sign = micro_context->AllocateTempInputTensor(node, kSignTensor);
  TfLiteTensor* bias = node->inputs->size == 4
                           ? micro_context->AllocateTempInputTensor(node, kBiasTensor)
                           : nullptr;
  TfLiteTensor* output = micro_context->AllocateTempOutputTensor(node, kOutputTensor);

  TfLiteStatus status = kTfLiteError;
  if (input == nullptr || mask == nullptr || sign == nullptr || output == nullptr) {
    MicroPrintf("%s: input, bitmask, sign and output tensors are required", op);
  } else {
    status = prepare(context, data, input, mask, sign, bias, output);
  }
  for (TfLiteTensor* t : {input, mask, sign, bias, output}) {
    if (t != nullptr) micro_context->DeallocateTempTfLiteTensor(t);
  }
  return status;
}

// The node's tensors for Eval (bias null when absent).
struct EvalTensors {
  const TfLiteEvalTensor* input;
  const TfLiteEvalTensor* mask;
  const TfLiteEvalTensor* sign;
  const TfLiteEvalTensor* bias;
  TfLiteEvalTensor* output;
};

// Fails with a message unless Prepare succeeded (`prepared`); otherwise fills `t`.
inline TfLiteStatus GetEvalTensors(TfLiteContext* context, TfLiteNode* node, const char* op,
                                   bool prepared, EvalTensors* t) {
  if (!prepared) {
    MicroPrintf("%s: Eval before a successful Prepare", op);
    return kTfLiteError;
  }
  t->input = tflite::micro::GetEvalInput(context, node, kInputTensor);
  t->mask = tflite::micro::GetEvalInput(context, node, kMaskTensor);
  t->sign = tflite::micro::GetEvalInput(context, node, kSignTensor);
  t->bias = node->inputs->size == 4 ? tflite::micro::GetEvalInput(context, node, kBiasTensor)
                                    : nullptr;
  t->output = tflite::micro::GetEvalOutput(context, node, kOutputTensor);
  return kTfLiteOk;
}

}  // namespace sbtf

#endif  // SBTF_TFLM_SBTF_COMMON_H_
