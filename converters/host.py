"""Execute one sbtf operator of a converted model on the host with the NumPy reference.

Reads the operator's tensors, quantization parameters and FlexBuffer options from the
flatbuffer, checks them as docs/op_spec.md requires of every reader, and calls
`sbtf.converters.reference`. Running whole models (builtin ops by TFLite, sbtf ops by sbtf) is
the delegate's job (`sbtf.Interpreter`); this is the per-op check the tests use.
"""

from __future__ import annotations

import numpy as np

from sbtf import op_format
from sbtf.converters import reference, tflite_math
from sbtf.converters import tflite_model as tfm
from sbtf.converters.errors import ConversionError


def parse_options(op_name: str, raw: bytes) -> dict:
    """Validated custom options of an sbtf op: every key of its spec (sbtf.op_format) present
    with its type and in its range, the format version this reader knows."""
    if op_name not in op_format.OPS:
        raise ConversionError(f"{op_name!r} is not an sbtf op (expected one of {tfm.SBTF_OPS})")
    try:
        typed = tfm.typed_flexbuffer_map(raw)
    except ConversionError:
        raise
    except Exception as exc:  # noqa: BLE001 (any decoding failure means malformed options)
        raise ConversionError(f"{op_name}: custom options are not a FlexBuffer map: {exc}") from None
    try:
        return op_format.read_options(op_name, typed)
    except ValueError as exc:
        raise ConversionError(f"{op_name}: {exc}") from None


def sbtf_operators(model) -> list[tuple[int, int, str]]:
    """(subgraph, operator index, op name) of every sbtf op in a model (bytes or ModelT)."""
    model = tfm.read(model) if isinstance(model, (bytes, bytearray)) else model
    return [
        (s, i, tfm.opcode_name(model, op.opcodeIndex))
        for s, sg in enumerate(model.subgraphs)
        for i, op in enumerate(sg.operators)
        if tfm.opcode_name(model, op.opcodeIndex) in tfm.SBTF_OPS
    ]


def run_sbtf_op(model, operator: int, x: np.ndarray, *, subgraph: int = 0) -> np.ndarray:
    """Output of sbtf operator `operator` of `model` (bytes or ModelT) for int8 input `x`.

    `x` has the operator input's shape, or any leading batch size for a conv
    ([N, H, W, C_in]) or fully connected layer ([..., C_in]).
    """
    model = tfm.read(model) if isinstance(model, (bytes, bytearray)) else model
    sg = model.subgraphs[subgraph]
    op = sg.operators[operator]
    name = tfm.opcode_name(model, op.opcodeIndex)
    options = parse_options(name, bytes(np.asarray(op.customOptions, np.uint8)))
    inputs = [int(i) for i in op.inputs]
    if len(inputs) != 4:
        raise ConversionError(
            f"{name}: expected 4 inputs (input, bitmask, sign, bias), got {len(inputs)}"
        )
    t_in, t_mask, t_sign = (sg.tensors[i] for i in inputs[:3])
    t_out = sg.tensors[int(op.outputs[0])]
    mask = tfm.constant_data(model, t_mask)
    sign = tfm.constant_data(model, t_sign)
    if (
        mask is None
        or t_mask.type != tfm.TYPE_UINT8
        or sign is None
        or t_sign.type != tfm.TYPE_INT8
    ):
        raise ConversionError(f"{name}: bitmask must be constant uint8 and sign constant int8")
    bias = tfm.constant_data(model, sg.tensors[inputs[3]]) if inputs[3] >= 0 else None
    c_out = sign.size
    w_scales = tfm.scales(t_sign)
    if w_scales.size not in (1, c_out):
        raise ConversionError(f"{name}: sign tensor has {w_scales.size} scales for {c_out} filters")
    s_in, s_out = float(tfm.scales(t_in)[0]), float(tfm.scales(t_out)[0])
    zp_in, zp_out = int(tfm.zero_points(t_in)[0]), int(tfm.zero_points(t_out)[0])
    if name != tfm.SBTF_FULLY_CONNECTED:
        mult, shift = tflite_math.conv_multipliers(s_in, w_scales, s_out)
    else:
        mult, shift = tflite_math.fully_connected_multipliers(s_in, w_scales, s_out)
    mult, shift = np.broadcast_to(mult, (c_out,)), np.broadcast_to(shift, (c_out,))
    act_min, act_max = tflite_math.activation_range(
        options["fused_activation_function"], s_out, zp_out
    )
    rq = reference.Requant(-zp_in, zp_out, mult, shift, act_min, act_max)
    x = np.asarray(x)
    if x.dtype != np.int8:
        raise ConversionError(f"{name}: input must be int8, got {x.dtype}")
    c_in = options["input_channels"]
    if name != tfm.SBTF_FULLY_CONNECTED:
        if x.ndim != 4 or x.shape[3] != c_in:
            raise ConversionError(f"{name}: input shape {x.shape} is not [N, H, W, {c_in}]")
        window = {
            "filter_hw": (options["filter_height"], options["filter_width"]),
            "stride": (options["stride_h"], options["stride_w"]),
            "dilation": (options["dilation_h_factor"], options["dilation_w_factor"]),
            "padding": options["padding"],
        }
        if name == tfm.SBTF_CONV_2D:
            return reference.sbtf_conv2d(x, mask, sign, bias, rq, **window)
        if c_out != c_in * options["depth_multiplier"]:
            raise ConversionError(f"{name}: sign has {c_out} values, expected input_channels * "
                                  f"depth_multiplier = {c_in * options['depth_multiplier']}")
        return reference.sbtf_depthwise_conv2d(x, mask, sign, bias, rq, **window,
                                               depth_multiplier=options["depth_multiplier"])
    if x.size % c_in:
        raise ConversionError(f"{name}: input of {x.size} values is not a multiple of C_in={c_in}")
    out = reference.sbtf_fully_connected(x.reshape(-1, c_in), mask, sign, bias, rq)
    if options["keep_num_dims"]:
        return out.reshape(*x.shape[:-1], c_out)
    return out
