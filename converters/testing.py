"""Helpers to check converted models against TensorFlow Lite's own int8 kernels, op by op.

sbtf ops are specified against TFLite's *reference* int8 kernels (docs/op_spec.md). TFLite's
Python interpreter applies the XNNPACK delegate by default, and its optimized x86 builtin kernels
(`BUILTIN_WITHOUT_DEFAULT_DELEGATES`) also round some requantizations differently (±1), so every
interpreter here uses `OpResolverType.BUILTIN_REF`.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from sbtf.converters import reference, tflite_math
from sbtf.converters import tflite_model as tfm
from sbtf.converters.reencode import layer_of

CONV_FC = (tfm.OP_CONV_2D, tfm.OP_FULLY_CONNECTED, tfm.OP_DEPTHWISE_CONV_2D)


def interpreter(tflite: bytes, *, preserve_all_tensors: bool = True) -> tf.lite.Interpreter:
    """A TFLite interpreter with the reference builtin kernels (no XNNPACK), tensors allocated."""
    interp = tf.lite.Interpreter(
        model_content=bytes(tflite),
        experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF,
        experimental_preserve_all_tensors=preserve_all_tensors,
    )
    interp.allocate_tensors()
    return interp


def operator_io(
    tflite: bytes, inputs: list[np.ndarray]
) -> dict[int, list[tuple[np.ndarray, np.ndarray]]]:
    """Run the model of subgraph 0 on each sample; per CONV_2D / FULLY_CONNECTED /
    DEPTHWISE_CONV_2D operator index,
    the list of (op input, op output) arrays TFLite computed.

    `inputs`: one array per model input, each [N, ...] with the model's dtype; sample i is
    `a[i:i+1]` of every array.
    """
    model = tfm.read(tflite)
    sg = model.subgraphs[0]
    ops = {
        i: op
        for i, op in enumerate(sg.operators)
        if tfm.builtin_code(model, op.opcodeIndex) in CONV_FC
    }
    interp = interpreter(tflite)
    details = interp.get_input_details()
    result = {i: [] for i in ops}
    for n in range(len(inputs[0])):
        for d, a in zip(details, inputs):
            interp.set_tensor(d["index"], a[n : n + 1])
        interp.invoke()
        for i, op in ops.items():
            x = interp.get_tensor(int(op.inputs[0])).copy()
            y = interp.get_tensor(int(op.outputs[0])).copy()
            result[i].append((x, y))
    return result


def operators_by_layer(tflite: bytes, inputs: list[np.ndarray], layer_names):
    """operator_io, and the model read back with each Keras layer's operator index.

    Returns (model, operator_io's result, {layer name: operator index}) for the CONV_2D /
    FULLY_CONNECTED / DEPTHWISE_CONV_2D operators, named by their tensors (reencode.layer_of).
    """
    io = operator_io(tflite, inputs)
    model = tfm.read(tflite)
    sg = model.subgraphs[0]
    by_layer = {}
    for i in io:
        op = sg.operators[i]
        names = [tfm.tensor_name(sg.tensors[int(t)]) for t in op.outputs]
        w_names = [tfm.tensor_name(sg.tensors[int(t)]) for t in op.inputs[1:] if t >= 0]
        by_layer[layer_of(names, w_names, set(layer_names))] = i
    return model, io, by_layer


def builtin_reference(tflite_or_model, operator: int, x: np.ndarray) -> np.ndarray:
    """`sbtf.converters.reference` on a builtin int8 CONV_2D / FULLY_CONNECTED /
    DEPTHWISE_CONV_2D operator of subgraph 0: weights, bias, quantization and options read from
    the flatbuffer."""
    model = (
        tfm.read(tflite_or_model)
        if isinstance(tflite_or_model, (bytes, bytearray))
        else tflite_or_model
    )
    sg = model.subgraphs[0]
    op = sg.operators[operator]
    code = tfm.builtin_code(model, op.opcodeIndex)
    inputs = [int(i) for i in op.inputs]
    t_in, t_w, t_out = sg.tensors[inputs[0]], sg.tensors[inputs[1]], sg.tensors[int(op.outputs[0])]
    w = tfm.constant_data(model, t_w)
    bias = (
        tfm.constant_data(model, sg.tensors[inputs[2]])
        if len(inputs) > 2 and inputs[2] >= 0
        else None
    )
    s_in, s_out = float(tfm.scales(t_in)[0]), float(tfm.scales(t_out)[0])
    zp_in, zp_out = int(tfm.zero_points(t_in)[0]), int(tfm.zero_points(t_out)[0])
    multipliers = (
        tflite_math.conv_multipliers
        if code != tfm.OP_FULLY_CONNECTED
        else tflite_math.fully_connected_multipliers
    )
    mult, shift = multipliers(s_in, tfm.scales(t_w), s_out)
    c_out = w.shape[-1] if code == tfm.OP_DEPTHWISE_CONV_2D else w.shape[0]
    mult, shift = np.broadcast_to(mult, (c_out,)), np.broadcast_to(shift, (c_out,))
    o = op.builtinOptions
    act_min, act_max = tflite_math.activation_range(o.fusedActivationFunction, s_out, zp_out)
    rq = reference.Requant(-zp_in, zp_out, mult, shift, act_min, act_max)
    if code == tfm.OP_CONV_2D:
        return reference.conv2d_int8(
            x,
            w,
            bias,
            rq,
            stride=(o.strideH, o.strideW),
            dilation=(o.dilationHFactor, o.dilationWFactor),
            padding=o.padding,
        )
    if code == tfm.OP_DEPTHWISE_CONV_2D:
        return reference.depthwise_conv2d_int8(
            x,
            w,
            bias,
            rq,
            depth_multiplier=c_out // np.asarray(x).shape[-1],
            stride=(o.strideH, o.strideW),
            dilation=(o.dilationHFactor, o.dilationWFactor),
            padding=o.padding,
        )
    out = reference.fully_connected_int8(np.asarray(x).reshape(-1, w.shape[1]), w, bias, rq)
    return out.reshape(*np.asarray(x).shape[:-1], c_out) if o.keepNumDims else out
