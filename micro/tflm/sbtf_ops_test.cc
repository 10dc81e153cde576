// Unit tests of SBTF_CONV_2D, SBTF_DEPTHWISE_CONV_2D and SBTF_FULLY_CONNECTED in TFLM's
// kernel-test style (one source for host and board). Golden outputs come from the NumPy reference
// (gen_sbtf_ops_test_data.py). Conv and depthwise cases also run through TFLM's builtin int8
// CONV_2D / DEPTHWISE_CONV_2D on the decoded weights, which must agree bit for bit
// (docs/op_spec.md). Fully connected has no such
// cross-check: SBTF_FULLY_CONNECTED rounds once, like TF's interpreter, while TFLM's builtin
// FULLY_CONNECTED rounds twice unless built with TFLITE_SINGLE_ROUNDING=1.
// Negative tests: malformed custom options, wrong shapes and types.
#include <stdint.h>
#include <string.h>

#include "sbtf_ops.h"
#include "sbtf_ops_test_data.h"
#include "tensorflow/lite/c/builtin_op_data.h"
#include "tensorflow/lite/c/common.h"
#include "tensorflow/lite/micro/kernels/conv.h"
#include "tensorflow/lite/micro/kernels/depthwise_conv.h"
#include "tensorflow/lite/micro/kernels/kernel_runner.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/micro/test_helpers.h"
#include "tensorflow/lite/micro/testing/micro_test.h"

