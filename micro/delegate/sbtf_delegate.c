/*
 * sbtf_delegate.c - TensorFlow Lite delegate plugin running the sbtf custom ops
 * (docs/op_spec.md) with sbtf's C kernels (micro/src, sbtf_nn.h): the common part.
 *
 * Loaded by tf.lite.experimental.load_delegate() through the external-delegate plugin entry
 * points at the end of this file. The interpreter accepts a model whose sbtf custom ops it
 * cannot resolve; this delegate claims exactly the nodes whose custom name is in its op table
 * (OPS below, one file per op: sbtf_delegate_<op>.c), one delegate kernel per node, and every
 * other op stays with TFLite's builtin kernels.
 *
 * Life cycle of one claimed node: Init (inside the delegate's Prepare, the only time the
 * original node is reachable) copies its tensor indices and parses its FlexBuffer options;
 * Prepare (every AllocateTensors) checks tensors, then the op sizes the output and computes the
 * requantization and the scratch buffer; Invoke calls the op's kernel. A malformed node is
 * reported at Prepare, so the Python caller gets the error from allocate_tensors() and nothing
 * crashes. Host code: unlike the micro kernels this glue may allocate (in Init/Prepare, freed
 * in Free).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbtf_delegate.h"

#if defined(__GNUC__)
#define SBTF_EXPORT __attribute__((visibility("default")))
#else
#define SBTF_EXPORT
#endif

/* The ops this delegate runs; tests/test_delegate.py checks it holds every op of the spec. */
static const sbtf_delegate_op *const OPS[] = {
    &sbtf_delegate_conv_2d, &sbtf_delegate_fully_connected, &sbtf_delegate_depthwise_conv_2d};

const sbtf_delegate_op *sbtf_delegate_find_op(const char *name) {
  for (size_t i = 0; name != NULL && i < sizeof(OPS) / sizeof(OPS[0]); i++) {
    if (strcmp(OPS[i]->name, name) == 0) return OPS[i];
  }
  return NULL;
}

TfLiteStatus sbtf_fail(TfLiteContext *context, const sbtf_node *node, const char *fmt, ...) {
  char message[384];
  va_list args;
  va_start(args, fmt);
  vsnprintf(message, sizeof(message), fmt, args);
  va_end(args);
  const char *name = NULL;
  if (node->output >= 0 && (size_t)node->output < context->tensors_size) {
    name = context->tensors[node->output].name;
  }
  context->ReportError(context, "%s (node %d, output tensor '%s'): %s",
                       node->kind ? node->kind->name : "sbtf op", node->node_index,
                       name ? name : "?", message);
  return kTfLiteError;
}

static const char *status_name(sbtf_status status) {
  switch (status) {
    case SBTF_OK: return "ok";
    case SBTF_ERROR_NULL_ARGUMENT: return "null argument";
    case SBTF_ERROR_BAD_SHAPE: return "bad shape";
    case SBTF_ERROR_BAD_PARAM: return "bad parameter";
    case SBTF_ERROR_BUFFER_SIZE: return "scratch buffer too small";
  }
  return "unknown status";
}

/* ---------------------------------------------------------------- options (Init) */

static const char *flex_problem(sbtf_flex_status status) {
  switch (status) {
    case SBTF_FLEX_MISSING: return "is missing";
    case SBTF_FLEX_WRONG_TYPE: return "has the wrong type";
    case SBTF_FLEX_RANGE: return "is out of range";
    default: return "could not be read";
  }
}

bool sbtf_option_int(sbtf_node *node, const sbtf_flex_map *map, const char *key, int64_t lo,
                     int64_t hi, int32_t *out) {
  int64_t value;
  sbtf_flex_status status = sbtf_flex_map_get_int(map, key, &value);
  if (status != SBTF_FLEX_OK) {
    snprintf(node->error, sizeof(node->error), "custom option '%s' %s (expected an int)", key,
             flex_problem(status));
    return false;
  }
  if (value < lo || value > hi) {
    snprintf(node->error, sizeof(node->error),
             "custom option '%s' = %lld is out of range (expected %lld..%lld)", key,
             (long long)value, (long long)lo, (long long)hi);
    return false;
  }
  *out = (int32_t)value;
  return true;
}

