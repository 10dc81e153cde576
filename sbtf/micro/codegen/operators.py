"""One emitter per operator the runtime implements: its checks, its prepare math (from
sbtf.converters.tflite_math) and the C call into micro/runtime/ (sbtf_rt.h) or the sbtf_nn.h
kernels.

To add an operator: write `def emit_<name>(em: Emitter, op: Operator)` below, decorated with
`@emits("<TFLITE_OP_NAME>")` (the builtin name, or the custom op's code). That is the whole
Python edit: the decorator puts it in EMITTERS, from which code generation dispatches and
SUPPORTED_OPS (what error messages list) is derived. Put what several operators share in
Emitter (sbtf.micro.codegen.emitter), the op's TFLite Prepare arithmetic in tflite_math, and the
C kernel it calls in micro/runtime/ (declared in sbtf_rt.h).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sbtf.converters import tflite_math
from sbtf.micro.codegen.emitter import Emitter, dims4
from sbtf.micro.codegen.graph import Operator, T
from sbtf.micro.codegen.templates import c_array, c_comment, c_float

EMITTERS: dict[str, Callable[[Emitter, Operator], None]] = {}


def emits(name: str):
    """Register the decorated function as the emitter of operator `name`."""
    def register(fn):
        EMITTERS[name] = fn
        return fn
    return register


def conv_kernel(em: Emitter, op: Operator, w):
    """CONV_2D's filter [C_out, KH, KW, C_in] check for Emitter.conv_setup."""
    def kernel(x, y, in4, out4):
        if len(w.shape) != 4 or w.shape[3] != in4[3] or w.shape[0] != out4[3]:
            em.fail(op, f"filter {w.describe()} does not match input {list(x.shape)} and "
                        f"output {list(y.shape)} (grouped convolution is not supported)")
        return w.shape[1], w.shape[2], w.shape[0]
    return kernel


def depthwise_kernel(em: Emitter, op: Operator, w):
    """DEPTHWISE_CONV_2D's filter [1, KH, KW, C_out] check for Emitter.conv_setup."""
    def kernel(x, y, in4, out4):
        if len(w.shape) != 4 or w.shape[0] != 1 or w.shape[3] != out4[3] or out4[3] % in4[3]:
            em.fail(op, f"filter {w.describe()} does not match input {list(x.shape)} and "
                        f"output {list(y.shape)}")
        return w.shape[1], w.shape[2], w.shape[3]
    return kernel


@emits("CONV_2D")
def emit_conv_2d(em: Emitter, op: Operator):
    o = op.options
    w = em.tensor(op, 1)
    stride, dil = (o.strideH, o.strideW), (o.dilationHFactor, o.dilationWFactor)
    cv = em.conv_setup(op, w, "filter", conv_kernel(em, op, w), stride, dil, o.padding,
                       scale_axis=0)
    x, y = cv.x, cv.y
    kh, kw = w.shape[1], w.shape[2]
    f_d = em.dims(f"op{op.index}_filter", w.shape)
    em.scratch_ops.append(f"sbtf_rt_conv2d_s8_get_buffer_size({f_d})")
    em.scratch_terms.append(f"SBTF_RT_CONV_SCRATCH_BYTES({kh * kw * cv.in4[3]})")
    args = ", ".join([
        "&sbtf_ctx", em.conv_params(op, x, y, cv.pad, stride, dil, o.fusedActivationFunction),
        em.quant_arrays(op, cv.multiplier, cv.shift), em.dims(f"op{op.index}_in", cv.in4),
        em.ptr(op, x, "input"), f_d, em.const(op, w, "int8_t", np.int8, "filter"),
        em.folded_bias(op, 2, w.data, x), em.dims(f"op{op.index}_out", cv.out4), em.act(y),
    ])
    em.call(op, f"sbtf_rt_conv2d_s8({args})")


def _depthwise_row_bytes(in4, out4, kernel, stride, dilation, pad) -> int:
    """Bytes of one padded input row of sbtf_rt_depthwise_conv2d_s8 (its dw_row_bytes): 0 when
    every tap lies inside the input."""
    last = [(out4[1 + a] - 1) * stride[a] - pad[a] + (kernel[a] - 1) * dilation[a] for a in (0, 1)]
    if pad == (0, 0) and last[0] < in4[1] and last[1] < in4[2]:
        return 0
    return (last[1] + pad[1] + 1) * in4[3]


