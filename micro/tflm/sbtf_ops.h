/*
 * sbtf_ops.h - sbtf's custom operators for TensorFlow Lite Micro.
 *
 * SBTF_CONV_2D, SBTF_FULLY_CONNECTED and SBTF_DEPTHWISE_CONV_2D as specified in
 * docs/op_spec.md, computed by the C kernels of sbtf_nn.h. Add all three to an op resolver with
 * one call:
 *
 *   tflite::MicroMutableOpResolver<8> resolver;
 *   if (sbtf::AddSbtfOps(resolver) != kTfLiteOk) { ... }
 *
 * Written against TFLM's TFLMRegistration API (tflite-micro commit 90b983c, 2026-08-20).
 */
#ifndef SBTF_TFLM_SBTF_OPS_H_
#define SBTF_TFLM_SBTF_OPS_H_

#include "sbtf_op_format.h"
#include "tensorflow/lite/c/common.h"
#include "tensorflow/lite/micro/micro_common.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"

namespace sbtf {

/** Custom op names, as the converter writes them into the model's operator codes. */
constexpr char kSbtfConv2dName[] = SBTF_OP_CONV_2D;
constexpr char kSbtfFullyConnectedName[] = SBTF_OP_FULLY_CONNECTED;
constexpr char kSbtfDepthwiseConv2dName[] = SBTF_OP_DEPTHWISE_CONV_2D;

/** Registrations for MicroMutableOpResolver::AddCustom (static storage, never freed). */
TFLMRegistration* Register_SBTF_CONV_2D();
TFLMRegistration* Register_SBTF_FULLY_CONNECTED();
TFLMRegistration* Register_SBTF_DEPTHWISE_CONV_2D();

/** Adds the sbtf ops to the resolver; needs three free slots in it. */
template <unsigned int N>
TfLiteStatus AddSbtfOps(tflite::MicroMutableOpResolver<N>& resolver) {
  TF_LITE_ENSURE_STATUS(resolver.AddCustom(kSbtfConv2dName, Register_SBTF_CONV_2D()));
  TF_LITE_ENSURE_STATUS(
      resolver.AddCustom(kSbtfFullyConnectedName, Register_SBTF_FULLY_CONNECTED()));
  return resolver.AddCustom(kSbtfDepthwiseConv2dName, Register_SBTF_DEPTHWISE_CONV_2D());
}

}  // namespace sbtf

#endif  // SBTF_TFLM_SBTF_OPS_H_