bool sbtf_option_bool(sbtf_node *node, const sbtf_flex_map *map, const char *key, bool *out) {
  sbtf_flex_status status = sbtf_flex_map_get_bool(map, key, out);
  if (status != SBTF_FLEX_OK) {
    snprintf(node->error, sizeof(node->error), "custom option '%s' %s (expected a bool)", key,
             flex_problem(status));
    return false;
  }
  return true;
}

/* The options every op has (version first), then the op's own. */
static bool parse_options(sbtf_node *node, const void *data, int size) {
  sbtf_flex_map map;
  if (data == NULL || size <= 0 ||
      sbtf_flex_map_open(&map, (const uint8_t *)data, (size_t)size) != SBTF_FLEX_OK) {
    snprintf(node->error, sizeof(node->error),
             "custom options (%d bytes) are not a FlexBuffer map (docs/op_spec.md)", size);
    return false;
  }
  int32_t version;
  if (!SBTF_READ_INT_OPTION(node, &map, VERSION, &version)) return false;
  if (version != node->kind->version) {
    snprintf(node->error, sizeof(node->error),
             "op format version %d is not supported (this build reads version %d)", (int)version,
             node->kind->version);
    return false;
  }
  /* Bounding sizes by the kernels' largest K keeps every product below in int64. */
  return SBTF_READ_INT_OPTION(node, &map, INPUT_CHANNELS, &node->input_channels) &&
         SBTF_READ_INT_OPTION(node, &map, FUSED_ACTIVATION_FUNCTION, &node->activation) &&
         node->kind->parse_options(node, &map);
}

/* ---------------------------------------------------------------- kernel life cycle */

/* For a delegate kernel, TFLite passes its TfLiteDelegateParams as `buffer`. */
static void *kernel_init(TfLiteContext *context, const char *buffer, size_t length) {
  (void)length;
  sbtf_node *op = calloc(1, sizeof(*op));
  if (op == NULL) return NULL; /* Prepare reports it */
  op->output = -1;
  op->node_index = -1;
  const TfLiteDelegateParams *params = (const TfLiteDelegateParams *)buffer;
  if (params == NULL || params->nodes_to_replace == NULL || params->nodes_to_replace->size != 1) {
    snprintf(op->error, sizeof(op->error), "expected a delegate kernel for exactly one node");
    return op;
  }
  op->node_index = params->nodes_to_replace->data[0];
  TfLiteNode *node;
  TfLiteRegistration *reg;
  if (context->GetNodeAndRegistration(context, op->node_index, &node, &reg) != kTfLiteOk) {
    snprintf(op->error, sizeof(op->error), "cannot look up the original node");
    return op;
  }
  op->kind = sbtf_delegate_find_op(reg->custom_name);
  if (op->kind == NULL) { /* the delegate claims only the table's ops */
    snprintf(op->error, sizeof(op->error), "not an sbtf op");
    return op;
  }
  /* Keep the original node's inputs: params->input_tensors lists only the subset's inputs. */
  if (node->outputs == NULL || node->outputs->size != 1) {
    snprintf(op->error, sizeof(op->error), "expected 1 output, got %d",
             node->outputs ? node->outputs->size : 0);
    return op;
  }
  op->output = node->outputs->data[0];
  if (node->inputs == NULL || node->inputs->size < SBTF_MIN_INPUTS ||
      node->inputs->size > SBTF_MAX_INPUTS) {
    snprintf(op->error, sizeof(op->error),
             "expected 3 or 4 inputs (input, bitmask, sign[, bias]), got %d",
             node->inputs ? node->inputs->size : 0);
    return op;
  }
  op->inputs[SBTF_TENSOR_BIAS] = kTfLiteOptionalTensor;
  for (int i = 0; i < node->inputs->size; i++) op->inputs[i] = node->inputs->data[i];
  op->data = calloc(1, op->kind->data_size);
  if (op->data == NULL) {
    snprintf(op->error, sizeof(op->error), "out of memory");
    return op;
  }
  parse_options(op, node->custom_initial_data, node->custom_initial_data_size);
  return op;
}

static void kernel_free(TfLiteContext *context, void *buffer) {
  (void)context;
  sbtf_node *op = buffer;
  if (op == NULL) return;
  free(op->multiplier);
  free(op->shift);
  free(op->scratch);
  free(op->data);
  free(op);
}

static TfLiteTensor *tensor_at(TfLiteContext *context, int index) {
  if (index < 0 || (size_t)index >= context->tensors_size) return NULL;
  return &context->tensors[index];
}

