"""The re-encoding pass: int8 CONV_2D / FULLY_CONNECTED / DEPTHWISE_CONV_2D with signed-binary
weights -> sbtf ops.

Input: an int8 TFLite flatbuffer from TensorFlow's converter. Every candidate operator whose
int8 weights are signed-binary (each filter's non-zeros all +127 or all -127; a depthwise
filter is one output channel's KH x KW taps) becomes `SBTF_CONV_2D` / `SBTF_FULLY_CONNECTED` /
`SBTF_DEPTHWISE_CONV_2D` as docs/op_spec.md specifies: inputs (input, bitmask,
sign, bias or -1), FlexBuffer options, sign tensor carrying the weight scales. The old int8
weight tensors and their buffers are removed once no operator uses them, and every tensor,
buffer and opcode index is renumbered, so the file really shrinks.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection, Mapping

import numpy as np
from flatbuffers import flexbuffers
from tensorflow.lite.python import schema_py_generated as schema

from sbtf import bitmask, op_format
from sbtf.converters import tflite_model as tfm
from sbtf.converters.errors import ConversionError, ConversionWarning
from sbtf.converters.report import LayerReport
from sbtf.converters.validate import read_model

_ACTIVATION = op_format.ACTIVATION  # the fused activations the sbtf ops take
# Builtin code -> (builtin name, the sbtf op replacing it).
_OPS = {
    getattr(schema.BuiltinOperator, op.builtin): (op.builtin, op.name)
    for op in op_format.OPS.values()
}


def filters_of(code, weights: np.ndarray) -> np.ndarray:
    """A builtin op's int8 weights as filters [C_out, ...] in mask bit order: a depthwise
    filter [1, KH, KW, C_out] gives C_out filters of KH x KW taps (bit ky * KW + kx)."""
    if code == tfm.OP_DEPTHWISE_CONV_2D:
        return np.moveaxis(weights[0], -1, 0)
    return weights


def layer_of(
    names: list[str],
    filter_names: list[str],
    layer_names: Collection[str],
    aliases: Mapping[str, str] | None = None,
) -> str | None:
    """The Keras layer an operator came from, from TFLite tensor names like
    'model/re_lu/Relu;model/bn/FusedBatchNormV3;model/conv/Conv2D'.

    Output tensor names are unique to the op but carry fused layers too; weight names name the
    layer but may be shared after constant deduplication. Prefer a layer in both. `aliases`
    maps folded BatchNorm / activation layers to the conv / dense layer they follow.
    """
    aliases = aliases or {}

    def hits(strings):
        found = []
        for s in strings:
            for part in s.split(";"):
                for comp in part.split("/"):
                    name = comp if comp in layer_names else aliases.get(comp)
                    if name is not None and name not in found:
                        found.append(name)
        return found

    out_hits, w_hits = hits(names), hits(filter_names)
    for h in w_hits:
        if h in out_hits:
            return h
    if out_hits:
        return out_hits[-1]  # fused names list the last op first: 'Relu;BatchNorm;Conv2D'
    return w_hits[0] if w_hits else None


def _layer_by_mask(model, code, filter_tensor, masks: Mapping[str, np.ndarray]) -> str | None:
    """The one layer whose kernel has this filter's non-zero pattern, else None."""
    weights = tfm.constant_data(model, filter_tensor)
    depthwise = code == tfm.OP_DEPTHWISE_CONV_2D
    if weights is None or weights.ndim < 2 or (depthwise and weights.ndim != 4):
        return None
    filters = filters_of(code, weights)
    pattern = filters.reshape(filters.shape[0], -1) != 0
    found = [n for n, m in masks.items() if m.shape == pattern.shape and np.array_equal(m, pattern)]
    return found[0] if len(found) == 1 else None


