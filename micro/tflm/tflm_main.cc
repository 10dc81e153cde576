/*
 * tflm_main.cc - runs a .tflite through TFLite Micro's MicroInterpreter (with sbtf's ops) over a
 * batch of inputs compiled into the image, on a QEMU board (semihosting) or on the host.
 * Built once per target by micro/tflm/tflm.mk; sbtf/micro/tflm.py links it with a generated C
 * file holding the model, the inputs and the arena (the sbtf_tflm_* symbols below) and parses:
 *
 *   tflm-info arena=<bytes> arena_used=<bytes> inputs=<N>
 *   sbtf-out <i> <hex bytes of output i> <instructions of Invoke i>   (as micro/runtime/sbtf_main.c)
 *   tflm-op <index> <op name> <instructions>    (one profiled Invoke of input 0, after the batch)
 *   sbtf-error <what>                            (then exit code 2)
 *
 * Instructions come from the board's SysTick counter (exact under -icount shift=0; the host
 * prints 0). The batch runs without a profiler, so its counts are Invoke alone; the per-op pass
 * then builds a second interpreter in the same arena with a profiler that reads the counter
 * around each operator's invoke (TFLM's MicroProfilerInterface), one SysTick tick resolution.
 */
#include <stdint.h>
#include <stdio.h>

#include "sbtf_ops.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/micro/micro_profiler_interface.h"
#include "tensorflow/lite/schema/schema_generated.h"

/* Generated per model by sbtf/micro/tflm.py (16-byte aligned model and arena). */
extern "C" {
extern const uint8_t sbtf_tflm_model[];
extern const size_t sbtf_tflm_model_size;
extern const int8_t sbtf_tflm_inputs[]; /* num_inputs * input_size */
extern const int32_t sbtf_tflm_num_inputs;
extern const size_t sbtf_tflm_input_size;
extern uint8_t sbtf_tflm_arena[];
extern const size_t sbtf_tflm_arena_size;
}

#ifdef SBTF_TFLM_ON_BOARD
#include "sbtf_board.h"
#else
static void sbtf_counter_start(void) {}
static uint64_t sbtf_counter_read(void) { return 0; }
#endif

namespace {

/* Counts instructions per operator invoke (events never nest in MicroInterpreter::Invoke). */
class OpCounter : public tflite::MicroProfilerInterface {
 public:
  static constexpr uint32_t kMaxEvents = 512;
  uint32_t BeginEvent(const char *tag) override {
    if (n_ >= kMaxEvents) return kMaxEvents;
    tags_[n_] = tag;
    start_[n_] = sbtf_counter_read();
    return n_++;
  }
  void EndEvent(uint32_t handle) override {
    const uint64_t now = sbtf_counter_read();
    if (handle < n_) count_[handle] = now - start_[handle];
  }
  void Print() const {
    for (uint32_t i = 0; i < n_; ++i) {
      printf("tflm-op %lu %s %llu\n", (unsigned long)i, tags_[i],
             (unsigned long long)count_[i]);
    }
  }

 private:
  const char *tags_[kMaxEvents] = {};
  uint64_t start_[kMaxEvents] = {};
  uint64_t count_[kMaxEvents] = {};
  uint32_t n_ = 0;
};

using Resolver = tflite::MicroMutableOpResolver<14>;

/* The builtins sbtf's runtime supports (sbtf/micro/codegen/operators.py SUPPORTED_OPS) + sbtf's
 * ops. */
bool AddOps(Resolver &r) {
  return r.AddAdd() == kTfLiteOk && r.AddAveragePool2D() == kTfLiteOk &&
         r.AddMaxPool2D() == kTfLiteOk && r.AddConv2D() == kTfLiteOk &&
         r.AddDepthwiseConv2D() == kTfLiteOk && r.AddFullyConnected() == kTfLiteOk &&
         r.AddMean() == kTfLiteOk && r.AddReshape() == kTfLiteOk &&
         r.AddSoftmax() == kTfLiteOk && r.AddPad() == kTfLiteOk &&
         r.AddQuantize() == kTfLiteOk && sbtf::AddSbtfOps(r) == kTfLiteOk;
}

int Fail(const char *what) {
  printf("sbtf-error %s\n", what);
  return 2;
}

/* Sets up an interpreter and checks the model's one int8 input and output. */
int Prepare(tflite::MicroInterpreter &interpreter) {
  if (interpreter.AllocateTensors() != kTfLiteOk) return Fail("AllocateTensors failed");
  if (interpreter.inputs_size() != 1 || interpreter.outputs_size() != 1) {
    return Fail("the model must have one input and one output");
  }
  const TfLiteTensor *in = interpreter.input(0);
  const TfLiteTensor *out = interpreter.output(0);
  if (in->type != kTfLiteInt8 || out->type != kTfLiteInt8 || in->bytes != sbtf_tflm_input_size) {
    return Fail("input and output must be int8 and the input of the generated size");
  }
  return 0;
}

void SetInput(tflite::MicroInterpreter &interpreter, int32_t i) {
  const int8_t *x = sbtf_tflm_inputs + (size_t)i * sbtf_tflm_input_size;
  for (size_t k = 0; k < sbtf_tflm_input_size; ++k) interpreter.input(0)->data.int8[k] = x[k];
}

void PrintOutput(int32_t i, const TfLiteTensor *out, uint64_t instructions) {
  static const char hex[] = "0123456789abcdef";
  printf("sbtf-out %ld ", (long)i);
  for (size_t k = 0; k < out->bytes; ++k) {
    const uint8_t b = (uint8_t)out->data.int8[k];
    putchar(hex[b >> 4]);
    putchar(hex[b & 15]);
  }
  printf(" %llu\n", (unsigned long long)instructions);
}

}  // namespace

int main() {
  flatbuffers::Verifier verifier(sbtf_tflm_model, sbtf_tflm_model_size);
  if (!tflite::VerifyModelBuffer(verifier)) return Fail("the model is not a valid TFLite file");
  const tflite::Model *model = tflite::GetModel(sbtf_tflm_model);
  static Resolver resolver;
  if (!AddOps(resolver)) return Fail("op resolver too small");
  {
    tflite::MicroInterpreter interpreter(model, resolver, sbtf_tflm_arena, sbtf_tflm_arena_size);
    if (int st = Prepare(interpreter)) return st;
    printf("tflm-info arena=%lu arena_used=%lu inputs=%ld\n", (unsigned long)sbtf_tflm_arena_size,
           (unsigned long)interpreter.arena_used_bytes(), (long)sbtf_tflm_num_inputs);
    for (int32_t i = 0; i < sbtf_tflm_num_inputs; ++i) {
      SetInput(interpreter, i);
      sbtf_counter_start();
      const TfLiteStatus st = interpreter.Invoke();
      const uint64_t instructions = sbtf_counter_read();
      if (st != kTfLiteOk) return Fail("Invoke failed");
      PrintOutput(i, interpreter.output(0), instructions);
    }
  }
  static OpCounter counter;
  tflite::MicroInterpreter profiled(model, resolver, sbtf_tflm_arena, sbtf_tflm_arena_size, nullptr,
                                    &counter);
  if (int st = Prepare(profiled)) return st;
  SetInput(profiled, 0);
  sbtf_counter_start();
  if (profiled.Invoke() != kTfLiteOk) return Fail("Invoke failed");
  counter.Print();
  return 0;
}
