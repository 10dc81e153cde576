/*
 * tflite_abi.h - the part of TensorFlow Lite's C ABI the sbtf delegate plugin touches.
 *
 * TensorFlow wheels ship no TFLite C headers, so these are our own declarations of the structs
 * in tensorflow/lite/core/c/common.h and c_api_types.h as built into TensorFlow 2.21 (the
 * version setup.py pins). Field order and types must match exactly: TFLite indexes
 * context->tensors as an array (sizeof(TfLiteTensor) matters), reads the TfLiteRegistration we
 * pass by value and the TfLiteDelegate we allocate. Structs we only reach through pointers
 * TFLite owns (TfLiteContext) stop after the last field we use.
 *
 * TF 2.21 still has the old TfLiteFloatArray {int size; float data[];}: its
 * TfLiteFloatArrayGetSizeInBytes computes 4 + 4 * size and there is no
 * TfLiteFloatArrayCreateView (newer sources switch to {float *data; int size; bool owning;}).
 * Check that again before moving the TensorFlow pin.
 */
#ifndef SBTF_TFLITE_ABI_H
#define SBTF_TFLITE_ABI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- c_api_types.h ---- */

typedef enum TfLiteStatus {
  kTfLiteOk = 0,
  kTfLiteError = 1,
  kTfLiteDelegateError = 2,
  kTfLiteApplicationError = 3,
} TfLiteStatus;

typedef enum {
  kTfLiteNoType = 0,
  kTfLiteFloat32 = 1,
  kTfLiteInt32 = 2,
  kTfLiteUInt8 = 3,
  kTfLiteInt64 = 4,
  kTfLiteString = 5,
  kTfLiteBool = 6,
  kTfLiteInt16 = 7,
  kTfLiteComplex64 = 8,
  kTfLiteInt8 = 9,
} TfLiteType;

typedef struct TfLiteQuantizationParams {
  float scale;
  int32_t zero_point;
} TfLiteQuantizationParams;

/* ---- common.h ---- */

#define kTfLiteOptionalTensor (-1)

typedef struct TfLiteIntArray {
  int size;
  int data[];
} TfLiteIntArray;

typedef struct TfLiteFloatArray {
  int size;
  float data[];
} TfLiteFloatArray;

typedef enum TfLiteQuantizationType {
  kTfLiteNoQuantization = 0,
  kTfLiteAffineQuantization = 1,
} TfLiteQuantizationType;

typedef struct TfLiteQuantization {
  TfLiteQuantizationType type;
  void *params;
} TfLiteQuantization;

typedef struct TfLiteAffineQuantization {
  TfLiteFloatArray *scale;
  TfLiteIntArray *zero_point;
  int32_t quantized_dimension;
} TfLiteAffineQuantization;

typedef union TfLitePtrUnion {
  int32_t *i32;
  uint8_t *uint8;
  int8_t *int8;
  const char *raw_const;
  void *data;
} TfLitePtrUnion;

typedef enum TfLiteAllocationType {
  kTfLiteMemNone = 0,
  kTfLiteMmapRo,
  kTfLiteArenaRw,
  kTfLiteArenaRwPersistent,
  kTfLiteDynamic,
  kTfLitePersistentRo,
  kTfLiteCustom,
  kTfLiteVariantObject,
} TfLiteAllocationType;

typedef int TfLiteBufferHandle;

struct TfLiteContext;
struct TfLiteDelegate;
struct TfLiteRegistration;

typedef struct TfLiteTensor {
  TfLiteType type;
  TfLitePtrUnion data;
  TfLiteIntArray *dims;
  TfLiteQuantizationParams params; /* legacy per-tensor scale / zero point */
  TfLiteAllocationType allocation_type;
  size_t bytes;
  const void *allocation;
  const char *name;
  struct TfLiteDelegate *delegate;
  TfLiteBufferHandle buffer_handle;
  bool data_is_stale;
  bool is_variable;
  TfLiteQuantization quantization;
  void *sparsity; /* TfLiteSparsity*: non-NULL for a sparse tensor, which sbtf refuses */
  const TfLiteIntArray *dims_signature;
} TfLiteTensor;

typedef struct TfLiteNode {
  TfLiteIntArray *inputs;
  TfLiteIntArray *outputs;
  TfLiteIntArray *intermediates;
  TfLiteIntArray *temporaries;
  void *user_data;
  void *builtin_data; /* for a delegate kernel node: its TfLiteDelegateParams */
  const void *custom_initial_data;
  int custom_initial_data_size;
  struct TfLiteDelegate *delegate;
  bool might_have_side_effect;
} TfLiteNode;