namespace {

using sbtf_test::GoldenCase;

constexpr int kMaxElements = 512;  // largest tensor in the golden set
constexpr int kMaxWeights = 2048;  // C_out * K of the largest filter
constexpr int kMaxChannels = 64;

// TFLM's FloatArrayFromFloats rewrites its argument in place (the count becomes an int), so it
// gets a fresh mutable copy of the case's constant scales each time.
TfLiteFloatArray* ScalesArray(const float* scales, float* storage) {
  memcpy(storage, scales, (static_cast<int>(scales[0]) + 1) * sizeof(float));
  return tflite::testing::FloatArrayFromFloats(storage);
}

// The tensors of one invocation; tests mutate them before running to make them invalid.
struct Invocation {
  TfLiteTensor tensors[5];  // input, mask, sign, bias, output
  int inputs[5];            // TFLM int-array layout: count first
  int outputs[2];
  int bias_dims[2];
  TfLiteAffineQuantization sign_quant;
  float sign_scales[kMaxChannels + 1];
  uint8_t mask[kMaxWeights / 8];  // mutable copy of the case's mask
  int8_t output[kMaxElements];
};

int ElementCount(const int* dims) {
  int n = 1;
  for (int i = 1; i <= dims[0]; ++i) n *= dims[i];
  return n;
}

void Setup(const GoldenCase& c, Invocation* inv) {
  using tflite::testing::CreateQuantizedTensor;
  using tflite::testing::CreateTensor;
  using tflite::testing::IntArrayFromInts;
  memcpy(inv->mask, c.mask, ElementCount(c.mask_dims));
  inv->tensors[0] = CreateQuantizedTensor(c.input, IntArrayFromInts(c.input_dims), c.input_scale,
                                          c.input_zero_point);
  inv->tensors[1] = CreateTensor(inv->mask, IntArrayFromInts(c.mask_dims));
  inv->tensors[2] = CreateTensor(c.sign, IntArrayFromInts(c.sign_dims));
  inv->sign_quant.scale = ScalesArray(c.sign_scales, inv->sign_scales);
  inv->sign_quant.zero_point = IntArrayFromInts(c.sign_zero_points);
  inv->sign_quant.quantized_dimension = 0;
  inv->tensors[2].quantization = {kTfLiteAffineQuantization, &inv->sign_quant};
  // Weights are constant in a converted model; the glue validates constant data in Prepare.
  inv->tensors[1].allocation_type = kTfLiteMmapRo;
  inv->tensors[2].allocation_type = kTfLiteMmapRo;
  inv->bias_dims[0] = 1;
  inv->bias_dims[1] = c.filter[0];
  inv->tensors[3] = CreateTensor(c.bias, IntArrayFromInts(inv->bias_dims));
  inv->tensors[4] = CreateQuantizedTensor(inv->output, IntArrayFromInts(c.output_dims),
                                          c.output_scale, c.output_zero_point);
  const int with_bias[] = {4, 0, 1, 2, 3};
  const int without_bias[] = {4, 0, 1, 2, -1};  // the converter's "absent" index
  memcpy(inv->inputs, c.bias != nullptr ? with_bias : without_bias, sizeof(inv->inputs));
  inv->outputs[0] = 1;
  inv->outputs[1] = 4;
  memset(inv->output, 0x5A, sizeof(inv->output));
}

// InitAndPrepare, then Invoke when that succeeded; returns the first failing status.
TfLiteStatus Run(const TFLMRegistration& registration, Invocation* inv, const uint8_t* options,
                 size_t options_size) {
  tflite::micro::KernelRunner runner(registration, inv->tensors, 5,
                                     tflite::testing::IntArrayFromInts(inv->inputs),
                                     tflite::testing::IntArrayFromInts(inv->outputs), nullptr);
  TfLiteStatus status =
      runner.InitAndPrepare(reinterpret_cast<const char*>(options), options_size);
  if (status != kTfLiteOk) return status;
  return runner.Invoke();
}

bool OutputMatches(const GoldenCase& c, const int8_t* output) {
  const int n = ElementCount(c.output_dims);
  for (int i = 0; i < n; ++i) {
    if (output[i] != c.expected[i]) {
      MicroPrintf("%s: output[%d] = %d, expected %d", c.name, i, output[i], c.expected[i]);
      return false;
    }
  }
  return true;
}

// int8 weights [C_out, K] the op stands for: sign * 127 at the set bits.
void DecodeWeights(const GoldenCase& c, int8_t* weights) {
  const int c_out = c.filter[0];
  const int k = c.filter[1] * c.filter[2] * c.filter[3];
  const int row_bytes = c.mask_dims[2];
  for (int o = 0; o < c_out; ++o) {
    for (int i = 0; i < k; ++i) {
      const bool set = (c.mask[o * row_bytes + i / 8] >> (i % 8)) & 1;
      weights[o * k + i] = set ? static_cast<int8_t>(127 * c.sign[o]) : 0;
    }
  }
}

// The same case through TFLM's builtin int8 CONV_2D, or DEPTHWISE_CONV_2D (filter [1, KH, KW,
// C_out]) when c.conv.depth_multiplier > 0.
TfLiteStatus RunBuiltinConv(const GoldenCase& c, int8_t* output) {
  using tflite::testing::CreateQuantizedTensor;
  using tflite::testing::CreateTensor;
  using tflite::testing::IntArrayFromInts;
  const bool depthwise = c.conv.depth_multiplier > 0;
  static int8_t decoded[kMaxWeights], weights[kMaxWeights];
  DecodeWeights(c, decoded);
  const int c_out = c.filter[0], taps = c.filter[1] * c.filter[2];
  for (int i = 0; i < c_out * taps * c.filter[3]; ++i) {  // depthwise: [C_out, K] -> [K, C_out]
    weights[i] = depthwise ? decoded[(i % c_out) * taps + i / c_out] : decoded[i];
  }
  int conv_filter_dims[] = {4, c_out, c.filter[1], c.filter[2], c.filter[3]};
  int depthwise_filter_dims[] = {4, 1, c.filter[1], c.filter[2], c_out};
  int bias_dims[] = {1, c_out};
  TfLiteAffineQuantization filter_quant = {};
  static float scales[kMaxChannels + 1];
  filter_quant.scale = ScalesArray(c.sign_scales, scales);
  filter_quant.zero_point = IntArrayFromInts(c.sign_zero_points);
  filter_quant.quantized_dimension = depthwise ? 3 : 0;
  int* filter_dims = depthwise ? depthwise_filter_dims : conv_filter_dims;
  // TFLM's DEPTHWISE_CONV_2D trips the kernel runner's temp-tensor check on an absent (-1)
  // bias: give it zeros instead (the same output).
  static const int32_t zero_bias[kMaxChannels] = {};
  const int32_t* bias = c.bias == nullptr && depthwise ? zero_bias : c.bias;
  TfLiteTensor tensors[4] = {
      CreateQuantizedTensor(c.input, IntArrayFromInts(c.input_dims), c.input_scale,
                            c.input_zero_point),
      CreateTensor(weights, IntArrayFromInts(filter_dims)),
      CreateTensor(bias, IntArrayFromInts(bias_dims)),
      CreateQuantizedTensor(output, IntArrayFromInts(c.output_dims), c.output_scale,
                            c.output_zero_point),
  };
  tensors[1].quantization = {kTfLiteAffineQuantization, &filter_quant};
  int inputs_with_bias[] = {3, 0, 1, 2};
  int inputs_without_bias[] = {3, 0, 1, -1};
  int outputs[] = {1, 3};
  TfLiteConvParams params = {};
  params.padding = static_cast<TfLitePadding>(c.conv.padding);
  params.stride_height = c.conv.stride_h;
  params.stride_width = c.conv.stride_w;
  params.dilation_height_factor = c.conv.dilation_h;
  params.dilation_width_factor = c.conv.dilation_w;
  params.activation = static_cast<TfLiteFusedActivation>(c.activation);
  TfLiteDepthwiseConvParams dw_params = {};
  dw_params.padding = params.padding;
  dw_params.stride_height = params.stride_height;
  dw_params.stride_width = params.stride_width;
  dw_params.dilation_height_factor = params.dilation_height_factor;
  dw_params.dilation_width_factor = params.dilation_width_factor;
  dw_params.activation = params.activation;
  dw_params.depth_multiplier = c.conv.depth_multiplier;
  const TFLMRegistration registration =
      depthwise ? tflite::Register_DEPTHWISE_CONV_2D() : tflite::Register_CONV_2D();
  tflite::micro::KernelRunner runner(
      registration, tensors, 4,
      IntArrayFromInts(bias != nullptr ? inputs_with_bias : inputs_without_bias),
      IntArrayFromInts(outputs), depthwise ? static_cast<void*>(&dw_params) : &params);
  TF_LITE_ENSURE_STATUS(runner.InitAndPrepare());
  return runner.Invoke();
}

// Init alone, with a context that only hands out persistent memory (all Init may use).
uint8_t init_arena[256];
size_t init_arena_used = 0;

void* StubAllocatePersistentBuffer(TfLiteContext*, size_t bytes) {
  bytes = (bytes + 15) & ~static_cast<size_t>(15);
  if (init_arena_used + bytes > sizeof(init_arena)) return nullptr;
  void* p = init_arena + init_arena_used;
  init_arena_used += bytes;
  return p;
}

void* InitOnly(const TFLMRegistration& registration, const uint8_t* options, size_t size) {
  TfLiteContext context = {};
  context.AllocatePersistentBuffer = StubAllocatePersistentBuffer;
  init_arena_used = 0;
  return registration.init(&context, reinterpret_cast<const char*>(options), size);
}

// Setup(c), then `spoil` the invocation: Init or Prepare must then fail.
template <typename Spoil>
void ExpectPrepareFails(const char* what, const TFLMRegistration& reg, const GoldenCase& c,
                        Invocation* inv, Spoil spoil) {
  MicroPrintf("  %s:", what);
  Setup(c, inv);
  spoil(inv);
  TF_LITE_MICRO_EXPECT_EQ(kTfLiteError, Run(reg, inv, c.options, c.options_size));
}

}  // namespace

