"""Ahead-of-time compilation of an int8 .tflite into C for sbtf's lean runtime.

`generate(tflite_bytes)` parses the flatbuffer, checks that every operator and tensor is one the
runtime implements, plans one static arena (tensors placed by lifetime), precomputes every
parameter TFLite computes in Prepare (multipliers and shifts via `sbtf.converters.reference`,
activation clamps, paddings, softmax scaling) and emits

* `sbtf_model.h`: sizes, input/output quantization and
  `sbtf_status sbtf_model_invoke(const int8_t *input, int8_t *output)`;
* `sbtf_model.c`: the weights as const arrays (signed-binary layers as bitmask + sign), the
  arena, and straight-line calls to micro/runtime/ (sbtf_rt.h) and the sbtf_nn.h kernels.

    gen = generate(open("model.tflite", "rb").read())
    gen.write("build/model")            # sbtf_model.c, sbtf_model.h
    print(gen.plan.arena_bytes, gen.plan.naive_bytes)

Compile with `-DSBTF_MODEL_POISON` to fill every arena byte that holds no live tensor with a
poison value after each operator (a memory-plan check: outputs must not change).
"""
from __future__ import annotations

import string
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tensorflow.lite.python import schema_py_generated as schema

from sbtf.converters import reference as ref
from sbtf.converters import tflite_model as tfm
from sbtf.converters.errors import ConversionError
from sbtf.converters.host import parse_options
from sbtf.converters.validate import InvalidModelError, read_model

__all__ = [
    "SUPPORTED_OPS",
    "Buffer",
    "GeneratedModel",
    "Graph",
    "MemoryPlan",
    "Operator",
    "Tensor",
    "UnsupportedModelError",
    "check_plan",
    "generate",
    "load_graph",
    "plan_memory",
]

ARENA_ALIGNMENT = 16  # bytes; kernels read words and Helium vectors
POISON_BYTE = 0xA5

_T = schema.TensorType
_TYPE_NAMES = {v: k for k, v in vars(_T).items() if not k.startswith("_")}
_ITEM_SIZE = {_T.INT8: 1, _T.UINT8: 1, _T.INT16: 2, _T.INT32: 4, _T.FLOAT32: 4, _T.INT64: 8}

SUPPORTED_OPS = (
    "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "AVERAGE_POOL_2D", "MAX_POOL_2D",
    "MEAN", "RESHAPE", "SOFTMAX", "PAD", "QUANTIZE", tfm.SBTF_CONV_2D, tfm.SBTF_FULLY_CONNECTED,
)
# Operators whose output is the input's bytes under another shape: they share its buffer.
_ALIAS_OPS = ("RESHAPE",)


class UnsupportedModelError(ValueError):
    """The model uses an operator, type or option the runtime does not implement."""


# --------------------------------------------------------------------------------------------
# Graph


@dataclass
class Tensor:
    index: int
    name: str
    type: int
    shape: tuple[int, ...]
    scale: np.ndarray  # float32, empty when not quantized
    zero_point: np.ndarray  # int64
    quantized_dimension: int
    data: np.ndarray | None  # constant data, None for activations

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.size * _ITEM_SIZE.get(self.type, 1)

    @property
    def type_name(self) -> str:
        return _TYPE_NAMES.get(self.type, str(self.type))

    def describe(self) -> str:
        return f"tensor {self.index} {self.name!r} ({self.type_name}{list(self.shape)})"


@dataclass
class Operator:
    index: int
    name: str  # builtin name or custom code
    inputs: list[int]  # -1 for an absent optional input
    outputs: list[int]
    options: object  # builtin options object (schema *OptionsT), or the FlexBuffer dict
    raw_custom_options: bytes | None = None


@dataclass
class Graph:
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]
    source: str = "model"

    def where(self, op: Operator) -> str:
        return f"{self.source}: operator {op.index} ({op.name})"


def load_graph(tflite: bytes, source: str = "model") -> Graph:
    """Parse a .tflite (bytes) into a Graph. Raises UnsupportedModelError on structural problems:
    the model first passes sbtf's one validator (sbtf.converters.validate), as for the host."""
    try:
        model = read_model(tflite, source, single_subgraph=True)
    except InvalidModelError as exc:
        raise UnsupportedModelError(str(exc)) from None
    sg = model.subgraphs[0]
    tensors = []
    for i, t in enumerate(sg.tensors or []):
        q = t.quantization
        try:
            data = tfm.constant_data(model, t)
        except Exception as exc:
            raise UnsupportedModelError(f"{source}: tensor {i}: {exc}") from exc
        tensors.append(Tensor(
            index=i,
            name=tfm.tensor_name(t),
            type=int(t.type),
            shape=tuple(int(d) for d in (t.shape if t.shape is not None else [])),
            scale=tfm.scales(t),
            zero_point=tfm.zero_points(t),
            quantized_dimension=int(q.quantizedDimension) if q is not None else 0,
            data=data,
        ))
    ops = []
    for i, op in enumerate(sg.operators or []):
        name = c_comment(tfm.opcode_name(model, op.opcodeIndex))  # printable, for messages
        raw = None
        if op.customOptions is not None:
            raw = bytes(np.asarray(op.customOptions, np.uint8))
        ops.append(Operator(
            index=i,
            name=name,
            inputs=[int(x) for x in (op.inputs if op.inputs is not None else [])],
            outputs=[int(x) for x in (op.outputs if op.outputs is not None else [])],
            options=op.builtinOptions,
            raw_custom_options=raw,
        ))
    return Graph(tensors, ops, [int(x) for x in sg.inputs], [int(x) for x in sg.outputs], source)


# --------------------------------------------------------------------------------------------
# Memory plan


@dataclass
class Buffer:
    """One arena region: a tensor plus the tensors that alias it (RESHAPE outputs)."""

    id: int
    tensors: list[int]
    size: int
    first: int  # first operator step that writes it (-1: the model input, copied in before op 0)
    last: int  # last step that reads it (len(ops): a model output, copied out after the last op)
    offset: int = -1

    def overlaps_in_time(self, other: Buffer) -> bool:
        return self.first <= other.last and other.first <= self.last

    def overlaps_in_space(self, other: Buffer) -> bool:
        return self.offset < other.offset + other.size and other.offset < self.offset + self.size


