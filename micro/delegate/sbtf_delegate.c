/*
 * sbtf_delegate.c - TensorFlow Lite delegate plugin running SBTF_CONV_2D and
 * SBTF_FULLY_CONNECTED (docs/op_spec.md) with sbtf's C kernels (micro/src, sbtf_nn.h).
 *
 * Loaded by tf.lite.experimental.load_delegate() through the external-delegate plugin entry
 * points at the end of this file. The interpreter accepts a model whose sbtf custom ops it
 * cannot resolve; this delegate claims exactly those nodes, one delegate kernel per node, and
 * every other op stays with TFLite's builtin kernels.
 *
 * Life cycle of one claimed node: Init (inside the delegate's Prepare, the only time the
 * original node is reachable) copies its tensor indices and parses its FlexBuffer options;
 * Prepare (every AllocateTensors) checks tensors, sizes the output, computes the
 * requantization and the scratch buffer; Invoke calls the kernel. A malformed node is reported
 * at Prepare, so the Python caller gets the error from allocate_tensors() and nothing crashes.
 * Host code: unlike the micro kernels this glue may allocate (in Init/Prepare, freed in Free).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbtf_flexbuffers.h"
#include "sbtf_nn.h"
#include "tflite_abi.h"

#if defined(__GNUC__)
#define SBTF_EXPORT __attribute__((visibility("default")))
#else
#define SBTF_EXPORT
#endif

#define CONV_NAME "SBTF_CONV_2D"
#define FC_NAME "SBTF_FULLY_CONNECTED"

/* TFLite enums (schema.fbs) used by the options. */
enum { PADDING_SAME = 0, PADDING_VALID = 1 };
enum { ACT_NONE = 0, ACT_RELU = 1, ACT_RELU_N1_TO_1 = 2, ACT_RELU6 = 3 };

/* Tensor positions in the original node (docs/op_spec.md, "Tensors"). */
enum { IN_INPUT = 0, IN_MASK = 1, IN_SIGN = 2, IN_BIAS = 3 };

typedef enum { OP_CONV, OP_FC } op_kind;

typedef struct {
  op_kind kind;
  int node_index;          /* the original custom node, for messages */
  char error[256];         /* set by Init when the node is unusable; reported at Prepare */
  int inputs[4];           /* tensor indices; inputs[IN_BIAS] may be kTfLiteOptionalTensor */
  int output;

  /* Options. */
  int32_t input_channels, filter_h, filter_w, padding;
  int32_t stride_h, stride_w, dilation_h, dilation_w, activation;
  bool keep_num_dims;

  /* Computed in Prepare. */
  int32_t c_out;
  int32_t *multiplier, *shift; /* c_out entries each */
  sbtf_conv_params conv;
  sbtf_fc_params fc;
  sbtf_dims input_dims, filter_dims, output_dims;
  int32_t batches;
  void *scratch;
  int32_t scratch_size;
} sbtf_op;

static const char *op_name(const sbtf_op *op) { return op->kind == OP_CONV ? CONV_NAME : FC_NAME; }