TF_LITE_MICRO_TESTS_BEGIN

TF_LITE_MICRO_TEST(ConvMatchesReferenceAndBuiltin) {
  for (const GoldenCase& c : sbtf_test::kConvCases) {
    static Invocation inv;
    Setup(c, &inv);
    TF_LITE_MICRO_EXPECT_EQ(kTfLiteOk, Run(*sbtf::Register_SBTF_CONV_2D(), &inv, c.options,
                                           c.options_size));
    TF_LITE_MICRO_EXPECT(OutputMatches(c, inv.output));
    static int8_t builtin[kMaxElements];
    TF_LITE_MICRO_EXPECT_EQ(kTfLiteOk, RunBuiltinConv(c, builtin));
    TF_LITE_MICRO_EXPECT(OutputMatches(c, builtin));
  }
}

TF_LITE_MICRO_TEST(DepthwiseConvMatchesReferenceAndBuiltin) {
  for (const GoldenCase& c : sbtf_test::kDepthwiseConvCases) {
    static Invocation inv;
    Setup(c, &inv);
    TF_LITE_MICRO_EXPECT_EQ(kTfLiteOk, Run(*sbtf::Register_SBTF_DEPTHWISE_CONV_2D(), &inv,
                                           c.options, c.options_size));
    TF_LITE_MICRO_EXPECT(OutputMatches(c, inv.output));
    static int8_t builtin[kMaxElements];
    TF_LITE_MICRO_EXPECT_EQ(kTfLiteOk, RunBuiltinConv(c, builtin));
    TF_LITE_MICRO_EXPECT(OutputMatches(c, builtin));
  }
}

