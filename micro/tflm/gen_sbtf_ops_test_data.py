"""Generate micro/tflm/sbtf_ops_test_data.h: golden cases for sbtf_ops_test.cc.

Inputs and weights are random (fixed seed); expected outputs come from the NumPy reference
(sbtf.converters.reference, the executable form of docs/op_spec.md); custom options are
FlexBuffers written as the converter writes them, plus malformed ones for the negative tests.

    .venv/bin/python micro/tflm/gen_sbtf_ops_test_data.py            # rewrite the header
    .venv/bin/python micro/tflm/gen_sbtf_ops_test_data.py --check    # exit 1 if it is stale
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from flatbuffers import flexbuffers

from sbtf import bitmask, op_format
from sbtf.converters import reference as ref
from sbtf.converters import tflite_math as tm

HEADER = Path(__file__).with_name("sbtf_ops_test_data.h")


@dataclass
class ConvCase:
    name: str
    n: int
    h: int
    w: int
    c_in: int
    c_out: int
    kh: int
    kw: int
    stride: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)
    padding: int = tm.PADDING_SAME
    activation: int = tm.ACT_NONE
    bias: bool = True
    per_channel: bool = True
    depth_multiplier: int = 0  # > 0: SBTF_DEPTHWISE_CONV_2D (c_out = c_in * depth_multiplier)


@dataclass
class FcCase:
    name: str
    input_shape: tuple[int, ...]
    c_in: int
    c_out: int
    activation: int = tm.ACT_NONE
    bias: bool = True
    keep_num_dims: bool = False
    per_channel: bool = False


# Awkward sizes on purpose: K = 27, 33, 37, 45 (rows end inside a padding unit, 33 one bit
# past it) and 48, 64 (exact); zero points away from 0; every activation and padding mode.
CONV_CASES = [
    ConvCase("conv_3x3_same_relu", 1, 5, 5, 3, 4, 3, 3, activation=tm.ACT_RELU),
    ConvCase(
        "conv_3x3_valid_stride2_dilation",
        1,
        9,
        8,
        5,
        3,
        3,
        3,
        stride=(2, 1),
        dilation=(1, 2),
        padding=tm.PADDING_VALID,
        bias=False,
    ),
    ConvCase(
        "conv_1x1_batch2_relu6_per_tensor",
        2,
        3,
        2,
        33,
        2,
        1,
        1,
        activation=tm.ACT_RELU6,
        per_channel=False,
    ),
    ConvCase(
        "conv_2x3_same_stride2_relu_n1_to_1",
        1,
        6,
        7,
        8,
        5,
        2,
        3,
        stride=(2, 2),
        activation=tm.ACT_RELU_N1_TO_1,
    ),
]
FC_CASES = [
    FcCase("fc_batch2", (2, 37), 37, 5),
    FcCase(
        "fc_keep_num_dims_relu",
        (2, 3, 8),
        8,
        4,
        activation=tm.ACT_RELU,
        bias=False,
        keep_num_dims=True,
    ),
    FcCase("fc_flatten_64", (1, 2, 2, 16), 64, 3, activation=tm.ACT_RELU6),
    FcCase("fc_per_channel", (3, 33), 33, 6, activation=tm.ACT_RELU_N1_TO_1, per_channel=True),
]
# K = 9 and 6 taps per channel; depth multiplier 2 and 1, both paddings, stride and dilation.
DEPTHWISE_CASES = [
    ConvCase("depthwise_3x3_same_relu_m2", 1, 6, 5, 3, 6, 3, 3, activation=tm.ACT_RELU,
             depth_multiplier=2),
    ConvCase("depthwise_2x3_valid_stride2_dilation", 1, 9, 8, 5, 5, 2, 3, stride=(2, 1),
             dilation=(1, 2), padding=tm.PADDING_VALID, bias=False, depth_multiplier=1),
]


def signed_binary_weights(rng, c_out: int, k: int) -> np.ndarray:
    """int8 [c_out, k] of 0 / sign*127 with ~65% zeros; channel 0 is all zero (sign +1)."""
    signs = rng.choice([-1, 1], size=(c_out, 1))
    w = (rng.random((c_out, k)) >= 0.65).astype(np.int32) * signs * bitmask.MAGNITUDE
    w[0] = 0
    return w.astype(np.int8)


def quant(rng, c_out: int, per_channel: bool):
    in_scale = np.float32(rng.uniform(0.01, 0.05))
    in_zp = int(rng.integers(-20, 20))
    w_scales = rng.uniform(0.002, 0.02, size=c_out if per_channel else 1).astype(np.float32)
    out_scale = np.float32(rng.uniform(0.05, 0.2))
    out_zp = int(rng.integers(-10, 10))
    return in_scale, in_zp, w_scales, out_scale, out_zp


def conv_options(c: ConvCase) -> dict:
    depthwise = {"depth_multiplier": c.depth_multiplier} if c.depth_multiplier else {}
    return {
        "version": op_format.FORMAT_VERSION,
        "input_channels": c.c_in,
        "filter_height": c.kh,
        "filter_width": c.kw,
        "padding": c.padding,
        "stride_h": c.stride[0],
        "stride_w": c.stride[1],
        "dilation_h_factor": c.dilation[0],
        "dilation_w_factor": c.dilation[1],
        "fused_activation_function": c.activation,
        **depthwise,
    }


def fc_options(c: FcCase) -> dict:
    return {
        "version": op_format.FORMAT_VERSION,
        "input_channels": c.c_in,
        "fused_activation_function": c.activation,
        "keep_num_dims": c.keep_num_dims,
    }


def make_conv(rng, c: ConvCase) -> dict:
    """A conv case, or a depthwise one when c.depth_multiplier > 0 (K = kh * kw)."""
    k = c.kh * c.kw * (1 if c.depth_multiplier else c.c_in)
    w = signed_binary_weights(rng, c.c_out, k)
    mask, sign = bitmask.pack(w)
    in_scale, in_zp, w_scales, out_scale, out_zp = quant(rng, c.c_out, c.per_channel)
    x = rng.integers(-128, 128, size=(c.n, c.h, c.w, c.c_in)).astype(np.int8)
    bias = rng.integers(-3000, 3000, size=c.c_out).astype(np.int32) if c.bias else None
    mult, shift = tm.conv_multipliers(in_scale, np.broadcast_to(w_scales, c.c_out), out_scale)
    lo, hi = tm.activation_range(c.activation, float(out_scale), out_zp)
    rq = ref.Requant(-in_zp, out_zp, mult, shift, lo, hi)
    window = {"filter_hw": (c.kh, c.kw), "stride": c.stride, "dilation": c.dilation,
              "padding": c.padding}
    if c.depth_multiplier:
        y = ref.sbtf_depthwise_conv2d(x, mask, sign, bias, rq, **window,
                                      depth_multiplier=c.depth_multiplier)
    else:
        y = ref.sbtf_conv2d(x, mask, sign, bias, rq, **window)
    return {
        "name": c.name,
        "options": conv_options(c),
        "x": x,
        "in_scale": in_scale,
        "in_zp": in_zp,
        "mask": mask,
        "sign": sign,
        "w_scales": w_scales,
        "bias": bias,
        "y": y,
        "out_scale": out_scale,
        "out_zp": out_zp,
        "filter": (c.c_out, c.kh, c.kw, 1 if c.depth_multiplier else c.c_in),
        "conv": c,
    }


def make_fc(rng, c: FcCase) -> dict:
    w = signed_binary_weights(rng, c.c_out, c.c_in)
    mask, sign = bitmask.pack(w)
    in_scale, in_zp, w_scales, out_scale, out_zp = quant(rng, c.c_out, c.per_channel)
    x = rng.integers(-128, 128, size=c.input_shape).astype(np.int8)
    bias = rng.integers(-3000, 3000, size=c.c_out).astype(np.int32) if c.bias else None
    mult, shift = tm.fully_connected_multipliers(in_scale, w_scales, out_scale)
    if not c.per_channel:  # one (multiplier, shift) for every channel
        mult, shift = np.repeat(mult, c.c_out), np.repeat(shift, c.c_out)
    lo, hi = tm.activation_range(c.activation, float(out_scale), out_zp)
    rq = ref.Requant(-in_zp, out_zp, mult, shift, lo, hi)
    y = ref.sbtf_fully_connected(x.reshape(-1, c.c_in), mask, sign, bias, rq)
    if c.keep_num_dims:
        y = y.reshape(*c.input_shape[:-1], c.c_out)
    return {
        "name": c.name,
        "options": fc_options(c),
        "x": x,
        "in_scale": in_scale,
        "in_zp": in_zp,
        "mask": mask,
        "sign": sign,
        "w_scales": w_scales,
        "bias": bias,
        "y": y,
        "out_scale": out_scale,
        "out_zp": out_zp,
        "filter": (c.c_out, 1, 1, c.c_in),
        "conv": None,
    }


def malformed_options() -> list[tuple[str, bytes]]:
    """(name, bytes) of custom options each op must reject in Init."""
    conv = conv_options(CONV_CASES[0])
    fc = fc_options(FC_CASES[0])
    cases = []
    dw = conv_options(DEPTHWISE_CASES[0])
    for op, good in (("conv", conv), ("fc", fc), ("dw", dw)):
        for key in good:
            missing = {k: v for k, v in good.items() if k != key}
            cases.append((f"{op}_missing_{key}", flexbuffers.Dumps(missing)))
        cases.append((f"{op}_version_2", flexbuffers.Dumps({**good, "version": 2})))
        cases.append((f"{op}_version_0", flexbuffers.Dumps({**good, "version": 0})))
        cases.append(
            (f"{op}_activation_tanh", flexbuffers.Dumps({**good, "fused_activation_function": 4}))
        )
        cases.append((f"{op}_root_not_a_map", flexbuffers.Dumps([1, 2, 3])))
        cases.append((f"{op}_truncated", flexbuffers.Dumps(good)[:-7]))
    cases += [
        ("conv_padding_string", flexbuffers.Dumps({**conv, "padding": "SAME"})),
        ("conv_stride_float", flexbuffers.Dumps({**conv, "stride_h": 1.0})),
        ("conv_stride_zero", flexbuffers.Dumps({**conv, "stride_w": 0})),
        ("conv_padding_2", flexbuffers.Dumps({**conv, "padding": 2})),
        ("conv_dilation_negative", flexbuffers.Dumps({**conv, "dilation_h_factor": -1})),
        ("conv_version_bool", flexbuffers.Dumps({**conv, "version": True})),
        ("conv_input_channels_huge", flexbuffers.Dumps({**conv, "input_channels": 1 << 40})),
        ("fc_keep_num_dims_int", flexbuffers.Dumps({**fc, "keep_num_dims": 0})),
        ("fc_input_channels_zero", flexbuffers.Dumps({**fc, "input_channels": 0})),
        ("fc_version_string", flexbuffers.Dumps({**fc, "version": "1"})),
        ("dw_depth_multiplier_zero", flexbuffers.Dumps({**dw, "depth_multiplier": 0})),
        ("dw_depth_multiplier_float", flexbuffers.Dumps({**dw, "depth_multiplier": 2.0})),
    ]
    return [(name, bytes(b)) for name, b in cases]


def c_array(ctype: str, name: str, values) -> str:
    values = np.asarray(values).reshape(-1)
    if ctype == "float":
        body = ", ".join(f"{float(v)!r}f" for v in values)
    else:
        body = ", ".join(str(int(v)) for v in values)
    return f"const {ctype} {name}[] = {{{body}}};\n"


def dims(shape) -> list[int]:
    """TFLM's IntArrayFromInts layout: the count first."""
    return [len(shape), *shape]