typedef struct TfLiteDelegateParams {
  struct TfLiteDelegate *delegate;
  TfLiteIntArray *nodes_to_replace;
  TfLiteIntArray *input_tensors;
  TfLiteIntArray *output_tensors;
} TfLiteDelegateParams;

/* Only the leading fields, up to the last one the plugin uses; TFLite allocates it. */
typedef struct TfLiteContext {
  size_t tensors_size;
  TfLiteStatus (*GetExecutionPlan)(struct TfLiteContext *context,
                                   TfLiteIntArray **execution_plan);
  TfLiteTensor *tensors;
  void *impl_;
  /* Takes ownership of new_size, which TFLite releases with free(). */
  TfLiteStatus (*ResizeTensor)(struct TfLiteContext *context, TfLiteTensor *tensor,
                               TfLiteIntArray *new_size);
  void (*ReportError)(struct TfLiteContext *context, const char *msg, ...);
  TfLiteStatus (*AddTensors)(struct TfLiteContext *context, int tensors_to_add,
                             int *first_new_tensor_index);
  TfLiteStatus (*GetNodeAndRegistration)(struct TfLiteContext *context, int node_index,
                                         TfLiteNode **node,
                                         struct TfLiteRegistration **registration);
  TfLiteStatus (*ReplaceNodeSubsetsWithDelegateKernels)(struct TfLiteContext *context,
                                                        struct TfLiteRegistration registration,
                                                        const TfLiteIntArray *nodes_to_replace,
                                                        struct TfLiteDelegate *delegate);
  /* ... more fields follow in TFLite; never accessed here. */
} TfLiteContext;

/* Complete: passed by value to ReplaceNodeSubsetsWithDelegateKernels. */
typedef struct TfLiteRegistration {
  void *(*init)(TfLiteContext *context, const char *buffer, size_t length);
  void (*free)(TfLiteContext *context, void *buffer);
  TfLiteStatus (*prepare)(TfLiteContext *context, TfLiteNode *node);
  TfLiteStatus (*invoke)(TfLiteContext *context, TfLiteNode *node);
  const char *(*profiling_string)(const TfLiteContext *context, const TfLiteNode *node);
  int32_t builtin_code;
  const char *custom_name;
  int version;
  void *registration_external; /* TfLiteOperator* */
  void *(*async_kernel)(TfLiteContext *context, TfLiteNode *node);
  uint64_t inplace_operator;
} TfLiteRegistration;

enum {
  kTfLiteBuiltinCustom = 32, /* BuiltinOperator_CUSTOM in schema.fbs */
};

typedef enum TfLiteDelegateFlags {
  kTfLiteDelegateFlagsNone = 0,
  kTfLiteDelegateFlagsAllowDynamicTensors = 1,
} TfLiteDelegateFlags;

/* Complete: the plugin allocates it and TFLite reads every field. */
typedef struct TfLiteDelegate {
  void *data_;
  TfLiteStatus (*Prepare)(TfLiteContext *context, struct TfLiteDelegate *delegate);
  TfLiteStatus (*CopyFromBufferHandle)(TfLiteContext *context, struct TfLiteDelegate *delegate,
                                       TfLiteBufferHandle buffer_handle, TfLiteTensor *tensor);
  TfLiteStatus (*CopyToBufferHandle)(TfLiteContext *context, struct TfLiteDelegate *delegate,
                                     TfLiteBufferHandle buffer_handle, TfLiteTensor *tensor);
  void (*FreeBufferHandle)(TfLiteContext *context, struct TfLiteDelegate *delegate,
                           TfLiteBufferHandle *handle);
  int64_t flags;
  void *opaque_delegate_builder; /* TfLiteOpaqueDelegateBuilder*, must stay NULL */
} TfLiteDelegate;

#if defined(__x86_64__) || defined(__aarch64__)
/* LP64 sizes of TF 2.21's structs: a mismatch here means the declarations above drifted.
   (C99 has no _Static_assert: a negative array size fails the build.) */
#define SBTF_ABI_CHECK(name, cond) typedef char sbtf_abi_check_##name[(cond) ? 1 : -1]
SBTF_ABI_CHECK(tensor_size, sizeof(TfLiteTensor) == 112);
SBTF_ABI_CHECK(tensor_quantization, offsetof(TfLiteTensor, quantization) == 80);
SBTF_ABI_CHECK(node_size, sizeof(TfLiteNode) == 80);
SBTF_ABI_CHECK(node_custom_data, offsetof(TfLiteNode, custom_initial_data) == 48);
SBTF_ABI_CHECK(registration_size, sizeof(TfLiteRegistration) == 88);
SBTF_ABI_CHECK(delegate_size, sizeof(TfLiteDelegate) == 56);
#endif

#endif /* SBTF_TFLITE_ABI_H */