TF_LITE_MICRO_TEST(FullyConnectedMatchesReference) {
  for (const GoldenCase& c : sbtf_test::kFullyConnectedCases) {
    static Invocation inv;
    Setup(c, &inv);
    TF_LITE_MICRO_EXPECT_EQ(kTfLiteOk, Run(*sbtf::Register_SBTF_FULLY_CONNECTED(), &inv,
                                           c.options, c.options_size));
    TF_LITE_MICRO_EXPECT(OutputMatches(c, inv.output));
  }
}

TF_LITE_MICRO_TEST(GoodOptionsInit) {
  const GoldenCase& conv = sbtf_test::kConvCases[0];
  const GoldenCase& fc = sbtf_test::kFullyConnectedCases[0];
  TF_LITE_MICRO_EXPECT(InitOnly(*sbtf::Register_SBTF_CONV_2D(), conv.options,
                                conv.options_size) != nullptr);
  TF_LITE_MICRO_EXPECT(InitOnly(*sbtf::Register_SBTF_FULLY_CONNECTED(), fc.options,
                                fc.options_size) != nullptr);
  const GoldenCase& dw = sbtf_test::kDepthwiseConvCases[0];
  TF_LITE_MICRO_EXPECT(InitOnly(*sbtf::Register_SBTF_DEPTHWISE_CONV_2D(), dw.options,
                                dw.options_size) != nullptr);
}

TF_LITE_MICRO_TEST(MalformedOptionsFailInit) {
  for (const sbtf_test::BadOptions& bad : sbtf_test::kBadConvOptions) {
    MicroPrintf("  options %s:", bad.name);
    TF_LITE_MICRO_EXPECT(InitOnly(*sbtf::Register_SBTF_CONV_2D(), bad.data, bad.size) ==
                         nullptr);
  }
  for (const sbtf_test::BadOptions& bad : sbtf_test::kBadFullyConnectedOptions) {
    MicroPrintf("  options %s:", bad.name);
    TF_LITE_MICRO_EXPECT(InitOnly(*sbtf::Register_SBTF_FULLY_CONNECTED(), bad.data, bad.size) ==
                         nullptr);
  }
  for (const sbtf_test::BadOptions& bad : sbtf_test::kBadDepthwiseConvOptions) {
    MicroPrintf("  options %s:", bad.name);
    TF_LITE_MICRO_EXPECT(InitOnly(*sbtf::Register_SBTF_DEPTHWISE_CONV_2D(), bad.data, bad.size) ==
                         nullptr);
  }
  // No options at all, and options of the other op.
  TF_LITE_MICRO_EXPECT(InitOnly(*sbtf::Register_SBTF_CONV_2D(), nullptr, 0) == nullptr);
  const GoldenCase& fc = sbtf_test::kFullyConnectedCases[0];
  TF_LITE_MICRO_EXPECT(InitOnly(*sbtf::Register_SBTF_CONV_2D(), fc.options, fc.options_size) ==
                       nullptr);
}