def _why_not(model, sg, op, code) -> str | None:
    """Why this op cannot become an sbtf op (None when it can), signed-binary check included."""
    inputs = [int(i) for i in op.inputs]
    if len(inputs) < 2 or inputs[1] < 0:
        return "operator has no filter input"
    x, w = sg.tensors[inputs[0]], sg.tensors[inputs[1]]
    y = sg.tensors[int(op.outputs[0])]
    if x.type != tfm.TYPE_INT8 or y.type != tfm.TYPE_INT8:
        return "input/output are not int8 (only full-integer int8 layers are re-encoded)"
    weights = tfm.constant_data(model, w)
    if weights is None or w.type != tfm.TYPE_INT8:
        return "filter is not a constant int8 tensor"
    depthwise = code == tfm.OP_DEPTHWISE_CONV_2D
    if depthwise and (weights.ndim != 4 or weights.shape[0] != 1):
        return f"depthwise filter has shape {list(weights.shape)}, expected [1, KH, KW, C_out]"
    c_out = weights.shape[-1] if depthwise else weights.shape[0]
    zps = tfm.zero_points(w)
    if np.any(zps != 0):
        return "filter zero points are not 0"
    n_scales = tfm.scales(w).size
    channel_axis = 3 if depthwise else 0
    if n_scales not in (1, c_out) or (
        n_scales > 1 and w.quantization.quantizedDimension != channel_axis
    ):
        return f"filter has {n_scales} scales for {c_out} output channels"
    if len(inputs) > 2 and inputs[2] >= 0:
        b = sg.tensors[inputs[2]]
        bias = tfm.constant_data(model, b)
        if bias is None or b.type != tfm.TYPE_INT32 or bias.size != c_out:
            return "bias is not a constant int32 [C_out] tensor"
    opts = op.builtinOptions
    if not _ACTIVATION.lo <= opts.fusedActivationFunction <= _ACTIVATION.hi:
        return f"fused activation {opts.fusedActivationFunction} is not supported"
    if code == tfm.OP_CONV_2D:
        if weights.ndim != 4:
            return f"filter has rank {weights.ndim}, expected 4"
        c_in = None if x.shape is None or len(x.shape) != 4 else int(x.shape[3])
        if c_in != weights.shape[3]:
            return (
                f"grouped convolution (filter has {weights.shape[3]} input channels, input "
                f"has {c_in})"
            )
    elif depthwise:
        c_in = None if x.shape is None or len(x.shape) != 4 else int(x.shape[3])
        if not c_in or c_out % c_in:
            return f"depthwise filter has {c_out} output channels for {c_in} input channels"
    else:
        if weights.ndim != 2:
            return f"filter has rank {weights.ndim}, expected 2"
        if opts.weightsFormat != schema.FullyConnectedOptionsWeightsFormat.DEFAULT:
            return "shuffled weights format"
    violation = bitmask.signed_binary_violation(filters_of(code, weights))
    if violation is not None:
        return f"int8 weights are not signed-binary: {violation}"
    try:
        _options(code, op, weights, int(x.shape[-1]) if x.shape is not None and len(x.shape) else 0)
    except ValueError as exc:
        return f"outside the sbtf op format: {exc}"
    return None


