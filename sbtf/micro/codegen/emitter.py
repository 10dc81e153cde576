"""The Emitter: what every operator's emitter (sbtf.micro.codegen.operators) writes through.

It collects the model's C declarations (constants, parameter structs) and the invoke body, and
holds the checks and setup the operators share: int8 tensors, constant arrays, weight scales,
biases, convolution geometry and requantization, fully connected shapes, sbtf op options.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sbtf.converters import tflite_math
from sbtf.converters.errors import ConversionError
from sbtf.converters.host import parse_options
from sbtf.micro.codegen.graph import Graph, Operator, T, Tensor, UnsupportedModelError
from sbtf.micro.codegen.planner import MemoryPlan
from sbtf.micro.codegen.templates import c_array, c_comment


def dims4(shape, what: str) -> tuple[int, int, int, int]:
    shape = tuple(int(d) for d in shape)
    if len(shape) > 4:
        raise UnsupportedModelError(f"{what}: rank {len(shape)} > 4 is not supported")
    return (1,) * (4 - len(shape)) + shape


@dataclass
class ConvSetup:
    """What CONV_2D, DEPTHWISE_CONV_2D and SBTF_CONV_2D compute alike before their calls."""

    x: Tensor
    y: Tensor
    in4: tuple[int, int, int, int]
    out4: tuple[int, int, int, int]
    pad: tuple[int, int]
    multiplier: np.ndarray  # int64 [c_out]
    shift: np.ndarray  # int64 [c_out]


class Emitter:
    def __init__(self, graph: Graph, plan: MemoryPlan):
        self.g = graph
        self.plan = plan
        self.decls: list[str] = []
        self.body: list[str] = []
        self.const_names: dict[int, str] = {}
        self.weight_bytes = 0
        self.scratch_ops: list[str] = []  # C expressions of *_get_buffer_size() calls
        self.scratch_shapes: list[tuple[int, int]] = []  # (k, c_out) of each sbtf op
        self.scratch_terms: list[str] = []  # SBTF_RT_*_SCRATCH_BYTES(...) of builtin ops
        self.states: list[str] = []  # static arrays of persistent state (sbtf_model_reset)

    # ---- helpers
    def fail(self, op: Operator, msg: str):
        raise UnsupportedModelError(f"{self.g.where(op)}: {msg}")

    def tensor(self, op: Operator, position: int, *, kind: str = "input", optional=False):
        ids = op.inputs if kind == "input" else op.outputs
        if position >= len(ids) or ids[position] < 0:
            if optional:
                return None
            self.fail(op, f"missing {kind} {position}")
        return self.g.tensors[ids[position]]

    def expect_act(self, op: Operator, t: Tensor, role: str, act_type: int):
        """An activation of the operator's element type: INT8, or INT16 (16x8 operators)."""
        if act_type == T.INT16:
            self.expect_int16(op, t, role)
        else:
            self.expect_int8(op, t, role)

    def expect_int16(self, op: Operator, t: Tensor, role: str):
        """An int16 activation: one scale, zero point 0 (TFLite's 16x8 is symmetric)."""
        if t.type != T.INT16:
            self.fail(op, f"{role} {t.describe()} has type {t.type_name}, expected INT16 (a 16x8 "
                          "operator takes int16 activations)")
        if t.scale.size != 1:
            self.fail(op, f"{role} {t.describe()} has {t.scale.size} scales, expected one")
        if np.any(t.zero_point != 0):
            self.fail(op, f"{role} {t.describe()} has zero point {int(t.zero_point[0])}; int16 "
                          "activations are symmetric (zero point 0)")

    def expect_int8(self, op: Operator, t: Tensor, role: str, per_tensor=True):
        if t.type == T.INT16:  # what sbtf.micro.codegen.operators_int16 does not implement
            self.fail(op, f"{role} {t.describe()} has type INT16: int16 activations (16x8) are "
                          f"not supported by {op.name} in sbtf's runtime")
        if t.type != T.INT8:
            self.fail(op, f"{role} {t.describe()} has type {t.type_name}, expected INT8 "
                          "(convert with full-integer quantization; float32 model inputs and "
                          "outputs may stay)")
        if t.scale.size == 0:
            self.fail(op, f"{role} {t.describe()} is not quantized")
        if per_tensor and t.scale.size != 1:
            self.fail(op, f"{role} {t.describe()} has {t.scale.size} scales, expected one")

    def const(self, op: Operator, t: Tensor, ctype: str, dtype, role: str) -> str:
        if t.data is None:
            self.fail(op, f"{role} {t.describe()} must be constant")
        if t.index not in self.const_names:
            name = f"c{t.index}"
            arr = np.asarray(t.data).astype(dtype)
            self.decls.append(f"/* {c_comment(t.name)} {list(t.shape)} */\n"
                              + c_array(ctype, name, arr))
            self.weight_bytes += arr.size * np.dtype(dtype).itemsize
            self.const_names[t.index] = name
        return self.const_names[t.index]

    def state(self, t: Tensor, ctype: str) -> str:
        """A persistent variable tensor (planner.PERSISTENT_INPUTS) as a static array of its own:
        zero-initialised, TFLite's reset state for a zero point of 0, and kept across invokes."""
        name = f"sbtf_state{t.index}"
        self.decls.append(f"/* {c_comment(t.name)} {list(t.shape)}: kept across invokes */\n"
                          f"static {ctype} {name}[{t.size}] SBTF_ALIGNED;\n")
        self.states.append(name)
        return name

    def act(self, t: Tensor) -> str:
        return f"(sbtf_arena + {self.plan.offset(t.index)})"

    def act_ptr(self, t: Tensor) -> str:
        """An int8 or int16 activation's arena pointer, typed for the operator's C call."""
        return f"(int16_t *){self.act(t)}" if t.type == T.INT16 else self.act(t)

    def ptr(self, op: Operator, t: Tensor, role: str) -> str:
        """An int8 (or int16) input, constant or activation."""
        if t.data is not None:
            if t.type == T.INT16:
                return self.const(op, t, "int16_t", np.int16, role)
            if t.type != T.INT8:
                self.fail(op, f"constant {role} {t.describe()} must be INT8 or INT16")
            return self.const(op, t, "int8_t", np.int8, role)
        return self.act_ptr(t)

    def quant_arrays(self, op: Operator, mult, shift) -> str:
        m = np.asarray(mult, np.int64)
        s = np.asarray(shift, np.int64)
        n = op.index
        self.decls.append(c_array("int32_t", f"op{n}_mult", m) + c_array("int32_t", f"op{n}_shift", s))
        self.decls.append(f"static const sbtf_quant_params op{n}_quant = {{op{n}_mult, op{n}_shift}};\n")
        self.weight_bytes += 8 * m.size
        return f"&op{n}_quant"

    def dims(self, name: str, d) -> str:
        n, h, w, c = (int(x) for x in d)
        self.decls.append(f"static const sbtf_dims {name} = {{{n}, {h}, {w}, {c}}};\n")
        return f"&{name}"

    def call(self, op: Operator, expr: str):
        out = c_comment(self.g.tensors[op.outputs[0]].name)
        self.body.append(f"  /* {op.index}: {op.name} -> {out} */")  # op.name: c_comment'ed
        self.body.append(f"  st = {expr};")
        self.body.append(f"  if (st != SBTF_OK) return sbtf_model_fail({op.index}, st);")

    @staticmethod
    def zp(t: Tensor) -> int:
        return int(t.zero_point[0]) if t.zero_point.size else 0

    @staticmethod
    def sc(t: Tensor) -> float:
        return float(t.scale[0])

    def activation(self, op: Operator, act: int, out: Tensor) -> tuple[int, int]:
        """The fused activation's clamp for an int8 output, or an int16 one (16x8)."""
        qrange = tflite_math.INT16_RANGE if out.type == T.INT16 else tflite_math.INT8_RANGE
        try:
            return tflite_math.activation_range(int(act), self.sc(out), self.zp(out), qrange)
        except ValueError as exc:
            self.fail(op, str(exc))

    def weight_scales(self, op: Operator, w: Tensor, channels: int, axis: int, role: str):
        if w.scale.size not in (1, channels):
            self.fail(op, f"{role} {w.describe()} has {w.scale.size} scales for {channels} channels")
        if w.scale.size > 1 and w.quantized_dimension != axis:
            self.fail(op, f"{role} {w.describe()} is quantized along axis {w.quantized_dimension}, "
                          f"expected {axis}")
        if np.any(w.zero_point != 0):
            self.fail(op, f"{role} {w.describe()} has a non-zero zero point (weights must be symmetric)")
        return w.scale

    def folded_bias(self, op: Operator, position: int, weights: np.ndarray, x: Tensor) -> str:
        """bias + input_offset * Σ weights per output channel (rows of `weights`): what the
        runtime's conv and FC add, so their inner loops multiply raw int8 inputs."""
        c_out = weights.shape[0]
        b = self.bias_tensor(op, position, c_out)
        bias = np.zeros(c_out, np.int64) if b is None else np.asarray(b.data, np.int64).reshape(-1)
        folded = bias - self.zp(x) * weights.reshape(c_out, -1).astype(np.int64).sum(axis=1)
        if np.any(np.abs(folded) >= 1 << 31):
            self.fail(op, "bias plus the input offset's share exceeds int32")
        name = f"op{op.index}_bias"
        self.decls.append(c_array("int32_t", name, folded))
        self.weight_bytes += 4 * c_out
        return name

    def bias_tensor(self, op: Operator, position: int, channels: int) -> Tensor | None:
        """The operator's optional bias, checked: a constant INT32 with `channels` values."""
        b = self.tensor(op, position, optional=True)
        if b is not None and (b.type != T.INT32 or b.size != channels or b.data is None):
            self.fail(op, f"bias {b.describe()} must be a constant INT32 with {channels} values")
        return b

    def bias(self, op: Operator, position: int, channels: int) -> str:
        b = self.bias_tensor(op, position, channels)
        return "NULL" if b is None else self.const(op, b, "int32_t", np.int32, "bias")

    def conv_geometry(self, op, in_shape, out_shape, kh, kw, stride, dilation, padding):
        _, h, w, _ = in_shape
        if padding not in (tflite_math.PADDING_SAME, tflite_math.PADDING_VALID):
            self.fail(op, f"unknown padding {padding}")
        oh = tflite_math.conv_output_size(h, kh, stride[0], dilation[0], padding)
        ow = tflite_math.conv_output_size(w, kw, stride[1], dilation[1], padding)
        if (oh, ow) != (out_shape[1], out_shape[2]):
            self.fail(op, f"output spatial size {out_shape[1:3]} does not match the computed {(oh, ow)}")
        return (tflite_math.conv_padding_before(h, kh, stride[0], dilation[0], padding),
                tflite_math.conv_padding_before(w, kw, stride[1], dilation[1], padding))

    # ---- setup shared by several operators
    def requantize(self, op: Operator):
        """QUANTIZE between quantized types (Requantize): int8 or int16 in, int8, int16 or int32
        out (TFLite's pairs, and TFLite Micro's int8 -> int16 / int32); int16 -> int16 is
        symmetric, as TFLite requires."""
        x, y = self.tensor(op, 0), self.tensor(op, 0, kind="output")
        names = {T.INT8: "SBTF_RT_INT8", T.INT16: "SBTF_RT_INT16", T.INT32: "SBTF_RT_INT32"}
        if x.type not in (T.INT8, T.INT16) or y.type not in names:
            self.fail(op, f"{x.describe()} -> {y.describe()}: QUANTIZE takes float32, int8 or "
                          "int16 to int8, int16 or int32")
        if x.size != y.size or x.data is not None:
            self.fail(op, f"input {x.describe()} must be an activation of the output's size "
                          f"({y.describe()})")
        for t, role in ((x, "input"), (y, "output")):
            if t.scale.size != 1 or t.zero_point.size != 1:
                self.fail(op, f"{role} {t.describe()} must have one scale and zero point")
        if x.type == y.type == T.INT16 and (self.zp(x) or self.zp(y)):
            self.fail(op, "int16 -> int16 QUANTIZE must have zero points 0 (TFLite requires it)")
        lo, hi = {T.INT8: (-128, 127), T.INT16: (-32768, 32767), T.INT32: (-2**31, 2**31 - 1)}[y.type]
        if not lo <= self.zp(y) <= hi:
            self.fail(op, f"output {y.describe()} zero point {self.zp(y)} is out of range")
        try:
            m, s = tflite_math.requantize_multiplier(self.sc(x), self.sc(y))
        except ValueError as exc:
            self.fail(op, str(exc))
        name = f"op{op.index}_params"
        self.decls.append(f"static const sbtf_rt_requant_params {name} = {{{self.zp(x)}, "
                          f"{self.zp(y)}, {m}, {s}}};\n")
        self.call(op, f"sbtf_rt_requantize(&{name}, {x.size}, {names[x.type]}, {self.act(x)}, "
                      f"{names[y.type]}, {self.act(y)})")

    def conv_setup(self, op: Operator, weights: Tensor, role: str, kernel, stride, dilation,
                   padding, *, scale_axis: int, int8_weights: bool = True,
                   act_type: int = T.INT8) -> ConvSetup:
        """Checks and prepare math of a convolution. `kernel(x, y, in4, out4)` checks the op's
        own filter layout and returns (kh, kw, c_out); `weights` carries the per-channel scales
        along `scale_axis`; activations are int8, or int16 for the 16x8 operators."""
        x, y = self.tensor(op, 0), self.tensor(op, 0, kind="output")
        self.expect_act(op, x, "input", act_type)
        self.expect_act(op, y, "output", act_type)
        if int8_weights:
            self.expect_int8(op, weights, role, per_tensor=False)
        in4, out4 = dims4(x.shape, self.g.where(op)), dims4(y.shape, self.g.where(op))
        kh, kw, c_out = kernel(x, y, in4, out4)
        pad = self.conv_geometry(op, in4, out4, kh, kw, stride, dilation, padding)
        scales = self.weight_scales(op, weights, c_out, scale_axis, role)
        m, s = tflite_math.conv_multipliers(self.sc(x), scales, self.sc(y))
        return ConvSetup(x, y, in4, out4, pad, np.resize(m, c_out), np.resize(s, c_out))

    def conv_params(self, op, x, y, pad, stride, dilation, act) -> str:
        lo, hi = self.activation(op, act, y)
        name = f"op{op.index}_params"
        self.decls.append(
            f"static const sbtf_conv_params {name} = {{{-self.zp(x)}, {self.zp(y)}, {stride[0]}, "
            f"{stride[1]}, {dilation[0]}, {dilation[1]}, {pad[0]}, {pad[1]}, {lo}, {hi}}};\n")
        return f"&{name}"

    def fc_shapes(self, op, x, y, c_in, c_out) -> int:
        """The number of batches; keep_num_dims only changes the output's shape."""
        if x.size % c_in:
            self.fail(op, f"input {x.describe()} size is not a multiple of {c_in} input channels")
        batches = x.size // c_in
        if y.size != batches * c_out:
            self.fail(op, f"output {y.describe()} does not hold {batches} x {c_out} values")
        return batches

    def fc_multipliers(self, op, x, y, weights: Tensor, role: str, c_out: int):
        scales = self.weight_scales(op, weights, c_out, 0, role)
        m, s = tflite_math.fully_connected_multipliers(self.sc(x), scales, self.sc(y))
        return np.resize(m, c_out), np.resize(s, c_out)

    def fc_params(self, op, x, y, act) -> str:
        lo, hi = self.activation(op, act, y)
        name = f"op{op.index}_params"
        self.decls.append(f"static const sbtf_fc_params {name} = {{{-self.zp(x)}, {self.zp(y)}, "
                          f"{lo}, {hi}}};\n")
        return f"&{name}"

    def sbtf_options(self, op: Operator) -> dict:
        """The sbtf op's options (docs/op_spec.md)."""
        if op.raw_custom_options is None:
            self.fail(op, "custom options are missing")
        try:
            return parse_options(op.name, op.raw_custom_options)
        except ConversionError as exc:
            self.fail(op, str(exc))

    def sbtf_weights(self, op: Operator) -> tuple[str, str]:
        """Bitmask and sign as const arrays; load_graph's validator (converters.validate) has
        checked their types, shapes and bit format as the delegate does."""
        mask, sign = self.tensor(op, 1), self.tensor(op, 2)
        return (self.const(op, mask, "uint8_t", np.uint8, "bitmask"),
                self.const(op, sign, "int8_t", np.int8, "sign"))