TF_LITE_MICRO_TEST(CorruptedOptionsNeverCrash) {
  // Every single-bit flip of valid options: Init may accept (e.g. a changed value still in
  // range) or reject, but must never read outside the buffer (run under ASan on the host).
  const GoldenCase& c = sbtf_test::kConvCases[0];
  static uint8_t corrupted[256];
  TF_LITE_MICRO_EXPECT(c.options_size <= sizeof(corrupted));
  int rejected = 0;
  for (size_t i = 0; i < c.options_size; ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      memcpy(corrupted, c.options, c.options_size);
      corrupted[i] ^= static_cast<uint8_t>(1u << bit);
      if (InitOnly(*sbtf::Register_SBTF_CONV_2D(), corrupted, c.options_size) == nullptr) {
        ++rejected;
      }
    }
  }
  MicroPrintf("  %d of %d bit flips rejected", rejected, static_cast<int>(c.options_size * 8));
  TF_LITE_MICRO_EXPECT_GT(rejected, 0);
}

TF_LITE_MICRO_TEST(MalformedOptionsFailPrepare) {
  // Through the whole Init/Prepare path: a rejected Init must not crash Prepare.
  const GoldenCase& c = sbtf_test::kConvCases[0];
  const sbtf_test::BadOptions& bad = sbtf_test::kBadConvOptions[0];
  static Invocation inv;
  Setup(c, &inv);
  TF_LITE_MICRO_EXPECT_EQ(kTfLiteError,
                          Run(*sbtf::Register_SBTF_CONV_2D(), &inv, bad.data, bad.size));
}

TF_LITE_MICRO_TEST(ConvBadTensorsFailPrepare) {
  const GoldenCase& c = sbtf_test::kConvCases[0];
  const TFLMRegistration& reg = *sbtf::Register_SBTF_CONV_2D();
  static Invocation inv;
  int short_mask[] = {2, c.mask_dims[1], c.mask_dims[2] - 1};
  int flat_mask[] = {1, c.mask_dims[1] * c.mask_dims[2]};
  int wrong_channels[] = {4, c.input_dims[1], c.input_dims[2], c.input_dims[3],
                          c.input_dims[4] + 1};
  int wrong_output[] = {4, c.output_dims[1], c.output_dims[2] + 1, c.output_dims[3],
                        c.output_dims[4]};
  int short_bias[] = {1, c.filter[0] - 1};

  ExpectPrepareFails("mask one byte short per row", reg, c, &inv, [&](Invocation* i) {
    i->tensors[1].dims = tflite::testing::IntArrayFromInts(short_mask);
  });
  ExpectPrepareFails("mask not 2-D", reg, c, &inv, [&](Invocation* i) {
    i->tensors[1].dims = tflite::testing::IntArrayFromInts(flat_mask);
  });
  ExpectPrepareFails("mask int8 instead of uint8", reg, c, &inv, [&](Invocation* i) {
    i->tensors[1].type = kTfLiteInt8;
  });
  ExpectPrepareFails("mask padding bit set", reg, c, &inv, [&](Invocation* i) {
    i->mask[c.mask_dims[2] - 1] |= 0x80;  // last bit of row 0 is padding (K = 27)
  });
  ExpectPrepareFails("input int16", reg, c, &inv, [&](Invocation* i) {
    i->tensors[0].type = kTfLiteInt16;
  });
  ExpectPrepareFails("output float32", reg, c, &inv, [&](Invocation* i) {
    i->tensors[4].type = kTfLiteFloat32;
  });
  ExpectPrepareFails("input channels differ from the options", reg, c, &inv, [&](Invocation* i) {
    i->tensors[0].dims = tflite::testing::IntArrayFromInts(wrong_channels);
  });
  ExpectPrepareFails("output shape wrong", reg, c, &inv, [&](Invocation* i) {
    i->tensors[4].dims = tflite::testing::IntArrayFromInts(wrong_output);
  });
  ExpectPrepareFails("bias int8", reg, c, &inv, [&](Invocation* i) {
    i->tensors[3].type = kTfLiteInt8;
  });
  ExpectPrepareFails("bias too short", reg, c, &inv, [&](Invocation* i) {
    i->tensors[3].dims = tflite::testing::IntArrayFromInts(short_bias);
  });
  static int8_t bad_sign[64];
  ExpectPrepareFails("sign value 2", reg, c, &inv, [&](Invocation* i) {
    memcpy(bad_sign, c.sign, c.filter[0]);
    bad_sign[1] = 2;
    i->tensors[2].data.int8 = bad_sign;
  });
  ExpectPrepareFails("sign without quantization", reg, c, &inv, [&](Invocation* i) {
    i->tensors[2].quantization = {kTfLiteNoQuantization, nullptr};
  });
  ExpectPrepareFails("input without quantization", reg, c, &inv, [&](Invocation* i) {
    i->tensors[0].quantization = {kTfLiteNoQuantization, nullptr};
  });
  ExpectPrepareFails("two inputs only", reg, c, &inv, [&](Invocation* i) { i->inputs[0] = 2; });

  // The unmodified case still passes after all of the above (no state leaks between runs).
  Setup(c, &inv);
  TF_LITE_MICRO_EXPECT_EQ(kTfLiteOk, Run(reg, &inv, c.options, c.options_size));
  TF_LITE_MICRO_EXPECT(OutputMatches(c, inv.output));
}

