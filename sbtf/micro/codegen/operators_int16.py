"""Emitters of the 16x8 operators (int16 activations, int8 weights; TFLite's
EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8): their checks, prepare math
(sbtf.converters.tflite_math) and calls into micro/runtime/sbtf_rt_int16.c.

`generate` asks `emitter_for(graph, op)` first: an operator in EMITTERS_16 whose first input or
output is INT16 is emitted here, everything else by sbtf.micro.codegen.operators (whose int8
checks refuse any other int16 tensor by name). int16 activations are symmetric: every zero
point must be 0.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sbtf.converters import tflite_math
from sbtf.micro.codegen.emitter import Emitter, dims4
from sbtf.micro.codegen.graph import Graph, Operator, T, Tensor
from sbtf.micro.codegen.templates import c_array, c_float

EMITTERS_16: dict[str, Callable[[Emitter, Operator], None]] = {}
MAX_BIAS = 1 << 46  # SBTF_RT_S16_MAX_BIAS: keeps the 64-bit accumulator below 2^47


def emits16(name: str):
    def register(fn):
        EMITTERS_16[name] = fn
        return fn
    return register


def emitter_for(graph: Graph, op: Operator):
    """The 16x8 emitter of `op`, or None when the operator is not a 16x8 one."""
    if op.name not in EMITTERS_16:
        return None
    ends = [ids[0] for ids in (op.inputs, op.outputs) if ids and ids[0] >= 0]
    if any(graph.tensors[i].type == T.INT16 for i in ends if i < len(graph.tensors)):
        return EMITTERS_16[op.name]
    return None


def _expect_int16(em: Emitter, op: Operator, t: Tensor, role: str):
    if t.type != T.INT16:
        em.fail(op, f"{role} {t.describe()} has type {t.type_name}, expected INT16 (a 16x8 "
                    "operator takes int16 activations)")
    if t.scale.size != 1:
        em.fail(op, f"{role} {t.describe()} has {t.scale.size} scales, expected one")
    if np.any(t.zero_point != 0):
        em.fail(op, f"{role} {t.describe()} has zero point {int(t.zero_point[0])}; int16 "
                    "activations are symmetric (zero point 0)")


def _act16(em: Emitter, t: Tensor) -> str:
    return f"(int16_t *){em.act(t)}"


def _ptr16(em: Emitter, op: Operator, t: Tensor, role: str) -> str:
    if t.data is not None:
        return em.const(op, t, "int16_t", np.int16, role)
    return _act16(em, t)


def _activation16(em: Emitter, op: Operator, act: int, y: Tensor) -> tuple[int, int]:
    try:
        return tflite_math.activation_range(int(act), em.sc(y), 0, tflite_math.INT16_RANGE)
    except ValueError as exc:
        em.fail(op, str(exc))


def _bias64(em: Emitter, op: Operator, position: int, channels: int) -> str:
    """The optional INT64 bias (TFLite's 16x8 default), bounded so the accumulator fits."""
    b = em.tensor(op, position, optional=True)
    if b is None:
        return "NULL"
    if b.type != T.INT64 or b.size != channels or b.data is None:
        em.fail(op, f"bias {b.describe()} must be a constant INT64 with {channels} values (16x8 "
                    "operators take 64-bit biases)")
    if np.any(np.abs(np.asarray(b.data, np.int64)) > MAX_BIAS):
        em.fail(op, f"bias {b.describe()} has a value beyond +-2^46")
    return em.const(op, b, "int64_t", np.int64, "bias")


def _multipliers(em: Emitter, op: Operator, m, s):
    """TFLite's 64-bit MultiplyByQuantizedMultiplier takes shifts in [-31, 7]."""
    if np.any(np.asarray(s) > 7):
        em.fail(op, "requantization multiplier >= 2^7 (output scale too small for 16x8)")
    return em.quant_arrays(op, m, s)


def _conv(em: Emitter, op: Operator, depthwise: bool):
    o = op.options
    x, w, y = em.tensor(op, 0), em.tensor(op, 1), em.tensor(op, 0, kind="output")
    _expect_int16(em, op, x, "input")
    _expect_int16(em, op, y, "output")
    em.expect_int8(op, w, "filter", per_tensor=False)
    in4, out4 = dims4(x.shape, em.g.where(op)), dims4(y.shape, em.g.where(op))
    if len(w.shape) != 4 or w.shape[3 if depthwise else 0] != out4[3] or (
            (w.shape[0] != 1 or out4[3] % in4[3]) if depthwise else w.shape[3] != in4[3]):
        em.fail(op, f"filter {w.describe()} does not match input {list(x.shape)} and output "
                    f"{list(y.shape)}")
    kh, kw, c_out = w.shape[1], w.shape[2], out4[3]
    stride, dil = (o.strideH, o.strideW), (o.dilationHFactor, o.dilationWFactor)
    pad = em.conv_geometry(op, in4, out4, kh, kw, stride, dil, o.padding)
    scales = em.weight_scales(op, w, c_out, 3 if depthwise else 0, "filter")
    m, s = tflite_math.conv_multipliers(em.sc(x), scales, em.sc(y))
    lo, hi = _activation16(em, op, o.fusedActivationFunction, y)
    n = op.index
    em.decls.append(f"static const sbtf_conv_params op{n}_params = {{0, 0, {stride[0]}, "
                    f"{stride[1]}, {dil[0]}, {dil[1]}, {pad[0]}, {pad[1]}, {lo}, {hi}}};\n")
    quant = _multipliers(em, op, np.resize(m, c_out), np.resize(s, c_out))
    mult = [str(c_out // in4[3])] if depthwise else []
    args = ", ".join([
        f"&op{n}_params", *mult, quant, em.dims(f"op{n}_in", in4), _act16(em, x),
        em.dims(f"op{n}_filter", w.shape), em.const(op, w, "int8_t", np.int8, "filter"),
        _bias64(em, op, 2, c_out), em.dims(f"op{n}_out", out4), _act16(em, y),
    ])
    fn = "sbtf_rt_depthwise_conv2d_s16" if depthwise else "sbtf_rt_conv2d_s16"
    em.call(op, f"{fn}({args})")


@emits16("CONV_2D")
def emit_conv_2d_s16(em: Emitter, op: Operator):
    _conv(em, op, depthwise=False)


@emits16("DEPTHWISE_CONV_2D")
def emit_depthwise_conv_2d_s16(em: Emitter, op: Operator):
    _conv(em, op, depthwise=True)


@emits16("FULLY_CONNECTED")
def emit_fully_connected_s16(em: Emitter, op: Operator):
    o = op.options
    x, w, y = em.tensor(op, 0), em.tensor(op, 1), em.tensor(op, 0, kind="output")
    _expect_int16(em, op, x, "input")
    _expect_int16(em, op, y, "output")
    em.expect_int8(op, w, "weights", per_tensor=False)
    if o is not None and getattr(o, "weightsFormat", 0) != 0:
        em.fail(op, "shuffled weights format is not supported")
    if len(w.shape) != 2:
        em.fail(op, f"weights {w.describe()} must be 2-D [C_out, C_in]")
    c_out, c_in = w.shape
    batches = em.fc_shapes(op, x, y, c_in, c_out)
    if w.data is None:
        em.fail(op, f"weights {w.describe()} must be constant")
    b = em.tensor(op, 2, optional=True)
    bound = np.abs(np.asarray(w.data, np.int64)).sum(axis=1) * 32768
    if b is not None and b.data is not None and b.size == c_out:
        bound = bound + np.abs(np.asarray(b.data, np.int64).reshape(-1))
    if np.any(bound >= 1 << 31):
        em.fail(op, "the accumulator can exceed int32 (sum |weights| * 32768 + |bias| >= 2^31), "
                    "where TensorFlow's int16 FULLY_CONNECTED is not reproduced")
    m, s = em.fc_multipliers(op, x, y, w, "weights", c_out)
    lo, hi = _activation16(em, op, o.fusedActivationFunction if o is not None else 0, y)
    n = op.index
    em.decls.append(f"static const sbtf_fc_params op{n}_params = {{0, 0, {lo}, {hi}}};\n")
    args = ", ".join([
        f"&op{n}_params", _multipliers(em, op, m, s), str(batches), str(c_in), _act16(em, x),
        str(c_out), em.const(op, w, "int8_t", np.int8, "weights"), _bias64(em, op, 2, c_out),
        _act16(em, y),
    ])
    em.call(op, f"sbtf_rt_fully_connected_s16({args})")


@emits16("ADD")
def emit_add_s16(em: Emitter, op: Operator):
    o = op.options
    a, b, y = em.tensor(op, 0), em.tensor(op, 1), em.tensor(op, 0, kind="output")
    for t, role in ((a, "input 1"), (b, "input 2"), (y, "output")):
        _expect_int16(em, op, t, role)
    if o is not None and getattr(o, "potScaleInt16", True):
        em.fail(op, "int16 ADD with power-of-two scales (pot_scale_int16) is not supported; "
                    "TensorFlow's 16x8 converter writes general scales")
    b2 = 0
    if a.shape != b.shape:
        if a.size != y.size or b.size == 0 or tuple(b.shape[-1:]) != tuple(a.shape[-1:]) \
                or b.size != a.shape[-1]:
            em.fail(op, f"broadcasting {list(a.shape)} + {list(b.shape)} is not supported "
                        "(only equal shapes or a second input along the last axis)")
        b2 = b.size
    if y.size != a.size:
        em.fail(op, f"output {y.describe()} size differs from input {a.describe()}")
    shift = tflite_math.ADD_LEFT_SHIFT_INT16
    (m1, s1), (m2, s2), (mo, so) = tflite_math.add_multipliers(em.sc(a), em.sc(b), em.sc(y), shift)
    if max(s1, s2, so) > 0:
        em.fail(op, "ADD requantization multiplier >= 1 (output scale too small)")
    lo, hi = _activation16(em, op, o.fusedActivationFunction if o is not None else 0, y)
    name = f"op{op.index}_params"
    em.decls.append(f"static const sbtf_rt_add_params {name} = {{0, 0, 0, {shift}, {m1}, {s1}, "
                    f"{m2}, {s2}, {mo}, {so}, {lo}, {hi}}};\n")
    em.call(op, f"sbtf_rt_add_s16(&{name}, {a.size}, {_ptr16(em, op, a, 'input 1')}, "
                f"{_ptr16(em, op, b, 'input 2')}, {b2}, {_act16(em, y)})")


def _pool(em: Emitter, op: Operator, fn: str):
    o = op.options
    x, y = em.tensor(op, 0), em.tensor(op, 0, kind="output")
    _expect_int16(em, op, x, "input")
    _expect_int16(em, op, y, "output")
    if em.sc(x) != em.sc(y):
        em.fail(op, "input and output quantization differ (TFLite requires them equal)")
    if len(x.shape) != 4 or len(y.shape) != 4:
        em.fail(op, "pooling needs 4-D NHWC input and output")
    pad = em.conv_geometry(op, x.shape, y.shape, o.filterHeight, o.filterWidth,
                           (o.strideH, o.strideW), (1, 1), o.padding)
    lo, hi = _activation16(em, op, o.fusedActivationFunction, y)
    name = f"op{op.index}_params"
    em.decls.append(
        f"static const sbtf_rt_pool_params {name} = {{{o.strideH}, {o.strideW}, "
        f"{o.filterHeight}, {o.filterWidth}, {pad[0]}, {pad[1]}, {lo}, {hi}}};\n")
    em.call(op, f"{fn}(&{name}, {em.dims(f'op{op.index}_in', x.shape)}, {_act16(em, x)}, "
                f"{em.dims(f'op{op.index}_out', y.shape)}, {_act16(em, y)})")


@emits16("AVERAGE_POOL_2D")
def emit_average_pool_2d_s16(em: Emitter, op: Operator):
    _pool(em, op, "sbtf_rt_avg_pool_s16")


@emits16("MAX_POOL_2D")
def emit_max_pool_2d_s16(em: Emitter, op: Operator):
    _pool(em, op, "sbtf_rt_max_pool_s16")


def _unary(em: Emitter, op: Operator):
    x, y = em.tensor(op, 0), em.tensor(op, 0, kind="output")
    if x.size != y.size:
        em.fail(op, f"output {y.describe()} size differs from input {x.describe()}")
    if x.data is not None:
        em.fail(op, f"input {x.describe()} must not be constant")
    return x, y


def _unary16(em: Emitter, op: Operator, x_type: int, y_type: int):
    """Input and output of a 16x8 elementwise operator, each INT16 (symmetric, as
    _expect_int16 checks) or FLOAT32 as asked."""
    x, y = _unary(em, op)
    for t, role, want in ((x, "input", x_type), (y, "output", y_type)):
        if want == T.INT16:
            _expect_int16(em, op, t, role)
        elif t.type != want:
            em.fail(op, f"{role} {t.describe()} is {t.type_name}, expected FLOAT32")
    return x, y


@emits16("QUANTIZE")
def emit_quantize_s16(em: Emitter, op: Operator):
    """float32 -> int16 (a 16x8 model's float input), or between quantized types with int16 at
    one end (Emitter.requantize: int16 -> int8 / int16 / int32, int8 -> int16)."""
    if em.tensor(op, 0).type != T.FLOAT32:
        return em.requantize(op)
    x, y = _unary16(em, op, T.FLOAT32, T.INT16)
    em.call(op, f"sbtf_rt_quantize_f32_s16({c_float(em.sc(y))}, {x.size}, "
                f"(const float *){em.act(x)}, {_act16(em, y)})")


@emits16("DEQUANTIZE")
def emit_dequantize_s16(em: Emitter, op: Operator):
    """int16 -> float32 (a 16x8 model's float output)."""
    x, y = _unary16(em, op, T.INT16, T.FLOAT32)
    em.call(op, f"sbtf_rt_dequantize_s16_f32({c_float(em.sc(x))}, {x.size}, {_act16(em, x)}, "
                f"(float *){em.act(y)})")


@emits16("SOFTMAX")
def emit_softmax_s16(em: Emitter, op: Operator):
    """int16 -> int16, and int8 -> int16 (TFLite Micro's keyword model)."""
    if em.tensor(op, 0).type == T.INT8:
        return _softmax_s8_s16(em, op)
    x, y = _unary16(em, op, T.INT16, T.INT16)
    if abs(em.sc(y) - 1 / 32768) > 0.001 / 32768:  # softmax.cc's TF_LITE_ENSURE_NEAR
        em.fail(op, f"output {y.describe()} must have scale 1/32768")
    beta = op.options.beta if op.options is not None else 1.0
    m, s = tflite_math.softmax_int16_multiplier(em.sc(x), beta)
    if s > 15:
        em.fail(op, "input scale * beta too large for the int16 softmax")
    depth = x.shape[-1] if x.shape else 1
    if depth > 65536:
        em.fail(op, f"rows of {depth} > 65536 values are not supported")
    exp_lut, recip_lut = tflite_math.softmax_int16_luts()
    name = f"op{op.index}"
    em.decls.append(c_array("int16_t", f"{name}_exp_lut", exp_lut)
                    + c_array("int16_t", f"{name}_recip_lut", recip_lut)
                    + f"static const sbtf_rt_softmax_s16_params {name}_params = {{{name}_exp_lut, "
                    f"{name}_recip_lut, {m}, {s}}};\n")
    em.weight_bytes += 2 * 513 * 2
    em.call(op, f"sbtf_rt_softmax_s16(&{name}_params, {x.size // depth}, {depth}, "
                f"{_act16(em, x)}, {_act16(em, y)})")


def _softmax_s8_s16(em: Emitter, op: Operator):
    """int8 -> int16: TFLite's reference arithmetic (gemmlowp fixed point), whose output is
    always scale 1/65536, zero point -32768, what softmax.cc requires."""
    x, y = _unary(em, op)
    em.expect_int8(op, x, "input")
    if (y.type != T.INT16 or y.scale.size != 1 or em.zp(y) != -32768
            or abs(em.sc(y) - 1 / 65536) > 0.001 / 65536):
        em.fail(op, f"output {y.describe()} must be INT16 with scale 1/65536 and zero point -32768")
    beta = op.options.beta if op.options is not None else 1.0
    try:
        m, shift, diff_min = tflite_math.softmax_fixed_point_params(em.sc(x), beta)
    except ValueError as exc:
        em.fail(op, str(exc))
    depth = x.shape[-1] if x.shape else 1
    if depth > SOFTMAX_S16_MAX_DEPTH:
        em.fail(op, f"rows of {depth} > {SOFTMAX_S16_MAX_DEPTH} values are not supported")
    name = f"op{op.index}_params"
    em.decls.append(f"static const sbtf_rt_softmax_s8_s16_params {name} = {{{m}, {shift}, "
                    f"{diff_min}}};\n")
    em.call(op, f"sbtf_rt_softmax_s8_s16(&{name}, {x.size // depth}, {depth}, {em.act(x)}, "
                f"{_act16(em, y)})")


SOFTMAX_S16_MAX_DEPTH = 4095  # SBTF_RT_SOFTMAX_S16_MAX_DEPTH: the Q12.19 sum cannot overflow