def emit_case(kind: str, c: dict) -> tuple[str, str]:
    n = f"k_{c['name']}"
    out = [f"// {c['name']}\n"]
    out.append(
        c_array("uint8_t", f"{n}_options", np.frombuffer(flexbuffers.Dumps(c["options"]), np.uint8))
    )
    out.append(c_array("int", f"{n}_input_dims", dims(c["x"].shape)))
    out.append(c_array("int8_t", f"{n}_input", c["x"]))
    out.append(c_array("int", f"{n}_mask_dims", dims(c["mask"].shape)))
    out.append(c_array("uint8_t", f"{n}_mask", c["mask"]))
    out.append(c_array("int", f"{n}_sign_dims", dims(c["sign"].shape)))
    out.append(c_array("int8_t", f"{n}_sign", c["sign"]))
    # TFLM's FloatArrayFromFloats layout: the count first, as a float.
    scales = c["w_scales"]
    out.append(c_array("float", f"{n}_sign_scales", [len(scales), *scales]))
    out.append(c_array("int", f"{n}_sign_zero_points", [len(scales), *([0] * len(scales))]))
    if c["bias"] is not None:
        out.append(c_array("int32_t", f"{n}_bias", c["bias"]))
    out.append(c_array("int", f"{n}_output_dims", dims(c["y"].shape)))
    out.append(c_array("int8_t", f"{n}_expected", c["y"]))
    bias = f"{n}_bias" if c["bias"] is not None else "nullptr"
    conv = c["conv"]
    builtin = "{0, 0, 0, 0, 0, 0}"
    if conv is not None:  # options of TFLite's builtin CONV_2D, for the cross-check
        builtin = (
            f"{{{1 if conv.padding == tm.PADDING_SAME else 2}, {conv.stride[0]}, "
            f"{conv.stride[1]}, {conv.dilation[0]}, {conv.dilation[1]}, {conv.depth_multiplier}}}"
        )
    entry = (
        f"    {{\"{c['name']}\", {n}_options, sizeof({n}_options), {n}_input_dims, {n}_input, "
        f"{c['in_scale']!r}f, {c['in_zp']}, {n}_mask_dims, {n}_mask, {n}_sign_dims, {n}_sign, "
        f"{n}_sign_scales, {n}_sign_zero_points, {bias}, {n}_output_dims, {n}_expected, "
        f"{c['out_scale']!r}f, {c['out_zp']}, {{{', '.join(map(str, c['filter']))}}}, "
        f"{builtin}, {c['options']['fused_activation_function']}}},\n"
    )
    return "".join(out), entry