TF_LITE_MICRO_TEST(FullyConnectedBadTensorsFailPrepare) {
  const GoldenCase& c = sbtf_test::kFullyConnectedCases[0];  // [2, 37] -> [2, 5]
  const TFLMRegistration& reg = *sbtf::Register_SBTF_FULLY_CONNECTED();
  static Invocation inv;
  int long_mask[] = {2, c.mask_dims[1], c.mask_dims[2] + 4};
  int odd_input[] = {2, c.input_dims[1], c.input_dims[2] - 1};
  int wrong_output[] = {2, c.output_dims[1] + 1, c.output_dims[2]};
  int three_d_output[] = {3, 1, c.output_dims[1], c.output_dims[2]};
  int few_signs[] = {1, c.filter[0] - 1};

  ExpectPrepareFails("mask 4 bytes too long per row", reg, c, &inv, [&](Invocation* i) {
    i->tensors[1].dims = tflite::testing::IntArrayFromInts(long_mask);
  });
  ExpectPrepareFails("input not a whole number of rows", reg, c, &inv, [&](Invocation* i) {
    i->tensors[0].dims = tflite::testing::IntArrayFromInts(odd_input);
  });
  ExpectPrepareFails("output batches wrong", reg, c, &inv, [&](Invocation* i) {
    i->tensors[4].dims = tflite::testing::IntArrayFromInts(wrong_output);
  });
  ExpectPrepareFails("output rank wrong without keep_num_dims", reg, c, &inv, [&](Invocation* i) {
    i->tensors[4].dims = tflite::testing::IntArrayFromInts(three_d_output);
  });
  ExpectPrepareFails("sign shorter than the mask", reg, c, &inv, [&](Invocation* i) {
    i->tensors[2].dims = tflite::testing::IntArrayFromInts(few_signs);
  });
  ExpectPrepareFails("input uint8", reg, c, &inv, [&](Invocation* i) {
    i->tensors[0].type = kTfLiteUInt8;
  });

  Setup(c, &inv);
  TF_LITE_MICRO_EXPECT_EQ(kTfLiteOk, Run(reg, &inv, c.options, c.options_size));
  TF_LITE_MICRO_EXPECT(OutputMatches(c, inv.output));
}

