/*
 * sbtf_delegate.h - what the delegate's common code (sbtf_delegate.c) and its one file per op
 * (sbtf_delegate_conv.c, sbtf_delegate_fully_connected.c) share; internal to the plugin.
 *
 * An op is one sbtf_delegate_op entry of the table in sbtf_delegate.c. The common code claims
 * the nodes whose custom name is in the table (no other node), reads the options every op has,
 * checks the tensors every op has (docs/op_spec.md, "Tensors") and owns the life cycle; the
 * op's file reads its own options, computes its geometry and output shape, and calls its kernel.
 */
#ifndef SBTF_DELEGATE_H
#define SBTF_DELEGATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sbtf_arith.h" /* TFLite's prepare math: QuantizeMultiplier, activation range, padding */
#include "sbtf_flexbuffers.h"
#include "sbtf_nn.h"
#include "sbtf_op_format.h"
#include "tflite_abi.h"

typedef struct sbtf_delegate_op sbtf_delegate_op;

/* One claimed node: set up by Init (inside the delegate's Prepare), sized by Prepare. */
typedef struct {
  const sbtf_delegate_op *kind; /* its entry in the op table */
  int node_index;                /* the original custom node, for messages */
  char error[256];               /* set by Init when the node is unusable; reported at Prepare */
  int inputs[SBTF_MAX_INPUTS];   /* tensor indices; inputs[SBTF_TENSOR_BIAS] may be optional */
  int output;

  /* Options every op has. */
  int32_t input_channels, activation;

  /* Computed in Prepare. */
  int32_t c_out;
  int32_t *multiplier, *shift; /* c_out entries each */
  void *scratch;
  int32_t scratch_size;

  void *data; /* op->data_size bytes: the op's own options and prepared parameters */
} sbtf_node;

/* The node's tensors, looked up again for every Prepare and Invoke (bias NULL when absent). */
typedef struct {
  TfLiteTensor *input, *mask, *sign, *bias, *output;
} sbtf_node_tensors;

struct sbtf_delegate_op {
  const char *name; /* custom op name (SBTF_OP_* of sbtf_op_format.h) */
  int version;      /* the format version it reads (SBTF_OP_FORMAT_VERSION) */
  size_t data_size; /* bytes of sbtf_node.data */
  /* Init: reads the op's own options, after the common ones; false with node->error set. */
  bool (*parse_options)(sbtf_node *node, const sbtf_flex_map *map);
  /* K, the weights per filter (bits per mask row), from the options. */
  int64_t (*filter_size)(const sbtf_node *node);
  /* Prepare, after the common tensor checks (node->c_out is set): requantization, geometry,
     output shape; *scratch_size is the kernel's buffer size (or a negative sbtf_status). */
  TfLiteStatus (*prepare)(TfLiteContext *context, sbtf_node *node, const sbtf_node_tensors *t,
                          int32_t *scratch_size);
  sbtf_status (*invoke)(const sbtf_node *node, const sbtf_node_tensors *t,
                        const sbtf_context *scratch);
};

/* The ops of this delegate, one file each. */
extern const sbtf_delegate_op sbtf_delegate_conv_2d;
extern const sbtf_delegate_op sbtf_delegate_fully_connected;
extern const sbtf_delegate_op sbtf_delegate_depthwise_conv_2d;

/* The table entry for a custom op name, or NULL: a node of any other name is not claimed. */
const sbtf_delegate_op *sbtf_delegate_find_op(const char *name);

/* Reports "<op> (node N, output tensor '<name>'): <message>" and returns kTfLiteError. */
TfLiteStatus sbtf_fail(TfLiteContext *context, const sbtf_node *node, const char *fmt, ...);

/* Init: reads int option `key` into *out, requiring lo <= value <= hi; bool option `key`. */
bool sbtf_option_int(sbtf_node *node, const sbtf_flex_map *map, const char *key, int64_t lo,
                     int64_t hi, int32_t *out);
bool sbtf_option_bool(sbtf_node *node, const sbtf_flex_map *map, const char *key, bool *out);

/* Reads the int option NAME of sbtf_op_format.h: its key and bounds come from the one spec. */
#define SBTF_READ_INT_OPTION(node, map, NAME, out) \
  sbtf_option_int((node), (map), SBTF_OPTION_##NAME, SBTF_OPTION_##NAME##_MIN, \
                  SBTF_OPTION_##NAME##_MAX, (out))

/* Prepare: node->multiplier/shift as TFLite computes them (docs/op_spec.md), and the clamp.
   float_product: a per-tensor layer rounds s_in * s_w to float first (fully connected). */
TfLiteStatus sbtf_prepare_requantization(TfLiteContext *context, sbtf_node *node,
                                         const sbtf_node_tensors *t, bool float_product,
                                         int32_t *act_min, int32_t *act_max);

/* Resizes the output to `shape` unless it has it already. */
TfLiteStatus sbtf_resize_output(TfLiteContext *context, const sbtf_node *node,
                                TfLiteTensor *output, int rank, const int *shape);

int64_t sbtf_num_elements(const TfLiteIntArray *dims);

/* A conv's or depthwise conv's sbtf_node.data: the sliding window's options, read and applied
   alike (sbtf_delegate_window.c), and what Prepare computes for the kernel. */
typedef struct {
  int32_t filter_h, filter_w, padding, stride_h, stride_w, dilation_h, dilation_w;
  int32_t depth_multiplier; /* SBTF_DEPTHWISE_CONV_2D's option */
  /* Computed in Prepare. */
  sbtf_conv_params params;
  sbtf_dims input_dims, filter_dims, output_dims;
} sbtf_window;

/* Init: the window's options. */
bool sbtf_parse_window(sbtf_node *node, const sbtf_flex_map *map, sbtf_window *w);

/* Prepare: requantization and clamp (TFLite's conv arithmetic), a 4-D input of input_channels
   channels that fits the window, the output resized to [N, H_out, W_out, c_out]; fills params
   and the input and output dims (the op sets filter_dims). */
TfLiteStatus sbtf_prepare_window(TfLiteContext *context, sbtf_node *node,
                                 const sbtf_node_tensors *t, sbtf_window *w);

#endif /* SBTF_DELEGATE_H */