PREAMBLE = """\
// Generated by micro/tflm/gen_sbtf_ops_test_data.py from sbtf.converters.reference.
// Do not edit; regenerate.
#ifndef SBTF_TFLM_SBTF_OPS_TEST_DATA_H_
#define SBTF_TFLM_SBTF_OPS_TEST_DATA_H_

#include <stddef.h>
#include <stdint.h>

namespace sbtf_test {

struct BuiltinConvOptions {
  int padding;  // TfLitePadding
  int stride_h, stride_w, dilation_h, dilation_w;
  int depth_multiplier;  // 0: CONV_2D, else DEPTHWISE_CONV_2D
};

// One op invocation: tensors in TFLM's test-helper layouts (dims and scales count first).
struct GoldenCase {
  const char* name;
  const uint8_t* options;
  size_t options_size;
  const int* input_dims;
  const int8_t* input;
  float input_scale;
  int input_zero_point;
  const int* mask_dims;
  const uint8_t* mask;
  const int* sign_dims;
  const int8_t* sign;
  const float* sign_scales;
  const int* sign_zero_points;
  const int32_t* bias;  // nullptr: no bias
  const int* output_dims;
  const int8_t* expected;
  float output_scale;
  int output_zero_point;
  int filter[4];  // C_out, KH, KW, C_in (depthwise: C_in 1)
  BuiltinConvOptions conv;  // conv and depthwise cases only
  int activation;
};

struct BadOptions {
  const char* name;
  const uint8_t* data;
  size_t size;
};

"""


