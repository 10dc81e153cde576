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
from sbtf.micro.codegen import operators
from sbtf.micro.codegen.emitter import Emitter
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
    em.expect_int16(op, t, role)


def _act16(em: Emitter, t: Tensor) -> str:
    return em.act_ptr(t)


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
    w = em.tensor(op, 1)
    stride, dil = (o.strideH, o.strideW), (o.dilationHFactor, o.dilationWFactor)
    kernel = (operators.depthwise_kernel if depthwise else operators.conv_kernel)(em, op, w)
    cv = em.conv_setup(op, w, "filter", kernel, stride, dil, o.padding,
                       scale_axis=3 if depthwise else 0, act_type=T.INT16)
    n, c_out = op.index, cv.out4[3]
    params = em.conv_params(op, cv.x, cv.y, cv.pad, stride, dil, o.fusedActivationFunction)
    quant = _multipliers(em, op, cv.multiplier, cv.shift)
    mult = [str(c_out // cv.in4[3])] if depthwise else []
    args = ", ".join([
        params, *mult, quant, em.dims(f"op{n}_in", cv.in4), em.act_ptr(cv.x),
        em.dims(f"op{n}_filter", w.shape), em.const(op, w, "int8_t", np.int8, "filter"),
        _bias64(em, op, 2, c_out), em.dims(f"op{n}_out", cv.out4), em.act_ptr(cv.y),
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
    x, w, y, batches = operators.fc_setup(em, op, T.INT16)
    c_out, c_in = w.shape
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
    args = ", ".join([
        em.fc_params(op, x, y, o.fusedActivationFunction if o is not None else 0),
        _multipliers(em, op, m, s), str(batches), str(c_in), em.act_ptr(x),
        str(c_out), em.const(op, w, "int8_t", np.int8, "weights"), _bias64(em, op, 2, c_out),
        em.act_ptr(y),
    ])
    em.call(op, f"sbtf_rt_fully_connected_s16({args})")


@emits16("ADD")
def emit_add_s16(em: Emitter, op: Operator):
    _refuse_pot_scale(em, op)
    a, b, y, b2, name = operators.add_setup(em, op, T.INT16)
    em.call(op, f"sbtf_rt_add_s16(&{name}, {a.size}, {em.ptr(op, a, 'input 1')}, "
                f"{em.ptr(op, b, 'input 2')}, {b2}, {em.act_ptr(y)})")


@emits16("AVERAGE_POOL_2D")
def emit_average_pool_2d_s16(em: Emitter, op: Operator):
    operators.pool(em, op, "sbtf_rt_avg_pool_s16", T.INT16)


@emits16("MAX_POOL_2D")
def emit_max_pool_2d_s16(em: Emitter, op: Operator):
    operators.pool(em, op, "sbtf_rt_max_pool_s16", T.INT16)


@emits16("MEAN")
def emit_mean_s16(em: Emitter, op: Operator):
    operators.mean(em, op, T.INT16)


@emits16("PAD")
def emit_pad_s16(em: Emitter, op: Operator):
    operators.pad(em, op, T.INT16)


@emits16("MUL")
def emit_mul_s16(em: Emitter, op: Operator):
    operators.mul(em, op, T.INT16)


@emits16("SUB")
def emit_sub_s16(em: Emitter, op: Operator):
    _refuse_pot_scale(em, op)
    operators.sub(em, op, T.INT16)


def _refuse_pot_scale(em: Emitter, op: Operator):
    if op.options is not None and getattr(op.options, "potScaleInt16", True):
        em.fail(op, f"int16 {op.name} with power-of-two scales (pot_scale_int16) is not "
                    "supported; TensorFlow's 16x8 converter writes general scales")


def _unary(em: Emitter, op: Operator):
    return operators.unary(em, op, variable=True)


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