@emits("DEPTHWISE_CONV_2D")
def emit_depthwise_conv_2d(em: Emitter, op: Operator):
    o = op.options
    w = em.tensor(op, 1)
    stride, dil = (o.strideH, o.strideW), (o.dilationHFactor, o.dilationWFactor)
    cv = em.conv_setup(op, w, "filter", depthwise_kernel(em, op, w), stride, dil, o.padding,
                       scale_axis=3)
    x, y = cv.x, cv.y
    c_out = w.shape[3]
    params = em.conv_params(op, x, y, cv.pad, stride, dil, o.fusedActivationFunction)
    in_d, f_d = em.dims(f"op{op.index}_in", cv.in4), em.dims(f"op{op.index}_filter", w.shape)
    out_d = em.dims(f"op{op.index}_out", cv.out4)
    em.scratch_ops.append(
        f"sbtf_rt_depthwise_conv2d_s8_get_buffer_size({params}, {in_d}, {f_d}, {out_d})")
    row_bytes = _depthwise_row_bytes(cv.in4, cv.out4, w.shape[1:3], stride, dil, cv.pad)
    em.scratch_terms.append(f"SBTF_RT_DEPTHWISE_SCRATCH_BYTES({c_out}, {w.shape[1]}, {row_bytes})")
    args = ", ".join([
        "&sbtf_ctx", params, str(c_out // cv.in4[3]), em.quant_arrays(op, cv.multiplier, cv.shift),
        in_d, em.ptr(op, x, "input"), f_d, em.const(op, w, "int8_t", np.int8, "filter"),
        em.bias(op, 2, c_out), out_d, em.act(y),
    ])
    em.call(op, f"sbtf_rt_depthwise_conv2d_s8({args})")


def fc_setup(em: Emitter, op: Operator, act_type: int = T.INT8):
    """FULLY_CONNECTED's checks: (x, w, y, batches) with int8 (or int16) activations and 2-D
    int8 weights [C_out, C_in]."""
    o = op.options
    x, w, y = em.tensor(op, 0), em.tensor(op, 1), em.tensor(op, 0, kind="output")
    em.expect_act(op, x, "input", act_type)
    em.expect_act(op, y, "output", act_type)
    em.expect_int8(op, w, "weights", per_tensor=False)
    if o is not None and getattr(o, "weightsFormat", 0) != 0:
        em.fail(op, "shuffled weights format is not supported")
    if len(w.shape) != 2:
        em.fail(op, f"weights {w.describe()} must be 2-D [C_out, C_in]")
    return x, w, y, em.fc_shapes(op, x, y, w.shape[1], w.shape[0])


@emits("FULLY_CONNECTED")
def emit_fully_connected(em: Emitter, op: Operator):
    o = op.options
    x, w, y, batches = fc_setup(em, op)
    c_out, c_in = w.shape
    m, s = em.fc_multipliers(op, x, y, w, "weights", c_out)
    act = o.fusedActivationFunction if o is not None else 0
    args = ", ".join([
        em.fc_params(op, x, y, act), em.quant_arrays(op, m, s), str(batches), str(c_in),
        em.ptr(op, x, "input"), str(c_out), _fc_filter(em, op, w), em.folded_bias(op, 2, w.data, x),
        em.act(y),
    ])
    em.call(op, f"sbtf_rt_fully_connected_s8({args})")


FC_BLOCKS = (16, 4)  # SBTF_RT_FC_BLOCK on Helium builds, elsewhere


def fc_interleave(w: np.ndarray, block: int) -> np.ndarray:
    """Filter [C_out, C_in] in sbtf_rt.h's FULLY_CONNECTED layout: groups of four filters, each
    group's inputs in blocks of `block`, one block of each filter in turn, zero-padded."""
    c_out, c_in = w.shape
    cp, kp = -(-c_out // 4) * 4, -(-c_in // block) * block
    padded = np.zeros((cp, kp), np.int8)
    padded[:c_out, :c_in] = w
    return padded.reshape(cp // 4, 4, kp // block, block).transpose(0, 2, 1, 3).reshape(-1)


def _fc_filter(em: Emitter, op: Operator, w) -> str:
    """The weights in the layout of each SBTF_RT_FC_BLOCK; the build compiles one of them."""
    if w.data is None:
        em.fail(op, f"weights {w.describe()} must be constant")
    name, data = f"op{op.index}_weights", np.asarray(w.data).astype(np.int8)
    layouts = [fc_interleave(data, b) for b in FC_BLOCKS]
    arrays = [f"#{'if' if i == 0 else 'elif'} SBTF_RT_FC_BLOCK == {b}\n" + c_array("int8_t", name, a)
              for i, (b, a) in enumerate(zip(FC_BLOCKS, layouts))]
    em.decls.append(f"/* {c_comment(w.name)} {list(w.shape)} */\n" + "".join(arrays) + "#endif\n")
    em.weight_bytes += layouts[-1].size  # the elif branch: M4 / M7 / host builds
    return name


def add_setup(em: Emitter, op: Operator, act_type: int = T.INT8):
    """ADD's checks and params (equal shapes, or the second input along the last axis):
    (a, b, y, size of b when it repeats else 0, the params' C name)."""
    o = op.options
    a, b, y = em.tensor(op, 0), em.tensor(op, 1), em.tensor(op, 0, kind="output")
    for t, role in ((a, "input 1"), (b, "input 2"), (y, "output")):
        em.expect_act(op, t, role, act_type)
    b2 = 0
    if a.shape != b.shape:
        if a.size != y.size or b.size == 0 or tuple(b.shape[-1:]) != tuple(a.shape[-1:]) \
                or b.size != a.shape[-1]:
            em.fail(op, f"broadcasting {list(a.shape)} + {list(b.shape)} is not supported "
                        "(only equal shapes or a second input along the last axis)")
        b2 = b.size
    if y.size != a.size:
        em.fail(op, f"output {y.describe()} size differs from input {a.describe()}")
    lo, hi = em.activation(op, o.fusedActivationFunction if o is not None else 0, y)
    return a, b, y, b2, add_params(em, op, a, b, y, lo, hi)


def add_params(em: Emitter, op: Operator, a, b, y, lo: int, hi: int) -> str:
    """ADD's and SUB's sbtf_rt_add_params (add.cc Prepare; int16 shifts its inputs by 15)."""
    shift = tflite_math.ADD_LEFT_SHIFT_INT16 if y.type == T.INT16 else tflite_math.ADD_LEFT_SHIFT
    (m1, sh1), (m2, sh2), (mo, sho) = tflite_math.add_multipliers(em.sc(a), em.sc(b), em.sc(y),
                                                                  shift)
    if max(sh1, sh2, sho) > 0:
        em.fail(op, f"{op.name} requantization multiplier >= 1 (output scale too small)")
    name = f"op{op.index}_params"
    em.decls.append(
        f"static const sbtf_rt_add_params {name} = {{{-em.zp(a)}, {-em.zp(b)}, {em.zp(y)}, "
        f"{shift}, {m1}, {sh1}, {m2}, {sh2}, {mo}, {sho}, {lo}, {hi}}};\n")
    return name


@emits("ADD")
def emit_add(em: Emitter, op: Operator):
    a, b, y, b2, name = add_setup(em, op)
    em.scratch_ops.append(f"SBTF_RT_ADD_SCRATCH_BYTES({a.size})")
    em.scratch_terms.append(f"SBTF_RT_ADD_SCRATCH_BYTES({a.size})")
    em.call(op, f"sbtf_rt_add_s8(&sbtf_ctx, &{name}, {a.size}, {em.ptr(op, a, 'input 1')}, "
                f"{em.ptr(op, b, 'input 2')}, {b2}, {em.act(y)})")


def pool(em: Emitter, op: Operator, fn: str, act_type: int = T.INT8):
    """AVERAGE_POOL_2D / MAX_POOL_2D calling `fn`, int8 (or int16) activations."""
    o = op.options
    x, y = em.tensor(op, 0), em.tensor(op, 0, kind="output")
    em.expect_act(op, x, "input", act_type)
    em.expect_act(op, y, "output", act_type)
    if em.sc(x) != em.sc(y) or em.zp(x) != em.zp(y):
        em.fail(op, "input and output quantization differ (TFLite requires them equal)")
    if len(x.shape) != 4 or len(y.shape) != 4:
        em.fail(op, "pooling needs 4-D NHWC input and output")
    pad = em.conv_geometry(op, x.shape, y.shape, o.filterHeight, o.filterWidth,
                           (o.strideH, o.strideW), (1, 1), o.padding)
    lo, hi = em.activation(op, o.fusedActivationFunction, y)
    name = f"op{op.index}_params"
    em.decls.append(
        f"static const sbtf_rt_pool_params {name} = {{{o.strideH}, {o.strideW}, "
        f"{o.filterHeight}, {o.filterWidth}, {pad[0]}, {pad[1]}, {lo}, {hi}}};\n")
    em.call(op, f"{fn}(&{name}, {em.dims(f'op{op.index}_in', x.shape)}, {em.act_ptr(x)}, "
                f"{em.dims(f'op{op.index}_out', y.shape)}, {em.act_ptr(y)})")


@emits("AVERAGE_POOL_2D")
def emit_average_pool_2d(em: Emitter, op: Operator):
    pool(em, op, "sbtf_rt_avg_pool_s8")


@emits("MAX_POOL_2D")
def emit_max_pool_2d(em: Emitter, op: Operator):
    pool(em, op, "sbtf_rt_max_pool_s8")


@emits("MEAN")
def emit_mean(em: Emitter, op: Operator):
    mean(em, op)


def mean(em: Emitter, op: Operator, act_type: int = T.INT8):
    """MEAN of int8 (or int16) activations over constant axes."""
    x, axis_t, y = em.tensor(op, 0), em.tensor(op, 1), em.tensor(op, 0, kind="output")
    em.expect_act(op, x, "input", act_type)
    em.expect_act(op, y, "output", act_type)
    if axis_t.data is None or axis_t.type != T.INT32:
        em.fail(op, "the axis must be a constant INT32 tensor")
    rank = len(x.shape)
    in4 = dims4(x.shape, em.g.where(op))
    mask = 0
    for a in (int(a) for a in np.asarray(axis_t.data).reshape(-1)):
        if not -rank <= a < rank:
            em.fail(op, f"axis {a} out of range for rank {rank}")
        mask |= 1 << ((a % rank) + 4 - rank)
    count = int(np.prod([in4[a] for a in range(4) if mask >> a & 1]))
    if y.size * count != x.size:
        em.fail(op, f"output {y.describe()} does not hold the mean of input {list(x.shape)} over "
                    f"{count} values")
    m, s = tflite_math.mean_multiplier(em.sc(x), em.sc(y), count)
    name = f"op{op.index}_params"
    em.decls.append(f"static const sbtf_rt_mean_params {name} = {{{mask}u, {em.zp(x)}, "
                    f"{em.zp(y)}, {m}, {s}}};\n")
    fn = "sbtf_rt_mean_s16" if act_type == T.INT16 else "sbtf_rt_mean_s8"
    em.call(op, f"{fn}(&{name}, {em.dims(f'op{op.index}_in', in4)}, "
                f"{em.act_ptr(x)}, {em.act_ptr(y)})")


@emits("RESHAPE")
def emit_reshape(em: Emitter, op: Operator):
    x, y = em.tensor(op, 0), em.tensor(op, 0, kind="output")
    if x.type != y.type or x.size != y.size:
        em.fail(op, f"reshape changes type or size ({x.describe()} -> {y.describe()})")
    if x.data is not None:
        em.fail(op, "reshape of a constant tensor is not supported")
    if x.type in (T.INT8, T.INT16) and (em.zp(x) != em.zp(y) or em.sc(x) != em.sc(y)):
        em.fail(op, "reshape changes quantization parameters")
    em.body.append(f"  /* {op.index}: RESHAPE -> {c_comment(y.name)} (shares the input's bytes) */")


@emits("SOFTMAX")
def emit_softmax(em: Emitter, op: Operator):
    x, y = em.tensor(op, 0), em.tensor(op, 0, kind="output")
    em.expect_int8(op, x, "input")
    em.expect_int8(op, y, "output")
    if em.zp(y) != -128 or np.float32(em.sc(y)) != np.float32(1.0 / 256):
        em.fail(op, f"output {y.describe()} must have scale 1/256 and zero point -128")
    beta = np.float32(op.options.beta if op.options is not None else 1.0)
    depth = x.shape[-1] if x.shape else 1
    name = f"op{op.index}"
    table = tflite_math.softmax_table(np.float32(em.sc(x)), beta)
    em.decls.append(
        f"static const float {name}_table[256] = {{\n"
        + "\n".join("  " + ", ".join(c_float(v) for v in table[i:i + 8]) + ","
                    for i in range(0, 256, 8))
        + f"\n}};\nstatic const sbtf_rt_softmax_params {name}_params = {{{name}_table, "
        f"{c_float(em.sc(y))}, {em.zp(y)}}};\n")
    em.weight_bytes += 256 * 4
    em.call(op, f"sbtf_rt_softmax_s8(&{name}_params, {x.size // depth}, {depth}, "
                f"{em.act(x)}, {em.act(y)})")


@emits("PAD")
def emit_pad(em: Emitter, op: Operator):
    pad(em, op)


def pad(em: Emitter, op: Operator, act_type: int = T.INT8):
    """PAD of int8 (or int16) activations with constant paddings, padding with the output
    zero point. int16's zero point is 0, two zero bytes: sbtf_rt_pad_s8 pads its bytes, each
    value two bytes along the last axis."""
    x, p, y = em.tensor(op, 0), em.tensor(op, 1), em.tensor(op, 0, kind="output")
    em.expect_act(op, x, "input", act_type)
    em.expect_act(op, y, "output", act_type)
    if p.data is None:
        em.fail(op, "paddings must be constant")
    pads = np.asarray(p.data, np.int64).reshape(-1, 2)
    rank = len(x.shape)
    if pads.shape[0] != rank or rank > 4 or np.any(pads < 0):
        em.fail(op, f"paddings {pads.tolist()} do not fit input rank {rank}")
    pads = np.concatenate([np.zeros((4 - rank, 2), np.int64), pads])
    in4 = dims4(x.shape, em.g.where(op))
    if act_type == T.INT16:
        pads[3] *= 2
        in4 = in4[:3] + (in4[3] * 2,)
    if int(np.prod(in4 + pads.sum(axis=1))) != y.size * (2 if act_type == T.INT16 else 1):
        em.fail(op, f"output {y.describe()} is not input {list(x.shape)} padded by "
                    f"{pads.tolist()}")
    name = f"op{op.index}"
    em.decls.append(
        f"static const int32_t {name}_before[4] = {{{', '.join(map(str, pads[:, 0]))}}};\n"
        f"static const int32_t {name}_after[4] = {{{', '.join(map(str, pads[:, 1]))}}};\n")
    em.call(op, f"sbtf_rt_pad_s8({em.dims(f'op{op.index}_in', in4)}, "
                f"{name}_before, {name}_after, (int8_t){em.zp(y)}, {em.act(x)}, {em.act(y)})")


@emits("QUANTIZE")
def emit_quantize(em: Emitter, op: Operator):
    """Between quantized types (Emitter.requantize), or float32 -> int8 (a model's float
    input)."""
    if em.tensor(op, 0).type == T.FLOAT32:
        return _quantize_float(em, op)
    em.requantize(op)


def unary(em: Emitter, op: Operator, variable: bool = False):
    """Input and output of an elementwise operator, of equal sizes; `variable`: the input
    must not be constant."""
    x, y = em.tensor(op, 0), em.tensor(op, 0, kind="output")
    if x.size != y.size:
        em.fail(op, f"output {y.describe()} size differs from input {x.describe()}")
    if variable and x.data is not None:
        em.fail(op, f"input {x.describe()} must not be constant")
    return x, y


def _quantize_float(em: Emitter, op: Operator):
    x, y = unary(em, op)
    em.expect_int8(op, y, "output")
    if x.data is not None:
        em.fail(op, f"input {x.describe()} must not be constant")
    em.call(op, f"sbtf_rt_quantize_f32_s8({c_float(em.sc(y))}, {em.zp(y)}, {x.size}, "
                f"(const float *){em.act(x)}, {em.act(y)})")


@emits("DEQUANTIZE")
def emit_dequantize(em: Emitter, op: Operator):
    """int8 -> float32 (a model's float output), by the 256 values as a table."""
    x, y = unary(em, op)
    em.expect_int8(op, x, "input")
    if y.type != T.FLOAT32:
        em.fail(op, f"output {y.describe()} is {y.type_name}: only int8 -> float32 is supported")
    table = tflite_math.dequantize_table(em.sc(x), em.zp(x))
    name = f"op{op.index}_table"
    em.decls.append(f"static const float {name}[256] = {{\n" + "\n".join(
        "  " + ", ".join(c_float(v) for v in table[i:i + 8]) + "," for i in range(0, 256, 8))
        + "\n};\n")
    em.weight_bytes += 256 * 4
    em.call(op, f"sbtf_rt_dequantize_s8_f32({name}, {x.size}, {em.ptr(op, x, 'input')}, "
                f"(float *){em.act(y)})")


def _lut(em: Emitter, op: Operator, out_scale_denominator: int, out_zp: int, table_fn):
    """An int8 -> int8 function evaluated as TFLite does, by the 256-entry table its Prepare
    builds (LUTPopulate); the output quantization is the one TFLite requires."""
    x, y = unary(em, op)
    em.expect_int8(op, x, "input")
    em.expect_int8(op, y, "output")
    if em.zp(y) != out_zp or np.float32(em.sc(y)) != np.float32(1.0 / out_scale_denominator):
        em.fail(op, f"output {y.describe()} must have scale 1/{out_scale_denominator} and zero "
                    f"point {out_zp}")
    name = f"op{op.index}_table"
    em.decls.append(c_array("int8_t", name, table_fn(em.sc(x), em.zp(x), em.sc(y), em.zp(y))))
    em.weight_bytes += 256
    em.call(op, f"sbtf_rt_lut_s8({name}, {x.size}, {em.ptr(op, x, 'input')}, {em.act(y)})")


@emits("LOGISTIC")
def emit_logistic(em: Emitter, op: Operator):
    _lut(em, op, 256, -128, tflite_math.logistic_table)


@emits("TANH")
def emit_tanh(em: Emitter, op: Operator):
    _lut(em, op, 128, 0, tflite_math.tanh_table)


def binary(em: Emitter, op: Operator, act_type: int = T.INT8):
    """MUL / SUB: int8 (or int16) inputs and output, the broadcast as a declared
    sbtf_rt_broadcast, the activation clamp and the call's arguments after the params."""
    a, b, y = em.tensor(op, 0), em.tensor(op, 1), em.tensor(op, 0, kind="output")
    for t, role in ((a, "input 1"), (b, "input 2"), (y, "output")):
        em.expect_act(op, t, role, act_type)
    try:
        dims, st1, st2 = tflite_math.broadcast_strides(a.shape, b.shape, y.shape)
    except ValueError as exc:
        em.fail(op, str(exc))
    if int(np.prod(dims)) != y.size:
        em.fail(op, f"output {y.describe()} is not the broadcast of {list(a.shape)} and "
                    f"{list(b.shape)}")
    name = f"op{op.index}_bc"
    em.decls.append(f"static const sbtf_rt_broadcast {name} = {{{{{', '.join(map(str, dims))}}}, "
                    f"{{{', '.join(map(str, st1))}}}, {{{', '.join(map(str, st2))}}}}};\n")
    act = getattr(op.options, "fusedActivationFunction", 0) if op.options is not None else 0
    lo, hi = em.activation(op, act, y)
    args = (f"&{name}, {a.size}, {em.ptr(op, a, 'input 1')}, {b.size}, "
            f"{em.ptr(op, b, 'input 2')}, {em.act_ptr(y)}")
    return a, b, y, lo, hi, args


@emits("MUL")
def emit_mul(em: Emitter, op: Operator):
    mul(em, op)


def mul(em: Emitter, op: Operator, act_type: int = T.INT8):
    """MUL of int8 (or int16) activations, any 4-D broadcast."""
    a, b, y, lo, hi, args = binary(em, op, act_type)
    try:
        m, s = tflite_math.mul_multiplier(em.sc(a), em.sc(b), em.sc(y))
    except ValueError as exc:
        em.fail(op, f"MUL {exc}")
    name = f"op{op.index}_params"
    em.decls.append(f"static const sbtf_rt_mul_params {name} = {{{-em.zp(a)}, {-em.zp(b)}, "
                    f"{em.zp(y)}, {m}, {s}, {lo}, {hi}}};\n")
    em.call(op, f"sbtf_rt_mul_{'s16' if act_type == T.INT16 else 's8'}(&{name}, {args})")


@emits("SUB")
def emit_sub(em: Emitter, op: Operator):
    sub(em, op)


def sub(em: Emitter, op: Operator, act_type: int = T.INT8):
    """SUB of int8 (or int16, general scales) activations, any 4-D broadcast."""
    a, b, y, lo, hi, args = binary(em, op, act_type)
    name = add_params(em, op, a, b, y, lo, hi)
    em.call(op, f"sbtf_rt_sub_{'s16' if act_type == T.INT16 else 's8'}(&{name}, {args})")


@emits("TRANSPOSE")
def emit_transpose(em: Emitter, op: Operator):
    x, p, y = em.tensor(op, 0), em.tensor(op, 1), em.tensor(op, 0, kind="output")
    em.expect_int8(op, x, "input")
    em.expect_int8(op, y, "output")
    if em.zp(x) != em.zp(y) or em.sc(x) != em.sc(y):
        em.fail(op, "input and output quantization differ (TFLite requires them equal)")
    if p.data is None or p.type != T.INT32:
        em.fail(op, "the permutation must be a constant INT32 tensor")
    raw = np.asarray(p.data).reshape(-1).tolist()
    try:
        perm = tflite_math.transpose_perm(raw, len(x.shape))
    except ValueError as exc:
        em.fail(op, str(exc))
    in4 = dims4(x.shape, em.g.where(op))
    if tuple(in4[a] for a in perm)[4 - len(y.shape):] != tuple(y.shape) or len(y.shape) > 4:
        em.fail(op, f"output {y.describe()} is not input {list(x.shape)} permuted by {raw}")
    name = f"op{op.index}"
    em.decls.append(f"static const int32_t {name}_in[4] = {{{', '.join(map(str, in4))}}};\n"
                    f"static const int32_t {name}_perm[4] = {{{', '.join(map(str, perm))}}};\n")
    em.call(op, f"sbtf_rt_transpose_s8({name}_in, {name}_perm, {em.ptr(op, x, 'input')}, "
                f"{em.act(y)})")


@emits("STRIDED_SLICE")
def emit_strided_slice(em: Emitter, op: Operator):
    """int8, rank <= 4, constant begin / end / strides; no ellipsis, new-axis or offset (what
    Keras's x[:, -1] and a non-sequence LSTM convert to)."""
    o = op.options
    x, y = em.tensor(op, 0), em.tensor(op, 0, kind="output")
    em.expect_int8(op, x, "input")
    em.expect_int8(op, y, "output")
    if em.zp(x) != em.zp(y) or em.sc(x) != em.sc(y):
        em.fail(op, "input and output quantization differ (TFLite requires them equal)")
    if o is None or o.ellipsisMask or o.newAxisMask or getattr(o, "offset", False):
        em.fail(op, "ellipsis, new-axis and offset strided slices are not supported")
    spec = [em.tensor(op, p) for p in (1, 2, 3)]
    if any(t.data is None or t.type != T.INT32 for t in spec):
        em.fail(op, "begin, end and strides must be constant INT32 tensors")
    try:
        ranges = tflite_math.strided_slice_ranges(
            x.shape, *(np.asarray(t.data).reshape(-1).tolist() for t in spec),
            o.beginMask, o.endMask, o.shrinkAxisMask)
    except ValueError as exc:
        em.fail(op, str(exc))
    if int(np.prod([tflite_math.slice_count(*r) for r in ranges])) != y.size:
        em.fail(op, f"output {y.describe()} is not the slice's size")
    name = f"op{op.index}"
    in4 = dims4(x.shape, em.g.where(op))
    em.decls.append(f"static const int32_t {name}_in[4] = {{{', '.join(map(str, in4))}}};\n")
    em.decls.append("".join(
        f"static const int32_t {name}_{what}[4] = {{{', '.join(str(r[k]) for r in ranges)}}};\n"
        for k, what in enumerate(("start", "stop", "stride"))))
    em.call(op, f"sbtf_rt_strided_slice_s8({name}_in, {name}_start, "
                f"{name}_stop, {name}_stride, {y.size}, {em.ptr(op, x, 'input')}, {em.act(y)})")


# UNIDIRECTIONAL_SEQUENCE_LSTM's inputs (TFLite's lstm_shared.h): weights of the input, forget,
# cell and output gates from the input and from the hidden state, gate biases, then the
# optional peephole, projection and layer-norm tensors the runtime does not implement.
LSTM_INPUT_WEIGHTS, LSTM_RECURRENT_WEIGHTS, LSTM_BIASES = (1, 2, 3, 4), (5, 6, 7, 8), (12, 13, 14, 15)
LSTM_UNSUPPORTED = {9: "peephole", 10: "peephole", 11: "peephole", 16: "projection",
                    17: "projection", 20: "layer norm", 21: "layer norm", 22: "layer norm",
                    23: "layer norm"}
LSTM_OUTPUT_STATE, LSTM_CELL_STATE = 18, 19
ACT_TANH = 4


@emits("UNIDIRECTIONAL_SEQUENCE_LSTM")
def emit_unidirectional_sequence_lstm(em: Emitter, op: Operator):
    """TFLite's 8x8_16 integer LSTM as a Keras LSTM layer converts: int8 input and hidden
    state, int16 cell state, no peephole / projection / layer norm / CIFG."""
    o = op.options
    if len(op.inputs) != 24:
        em.fail(op, f"expected 24 inputs, got {len(op.inputs)}")
    for pos, what in LSTM_UNSUPPORTED.items():
        if op.inputs[pos] >= 0:
            em.fail(op, f"input {pos} is present: {what} LSTMs are not supported")
    if op.inputs[1] < 0:
        em.fail(op, "input 1 is absent: CIFG LSTMs (coupled input and forget gates) are not "
                    "supported")
    if o is None or o.fusedActivationFunction != ACT_TANH or o.diagonalRecurrentTensors:
        em.fail(op, "options must say activation TANH without diagonal recurrent tensors")
    x, y = em.tensor(op, 0), em.tensor(op, 0, kind="output")
    h, c = em.tensor(op, LSTM_OUTPUT_STATE), em.tensor(op, LSTM_CELL_STATE)
    em.expect_int8(op, x, "input")
    em.expect_int8(op, y, "output")
    em.expect_int8(op, h, "output state")
    if len(x.shape) != 3 or x.data is not None:
        em.fail(op, f"input {x.describe()} must be a 3-D activation")
    t_steps, batches, n_in = x.shape if o.timeMajor else (x.shape[1], x.shape[0], x.shape[2])
    w_in = [em.tensor(op, p) for p in LSTM_INPUT_WEIGHTS]
    w_rec = [em.tensor(op, p) for p in LSTM_RECURRENT_WEIGHTS]
    n_cell = w_in[0].shape[0] if len(w_in[0].shape) == 2 else 0
    for w, shape in [*((w, (n_cell, n_in)) for w in w_in), *((w, (n_cell, n_cell)) for w in w_rec)]:
        em.expect_int8(op, w, "weights")
        em.weight_scales(op, w, n_cell, 0, "weights")
        if w.shape != shape or w.data is None:
            em.fail(op, f"weights {w.describe()} must be a constant {list(shape)}")
    if not 1 <= n_cell <= LSTM_MAX_SIZE or n_in > LSTM_MAX_SIZE:
        em.fail(op, f"{n_cell} cells and {n_in} inputs: the runtime takes 1..{LSTM_MAX_SIZE}")
    if y.shape != tuple(x.shape[:2]) + (n_cell,):
        em.fail(op, f"output {y.describe()} must be {[*x.shape[:2], n_cell]} (the whole sequence)")
    for t, dtype, what in ((h, T.INT8, "output state"), (c, T.INT16, "cell state")):
        if t.type != dtype or t.data is not None or t.size != batches * n_cell:
            em.fail(op, f"{what} {t.describe()} must be a variable {_TYPE_NAME[dtype]} tensor "
                        f"of {batches * n_cell} values")
    if c.scale.size != 1 or c.zero_point.size != 1 or em.zp(c) != 0 or not em.sc(c) > 0:
        em.fail(op, f"cell state {c.describe()} must have one positive scale and zero point 0")
    cell_log2 = tflite_math.lstm_cell_scale_log2(em.sc(c))
    if cell_log2 is None or not -15 <= cell_log2 <= -9:
        em.fail(op, f"cell state scale {em.sc(c)} must be a power of two in 2^-15 .. 2^-9")
    if len(op.intermediates) != 5 or not 0 <= op.intermediates[4] < len(em.g.tensors):
        em.fail(op, "expected 5 intermediate tensors (the hidden state's scale is the 5th)")
    hidden = em.g.tensors[op.intermediates[4]]
    if hidden.scale.size != 1 or hidden.zero_point.size != 1 or not -128 <= em.zp(hidden) <= 127:
        em.fail(op, f"intermediate {hidden.describe()} must hold the hidden state's quantization")
    for t in (x, h, hidden, *w_in, *w_rec):
        if not (np.isfinite(em.sc(t)) and em.sc(t) > 0):
            em.fail(op, f"{t.describe()} has scale {em.sc(t)}, expected a positive number")

    n = op.index
    mults, biases = [], []
    for g, (wi, wr, pb) in enumerate(zip(w_in, w_rec, LSTM_BIASES)):
        b = em.bias_tensor(op, pb, n_cell)
        if b is None:
            em.fail(op, f"input {pb} (gate bias) is absent")
        b_in = tflite_math.zero_point_times_weights(-em.zp(x), wi.data, b.data)
        b_rec = tflite_math.zero_point_times_weights(-em.zp(h), wr.data)
        worst = np.abs(np.concatenate([b_in, b_rec])).max() + 128 * 128 * max(n_in, n_cell)
        if worst >= 1 << 31:
            em.fail(op, "gate bias plus the weighted sums may exceed int32")
        for name, v in ((f"op{n}_bias_in{g}", b_in), (f"op{n}_bias_rec{g}", b_rec)):
            em.decls.append(c_array("int32_t", name, v))
            em.weight_bytes += 4 * n_cell
            biases.append(name)
        try:
            mults.append((tflite_math.lstm_gate_multiplier(em.sc(wi), em.sc(x)),
                          tflite_math.lstm_gate_multiplier(em.sc(wr), em.sc(h))))
        except ValueError as exc:
            em.fail(op, f"gate {g}: {exc}")
    try:
        hm, hs = tflite_math.lstm_hidden_multiplier(em.sc(hidden))
    except ValueError as exc:
        em.fail(op, f"hidden state: {exc}")

    def arr(values):
        return "{" + ", ".join(str(v) for v in values) + "}"

    fields = [
        arr(em.const(op, w, "int8_t", np.int8, "weights") for w in w_in),
        arr(em.const(op, w, "int8_t", np.int8, "weights") for w in w_rec),
        arr(biases[0::2]), arr(biases[1::2]),
        arr(m[0][0] for m in mults), arr(m[0][1] for m in mults),
        arr(m[1][0] for m in mults), arr(m[1][1] for m in mults),
        str(hm), str(hs), str(em.zp(hidden)), str(em.zp(h)), str(cell_log2),
        str(tflite_math.lstm_cell_clip(o.cellClip, em.sc(c))),
        str(batches), str(t_steps), str(n_in), str(n_cell), str(int(bool(o.timeMajor))),
    ]
    em.decls.append(f"static const sbtf_rt_lstm_params op{n}_params = {{{', '.join(fields)}}};\n")
    em.scratch_ops.append(f"sbtf_rt_lstm_s8_get_buffer_size({n_cell})")
    em.scratch_terms.append(f"SBTF_RT_LSTM_SCRATCH_BYTES({n_cell})")
    em.call(op, f"sbtf_rt_lstm_s8(&sbtf_ctx, &op{n}_params, {em.act(x)}, {em.act(h)}, "
                f"(int16_t *){em.act(c)}, {em.act(y)})")


LSTM_MAX_SIZE = 16384  # SBTF_RT_LSTM_MAX_SIZE
_TYPE_NAME = {T.INT8: "INT8", T.INT16: "INT16"}


# CAST's element types: sbtf_rt_type in C uses TFLite's TensorType numbers.
CAST_TYPES = (T.FLOAT32, T.INT32, T.INT16, T.INT8, T.UINT8)


@emits("CAST")
def emit_cast(em: Emitter, op: Operator):
    x, y = unary(em, op)
    for t, role in ((x, "input"), (y, "output")):
        if t.type not in CAST_TYPES:
            em.fail(op, f"{role} {t.describe()} is {t.type_name}: CAST takes FLOAT32, INT32, "
                        "INT16, INT8 and UINT8")
    if x.data is not None:
        em.fail(op, f"input {x.describe()} must not be constant")
    em.call(op, f"sbtf_rt_cast((sbtf_rt_type){x.type}, (sbtf_rt_type){y.type}, {x.size}, "
                f"{em.act(x)}, {em.act(y)})")


# ---- sbtf custom ops (docs/op_spec.md)
@emits("SBTF_CONV_2D")
def emit_sbtf_conv_2d(em: Emitter, op: Operator):
    opts = em.sbtf_options(op)
    kh, kw = opts["filter_height"], opts["filter_width"]
    stride = (opts["stride_h"], opts["stride_w"])
    dil = (opts["dilation_h_factor"], opts["dilation_w_factor"])
    cv = em.conv_setup(op, em.tensor(op, 2), "sign", lambda x, y, in4, out4: (kh, kw, out4[3]),
                       stride, dil, opts["padding"], scale_axis=0, int8_weights=False)
    x, y, in4, out4 = cv.x, cv.y, cv.in4, cv.out4
    c_out = out4[3]
    mask, sign = em.sbtf_weights(op)
    n = op.index
    in_d = em.dims(f"op{n}_in", in4)
    f_d = em.dims(f"op{n}_filter", (c_out, kh, kw, in4[3]))
    out_d = em.dims(f"op{n}_out", out4)
    em.scratch_ops.append(f"sbtf_conv2d_s8_get_buffer_size({in_d}, {f_d}, {out_d})")
    em.scratch_shapes.append((kh * kw * in4[3], c_out))
    args = ", ".join([
        "&sbtf_ctx",
        em.conv_params(op, x, y, cv.pad, stride, dil, opts["fused_activation_function"]),
        em.quant_arrays(op, cv.multiplier, cv.shift), in_d, em.ptr(op, x, "input"), f_d, mask,
        sign, em.bias(op, 3, c_out), out_d, em.act(y),
    ])
    em.call(op, f"sbtf_conv2d_s8({args})")


@emits("SBTF_FULLY_CONNECTED")
def emit_sbtf_fully_connected(em: Emitter, op: Operator):
    opts = em.sbtf_options(op)
    x, y = em.tensor(op, 0), em.tensor(op, 0, kind="output")
    em.expect_int8(op, x, "input")
    em.expect_int8(op, y, "output")
    c_in = opts["input_channels"]
    sign_t = em.tensor(op, 2)
    c_out = sign_t.shape[0] if sign_t.shape else 0
    batches = em.fc_shapes(op, x, y, c_in, c_out)
    m, s = em.fc_multipliers(op, x, y, sign_t, "sign", c_out)
    mask, sign = em.sbtf_weights(op)
    em.scratch_ops.append(f"sbtf_fully_connected_s8_get_buffer_size({c_in}, {c_out})")
    em.scratch_shapes.append((c_in, c_out))
    args = ", ".join([
        "&sbtf_ctx", em.fc_params(op, x, y, opts["fused_activation_function"]),
        em.quant_arrays(op, m, s), str(batches), str(c_in), em.ptr(op, x, "input"),
        str(c_out), mask, sign, em.bias(op, 3, c_out), em.act(y),
    ])
    em.call(op, f"sbtf_fully_connected_s8({args})")


@emits("SBTF_DEPTHWISE_CONV_2D")
def emit_sbtf_depthwise_conv_2d(em: Emitter, op: Operator):
    opts = em.sbtf_options(op)
    kh, kw, mult = opts["filter_height"], opts["filter_width"], opts["depth_multiplier"]
    stride = (opts["stride_h"], opts["stride_w"])
    dil = (opts["dilation_h_factor"], opts["dilation_w_factor"])

    def kernel(x, y, in4, out4):
        if out4[3] != in4[3] * mult:
            em.fail(op, f"output {y.describe()} does not have input channels x depth_multiplier "
                        f"= {in4[3]} x {mult} channels")
        return kh, kw, out4[3]

    cv = em.conv_setup(op, em.tensor(op, 2), "sign", kernel, stride, dil, opts["padding"],
                       scale_axis=0, int8_weights=False)
    x, y, in4, out4 = cv.x, cv.y, cv.in4, cv.out4
    c_out = out4[3]
    mask, sign = em.sbtf_weights(op)
    n = op.index
    in_d = em.dims(f"op{n}_in", in4)
    f_d = em.dims(f"op{n}_filter", (1, kh, kw, c_out))
    out_d = em.dims(f"op{n}_out", out4)
    em.scratch_ops.append(f"sbtf_depthwise_conv2d_s8_get_buffer_size({in_d}, {f_d}, {out_d}, "
                          f"{mult})")
    em.scratch_terms.append(f"SBTF_DEPTHWISE_SCRATCH_BYTES({kh * kw}, {c_out})")
    args = ", ".join([
        "&sbtf_ctx",
        em.conv_params(op, x, y, cv.pad, stride, dil, opts["fused_activation_function"]),
        str(mult), em.quant_arrays(op, cv.multiplier, cv.shift), in_d, em.ptr(op, x, "input"),
        f_d, mask, sign, em.bias(op, 3, c_out), out_d, em.act(y),
    ])
    em.call(op, f"sbtf_depthwise_conv2d_s8({args})")