static bool is_constant(const TfLiteTensor *t) {
  return (t->allocation_type == kTfLiteMmapRo || t->allocation_type == kTfLitePersistentRo) &&
         t->data.data != NULL;
}

int64_t sbtf_num_elements(const TfLiteIntArray *dims) {
  int64_t n = 1;
  for (int i = 0; i < dims->size; i++) n *= dims->data[i];
  return n;
}

/* Per-tensor affine quantization (input, output): scale > 0, zero point in int8 range. */
static TfLiteStatus check_activation_quant(TfLiteContext *context, const sbtf_node *op,
                                           const TfLiteTensor *t, const char *what) {
  const TfLiteAffineQuantization *q = t->quantization.params;
  if (t->quantization.type != kTfLiteAffineQuantization || q == NULL || q->scale == NULL ||
      q->scale->size != 1 || !(t->params.scale > 0.0f) || !isfinite(t->params.scale)) {
    return sbtf_fail(context, op, "%s must have per-tensor int8 quantization with a positive scale",
                     what);
  }
  if (t->params.zero_point < -128 || t->params.zero_point > 127) {
    return sbtf_fail(context, op, "%s zero point %d is outside [-128, 127]", what,
                     (int)t->params.zero_point);
  }
  return kTfLiteOk;
}

TfLiteStatus sbtf_resize_output(TfLiteContext *context, const sbtf_node *op,
                                TfLiteTensor *output, int rank, const int *shape) {
  bool same = output->dims != NULL && output->dims->size == rank;
  for (int i = 0; same && i < rank; i++) same = output->dims->data[i] == shape[i];
  if (same) return kTfLiteOk;
  /* ResizeTensor takes ownership and releases the array with free(). */
  TfLiteIntArray *dims = malloc(sizeof(TfLiteIntArray) + (size_t)rank * sizeof(int));
  if (dims == NULL) return sbtf_fail(context, op, "out of memory");
  dims->size = rank;
  memcpy(dims->data, shape, (size_t)rank * sizeof(int));
  if (context->ResizeTensor(context, output, dims) != kTfLiteOk) {
    return sbtf_fail(context, op, "cannot resize the output tensor");
  }
  return kTfLiteOk;
}

/* Requantization exactly as TFLite's builtin kernels compute it (docs/op_spec.md). */
TfLiteStatus sbtf_prepare_requantization(TfLiteContext *context, sbtf_node *op,
                                         const sbtf_node_tensors *t, bool float_product,
                                         int32_t *act_min, int32_t *act_max) {
  const TfLiteAffineQuantization *wq = t->sign->quantization.params;
  const bool per_channel = wq->scale->size > 1;
  free(op->multiplier);
  free(op->shift);
  op->multiplier = malloc((size_t)op->c_out * sizeof(int32_t));
  op->shift = malloc((size_t)op->c_out * sizeof(int32_t));
  if (op->multiplier == NULL || op->shift == NULL) return sbtf_fail(context, op, "out of memory");
  const float s_in = t->input->params.scale, s_out = t->output->params.scale;
  for (int32_t c = 0; c < op->c_out; c++) {
    const float s_w = wq->scale->data[per_channel ? c : 0];
    if (!(s_w >= 0.0f) || !isfinite(s_w)) {
      return sbtf_fail(context, op, "weight scale %d is not a finite non-negative number", (int)c);
    }
    double real;
    if (float_product && !per_channel) {
      real = (double)(s_in * s_w) / (double)s_out; /* TFLite rounds the product to float */
    } else {
      real = (double)s_in * (double)s_w / (double)s_out;
    }
    if (!sbtf_quantize_multiplier(real, &op->multiplier[c], &op->shift[c])) {
      return sbtf_fail(context, op, "requantization multiplier %g is too large", real);
    }
  }
  sbtf_activation_range(op->activation, s_out, t->output->params.zero_point, act_min, act_max);
  if (*act_min > *act_max) return sbtf_fail(context, op, "empty activation range");
  return kTfLiteOk;
}