def _options(code, op, weights, c_in) -> bytes:
    """The sbtf op's custom options, checked against its spec (sbtf.op_format)."""
    o = op.builtinOptions
    if code in (tfm.OP_CONV_2D, tfm.OP_DEPTHWISE_CONV_2D):
        _, kh, kw, _ = weights.shape
        window = {
            "input_channels": int(c_in),
            "filter_height": int(kh),
            "filter_width": int(kw),
            "padding": int(o.padding),
            "stride_h": int(o.strideH),
            "stride_w": int(o.strideW),
            "dilation_h_factor": int(o.dilationHFactor),
            "dilation_w_factor": int(o.dilationWFactor),
            "fused_activation_function": int(o.fusedActivationFunction),
        }
        if code == tfm.OP_CONV_2D:
            opts = op_format.write_options(tfm.SBTF_CONV_2D, **window)
        else:  # TFLite's kernels derive the multiplier from the shapes too
            opts = op_format.write_options(tfm.SBTF_DEPTHWISE_CONV_2D, **window,
                                           depth_multiplier=int(weights.shape[3]) // int(c_in))
    else:
        opts = op_format.write_options(
            tfm.SBTF_FULLY_CONNECTED,
            input_channels=int(weights.shape[1]),
            fused_activation_function=int(o.fusedActivationFunction),
            keep_num_dims=bool(o.keepNumDims),
        )
    return bytes(flexbuffers.Dumps(opts))


def _add_buffer(model, array: np.ndarray) -> int:
    buf = schema.BufferT()
    buf.data = np.frombuffer(np.ascontiguousarray(array).tobytes(), np.uint8).copy()
    model.buffers.append(buf)
    return len(model.buffers) - 1


def _add_tensor(model, sg, name, array, tensor_type, quantization=None) -> int:
    t = schema.TensorT()
    t.shape = np.array(array.shape, np.int32)
    t.type = tensor_type
    t.buffer = _add_buffer(model, array)
    t.name = name.encode()
    t.quantization = quantization
    t.isVariable = False
    t.hasRank = True
    sg.tensors.append(t)
    return len(sg.tensors) - 1


def _opcode_index(model, custom_code: str) -> int:
    for i in range(len(model.operatorCodes)):
        if tfm.builtin_code(model, i) == tfm.OP_CUSTOM and tfm.opcode_name(model, i) == custom_code:
            return i
    oc = schema.OperatorCodeT()
    oc.builtinCode = tfm.OP_CUSTOM
    oc.deprecatedBuiltinCode = tfm.OP_CUSTOM
    oc.customCode = custom_code.encode()
    oc.version = 1
    model.operatorCodes.append(oc)
    return len(model.operatorCodes) - 1


def _sign_quantization(w) -> schema.QuantizationParametersT:
    q = schema.QuantizationParametersT()
    q.scale = tfm.scales(w).astype(np.float32)
    q.zeroPoint = np.zeros(q.scale.size, np.int64)
    q.quantizedDimension = 0
    return q


def _rewrite(model, sg, op, code, layer, cache) -> int:
    """Turn `op` into its sbtf op; returns the bytes of its new bitmask + sign data."""
    inputs = [int(i) for i in op.inputs]
    w_index = inputs[1]
    w = sg.tensors[w_index]
    weights = tfm.constant_data(model, w)
    if w_index not in cache:  # a weight tensor shared by several ops is encoded once
        mask, sign = bitmask.pack(filters_of(code, weights))
        base = layer or tfm.tensor_name(w)
        mask_i = _add_tensor(model, sg, f"{base}/sbtf_bitmask", mask, tfm.TYPE_UINT8)
        sign_i = _add_tensor(
            model, sg, f"{base}/sbtf_sign", sign, tfm.TYPE_INT8, _sign_quantization(w)
        )
        cache[w_index] = (mask_i, sign_i, mask.nbytes + sign.nbytes)
    mask_i, sign_i, encoded_bytes = cache[w_index]
    bias_i = inputs[2] if len(inputs) > 2 else -1
    c_in = int(sg.tensors[inputs[0]].shape[-1])
    op.customOptions = np.frombuffer(_options(code, op, weights, c_in), np.uint8).copy()
    op.customOptionsFormat = tfm.FLEXBUFFERS
    op.opcodeIndex = _opcode_index(model, _OPS[code][1])
    op.inputs = np.array([inputs[0], mask_i, sign_i, bias_i], np.int32)
    op.builtinOptionsType = schema.BuiltinOptions.NONE
    op.builtinOptions = None
    return encoded_bytes


def _referenced_tensors(model, sg_index, sg) -> set[int]:
    used = set()
    for op in sg.operators:
        for field in (op.inputs, op.outputs, op.intermediates):
            if field is not None:
                used.update(int(i) for i in field if i >= 0)
    for field in (sg.inputs, sg.outputs):
        if field is not None:
            used.update(int(i) for i in field)
    for sd in model.signatureDefs or []:
        if sd.subgraphIndex == sg_index:
            used.update(int(t.tensorIndex) for t in (sd.inputs or []) + (sd.outputs or []))
    return used


def _renumber(values, mapping):
    if values is None:
        return None
    return np.array([mapping[int(v)] if v >= 0 else int(v) for v in values], np.int32)


def _remove_tensors(model, sg_index, sg, doomed: set[int]) -> None:
    """Drop the tensors in `doomed` nothing references any more; renumber the rest."""
    doomed = doomed - _referenced_tensors(model, sg_index, sg)
    if not doomed:
        return
    keep = [i for i in range(len(sg.tensors)) if i not in doomed]
    mapping = {old: new for new, old in enumerate(keep)}
    sg.tensors = [sg.tensors[i] for i in keep]
    for op in sg.operators:
        op.inputs = _renumber(op.inputs, mapping)
        op.outputs = _renumber(op.outputs, mapping)
        op.intermediates = _renumber(op.intermediates, mapping)
    sg.inputs = _renumber(sg.inputs, mapping)
    sg.outputs = _renumber(sg.outputs, mapping)
    for sd in model.signatureDefs or []:
        if sd.subgraphIndex == sg_index:
            for t in (sd.inputs or []) + (sd.outputs or []):
                t.tensorIndex = mapping[int(t.tensorIndex)]


def _remove_buffers(model, doomed: set[int]) -> None:
    """Drop buffers in `doomed` no tensor or metadata references; buffer 0 stays the sentinel."""
    used = {t.buffer for sg in model.subgraphs for t in sg.tensors}
    used |= {m.buffer for m in model.metadata or []}
    used |= {int(b) for b in (model.metadataBuffer if model.metadataBuffer is not None else [])}
    doomed = {b for b in doomed if b > 0 and b not in used}
    if not doomed:
        return
    keep = [i for i in range(len(model.buffers)) if i not in doomed]
    mapping = {old: new for new, old in enumerate(keep)}
    model.buffers = [model.buffers[i] for i in keep]
    for sg in model.subgraphs:
        for t in sg.tensors:
            t.buffer = mapping[t.buffer]
    for m in model.metadata or []:
        m.buffer = mapping[m.buffer]
    if model.metadataBuffer is not None:
        model.metadataBuffer = np.array([mapping[int(b)] for b in model.metadataBuffer], np.int32)


def _remove_opcodes(model, doomed: set[int]) -> None:
    used = {op.opcodeIndex for sg in model.subgraphs for op in sg.operators}
    doomed = doomed - used
    if not doomed:
        return
    keep = [i for i in range(len(model.operatorCodes)) if i not in doomed]
    mapping = {old: new for new, old in enumerate(keep)}
    model.operatorCodes = [model.operatorCodes[i] for i in keep]
    for sg in model.subgraphs:
        for op in sg.operators:
            op.opcodeIndex = mapping[op.opcodeIndex]


def _weight_bytes(model, sg, inputs) -> tuple[int, int, bool]:
    """(filter bytes, bias bytes, has bias) of a builtin conv/FC op."""
    w = tfm.constant_data(model, sg.tensors[inputs[1]])
    has_bias = len(inputs) > 2 and inputs[2] >= 0
    b = tfm.constant_data(model, sg.tensors[inputs[2]]) if has_bias else None
    return (0 if w is None else w.nbytes), (0 if b is None else b.nbytes), has_bias


def reencode(
    tflite: bytes,
    *,
    signed_binary_layers: Collection[str] | None = None,
    layer_names: Collection[str] = (),
    aliases: Mapping[str, str] | None = None,
    masks: Mapping[str, np.ndarray] | None = None,
    strict: bool = False,
) -> tuple[bytes, list[LayerReport], list[str]]:
    """Re-encode the signed-binary conv / fully-connected / depthwise operators of an int8
    TFLite model.

    Args:
        tflite: int8 TFLite flatbuffer (TensorFlow's converter output).
        signed_binary_layers: names of the Keras layers that are signed-binary; only ops that
            came from them are candidates. None: every CONV_2D / FULLY_CONNECTED /
            DEPTHWISE_CONV_2D whose int8 weights are signed-binary is re-encoded
            (`detect="weights"`).
        layer_names: names of all Keras conv / dense layers, to attribute ops to layers.
        aliases: folded BatchNorm / activation layer name -> its conv / dense layer.
        masks: layer name -> its kernel's non-zero pattern [C_out, K], to recognise ops whose
            tensor names say nothing (see `prepare.kernel_masks`).
        strict: a candidate that stays a builtin op (or a signed-binary layer without an op)
            raises ConversionError instead of a ConversionWarning.

    Returns (new flatbuffer bytes, a LayerReport per conv/FC/depthwise op, warning messages).
    """
    model = read_model(tflite, "TensorFlow's int8 model")
    names = set(layer_names) | set(signed_binary_layers or ())
    rows, problems = [], []
    old_filters: dict[int, set[int]] = {}
    emptied_opcodes = set()
    seen_layers = set()
    for sg_index, sg in enumerate(model.subgraphs):
        cache = {}
        for op_index, op in enumerate(sg.operators):
            code = tfm.builtin_code(model, op.opcodeIndex)
            if code not in _OPS:
                continue
            inputs = [int(i) for i in op.inputs]
            out_names = [tfm.tensor_name(sg.tensors[int(i)]) for i in op.outputs]
            w_names = [tfm.tensor_name(sg.tensors[i]) for i in inputs[1:] if i >= 0]
            layer = layer_of(out_names, w_names, names, aliases)
            if layer is None and masks and len(inputs) > 1:
                layer = _layer_by_mask(model, code, sg.tensors[inputs[1]], masks)
            seen_layers.add(layer)
            reason = _why_not(model, sg, op, code)
            if signed_binary_layers is None:
                candidate = reason is None
            else:
                candidate = layer in signed_binary_layers
            weights = tfm.constant_data(model, sg.tensors[inputs[1]]) if len(inputs) > 1 else None
            w_bytes, b_bytes, has_bias = _weight_bytes(model, sg, inputs)
            c_out = int(weights.shape[0]) if weights is not None else 0
            if weights is not None and code == tfm.OP_DEPTHWISE_CONV_2D:
                c_out = int(weights.shape[-1])
            k = int(weights.size // c_out) if c_out else 0
            sparsity = float(np.mean(weights == 0)) if weights is not None and weights.size else 0.0
            row = LayerReport(
                sg_index,
                op_index,
                _OPS[code][0],
                layer,
                candidate,
                _OPS[code][0],
                c_out,
                k,
                has_bias,
                sparsity,
                w_bytes + b_bytes,
                w_bytes + b_bytes,
            )
            if candidate and reason is None:
                old_filters.setdefault(sg_index, set()).add(inputs[1])
                emptied_opcodes.add(op.opcodeIndex)
                encoded_bytes = _rewrite(model, sg, op, code, layer, cache)
                row.op = _OPS[code][1]
                row.bytes_after = encoded_bytes + b_bytes  # measured; tests check the formula
            elif candidate:
                row.reason = reason
                problems.append(
                    f"layer {layer or '?'} (operator {op_index}, {_OPS[code][0]}) "
                    f"stays a builtin int8 op: {reason}"
                )
            rows.append(row)
    for name in sorted(set(signed_binary_layers or ()) - seen_layers):
        problems.append(
            f"layer {name} is signed-binary but no CONV_2D / FULLY_CONNECTED / DEPTHWISE_CONV_2D "
            f"operator "
            f"of the TFLite model could be traced back to it"
        )
    if problems and strict:
        raise ConversionError("strict mode: " + "; ".join(problems))
    for message in problems:
        warnings.warn(message, ConversionWarning, stacklevel=3)

    doomed_buffers = set()
    for sg_index, filters in old_filters.items():
        sg = model.subgraphs[sg_index]
        doomed_buffers |= {sg.tensors[i].buffer for i in filters}
        _remove_tensors(model, sg_index, sg, filters)
    _remove_buffers(model, doomed_buffers)
    _remove_opcodes(model, emptied_opcodes)
    return tfm.write(model), rows, problems
