// SBTF_CONV_2D for TFLite Micro: Init (the custom options) and Prepare (tensor checks,
// requantization, scratch) are shared with depthwise in sbtf_window.cc; Eval runs
// sbtf_conv2d_s8 (docs/op_spec.md).
#include <stdint.h>

#include "sbtf_common.h"
#include "sbtf_nn.h"
#include "sbtf_ops.h"
#include "sbtf_window.h"
#include "tensorflow/lite/c/common.h"
#include "tensorflow/lite/micro/kernels/kernel_util.h"
#include "tensorflow/lite/micro/micro_context.h"

namespace sbtf {
namespace {

constexpr char kOp[] = SBTF_OP_CONV_2D;

TfLiteStatus Eval(TfLiteContext* context, TfLiteNode* node) {
  WindowEval e;
  TF_LITE_ENSURE_STATUS(StartWindowEval(context, node, kOp, &e));
  const PreparedWindow& pw = e.data->prepared_window;
  return ReportStatus(kOp, sbtf_conv2d_s8(&e.scratch, &pw.params, &e.quant, &pw.input_dims, e.input,
                                          &e.data->filter_dims, e.mask, e.sign, e.bias,
                                          &pw.output_dims, e.output));
}

}  // namespace

TFLMRegistration* Register_SBTF_CONV_2D() {
  static TFLMRegistration registration =
      tflite::micro::RegisterOp(WindowInit<false>, WindowPrepare<false>, Eval);
  return &registration;
}

}  // namespace sbtf