/* The node's tensors; fails unless every index is in range. */
static TfLiteStatus node_tensors(TfLiteContext *context, const sbtf_node *op,
                                 sbtf_node_tensors *t) {
  t->input = tensor_at(context, op->inputs[SBTF_TENSOR_INPUT]);
  t->mask = tensor_at(context, op->inputs[SBTF_TENSOR_BITMASK]);
  t->sign = tensor_at(context, op->inputs[SBTF_TENSOR_SIGN]);
  t->output = tensor_at(context, op->output);
  t->bias = NULL;
  if (op->inputs[SBTF_TENSOR_BIAS] != kTfLiteOptionalTensor) {
    t->bias = tensor_at(context, op->inputs[SBTF_TENSOR_BIAS]);
    if (t->bias == NULL) return sbtf_fail(context, op, "bias tensor index is out of range");
  }
  if (!t->input || !t->mask || !t->sign || !t->output) {
    return sbtf_fail(context, op, "tensor index out of range");
  }
  return kTfLiteOk;
}

static TfLiteStatus kernel_prepare(TfLiteContext *context, TfLiteNode *node) {
  sbtf_node *op = node->user_data;
  if (op == NULL) {
    context->ReportError(context, "sbtf delegate: out of memory while initialising a kernel");
    return kTfLiteError;
  }
  if (op->error[0] != '\0') return sbtf_fail(context, op, "%s", op->error);

  sbtf_node_tensors t;
  if (node_tensors(context, op, &t) != kTfLiteOk) return kTfLiteError;
  TfLiteTensor *input = t.input, *mask = t.mask, *sign = t.sign, *bias = t.bias;
  TfLiteTensor *output = t.output;
  /* TFLite skips its own buffer-size check for tensors with sparsity parameters, and the
     kernels read dense data: refuse them, and check every size read below against `bytes`. */
  if (input->sparsity || mask->sparsity || sign->sparsity || output->sparsity ||
      (bias && bias->sparsity)) {
    return sbtf_fail(context, op, "sparse tensors are not supported");
  }
  if (input->type != kTfLiteInt8) return sbtf_fail(context, op, "input must be int8");
  if (output->type != kTfLiteInt8) return sbtf_fail(context, op, "output must be int8");
  if (input->dims == NULL) return sbtf_fail(context, op, "input has no shape");
  if (input->data.data != NULL && (int64_t)input->bytes < sbtf_num_elements(input->dims)) {
    return sbtf_fail(context, op, "input holds %zu bytes, its shape needs %lld", input->bytes,
                     (long long)sbtf_num_elements(input->dims));
  }

  /* Bitmask [C_out, row_bytes] and sign [C_out]: constant, well-formed. */
  if (mask->type != kTfLiteUInt8 || mask->dims == NULL || mask->dims->size != 2 ||
      !is_constant(mask)) {
    return sbtf_fail(context, op, "bitmask must be a constant 2-D uint8 tensor [C_out, row_bytes]");
  }
  op->c_out = mask->dims->data[0];
  const int64_t k = op->kind->filter_size(op);
  if (op->c_out < 1) return sbtf_fail(context, op, "bitmask has no rows");
  if (k > SBTF_MAX_FILTER_SIZE) {
    return sbtf_fail(context, op, "filter size K = %lld exceeds the kernels' limit %d",
                     (long long)k, SBTF_MAX_FILTER_SIZE);
  }
  const int32_t row_bytes = sbtf_mask_row_bytes((int32_t)k);
  if (mask->dims->data[1] != row_bytes) {
    return sbtf_fail(context, op, "bitmask shape [%d, %d] does not match [C_out, row_bytes] = "
                     "[%d, %d] for K = %lld", mask->dims->data[0], mask->dims->data[1],
                     (int)op->c_out, (int)row_bytes, (long long)k);
  }
  if ((int64_t)mask->bytes < (int64_t)op->c_out * row_bytes) {
    return sbtf_fail(context, op, "bitmask buffer holds %zu bytes, [%d, %d] needs %lld",
                     mask->bytes, (int)op->c_out, (int)row_bytes,
                     (long long)op->c_out * row_bytes);
  }
  const uint8_t *bits = mask->data.uint8;
  for (int32_t c = 0; c < op->c_out; c++) {
    for (int64_t i = k; i < (int64_t)row_bytes * 8; i++) {
      if ((bits[(int64_t)c * row_bytes + i / 8] >> (i % 8)) & 1) {
        return sbtf_fail(context, op, "bitmask row %d has padding bit %lld set (must be zero)",
                    (int)c, (long long)i);
      }
    }
  }
  if (sign->type != kTfLiteInt8 || sign->dims == NULL || sign->dims->size != 1 ||
      sign->dims->data[0] != op->c_out || !is_constant(sign) ||
      (int64_t)sign->bytes < op->c_out) {
    return sbtf_fail(context, op, "sign must be a constant 1-D int8 tensor of C_out = %d values",
                     (int)op->c_out);
  }
  for (int32_t c = 0; c < op->c_out; c++) {
    if (sign->data.int8[c] != 1 && sign->data.int8[c] != -1) {
      return sbtf_fail(context, op, "sign[%d] = %d, expected -1 or +1", (int)c, sign->data.int8[c]);
    }
  }
  if (bias != NULL && (bias->type != kTfLiteInt32 || bias->dims == NULL ||
                       sbtf_num_elements(bias->dims) != op->c_out ||
                       (int64_t)bias->bytes < (int64_t)op->c_out * 4)) {
    return sbtf_fail(context, op, "bias must be an int32 tensor of C_out = %d values",
                     (int)op->c_out);
  }

  /* Quantization: per-tensor activations, per-channel or per-tensor weight scales on sign. */
  if (check_activation_quant(context, op, input, "input") != kTfLiteOk ||
      check_activation_quant(context, op, output, "output") != kTfLiteOk) {
    return kTfLiteError;
  }
  const TfLiteAffineQuantization *wq = sign->quantization.params;
  if (sign->quantization.type != kTfLiteAffineQuantization || wq == NULL || wq->scale == NULL ||
      (wq->scale->size != 1 && wq->scale->size != op->c_out) ||
      (wq->scale->size != 1 && wq->quantized_dimension != 0)) {
    return sbtf_fail(context, op, "sign must carry the weight scales: 1 or C_out = %d entries on "
                     "dimension 0", (int)op->c_out);
  }
  if (wq->zero_point != NULL) {
    for (int i = 0; i < wq->zero_point->size; i++) {
      if (wq->zero_point->data[i] != 0) {
        return sbtf_fail(context, op, "weight zero points must be 0");
      }
    }
  }

  int32_t scratch = 0;
  if (op->kind->prepare(context, op, &t, &scratch) != kTfLiteOk) return kTfLiteError;
  if (scratch < 0) {
    return sbtf_fail(context, op, "the kernel rejects these shapes (%s)",
                     status_name((sbtf_status)scratch));
  }
  if (scratch > op->scratch_size) {
    void *grown = realloc(op->scratch, (size_t)scratch);
    if (grown == NULL) {
      return sbtf_fail(context, op, "out of memory for %d scratch bytes", (int)scratch);
    }
    op->scratch = grown;
    op->scratch_size = scratch;
  }
  return kTfLiteOk;
}