@dataclass
class MemoryPlan:
    buffers: list[Buffer]
    arena_bytes: int
    naive_bytes: int  # every activation tensor in its own region (the sum of their sizes)
    tensor_buffer: dict[int, int] = field(default_factory=dict)  # tensor index -> buffer id

    def offset(self, tensor: int) -> int:
        return self.buffers[self.tensor_buffer[tensor]].offset

    def live_after(self, step: int) -> list[Buffer]:
        """Buffers whose contents are still needed after operator `step` has run."""
        return [b for b in self.buffers if b.first <= step < b.last]


def _align(n: int, a: int = ARENA_ALIGNMENT) -> int:
    return (n + a - 1) // a * a


def plan_memory(graph: Graph) -> MemoryPlan:
    """Greedy-by-size, first-fit placement of activation buffers over their lifetimes.

    A buffer lives from the operator that writes it to the last operator that reads it
    (inclusive), so an operator's inputs and outputs never share bytes.
    """
    n_ops = len(graph.operators)
    owner: dict[int, int] = {}  # tensor -> representative tensor (aliases collapse)
    for t in graph.tensors:
        if t.data is None:
            owner[t.index] = t.index
    for op in graph.operators:
        if op.name in _ALIAS_OPS and graph.tensors[op.inputs[0]].data is None:
            owner[op.outputs[0]] = owner[op.inputs[0]]
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for t in graph.inputs:
        first[owner[t]] = -1
    for step, op in enumerate(graph.operators):
        for t in op.outputs:
            first.setdefault(owner[t], step)
        for t in op.inputs:
            if t >= 0 and t in owner:
                last[owner[t]] = max(last.get(owner[t], -1), step)
    for t in graph.outputs:
        last[owner[t]] = n_ops
    groups: dict[int, list[int]] = {}
    for t, rep in owner.items():
        if rep in first:  # skip tensors no operator writes (unused)
            groups.setdefault(rep, []).append(t)
    buffers = []
    tensor_buffer = {}
    for bid, (rep, members) in enumerate(sorted(groups.items())):
        size = max(graph.tensors[t].nbytes for t in members)
        buffers.append(Buffer(bid, sorted(members), _align(size), first[rep],
                              max(last.get(rep, first[rep]), first[rep])))
        for t in members:
            tensor_buffer[t] = bid
    placed: list[Buffer] = []
    for b in sorted(buffers, key=lambda b: (-b.size, b.first, b.id)):
        offset = 0
        for other in sorted((p for p in placed if p.overlaps_in_time(b)), key=lambda p: p.offset):
            if offset + b.size <= other.offset:
                break
            offset = max(offset, other.offset + other.size)
        b.offset = offset
        placed.append(b)
    arena = max((b.offset + b.size for b in buffers), default=0)
    naive = sum(graph.tensors[t].nbytes for t in tensor_buffer)
    plan = MemoryPlan(buffers, arena, naive, tensor_buffer)
    check_plan(plan)
    return plan


def check_plan(plan: MemoryPlan) -> None:
    """Raise AssertionError when two buffers alive at the same step share arena bytes."""
    for i, a in enumerate(plan.buffers):
        if a.offset < 0 or a.offset % ARENA_ALIGNMENT or a.offset + a.size > plan.arena_bytes:
            raise AssertionError(f"buffer {a.id} at {a.offset}+{a.size} lies outside the arena")
        for b in plan.buffers[i + 1:]:
            if a.overlaps_in_time(b) and a.overlaps_in_space(b):
                raise AssertionError(
                    f"buffers {a.id} (tensors {a.tensors}, steps {a.first}..{a.last}, bytes "
                    f"{a.offset}..{a.offset + a.size}) and {b.id} (tensors {b.tensors}, steps "
                    f"{b.first}..{b.last}, bytes {b.offset}..{b.offset + b.size}) overlap"
                )


# --------------------------------------------------------------------------------------------
# Code generation


@dataclass
class GeneratedModel:
    source: str  # sbtf_model.c
    header: str  # sbtf_model.h
    plan: MemoryPlan
    graph: Graph
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int
    weight_bytes: int  # constant data emitted (weights, masks, signs, biases, multipliers)
    scratch_expr: str  # C constant expression of SBTF_MODEL_SCRATCH_BYTES (the compiler evaluates it)
    op_counts: dict[str, int]

    @property
    def input_size(self) -> int:
        return int(np.prod(self.input_shape))


    def write(self, out_dir) -> tuple[Path, Path]:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        c, h = out / "sbtf_model.c", out / "sbtf_model.h"
        c.write_text(self.source)
        h.write_text(self.header)
        return c, h

    def summary(self) -> str:
        ops = ", ".join(f"{n} x{c}" for n, c in sorted(self.op_counts.items()))
        return (
            f"{len(self.graph.operators)} operators ({ops})\n"
            f"input {list(self.input_shape)} int8 (scale {self.input_scale:.6g}, zero point "
            f"{self.input_zero_point}); output {list(self.output_shape)} int8 (scale "
            f"{self.output_scale:.6g}, zero point {self.output_zero_point})\n"
            f"constants {self.weight_bytes} bytes; arena {self.plan.arena_bytes} bytes (sum of all "
            f"activation tensors {self.plan.naive_bytes} bytes)\n"
            f"scratch SBTF_MODEL_SCRATCH_BYTES = {self.scratch_expr} (bytes, evaluated by the compiler)"
        )


def _c_array(ctype: str, name: str, values, per_line: int = 24) -> str:
    flat = [int(v) for v in np.asarray(values).reshape(-1)]
    if not flat:
        flat = [0]
    lines = []
    for i in range(0, len(flat), per_line):
        lines.append("  " + ", ".join(str(v) for v in flat[i:i + per_line]) + ",")
    body = "\n".join(lines)
    return f"static const {ctype} {name}[{len(flat)}] SBTF_ALIGNED = {{\n{body}\n}};\n"