def render() -> str:
    rng = np.random.default_rng(20261123)
    convs = [emit_case("conv", make_conv(rng, c)) for c in CONV_CASES]
    fcs = [emit_case("fc", make_fc(rng, c)) for c in FC_CASES]
    dws = [emit_case("dw", make_conv(rng, c)) for c in DEPTHWISE_CASES]
    bad = malformed_options()
    parts = [PREAMBLE]
    parts += [body for body, _ in convs + fcs + dws]
    parts.append("\nconst GoldenCase kConvCases[] = {\n" + "".join(e for _, e in convs) + "};\n")
    parts.append(
        "const GoldenCase kFullyConnectedCases[] = {\n" + "".join(e for _, e in fcs) + "};\n"
    )
    parts.append(
        "const GoldenCase kDepthwiseConvCases[] = {\n" + "".join(e for _, e in dws) + "};\n\n"
    )
    for name, data in bad:
        parts.append(c_array("uint8_t", f"k_bad_{name}", np.frombuffer(data, np.uint8)))
    variables = {"conv": "kBadConvOptions", "fc": "kBadFullyConnectedOptions",
                 "dw": "kBadDepthwiseConvOptions"}
    for op, var in variables.items():
        entries = "".join(
            f'    {{"{name}", k_bad_{name}, sizeof(k_bad_{name})}},\n'
            for name, _ in bad
            if name.startswith(op + "_")
        )
        parts.append(f"const BadOptions {var}[] = {{\n{entries}}};\n")
    parts.append("\n}  // namespace sbtf_test\n\n#endif  // SBTF_TFLM_SBTF_OPS_TEST_DATA_H_\n")
    return "".join(parts)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="fail if the header is out of date")
    args = p.parse_args(argv)
    text = render()
    if args.check:
        if not HEADER.is_file() or HEADER.read_text() != text:
            print(f"{HEADER} is stale: run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    HEADER.write_text(text)
    print(f"wrote {HEADER} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