static TfLiteStatus kernel_invoke(TfLiteContext *context, TfLiteNode *node) {
  sbtf_node *op = node->user_data;
  if (op == NULL || op->multiplier == NULL) {
    context->ReportError(context, "sbtf delegate: kernel invoked before a successful prepare");
    return kTfLiteError;
  }
  /* Tensor structs may move between Prepare and Invoke; look them up again. */
  sbtf_node_tensors t;
  if (node_tensors(context, op, &t) != kTfLiteOk) return kTfLiteError;
  const sbtf_context scratch = {op->scratch, op->scratch_size};
  const sbtf_status status = op->kind->invoke(op, &t, &scratch);
  if (status != SBTF_OK) {
    return sbtf_fail(context, op, "kernel failed: %s (%d)", status_name(status), (int)status);
  }
  return kTfLiteOk;
}
static TfLiteRegistration kernel_registration(const char *name) {
  TfLiteRegistration reg;
  memset(&reg, 0, sizeof(reg));
  reg.init = kernel_init;
  reg.free = kernel_free;
  reg.prepare = kernel_prepare;
  reg.invoke = kernel_invoke;
  reg.custom_name = name; /* shown by TFLite's profiler for the delegate node */
  reg.version = 1;
  return reg;
}

/* ---------------------------------------------------------------- the delegate */

/* TFLite's graph partitioning crashes on a node that reads its own output: refuse the model
   before handing any node to it. Also checks the node's tensor indices. */