TF_LITE_MICRO_TEST(DepthwiseBadTensorsFailPrepare) {
  // What only depthwise checks: K = KH * KW (not KH * KW * C_in) and C_out = C_in * M.
  using tflite::testing::IntArrayFromInts;
  const GoldenCase& c = sbtf_test::kDepthwiseConvCases[0];  // 3 channels, M = 2, 3x3
  const TFLMRegistration& reg = *sbtf::Register_SBTF_DEPTHWISE_CONV_2D();
  static Invocation inv;
  const int c_in = c.input_dims[4], c_out = c.filter[0];
  int conv_rows[] = {2, c_out, (c.filter[1] * c.filter[2] * c_in + 7) / 8};
  int few_mask[] = {2, c_in, c.mask_dims[2]};
  int few_channels[] = {1, c_in};
  int few_output[] = {4, c.output_dims[1], c.output_dims[2], c.output_dims[3], c_in};
  int one_zero_point[] = {1, 0};

  ExpectPrepareFails("mask rows sized for a conv filter (K = KH * KW * C_in)", reg, c, &inv,
                     [&](Invocation* i) { i->tensors[1].dims = IntArrayFromInts(conv_rows); });
  ExpectPrepareFails("C_out = C_in instead of C_in * depth_multiplier", reg, c, &inv,
                     [&](Invocation* i) {
                       i->tensors[1].dims = IntArrayFromInts(few_mask);
                       i->tensors[2].dims = IntArrayFromInts(few_channels);
                       i->tensors[3].dims = IntArrayFromInts(few_channels);
                       i->tensors[4].dims = IntArrayFromInts(few_output);
                       i->sign_quant.scale->size = 1;  // per tensor: valid for any C_out
                       i->sign_quant.zero_point = IntArrayFromInts(one_zero_point);
                     });

  Setup(c, &inv);
  TF_LITE_MICRO_EXPECT_EQ(kTfLiteOk, Run(reg, &inv, c.options, c.options_size));
  TF_LITE_MICRO_EXPECT(OutputMatches(c, inv.output));
}

TF_LITE_MICRO_TEST(AddSbtfOpsRegistersAll) {
  tflite::MicroMutableOpResolver<4> resolver;
  TF_LITE_MICRO_EXPECT_EQ(kTfLiteOk, sbtf::AddSbtfOps(resolver));
  const TFLMRegistration* conv = resolver.FindOp("SBTF_CONV_2D");
  const TFLMRegistration* fc = resolver.FindOp("SBTF_FULLY_CONNECTED");
  TF_LITE_MICRO_EXPECT(conv != nullptr && conv->invoke == sbtf::Register_SBTF_CONV_2D()->invoke);
  TF_LITE_MICRO_EXPECT(fc != nullptr &&
                       fc->invoke == sbtf::Register_SBTF_FULLY_CONNECTED()->invoke);
  TF_LITE_MICRO_EXPECT(conv != nullptr && fc != nullptr && conv->invoke != fc->invoke);
  const TFLMRegistration* dw = resolver.FindOp("SBTF_DEPTHWISE_CONV_2D");
  TF_LITE_MICRO_EXPECT(dw != nullptr &&
                       dw->invoke == sbtf::Register_SBTF_DEPTHWISE_CONV_2D()->invoke);
  TF_LITE_MICRO_EXPECT(resolver.FindOp("SBTF_NO_SUCH_OP") == nullptr);
  // Adding twice is an error (TFLM refuses duplicate custom ops), as is a full resolver.
  TF_LITE_MICRO_EXPECT_EQ(kTfLiteError, sbtf::AddSbtfOps(resolver));
  tflite::MicroMutableOpResolver<2> small;
  TF_LITE_MICRO_EXPECT_EQ(kTfLiteError, sbtf::AddSbtfOps(small));
}

TF_LITE_MICRO_TESTS_END