def _c_float(x: float) -> str:
    """A float32 literal that round-trips exactly."""
    return f"{float(np.float32(x)).hex()}f"


def _dims4(shape, what: str) -> tuple[int, int, int, int]:
    shape = tuple(int(d) for d in shape)
    if len(shape) > 4:
        raise UnsupportedModelError(f"{what}: rank {len(shape)} > 4 is not supported")
    return (1,) * (4 - len(shape)) + shape


class _Emitter:
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

    def expect_int8(self, op: Operator, t: Tensor, role: str, per_tensor=True):
        if t.type != _T.INT8:
            self.fail(op, f"{role} {t.describe()} has type {t.type_name}, expected INT8 "
                          "(convert with full-integer quantization and int8 input/output)")
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
                              + _c_array(ctype, name, arr))
            self.weight_bytes += arr.size * np.dtype(dtype).itemsize
            self.const_names[t.index] = name
        return self.const_names[t.index]

    def act(self, t: Tensor) -> str:
        return f"(sbtf_arena + {self.plan.offset(t.index)})"

    def ptr(self, op: Operator, t: Tensor, role: str) -> str:
        if t.data is not None:
            if t.type != _T.INT8:
                self.fail(op, f"constant {role} {t.describe()} must be INT8")
            return self.const(op, t, "int8_t", np.int8, role)
        return self.act(t)

    def quant_arrays(self, op: Operator, mult, shift) -> str:
        m = np.asarray(mult, np.int64)
        s = np.asarray(shift, np.int64)
        n = op.index
        self.decls.append(_c_array("int32_t", f"op{n}_mult", m) + _c_array("int32_t", f"op{n}_shift", s))
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
        try:
            return ref.activation_range(int(act), self.sc(out), self.zp(out))
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
        self.decls.append(_c_array("int32_t", name, folded))
        self.weight_bytes += 4 * c_out
        return name

    def bias_tensor(self, op: Operator, position: int, channels: int) -> Tensor | None:
        """The operator's optional bias, checked: a constant INT32 with `channels` values."""
        b = self.tensor(op, position, optional=True)
        if b is not None and (b.type != _T.INT32 or b.size != channels or b.data is None):
            self.fail(op, f"bias {b.describe()} must be a constant INT32 with {channels} values")
        return b

    def bias(self, op: Operator, position: int, channels: int) -> str:
        b = self.bias_tensor(op, position, channels)
        return "NULL" if b is None else self.const(op, b, "int32_t", np.int32, "bias")

    def conv_geometry(self, op, in_shape, out_shape, kh, kw, stride, dilation, padding):
        _, h, w, _ = in_shape
        if padding not in (ref.PADDING_SAME, ref.PADDING_VALID):
            self.fail(op, f"unknown padding {padding}")
        oh = ref.conv_output_size(h, kh, stride[0], dilation[0], padding)
        ow = ref.conv_output_size(w, kw, stride[1], dilation[1], padding)
        if (oh, ow) != (out_shape[1], out_shape[2]):
            self.fail(op, f"output spatial size {out_shape[1:3]} does not match the computed {(oh, ow)}")
        return (ref.conv_padding_before(h, kh, stride[0], dilation[0], padding),
                ref.conv_padding_before(w, kw, stride[1], dilation[1], padding))

    # ---- operators
    def emit(self, op: Operator):
        handler = getattr(self, "op_" + op.name.lower(), None)
        if handler is None:
            self.fail(op, f"operator {op.name} is not supported by sbtf's runtime (supported: "
                          f"{', '.join(SUPPORTED_OPS)})")
        handler(op)

    def _conv_params(self, op, x, y, pad, stride, dilation, act) -> str:
        lo, hi = self.activation(op, act, y)
        name = f"op{op.index}_params"
        self.decls.append(
            f"static const sbtf_conv_params {name} = {{{-self.zp(x)}, {self.zp(y)}, {stride[0]}, "
            f"{stride[1]}, {dilation[0]}, {dilation[1]}, {pad[0]}, {pad[1]}, {lo}, {hi}}};\n")
        return f"&{name}"

    def op_conv_2d(self, op: Operator):
        o = op.options
        x, w, y = self.tensor(op, 0), self.tensor(op, 1), self.tensor(op, 0, kind="output")
        self.expect_int8(op, x, "input")
        self.expect_int8(op, y, "output")
        self.expect_int8(op, w, "filter", per_tensor=False)
        in4, out4 = _dims4(x.shape, self.g.where(op)), _dims4(y.shape, self.g.where(op))
        if len(w.shape) != 4 or w.shape[3] != in4[3] or w.shape[0] != out4[3]:
            self.fail(op, f"filter {w.describe()} does not match input {list(x.shape)} and "
                          f"output {list(y.shape)} (grouped convolution is not supported)")
        c_out, kh, kw, _ = w.shape
        stride, dil = (o.strideH, o.strideW), (o.dilationHFactor, o.dilationWFactor)
        pad = self.conv_geometry(op, in4, out4, kh, kw, stride, dil, o.padding)
        scales = self.weight_scales(op, w, c_out, 0, "filter")
        m, s = ref.conv_multipliers(self.sc(x), scales, self.sc(y))
        m, s = np.resize(m, c_out), np.resize(s, c_out)
        f_d = self.dims(f"op{op.index}_filter", w.shape)
        self.scratch_ops.append(f"sbtf_rt_conv2d_s8_get_buffer_size({f_d})")
        self.scratch_terms.append(f"SBTF_RT_CONV_SCRATCH_BYTES({kh * kw * in4[3]})")
        args = ", ".join([
            "&sbtf_ctx", self._conv_params(op, x, y, pad, stride, dil, o.fusedActivationFunction),
            self.quant_arrays(op, m, s), self.dims(f"op{op.index}_in", in4), self.ptr(op, x, "input"),
            f_d, self.const(op, w, "int8_t", np.int8, "filter"),
            self.folded_bias(op, 2, w.data, x), self.dims(f"op{op.index}_out", out4), self.act(y),
        ])
        self.call(op, f"sbtf_rt_conv2d_s8({args})")

    def op_depthwise_conv_2d(self, op: Operator):
        o = op.options
        x, w, y = self.tensor(op, 0), self.tensor(op, 1), self.tensor(op, 0, kind="output")
        self.expect_int8(op, x, "input")
        self.expect_int8(op, y, "output")
        self.expect_int8(op, w, "filter", per_tensor=False)
        in4, out4 = _dims4(x.shape, self.g.where(op)), _dims4(y.shape, self.g.where(op))
        if len(w.shape) != 4 or w.shape[0] != 1 or w.shape[3] != out4[3] or out4[3] % in4[3]:
            self.fail(op, f"filter {w.describe()} does not match input {list(x.shape)} and "
                          f"output {list(y.shape)}")
        _, kh, kw, c_out = w.shape
        stride, dil = (o.strideH, o.strideW), (o.dilationHFactor, o.dilationWFactor)
        pad = self.conv_geometry(op, in4, out4, kh, kw, stride, dil, o.padding)
        scales = self.weight_scales(op, w, c_out, 3, "filter")
        m, s = ref.conv_multipliers(self.sc(x), scales, self.sc(y))
        m, s = np.resize(m, c_out), np.resize(s, c_out)
        out_d = self.dims(f"op{op.index}_out", out4)
        self.scratch_ops.append(f"sbtf_rt_depthwise_conv2d_s8_get_buffer_size({out_d})")
        self.scratch_terms.append(f"SBTF_RT_DEPTHWISE_SCRATCH_BYTES({c_out})")
        args = ", ".join([
            "&sbtf_ctx", self._conv_params(op, x, y, pad, stride, dil, o.fusedActivationFunction),
            str(c_out // in4[3]), self.quant_arrays(op, m, s),
            self.dims(f"op{op.index}_in", in4), self.ptr(op, x, "input"),
            self.dims(f"op{op.index}_filter", w.shape), self.const(op, w, "int8_t", np.int8, "filter"),
            self.bias(op, 2, c_out), out_d, self.act(y),
        ])
        self.call(op, f"sbtf_rt_depthwise_conv2d_s8({args})")

    def _fc_params(self, op, x, y, act) -> str:
        lo, hi = self.activation(op, act, y)
        name = f"op{op.index}_params"
        self.decls.append(f"static const sbtf_fc_params {name} = {{{-self.zp(x)}, {self.zp(y)}, "
                          f"{lo}, {hi}}};\n")
        return f"&{name}"

    def _fc_shapes(self, op, x, y, c_in, c_out):
        if x.size % c_in:
            self.fail(op, f"input {x.describe()} size is not a multiple of {c_in} input channels")
        batches = x.size // c_in
        if y.size != batches * c_out:
            self.fail(op, f"output {y.describe()} does not hold {batches} x {c_out} values")
        return batches

    def op_fully_connected(self, op: Operator):
        o = op.options
        x, w, y = self.tensor(op, 0), self.tensor(op, 1), self.tensor(op, 0, kind="output")
        self.expect_int8(op, x, "input")
        self.expect_int8(op, y, "output")
        self.expect_int8(op, w, "weights", per_tensor=False)
        if o is not None and getattr(o, "weightsFormat", 0) != 0:
            self.fail(op, "shuffled weights format is not supported")
        if len(w.shape) != 2:
            self.fail(op, f"weights {w.describe()} must be 2-D [C_out, C_in]")
        c_out, c_in = w.shape
        batches = self._fc_shapes(op, x, y, c_in, c_out)  # keep_num_dims only changes the shape
        scales = self.weight_scales(op, w, c_out, 0, "weights")
        m, s = ref.fully_connected_multipliers(self.sc(x), scales, self.sc(y))
        m, s = np.resize(m, c_out), np.resize(s, c_out)
        act = o.fusedActivationFunction if o is not None else 0
        args = ", ".join([
            self._fc_params(op, x, y, act), self.quant_arrays(op, m, s), str(batches), str(c_in),
            self.ptr(op, x, "input"), str(c_out), self.const(op, w, "int8_t", np.int8, "weights"),
            self.folded_bias(op, 2, w.data, x), self.act(y),
        ])
        self.call(op, f"sbtf_rt_fully_connected_s8({args})")

    def op_add(self, op: Operator):
        o = op.options
        a, b, y = self.tensor(op, 0), self.tensor(op, 1), self.tensor(op, 0, kind="output")
        for t, role in ((a, "input 1"), (b, "input 2"), (y, "output")):
            self.expect_int8(op, t, role)
        b2 = 0
        if a.shape != b.shape:
            if a.size != y.size or b.size == 0 or tuple(b.shape[-1:]) != tuple(a.shape[-1:]) \
                    or b.size != a.shape[-1]:
                self.fail(op, f"broadcasting {list(a.shape)} + {list(b.shape)} is not supported "
                              "(only equal shapes or a second input along the last axis)")
            b2 = b.size
        if y.size != a.size:
            self.fail(op, f"output {y.describe()} size differs from input {a.describe()}")
        # add.cc Prepare (int8): scales are float; 2 * max(float, float) is float.
        s1, s2, so = np.float32(self.sc(a)), np.float32(self.sc(b)), np.float32(self.sc(y))
        left_shift = 20
        twice_max = float(np.float32(2) * max(s1, s2))
        r1 = float(s1) / twice_max
        r2 = float(s2) / twice_max
        ro = twice_max / float(np.float32(np.float32(1 << left_shift) * so))
        (m1, sh1), (m2, sh2), (mo, sho) = (ref.quantize_multiplier(r) for r in (r1, r2, ro))
        if max(sh1, sh2, sho) > 0:
            self.fail(op, "ADD requantization multiplier >= 1 (output scale too small)")
        lo, hi = self.activation(op, o.fusedActivationFunction if o is not None else 0, y)
        name = f"op{op.index}_params"
        self.decls.append(
            f"static const sbtf_rt_add_params {name} = {{{-self.zp(a)}, {-self.zp(b)}, "
            f"{self.zp(y)}, {left_shift}, {m1}, {sh1}, {m2}, {sh2}, {mo}, {sho}, {lo}, {hi}}};\n")
        self.scratch_ops.append(f"SBTF_RT_ADD_SCRATCH_BYTES({a.size})")
        self.scratch_terms.append(f"SBTF_RT_ADD_SCRATCH_BYTES({a.size})")
        self.call(op, f"sbtf_rt_add_s8(&sbtf_ctx, &{name}, {a.size}, {self.ptr(op, a, 'input 1')}, "
                      f"{self.ptr(op, b, 'input 2')}, {b2}, {self.act(y)})")

    def _pool(self, op: Operator, fn: str):
        o = op.options
        x, y = self.tensor(op, 0), self.tensor(op, 0, kind="output")
        self.expect_int8(op, x, "input")
        self.expect_int8(op, y, "output")
        if self.sc(x) != self.sc(y) or self.zp(x) != self.zp(y):
            self.fail(op, "input and output quantization differ (TFLite requires them equal)")
        if len(x.shape) != 4 or len(y.shape) != 4:
            self.fail(op, "pooling needs 4-D NHWC input and output")
        pad = self.conv_geometry(op, x.shape, y.shape, o.filterHeight, o.filterWidth,
                                 (o.strideH, o.strideW), (1, 1), o.padding)
        lo, hi = self.activation(op, o.fusedActivationFunction, y)
        name = f"op{op.index}_params"
        self.decls.append(
            f"static const sbtf_rt_pool_params {name} = {{{o.strideH}, {o.strideW}, "
            f"{o.filterHeight}, {o.filterWidth}, {pad[0]}, {pad[1]}, {lo}, {hi}}};\n")
        self.call(op, f"{fn}(&{name}, {self.dims(f'op{op.index}_in', x.shape)}, {self.act(x)}, "
                      f"{self.dims(f'op{op.index}_out', y.shape)}, {self.act(y)})")

    def op_average_pool_2d(self, op: Operator):
        self._pool(op, "sbtf_rt_avg_pool_s8")

    def op_max_pool_2d(self, op: Operator):
        self._pool(op, "sbtf_rt_max_pool_s8")

    def op_mean(self, op: Operator):
        x, axis_t, y = self.tensor(op, 0), self.tensor(op, 1), self.tensor(op, 0, kind="output")
        self.expect_int8(op, x, "input")
        self.expect_int8(op, y, "output")
        if axis_t.data is None or axis_t.type != _T.INT32:
            self.fail(op, "the axis must be a constant INT32 tensor")
        rank = len(x.shape)
        in4 = _dims4(x.shape, self.g.where(op))
        raw_axes = [int(a) for a in np.asarray(axis_t.data).reshape(-1)]
        mask = 0
        for a in raw_axes:
            if not -rank <= a < rank:
                self.fail(op, f"axis {a} out of range for rank {rank}")
            mask |= 1 << ((a % rank) + 4 - rank)
        # reduce.cc (reference) runs QuantizedMeanOrSum for int8: QuantizeMultiplier(s_in / s_out)
        # in Prepare, then 1/count folded into the multiplier with a shift of floor(log2(count)).
        count = int(np.prod([in4[a] for a in range(4) if mask >> a & 1]))
        m, s = ref.quantize_multiplier(float(np.float32(self.sc(x))) / float(np.float32(self.sc(y))))
        shift = min(count.bit_length() - 1, 32, 31 + s)
        m, s = (m << shift) // count, s - shift
        name = f"op{op.index}_params"
        self.decls.append(f"static const sbtf_rt_mean_params {name} = {{{mask}u, {self.zp(x)}, "
                          f"{self.zp(y)}, {m}, {s}}};\n")
        self.call(op, f"sbtf_rt_mean_s8(&{name}, {self.dims(f'op{op.index}_in', in4)}, "
                      f"{self.act(x)}, {self.act(y)})")

    def op_softmax(self, op: Operator):
        x, y = self.tensor(op, 0), self.tensor(op, 0, kind="output")
        self.expect_int8(op, x, "input")
        self.expect_int8(op, y, "output")
        if self.zp(y) != -128 or np.float32(self.sc(y)) != np.float32(1.0 / 256):
            self.fail(op, f"output {y.describe()} must have scale 1/256 and zero point -128")
        beta = np.float32(op.options.beta if op.options is not None else 1.0)
        depth = x.shape[-1] if x.shape else 1
        name = f"op{op.index}"
        table = softmax_table(np.float32(self.sc(x)), beta)
        self.decls.append(
            f"static const float {name}_table[256] = {{\n"
            + "\n".join("  " + ", ".join(_c_float(v) for v in table[i:i + 8]) + ","
                        for i in range(0, 256, 8))
            + f"\n}};\nstatic const sbtf_rt_softmax_params {name}_params = {{{name}_table, "
            f"{_c_float(self.sc(y))}, {self.zp(y)}}};\n")
        self.weight_bytes += 256 * 4
        self.call(op, f"sbtf_rt_softmax_s8(&{name}_params, {x.size // depth}, {depth}, "
                      f"{self.act(x)}, {self.act(y)})")

    def op_reshape(self, op: Operator):
        x, y = self.tensor(op, 0), self.tensor(op, 0, kind="output")
        if x.type != y.type or x.size != y.size:
            self.fail(op, f"reshape changes type or size ({x.describe()} -> {y.describe()})")
        if x.data is not None:
            self.fail(op, "reshape of a constant tensor is not supported")
        if x.type == _T.INT8 and (self.zp(x) != self.zp(y) or self.sc(x) != self.sc(y)):
            self.fail(op, "reshape changes quantization parameters")
        self.body.append(f"  /* {op.index}: RESHAPE -> {c_comment(y.name)} (shares the input's bytes) */")

    def op_pad(self, op: Operator):
        x, p, y = self.tensor(op, 0), self.tensor(op, 1), self.tensor(op, 0, kind="output")
        self.expect_int8(op, x, "input")
        self.expect_int8(op, y, "output")
        if p.data is None:
            self.fail(op, "paddings must be constant")
        pads = np.asarray(p.data, np.int64).reshape(-1, 2)
        rank = len(x.shape)
        if pads.shape[0] != rank or rank > 4 or np.any(pads < 0):
            self.fail(op, f"paddings {pads.tolist()} do not fit input rank {rank}")
        pads = np.concatenate([np.zeros((4 - rank, 2), np.int64), pads])
        name = f"op{op.index}"
        self.decls.append(f"static const int32_t {name}_before[4] = {{{', '.join(map(str, pads[:, 0]))}}};\n"
                          f"static const int32_t {name}_after[4] = {{{', '.join(map(str, pads[:, 1]))}}};\n")
        self.call(op, f"sbtf_rt_pad_s8({self.dims(f'op{op.index}_in', _dims4(x.shape, ''))}, "
                      f"{name}_before, {name}_after, (int8_t){self.zp(y)}, {self.act(x)}, {self.act(y)})")

    def op_quantize(self, op: Operator):
        x, y = self.tensor(op, 0), self.tensor(op, 0, kind="output")
        if x.type != _T.INT8:
            self.fail(op, f"input {x.describe()} is {x.type_name}: only int8 -> int8 requantization "
                          "runs on the board (give the model int8 input and output)")
        self.expect_int8(op, x, "input")
        self.expect_int8(op, y, "output")
        m, s = ref.quantize_multiplier(float(np.float32(self.sc(x))) / float(np.float32(self.sc(y))))
        name = f"op{op.index}_params"
        self.decls.append(f"static const sbtf_rt_requant_params {name} = {{{self.zp(x)}, "
                          f"{self.zp(y)}, {m}, {s}}};\n")
        self.call(op, f"sbtf_rt_requantize_s8(&{name}, {x.size}, {self.act(x)}, {self.act(y)})")

    # ---- sbtf custom ops (docs/op_spec.md)
    def _sbtf_options(self, op: Operator) -> dict:
        if op.raw_custom_options is None:
            self.fail(op, "custom options are missing")
        try:
            return parse_options(op.name, op.raw_custom_options)
        except ConversionError as exc:
            self.fail(op, str(exc))

    def _sbtf_weights(self, op: Operator, c_out: int):
        """Bitmask and sign as const arrays; load_graph's validator (converters.validate) has
        checked their types, shapes and bit format as the delegate does."""
        mask, sign = self.tensor(op, 1), self.tensor(op, 2)
        scales = self.weight_scales(op, sign, c_out, 0, "sign")
        return (self.const(op, mask, "uint8_t", np.uint8, "bitmask"),
                self.const(op, sign, "int8_t", np.int8, "sign"), scales)

    def op_sbtf_conv_2d(self, op: Operator):
        opts = self._sbtf_options(op)
        x, y = self.tensor(op, 0), self.tensor(op, 0, kind="output")
        self.expect_int8(op, x, "input")
        self.expect_int8(op, y, "output")
        in4, out4 = _dims4(x.shape, self.g.where(op)), _dims4(y.shape, self.g.where(op))
        kh, kw, c_out = opts["filter_height"], opts["filter_width"], out4[3]
        stride = (opts["stride_h"], opts["stride_w"])
        dil = (opts["dilation_h_factor"], opts["dilation_w_factor"])
        pad = self.conv_geometry(op, in4, out4, kh, kw, stride, dil, opts["padding"])
        mask, sign, scales = self._sbtf_weights(op, c_out)
        m, s = ref.conv_multipliers(self.sc(x), scales, self.sc(y))
        m, s = np.resize(m, c_out), np.resize(s, c_out)
        n = op.index
        in_d = self.dims(f"op{n}_in", in4)
        f_d = self.dims(f"op{n}_filter", (c_out, kh, kw, in4[3]))
        out_d = self.dims(f"op{n}_out", out4)
        self.scratch_ops.append(f"sbtf_conv2d_s8_get_buffer_size({in_d}, {f_d}, {out_d})")
        self.scratch_shapes.append((kh * kw * in4[3], c_out))
        args = ", ".join([
            "&sbtf_ctx", self._conv_params(op, x, y, pad, stride, dil, opts["fused_activation_function"]),
            self.quant_arrays(op, m, s), in_d, self.ptr(op, x, "input"), f_d, mask, sign,
            self.bias(op, 3, c_out), out_d, self.act(y),
        ])
        self.call(op, f"sbtf_conv2d_s8({args})")

    def op_sbtf_fully_connected(self, op: Operator):
        opts = self._sbtf_options(op)
        x, y = self.tensor(op, 0), self.tensor(op, 0, kind="output")
        self.expect_int8(op, x, "input")
        self.expect_int8(op, y, "output")
        c_in = opts["input_channels"]
        sign = self.tensor(op, 2)
        c_out = sign.shape[0] if sign.shape else 0
        batches = self._fc_shapes(op, x, y, c_in, c_out)
        mask, sign_name, scales = self._sbtf_weights(op, c_out)
        m, s = ref.fully_connected_multipliers(self.sc(x), scales, self.sc(y))
        m, s = np.resize(m, c_out), np.resize(s, c_out)
        self.scratch_ops.append(f"sbtf_fully_connected_s8_get_buffer_size({c_in}, {c_out})")
        self.scratch_shapes.append((c_in, c_out))
        args = ", ".join([
            "&sbtf_ctx", self._fc_params(op, x, y, opts["fused_activation_function"]),
            self.quant_arrays(op, m, s), str(batches), str(c_in), self.ptr(op, x, "input"),
            str(c_out), mask, sign_name, self.bias(op, 3, c_out), self.act(y),
        ])
        self.call(op, f"sbtf_fully_connected_s8({args})")


def softmax_table(input_scale: np.float32, beta: np.float32) -> np.ndarray:
    """TFLite's PopulateSoftmaxLookupTable: table[255 - v] = expf(-input_scale * beta * v).

    Computed with the C library's expf (the one TFLite calls) so the table is bit-identical;
    NumPy's float32 exp may differ in the last bit.
    """
    scale = np.float32(-np.float32(input_scale) * np.float32(beta))
    values = np.array([_expf(float(np.float32(scale * np.float32(v)))) for v in range(256)],
                      np.float32)
    return values[::-1].copy()


def _expf(x: float) -> float:
    global _LIBM_EXPF
    if _LIBM_EXPF is None:
        import ctypes
        import ctypes.util

        libm = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
        libm.expf.restype = ctypes.c_float
        libm.expf.argtypes = [ctypes.c_float]
        _LIBM_EXPF = libm.expf
    return _LIBM_EXPF(x)


_LIBM_EXPF = None


def _poison_ranges(plan: MemoryPlan, step: int) -> list[tuple[int, int]]:
    """Arena byte ranges holding nothing that is needed after `step`."""
    live = sorted((b.offset, b.offset + b.size) for b in plan.live_after(step))
    ranges, pos = [], 0
    for start, end in live:
        if start > pos:
            ranges.append((pos, start - pos))
        pos = max(pos, end)
    if pos < plan.arena_bytes:
        ranges.append((pos, plan.arena_bytes - pos))
    return ranges


def generate(tflite: bytes, *, source: str = "model", scratch_bytes: int | None = None) -> GeneratedModel:
    """Compile TFLite flatbuffer bytes into the C sources of the ahead-of-time runtime.

    The scratch buffer of the sbtf kernels is SBTF_MODEL_SCRATCH_BYTES, the largest
    SBTF_SCRATCH_BYTES(k, c_out) (sbtf_nn.h) of the model's sbtf ops, evaluated by the target
    compiler. scratch_bytes: a fixed size instead (tests provoking SBTF_ERROR_BUFFER_SIZE).
    Raises UnsupportedModelError naming the operator and tensor for anything unsupported.
    """
    graph = load_graph(tflite, source)
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise UnsupportedModelError(
            f"{source}: the runtime supports one input and one output, the model has "
            f"{len(graph.inputs)} inputs and {len(graph.outputs)} outputs")
    tin, tout = graph.tensors[graph.inputs[0]], graph.tensors[graph.outputs[0]]
    for t, role in ((tin, "input"), (tout, "output")):
        if t.type != _T.INT8 or t.scale.size != 1:
            raise UnsupportedModelError(
                f"{source}: model {role} {t.describe()} must be int8 with one scale (convert with "
                "inference_input_type=tf.int8 and inference_output_type=tf.int8)")
    if not graph.operators:
        raise UnsupportedModelError(f"{source}: the model has no operators")
    unsupported = [f"{op.index} ({op.name})" for op in graph.operators if op.name not in SUPPORTED_OPS]
    if unsupported:
        raise UnsupportedModelError(
            f"{source}: {len(unsupported)} operator(s) not supported by sbtf's runtime: operator "
            f"{', '.join(unsupported)} (supported: {', '.join(SUPPORTED_OPS)})")
    plan = plan_memory(graph)
    if plan.arena_bytes > 2**31 - 1:
        raise UnsupportedModelError(
            f"{source}: the activations need a {plan.arena_bytes}-byte arena, more than a "
            "Cortex-M can address")
    em = _Emitter(graph, plan)
    n_ops = len(graph.operators)
    op_counts: dict[str, int] = {}
    for op in graph.operators:
        op_counts[op.name] = op_counts.get(op.name, 0) + 1
        for t in op.outputs:
            if graph.tensors[t].data is not None:
                raise UnsupportedModelError(f"{graph.where(op)}: writes a constant tensor")
    body: list[str] = []
    for op in graph.operators:
        em.body = []
        em.emit(op)
        body += em.body
        body.append(f"  SBTF_MODEL_OP_END({op.index});")
        for off, n in _poison_ranges(plan, op.index):
            body.append(f"  SBTF_MODEL_POISON_RANGE({off}, {n});")
    scratch = (scratch_expr(em.scratch_shapes, em.scratch_terms) if scratch_bytes is None
               else str(int(scratch_bytes)))
    in_off, out_off = plan.offset(tin.index), plan.offset(tout.index)
    poison_input = "\n".join(f"  SBTF_MODEL_POISON_RANGE({o}, {n});" for o, n in _poison_ranges(plan, -1))
    header = _HEADER.format(
        n_ops=n_ops, in_size=tin.size, out_size=tout.size, arena=plan.arena_bytes,
        naive=plan.naive_bytes, scratch=scratch,
        in_scale=_c_float(tin.scale[0]), in_zp=int(tin.zero_point[0]),
        out_scale=_c_float(tout.scale[0]), out_zp=int(tout.zero_point[0]),
        in_shape=list(tin.shape), out_shape=list(tout.shape),
    )
    scratch_check = "\n".join(
        f"  need = {expr};\n  if (need < 0) return need;\n  if (need > max) max = need;"
        for expr in em.scratch_ops)
    source_c = _SOURCE.format(
        source=c_comment(source), decls="\n".join(em.decls), body="\n".join(body), in_off=in_off,
        out_off=out_off, poison_input=poison_input, arena_total=plan.arena_bytes,
        scratch_check=scratch_check or "  (void)need;",
    )
    return GeneratedModel(
        source=source_c, header=header, plan=plan, graph=graph, input_shape=tin.shape,
        output_shape=tout.shape, input_scale=float(tin.scale[0]),
        input_zero_point=int(tin.zero_point[0]), output_scale=float(tout.scale[0]),
        output_zero_point=int(tout.zero_point[0]), weight_bytes=em.weight_bytes,
        scratch_expr=scratch, op_counts=op_counts,
    )


_COMMENT_SAFE = frozenset(string.ascii_letters + string.digits + " _-+=.,:;/()[]<>")


def c_comment(text: str, limit: int = 96) -> str:
    """`text` (a name from the model file, or its path) made safe inside a C /* ... */ comment.

    The one way a string from a model reaches generated C. Every character outside a small
    printable set (so every `*`, `\\`, `?`, quote, newline, NUL, non-ASCII) becomes `\\xNN` per
    UTF-8 byte, and the result is cut at `limit` characters: the comment can neither end early,
    nor splice lines, nor hold a trigraph, so the compiler sees it as one comment.
    """
    out, size = [], 0
    for ch in text:
        piece = ch if ch in _COMMENT_SAFE else "".join(
            f"\\x{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))
        if size + len(piece) > limit - 3:
            out.append("...")
            break
        out.append(piece)
        size += len(piece)
    return "".join(out)


def scratch_expr(shapes, terms=()) -> str:
    """C constant expression of the largest SBTF_SCRATCH_BYTES(k, c_out) over `shapes` and the
    builtin ops' scratch `terms` (C expressions; "0" for none): the kernels' and runtime's
    headers define the sizes, the target compiler evaluates it.

    SBTF_MAX expands its arguments twice, so the terms form a balanced tree: each appears fewer
    than 2 * len(shapes) times in the expansion, not 2^len(shapes).
    """
    terms = [f"SBTF_SCRATCH_BYTES({k}, {c})" for k, c in sorted(set(shapes))] + sorted(set(terms))
    if not terms:
        return "0"
    while len(terms) > 1:
        pairs = [f"SBTF_MAX({a}, {b})" for a, b in zip(terms[0::2], terms[1::2])]
        terms = pairs + terms[len(pairs) * 2:]
    return terms[0]


_HEADER = """\
/* Generated by `sbtf-micro codegen`: do not edit. */
#ifndef SBTF_MODEL_H
#define SBTF_MODEL_H

#include <stdint.h>

#include "sbtf_nn.h"
#include "sbtf_rt.h"

#ifdef __cplusplus
extern "C" {{
#endif

#define SBTF_MODEL_NUM_OPS {n_ops}
#define SBTF_MODEL_INPUT_SIZE {in_size}   /* int8 {in_shape} */
#define SBTF_MODEL_OUTPUT_SIZE {out_size} /* int8 {out_shape} */
#define SBTF_MODEL_INPUT_SCALE {in_scale}
#define SBTF_MODEL_INPUT_ZERO_POINT {in_zp}
#define SBTF_MODEL_OUTPUT_SCALE {out_scale}
#define SBTF_MODEL_OUTPUT_ZERO_POINT {out_zp}
/* One arena holds every activation, placed by lifetime ({naive} bytes if each had its own). */
#define SBTF_MODEL_ARENA_SIZE {arena}
#ifndef SBTF_MODEL_SCRATCH_BYTES
#define SBTF_MODEL_SCRATCH_BYTES ({scratch})
#endif

/**
 * Run the model once: input int8 [SBTF_MODEL_INPUT_SIZE], output int8 [SBTF_MODEL_OUTPUT_SIZE].
 * Returns SBTF_OK, or the status of the first operator that failed (see sbtf_model_failed_op).
 */
sbtf_status sbtf_model_invoke(const int8_t *input, int8_t *output);

/** Index of the operator that failed in the last sbtf_model_invoke, or -1. */
int32_t sbtf_model_failed_op(void);

/** Largest scratch size the sbtf kernels need here (their *_get_buffer_size()), negated when
 *  SBTF_MODEL_SCRATCH_BYTES is smaller; a negative sbtf_status for invalid shapes. */
int32_t sbtf_model_check_scratch(void);

#ifdef __cplusplus
}}
#endif

#endif /* SBTF_MODEL_H */
"""

_SOURCE = """\
/* Generated by `sbtf-micro codegen` from {source}: do not edit. */
#include "sbtf_model.h"

#include <stddef.h>
#include <string.h>

#include "sbtf_nn.h"
#include "sbtf_rt.h"

#if defined(__GNUC__)
#define SBTF_ALIGNED __attribute__((aligned(16)))
#else
#define SBTF_ALIGNED
#endif

/* Where the arena goes, e.g. -DSBTF_MODEL_ARENA_ATTR='__attribute__((section(".ccm")))'. */
#ifndef SBTF_MODEL_ARENA_ATTR
#define SBTF_MODEL_ARENA_ATTR
#endif

/* Debug build (-DSBTF_MODEL_POISON): after each operator, overwrite every arena byte that holds
   no live tensor, so a memory-plan error changes the outputs. */
#ifdef SBTF_MODEL_POISON
#define SBTF_MODEL_POISON_RANGE(off, n) memset(sbtf_arena + (off), 0x{poison:02X}, (n))
#else
#define SBTF_MODEL_POISON_RANGE(off, n) ((void)0)
#endif

/* Per-operator profile (-DSBTF_MODEL_PROFILE, e.g. micro/runtime/sbtf_op_profile.c counting
   instructions): called after each operator. */
#ifdef SBTF_MODEL_PROFILE
void sbtf_model_profile_op(int32_t op);
#define SBTF_MODEL_OP_END(op) sbtf_model_profile_op(op)
#else
#define SBTF_MODEL_OP_END(op) ((void)0)
#endif

static int8_t sbtf_arena[SBTF_MODEL_ARENA_SIZE] SBTF_ALIGNED SBTF_MODEL_ARENA_ATTR;
static int8_t sbtf_scratch[SBTF_MODEL_SCRATCH_BYTES > 0 ? SBTF_MODEL_SCRATCH_BYTES : 1] SBTF_ALIGNED;
static const sbtf_context sbtf_ctx = {{sbtf_scratch, SBTF_MODEL_SCRATCH_BYTES}};
static int32_t sbtf_failed_op = -1;

{decls}
static sbtf_status sbtf_model_fail(int32_t op, sbtf_status st) {{
  sbtf_failed_op = op;
  return st;
}}

int32_t sbtf_model_failed_op(void) {{ return sbtf_failed_op; }}

int32_t sbtf_model_check_scratch(void) {{
  int32_t need = 0, max = 0;
{scratch_check}
  return max > SBTF_MODEL_SCRATCH_BYTES ? -max : max;
}}

sbtf_status sbtf_model_invoke(const int8_t *input, int8_t *output) {{
  sbtf_status st = SBTF_OK;
  (void)sbtf_ctx;
  sbtf_failed_op = -1;
  if (input == NULL || output == NULL) return SBTF_ERROR_NULL_ARGUMENT;
  SBTF_MODEL_POISON_RANGE(0, {arena_total});
  memcpy(sbtf_arena + {in_off}, input, SBTF_MODEL_INPUT_SIZE);
{poison_input}
{body}
  memcpy(output, sbtf_arena + {out_off}, SBTF_MODEL_OUTPUT_SIZE);
  return st;
}}
"""
_SOURCE = _SOURCE.replace("{poison:02X}", f"{POISON_BYTE:02X}")