static TfLiteStatus check_wiring(TfLiteContext *context, int node_index) {
  TfLiteNode *node;
  TfLiteRegistration *reg;
  if (context->GetNodeAndRegistration(context, node_index, &node, &reg) != kTfLiteOk) {
    return kTfLiteError;
  }
  const TfLiteIntArray *lists[2] = {node->inputs, node->outputs};
  for (int l = 0; l < 2; l++) {
    for (int i = 0; lists[l] != NULL && i < lists[l]->size; i++) {
      const int t = lists[l]->data[i];
      if (t != kTfLiteOptionalTensor && (t < 0 || (size_t)t >= context->tensors_size)) {
        context->ReportError(context, "%s (node %d): tensor index %d is out of range",
                             reg->custom_name, node_index, t);
        return kTfLiteError;
      }
    }
  }
  for (int o = 0; node->outputs != NULL && o < node->outputs->size; o++) {
    for (int i = 0; node->inputs != NULL && i < node->inputs->size; i++) {
      if (node->outputs->data[o] == node->inputs->data[i]) {
        context->ReportError(context, "%s (node %d): tensor %d is both an input and an output",
                             reg->custom_name, node_index, node->inputs->data[i]);
        return kTfLiteError;
      }
    }
  }
  return kTfLiteOk;
}

static TfLiteStatus delegate_prepare(TfLiteContext *context, TfLiteDelegate *delegate) {
  TfLiteIntArray *plan;
  if (context->GetExecutionPlan(context, &plan) != kTfLiteOk) return kTfLiteError;
  /* Collect first: replacing nodes rewrites the execution plan. */
  int *claimed = malloc((size_t)(plan->size > 0 ? plan->size : 1) * sizeof(int));
  TfLiteIntArray *one = malloc(sizeof(TfLiteIntArray) + sizeof(int));
  if (claimed == NULL || one == NULL) {
    free(claimed);
    free(one);
    context->ReportError(context, "sbtf delegate: out of memory");
    return kTfLiteError;
  }
  int count = 0;
  for (int i = 0; i < plan->size; i++) {
    TfLiteNode *node;
    TfLiteRegistration *reg;
    if (context->GetNodeAndRegistration(context, plan->data[i], &node, &reg) != kTfLiteOk) {
      continue;
    }
    if (reg->builtin_code == kTfLiteBuiltinCustom && sbtf_delegate_find_op(reg->custom_name)) {
      claimed[count++] = plan->data[i];
    }
  }
  TfLiteStatus status = kTfLiteOk;
  for (int i = 0; i < count && status == kTfLiteOk; i++) {
    status = check_wiring(context, claimed[i]);
  }
  for (int i = 0; i < count && status == kTfLiteOk; i++) {
    TfLiteNode *node;
    TfLiteRegistration *reg;
    status = context->GetNodeAndRegistration(context, claimed[i], &node, &reg);
    if (status != kTfLiteOk) break;
    /* One partition per node: several adjacent sbtf ops must not merge into one kernel. */
    one->size = 1;
    one->data[0] = claimed[i];
    status = context->ReplaceNodeSubsetsWithDelegateKernels(
        context, kernel_registration(sbtf_delegate_find_op(reg->custom_name)->name),
        one, delegate);
  }
  free(claimed);
  free(one);
  return status;
}

/* External-delegate plugin interface (tensorflow/lite/delegates/external). */
SBTF_EXPORT TfLiteDelegate *tflite_plugin_create_delegate(char **options_keys,
                                                          char **options_values,
                                                          size_t num_options,
                                                          void (*report_error)(const char *));

SBTF_EXPORT void tflite_plugin_destroy_delegate(TfLiteDelegate *delegate);

TfLiteDelegate *tflite_plugin_create_delegate(char **options_keys, char **options_values,
                                              size_t num_options,
                                              void (*report_error)(const char *)) {
  (void)options_values;
  if (num_options > 0) {
    if (report_error != NULL) {
      char message[256];
      snprintf(message, sizeof(message), "sbtf delegate takes no options, got '%s'",
               options_keys && options_keys[0] ? options_keys[0] : "?");
      report_error(message);
    }
    return NULL;
  }
  TfLiteDelegate *delegate = calloc(1, sizeof(*delegate));
  if (delegate == NULL) {
    if (report_error != NULL) report_error("sbtf delegate: out of memory");
    return NULL;
  }
  delegate->Prepare = delegate_prepare;
  /* Claimed nodes resize their outputs in Prepare; also lets TFLite skip allocating tensors
     before delegation, which would fail on the still-unresolved custom ops. */
  delegate->flags = kTfLiteDelegateFlagsAllowDynamicTensors;
  return delegate;
}

void tflite_plugin_destroy_delegate(TfLiteDelegate *delegate) { free(delegate); }