/* Reports "<op> (node N, output '<name>'): <message>" and returns kTfLiteError. */
static TfLiteStatus fail(TfLiteContext *context, const sbtf_op *op, const char *fmt, ...) {
  char message[384];
  va_list args;
  va_start(args, fmt);
  vsnprintf(message, sizeof(message), fmt, args);
  va_end(args);
  const char *name = NULL;
  if (op->output >= 0 && (size_t)op->output < context->tensors_size) {
    name = context->tensors[op->output].name;
  }
  context->ReportError(context, "%s (node %d, output tensor '%s'): %s", op_name(op),
                       op->node_index, name ? name : "?", message);
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

/* Reads integer option `key` into *out, requiring lo <= value <= hi. */
static bool option_int(sbtf_op *op, const sbtf_flex_map *map, const char *key, int64_t lo,
                       int64_t hi, int32_t *out) {
  int64_t value;
  sbtf_flex_status status = sbtf_flex_map_get_int(map, key, &value);
  if (status != SBTF_FLEX_OK) {
    snprintf(op->error, sizeof(op->error), "custom option '%s' %s (expected an int)", key,
             flex_problem(status));
    return false;
  }
  if (value < lo || value > hi) {
    snprintf(op->error, sizeof(op->error),
             "custom option '%s' = %lld is out of range (expected %lld..%lld)", key,
             (long long)value, (long long)lo, (long long)hi);
    return false;
  }
  *out = (int32_t)value;
  return true;
}

static bool parse_options(sbtf_op *op, const void *data, int size) {
  sbtf_flex_map map;
  if (data == NULL || size <= 0 ||
      sbtf_flex_map_open(&map, (const uint8_t *)data, (size_t)size) != SBTF_FLEX_OK) {
    snprintf(op->error, sizeof(op->error),
             "custom options (%d bytes) are not a FlexBuffer map (docs/op_spec.md)", size);
    return false;
  }
  int32_t version;
  if (!option_int(op, &map, "version", INT32_MIN, INT32_MAX, &version)) return false;
  if (version != SBTF_OP_FORMAT_VERSION) {
    snprintf(op->error, sizeof(op->error),
             "op format version %d is not supported (this build reads version %d)", (int)version,
             SBTF_OP_FORMAT_VERSION);
    return false;
  }
  /* Bounding sizes by the kernels' largest K keeps every product below in int64. */
  if (!option_int(op, &map, "input_channels", 1, SBTF_MAX_FILTER_SIZE, &op->input_channels) ||
      !option_int(op, &map, "fused_activation_function", ACT_NONE, ACT_RELU6, &op->activation)) {
    return false;
  }
  if (op->kind == OP_FC) {
    sbtf_flex_status status = sbtf_flex_map_get_bool(&map, "keep_num_dims", &op->keep_num_dims);
    if (status != SBTF_FLEX_OK) {
      snprintf(op->error, sizeof(op->error), "custom option 'keep_num_dims' %s (expected a bool)",
               flex_problem(status));
      return false;
    }
    return true;
  }
  return option_int(op, &map, "filter_height", 1, SBTF_MAX_FILTER_SIZE, &op->filter_h) &&
         option_int(op, &map, "filter_width", 1, SBTF_MAX_FILTER_SIZE, &op->filter_w) &&
         option_int(op, &map, "padding", PADDING_SAME, PADDING_VALID, &op->padding) &&
         option_int(op, &map, "stride_h", 1, INT32_MAX, &op->stride_h) &&
         option_int(op, &map, "stride_w", 1, INT32_MAX, &op->stride_w) &&
         option_int(op, &map, "dilation_h_factor", 1, INT32_MAX, &op->dilation_h) &&
         option_int(op, &map, "dilation_w_factor", 1, INT32_MAX, &op->dilation_w);
}

/* ---------------------------------------------------------------- kernel life cycle */

/* For a delegate kernel, TFLite passes its TfLiteDelegateParams as `buffer`. */
static void *kernel_init(TfLiteContext *context, const char *buffer, size_t length) {
  (void)length;
  sbtf_op *op = calloc(1, sizeof(*op));
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
  op->kind = (reg->custom_name && strcmp(reg->custom_name, FC_NAME) == 0) ? OP_FC : OP_CONV;
  /* Keep the original node's inputs: params->input_tensors lists only the subset's inputs. */
  if (node->outputs == NULL || node->outputs->size != 1) {
    snprintf(op->error, sizeof(op->error), "expected 1 output, got %d",
             node->outputs ? node->outputs->size : 0);
    return op;
  }
  op->output = node->outputs->data[0];
  if (node->inputs == NULL || node->inputs->size < 3 || node->inputs->size > 4) {
    snprintf(op->error, sizeof(op->error),
             "expected 3 or 4 inputs (input, bitmask, sign[, bias]), got %d",
             node->inputs ? node->inputs->size : 0);
    return op;
  }
  op->inputs[IN_BIAS] = kTfLiteOptionalTensor;
  for (int i = 0; i < node->inputs->size; i++) op->inputs[i] = node->inputs->data[i];
  parse_options(op, node->custom_initial_data, node->custom_initial_data_size);
  return op;
}

static void kernel_free(TfLiteContext *context, void *buffer) {
  (void)context;
  sbtf_op *op = buffer;
  if (op == NULL) return;
  free(op->multiplier);
  free(op->shift);
  free(op->scratch);
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

static int64_t num_elements(const TfLiteIntArray *dims) {
  int64_t n = 1;
  for (int i = 0; i < dims->size; i++) n *= dims->data[i];
  return n;
}

/* Per-tensor affine quantization (input, output): scale > 0, zero point in int8 range. */
static TfLiteStatus check_activation_quant(TfLiteContext *context, const sbtf_op *op,
                                           const TfLiteTensor *t, const char *what) {
  const TfLiteAffineQuantization *q = t->quantization.params;
  if (t->quantization.type != kTfLiteAffineQuantization || q == NULL || q->scale == NULL ||
      q->scale->size != 1 || !(t->params.scale > 0.0f) || !isfinite(t->params.scale)) {
    return fail(context, op, "%s must have per-tensor int8 quantization with a positive scale",
                what);
  }
  if (t->params.zero_point < -128 || t->params.zero_point > 127) {
    return fail(context, op, "%s zero point %d is outside [-128, 127]", what,
                (int)t->params.zero_point);
  }
  return kTfLiteOk;
}

/* TFLite's QuantizeMultiplier: real = multiplier * 2^(shift - 31), round half away from 0. */
static bool quantize_multiplier(double real, int32_t *multiplier, int32_t *shift) {
  if (real == 0.0) {
    *multiplier = 0;
    *shift = 0;
    return true;
  }
  int exponent;
  const double q = frexp(real, &exponent);
  int64_t q_fixed = (int64_t)round(q * (double)(1LL << 31));
  if (q_fixed == (1LL << 31)) {
    q_fixed /= 2;
    exponent++;
  }
  if (exponent < -31) {
    exponent = 0;
    q_fixed = 0;
  }
  if (exponent > 30) return false; /* TFLite would overflow; refuse rather than differ */
  *multiplier = (int32_t)q_fixed;
  *shift = exponent;
  return true;
}

/* TFLite's CalculateActivationRangeQuantized for int8 (note: f / scale in float). */
static void activation_range(int32_t activation, float scale, int32_t zero_point, int32_t *lo,
                             int32_t *hi) {
  const int32_t q0 = zero_point + (int32_t)roundf(0.0f / scale);
  *lo = -128;
  *hi = 127;
  if (activation == ACT_RELU || activation == ACT_RELU6) {
    if (q0 > *lo) *lo = q0;
  }
  if (activation == ACT_RELU6) {
    const int32_t q6 = zero_point + (int32_t)roundf(6.0f / scale);
    if (q6 < *hi) *hi = q6;
  }
  if (activation == ACT_RELU_N1_TO_1) {
    const int32_t qm1 = zero_point + (int32_t)roundf(-1.0f / scale);
    const int32_t q1 = zero_point + (int32_t)roundf(1.0f / scale);
    if (qm1 > *lo) *lo = qm1;
    if (q1 < *hi) *hi = q1;
  }
}

/* TFLite's conv output size and padding before the first row/column. */
static int64_t conv_out_size(int64_t in, int64_t k, int64_t stride, int64_t dilation,
                             int32_t padding) {
  const int64_t effective = (k - 1) * dilation + 1;
  return padding == PADDING_SAME ? (in + stride - 1) / stride : (in - effective + stride) / stride;
}

static int64_t conv_pad(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t dilation) {
  const int64_t total = (out - 1) * stride + (k - 1) * dilation + 1 - in;
  return total > 0 ? total / 2 : 0;
}

static TfLiteStatus resize_output(TfLiteContext *context, const sbtf_op *op, TfLiteTensor *output,
                                  int rank, const int *shape) {
  bool same = output->dims != NULL && output->dims->size == rank;
  for (int i = 0; same && i < rank; i++) same = output->dims->data[i] == shape[i];
  if (same) return kTfLiteOk;
  /* ResizeTensor takes ownership and releases the array with free(). */
  TfLiteIntArray *dims = malloc(sizeof(TfLiteIntArray) + (size_t)rank * sizeof(int));
  if (dims == NULL) return fail(context, op, "out of memory");
  dims->size = rank;
  memcpy(dims->data, shape, (size_t)rank * sizeof(int));
  if (context->ResizeTensor(context, output, dims) != kTfLiteOk) {
    return fail(context, op, "cannot resize the output tensor");
  }
  return kTfLiteOk;
}

static TfLiteStatus prepare_conv(TfLiteContext *context, sbtf_op *op, const TfLiteTensor *input,
                                 TfLiteTensor *output) {
  const TfLiteIntArray *d = input->dims;
  if (d->size != 4) return fail(context, op, "input must be 4-D NHWC, got %d-D", d->size);
  if (d->data[3] != op->input_channels) {
    return fail(context, op, "input has %d channels, options say input_channels = %d "
                "(grouped convolution is not supported)", d->data[3], (int)op->input_channels);
  }
  const int64_t oh = conv_out_size(d->data[1], op->filter_h, op->stride_h, op->dilation_h,
                                   op->padding);
  const int64_t ow = conv_out_size(d->data[2], op->filter_w, op->stride_w, op->dilation_w,
                                   op->padding);
  const int64_t eff_h = (int64_t)(op->filter_h - 1) * op->dilation_h + 1;
  const int64_t eff_w = (int64_t)(op->filter_w - 1) * op->dilation_w + 1;
  if (oh < 1 || ow < 1 || eff_h > INT32_MAX || eff_w > INT32_MAX) {
    return fail(context, op, "input %dx%d is too small for a %dx%d filter with dilation %dx%d",
                d->data[1], d->data[2], (int)op->filter_h, (int)op->filter_w,
                (int)op->dilation_h, (int)op->dilation_w);
  }
  op->input_dims = (sbtf_dims){d->data[0], d->data[1], d->data[2], d->data[3]};
  op->filter_dims = (sbtf_dims){op->c_out, op->filter_h, op->filter_w, op->input_channels};
  op->output_dims = (sbtf_dims){d->data[0], (int32_t)oh, (int32_t)ow, op->c_out};
  op->conv.stride_h = op->stride_h;
  op->conv.stride_w = op->stride_w;
  op->conv.dilation_h = op->dilation_h;
  op->conv.dilation_w = op->dilation_w;
  op->conv.pad_h = (int32_t)conv_pad(d->data[1], oh, op->filter_h, op->stride_h, op->dilation_h);
  op->conv.pad_w = (int32_t)conv_pad(d->data[2], ow, op->filter_w, op->stride_w, op->dilation_w);
  const int shape[4] = {d->data[0], (int)oh, (int)ow, op->c_out};
  return resize_output(context, op, output, 4, shape);
}

static TfLiteStatus prepare_fc(TfLiteContext *context, sbtf_op *op, const TfLiteTensor *input,
                               TfLiteTensor *output) {
  const TfLiteIntArray *d = input->dims;
  const int64_t size = num_elements(d);
  if (d->size < 1 || size < 1 || size % op->input_channels != 0) {
    return fail(context, op, "input of %lld elements is not a whole number of rows of "
                "input_channels = %d", (long long)size, (int)op->input_channels);
  }
  if (size / op->input_channels > INT32_MAX) return fail(context, op, "input is too large");
  op->batches = (int32_t)(size / op->input_channels);
  if (!op->keep_num_dims) {
    const int shape[2] = {op->batches, op->c_out};
    return resize_output(context, op, output, 2, shape);
  }
  if (d->data[d->size - 1] != op->input_channels) {
    return fail(context, op, "keep_num_dims needs the input's last dimension (%d) to equal "
                "input_channels = %d", d->data[d->size - 1], (int)op->input_channels);
  }
  int shape[16];
  if (d->size > 16) return fail(context, op, "input rank %d is too large", d->size);
  memcpy(shape, d->data, (size_t)d->size * sizeof(int));
  shape[d->size - 1] = op->c_out;
  return resize_output(context, op, output, d->size, shape);
}

static TfLiteStatus kernel_prepare(TfLiteContext *context, TfLiteNode *node) {
  sbtf_op *op = node->user_data;
  if (op == NULL) {
    context->ReportError(context, "sbtf delegate: out of memory while initialising a kernel");
    return kTfLiteError;
  }
  if (op->error[0] != '\0') return fail(context, op, "%s", op->error);

  TfLiteTensor *input = tensor_at(context, op->inputs[IN_INPUT]);
  TfLiteTensor *mask = tensor_at(context, op->inputs[IN_MASK]);
  TfLiteTensor *sign = tensor_at(context, op->inputs[IN_SIGN]);
  TfLiteTensor *output = tensor_at(context, op->output);
  TfLiteTensor *bias = NULL;
  if (op->inputs[IN_BIAS] != kTfLiteOptionalTensor) {
    bias = tensor_at(context, op->inputs[IN_BIAS]);
    if (bias == NULL) return fail(context, op, "bias tensor index is out of range");
  }
  if (!input || !mask || !sign || !output) return fail(context, op, "tensor index out of range");
  /* TFLite skips its own buffer-size check for tensors with sparsity parameters, and the
     kernels read dense data: refuse them, and check every size read below against `bytes`. */
  if (input->sparsity || mask->sparsity || sign->sparsity || output->sparsity ||
      (bias && bias->sparsity)) {
    return fail(context, op, "sparse tensors are not supported");
  }
  if (input->type != kTfLiteInt8) return fail(context, op, "input must be int8");
  if (output->type != kTfLiteInt8) return fail(context, op, "output must be int8");
  if (input->dims == NULL) return fail(context, op, "input has no shape");
  if (input->data.data != NULL && (int64_t)input->bytes < num_elements(input->dims)) {
    return fail(context, op, "input holds %zu bytes, its shape needs %lld", input->bytes,
                (long long)num_elements(input->dims));
  }

  /* Bitmask [C_out, row_bytes] and sign [C_out]: constant, well-formed. */
  if (mask->type != kTfLiteUInt8 || mask->dims == NULL || mask->dims->size != 2 ||
      !is_constant(mask)) {
    return fail(context, op, "bitmask must be a constant 2-D uint8 tensor [C_out, row_bytes]");
  }
  op->c_out = mask->dims->data[0];
  const int64_t k = op->kind == OP_CONV
                        ? (int64_t)op->filter_h * op->filter_w * op->input_channels
                        : (int64_t)op->input_channels;
  if (op->c_out < 1) return fail(context, op, "bitmask has no rows");
  if (k > SBTF_MAX_FILTER_SIZE) {
    return fail(context, op, "filter size K = %lld exceeds the kernels' limit %d", (long long)k,
                SBTF_MAX_FILTER_SIZE);
  }
  const int32_t row_bytes = sbtf_mask_row_bytes((int32_t)k);
  if (mask->dims->data[1] != row_bytes) {
    return fail(context, op, "bitmask shape [%d, %d] does not match [C_out, row_bytes] = "
                "[%d, %d] for K = %lld", mask->dims->data[0], mask->dims->data[1],
                (int)op->c_out, (int)row_bytes, (long long)k);
  }
  if ((int64_t)mask->bytes < (int64_t)op->c_out * row_bytes) {
    return fail(context, op, "bitmask buffer holds %zu bytes, [%d, %d] needs %lld", mask->bytes,
                (int)op->c_out, (int)row_bytes, (long long)op->c_out * row_bytes);
  }
  const uint8_t *bits = mask->data.uint8;
  for (int32_t c = 0; c < op->c_out; c++) {
    for (int64_t i = k; i < (int64_t)row_bytes * 8; i++) {
      if ((bits[(int64_t)c * row_bytes + i / 8] >> (i % 8)) & 1) {
        return fail(context, op, "bitmask row %d has padding bit %lld set (must be zero)",
                    (int)c, (long long)i);
      }
    }
  }
  if (sign->type != kTfLiteInt8 || sign->dims == NULL || sign->dims->size != 1 ||
      sign->dims->data[0] != op->c_out || !is_constant(sign) ||
      (int64_t)sign->bytes < op->c_out) {
    return fail(context, op, "sign must be a constant 1-D int8 tensor of C_out = %d values",
                (int)op->c_out);
  }
  for (int32_t c = 0; c < op->c_out; c++) {
    if (sign->data.int8[c] != 1 && sign->data.int8[c] != -1) {
      return fail(context, op, "sign[%d] = %d, expected -1 or +1", (int)c, sign->data.int8[c]);
    }
  }
  if (bias != NULL && (bias->type != kTfLiteInt32 || bias->dims == NULL ||
                       num_elements(bias->dims) != op->c_out ||
                       (int64_t)bias->bytes < (int64_t)op->c_out * 4)) {
    return fail(context, op, "bias must be an int32 tensor of C_out = %d values", (int)op->c_out);
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
    return fail(context, op, "sign must carry the weight scales: 1 or C_out = %d entries on "
                "dimension 0", (int)op->c_out);
  }
  if (wq->zero_point != NULL) {
    for (int i = 0; i < wq->zero_point->size; i++) {
      if (wq->zero_point->data[i] != 0) return fail(context, op, "weight zero points must be 0");
    }
  }
  const bool per_channel = wq->scale->size > 1;

  /* Requantization exactly as TFLite's builtin kernels compute it (docs/op_spec.md). */
  free(op->multiplier);
  free(op->shift);
  op->multiplier = malloc((size_t)op->c_out * sizeof(int32_t));
  op->shift = malloc((size_t)op->c_out * sizeof(int32_t));
  if (op->multiplier == NULL || op->shift == NULL) return fail(context, op, "out of memory");
  const float s_in = input->params.scale, s_out = output->params.scale;
  for (int32_t c = 0; c < op->c_out; c++) {
    const float s_w = wq->scale->data[per_channel ? c : 0];
    if (!(s_w >= 0.0f) || !isfinite(s_w)) {
      return fail(context, op, "weight scale %d is not a finite non-negative number", (int)c);
    }
    double real;
    if (op->kind == OP_FC && !per_channel) {
      real = (double)(s_in * s_w) / (double)s_out; /* TFLite rounds the product to float */
    } else {
      real = (double)s_in * (double)s_w / (double)s_out;
    }
    if (!quantize_multiplier(real, &op->multiplier[c], &op->shift[c])) {
      return fail(context, op, "requantization multiplier %g is too large", real);
    }
  }
  int32_t act_min, act_max;
  activation_range(op->activation, s_out, output->params.zero_point, &act_min, &act_max);
  if (act_min > act_max) return fail(context, op, "empty activation range");

  TfLiteStatus status;
  int32_t scratch;
  if (op->kind == OP_CONV) {
    op->conv.input_offset = -input->params.zero_point;
    op->conv.output_offset = output->params.zero_point;
    op->conv.activation_min = act_min;
    op->conv.activation_max = act_max;
    status = prepare_conv(context, op, input, output);
    if (status != kTfLiteOk) return status;
    scratch = sbtf_conv2d_s8_get_buffer_size(&op->input_dims, &op->filter_dims, &op->output_dims);
  } else {
    op->fc.input_offset = -input->params.zero_point;
    op->fc.output_offset = output->params.zero_point;
    op->fc.activation_min = act_min;
    op->fc.activation_max = act_max;
    status = prepare_fc(context, op, input, output);
    if (status != kTfLiteOk) return status;
    scratch = sbtf_fully_connected_s8_get_buffer_size(op->input_channels, op->c_out);
  }
  if (scratch < 0) {
    return fail(context, op, "the kernel rejects these shapes (%s)",
                status_name((sbtf_status)scratch));
  }
  if (scratch > op->scratch_size) {
    void *grown = realloc(op->scratch, (size_t)scratch);
    if (grown == NULL) return fail(context, op, "out of memory for %d scratch bytes", (int)scratch);
    op->scratch = grown;
    op->scratch_size = scratch;
  }
  return kTfLiteOk;
}

static TfLiteStatus kernel_invoke(TfLiteContext *context, TfLiteNode *node) {
  sbtf_op *op = node->user_data;
  if (op == NULL || op->multiplier == NULL) {
    context->ReportError(context, "sbtf delegate: kernel invoked before a successful prepare");
    return kTfLiteError;
  }
  /* Tensor structs may move between Prepare and Invoke; look them up again. */
  const TfLiteTensor *input = tensor_at(context, op->inputs[IN_INPUT]);
  const TfLiteTensor *mask = tensor_at(context, op->inputs[IN_MASK]);
  const TfLiteTensor *sign = tensor_at(context, op->inputs[IN_SIGN]);
  const TfLiteTensor *bias = tensor_at(context, op->inputs[IN_BIAS]);
  TfLiteTensor *output = tensor_at(context, op->output);
  const sbtf_context scratch = {op->scratch, op->scratch_size};
  const sbtf_quant_params quant = {op->multiplier, op->shift};
  sbtf_status status;
  if (op->kind == OP_CONV) {
    status = sbtf_conv2d_s8(&scratch, &op->conv, &quant, &op->input_dims, input->data.int8,
                            &op->filter_dims, mask->data.uint8, sign->data.int8,
                            bias ? bias->data.i32 : NULL, &op->output_dims, output->data.int8);
  } else {
    status = sbtf_fully_connected_s8(&scratch, &op->fc, &quant, op->batches, op->input_channels,
                                     input->data.int8, op->c_out, mask->data.uint8,
                                     sign->data.int8, bias ? bias->data.i32 : NULL,
                                     output->data.int8);
  }
  if (status != SBTF_OK) {
    return fail(context, op, "kernel failed: %s (%d)", status_name(status), (int)status);
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
    if (reg->builtin_code == kTfLiteBuiltinCustom && reg->custom_name != NULL &&
        (strcmp(reg->custom_name, CONV_NAME) == 0 || strcmp(reg->custom_name, FC_NAME) == 0)) {
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
        context, kernel_registration(strcmp(reg->custom_name, FC_NAME) == 0 ? FC_NAME : CONV_NAME),
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
