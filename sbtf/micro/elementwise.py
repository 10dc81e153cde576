"""The runtime's LOGISTIC, MUL, SUB, TRANSPOSE, QUANTIZE float32 -> int8, DEQUANTIZE int8 ->
float32 and CAST: what TFLite computes in Prepare (tables, multipliers, broadcast strides), and
one emitter per operator writing the call of micro/runtime/sbtf_rt_elementwise.h.

Every table is built with TFLite's float arithmetic step by step (float32 where TFLite uses
float, the C library's expf), so the 256 values equal the interpreter's bit for bit.
"""
from __future__ import annotations

import numpy as np
from tensorflow.lite.python import schema_py_generated as schema

from sbtf.converters import reference as ref

_T = schema.TensorType
# CAST's element types (TFLite's TensorType numbers, sbtf_rt_type in C) and their C names.
CAST_TYPES = {_T.FLOAT32: "float", _T.INT32: "int32_t", _T.UINT8: "uint8_t", _T.INT16: "int16_t",
              _T.INT8: "int8_t"}


def _round_half_away(x: np.float32) -> np.float32:
    """std::round on a float32."""
    return np.float32(np.sign(x) * np.floor(np.abs(x) + np.float32(0.5)))


def logistic_table(input_scale, input_zero_point: int, output_scale, output_zero_point: int,
                   expf) -> np.ndarray:
    """int8 LOGISTIC's 256 outputs, table[v + 128]: TFLite's LUTPopulate with
    1 / (1 + exp(-x)) in float32 (`expf`: the C library's, as TFLite calls it)."""
    s_in, s_out = np.float32(input_scale), np.float32(output_scale)
    inverse = np.float32(1) / s_out
    table = np.empty(256, np.int8)
    for v in range(-128, 128):
        x = np.float32(s_in * np.float32(v - input_zero_point))
        y = np.float32(1) / (np.float32(1) + np.float32(expf(float(-x))))
        q = np.float32(_round_half_away(np.float32(y * inverse)) + np.float32(output_zero_point))
        table[v + 128] = max(-128, min(127, int(q)))
    return table


def dequantize_table(scale, zero_point: int) -> np.ndarray:
    """DEQUANTIZE int8 -> float32's 256 outputs: (float)((double)scale * (v - zp))."""
    v = np.arange(-128, 128, dtype=np.float64)
    return (float(np.float32(scale)) * (v - zero_point)).astype(np.float32)


def mul_multiplier(s1, s2, s_out) -> tuple[int, int]:
    """mul.cc Prepare: QuantizeMultiplier(s1 * s2 / s_out) in double."""
    return ref.quantize_multiplier(
        float(np.float32(s1)) * float(np.float32(s2)) / float(np.float32(s_out)))


def add_sub_params(s1, s2, s_out, left_shift: int = 20):
    """ADD / SUB int8 Prepare: the inputs rescaled to 2 * max(s1, s2) (a float) with a left shift
    of 20, three QuantizeMultiplierSmallerThanOneExp. Returns ((m1, sh1), (m2, sh2), (mo, sho));
    raises ValueError when one would be >= 1."""
    s1, s2, so = np.float32(s1), np.float32(s2), np.float32(s_out)
    twice_max = float(np.float32(2) * max(s1, s2))
    pairs = [ref.quantize_multiplier(r) for r in (
        float(s1) / twice_max, float(s2) / twice_max,
        twice_max / float(np.float32(np.float32(1 << left_shift) * so)))]
    if max(s for _, s in pairs) > 0:
        raise ValueError("requantization multiplier >= 1 (output scale too small)")
    return pairs


def broadcast_strides(shape1, shape2, out_shape):
    """TFLite's 4-D broadcast of two inputs onto the output: (dims, strides1, strides2), or
    ValueError when an input extent is neither 1 nor the output's."""
    def ext(s):
        s = tuple(int(d) for d in s)
        if len(s) > 4:
            raise ValueError(f"rank {len(s)} > 4 is not supported")
        return (1,) * (4 - len(s)) + s

    out = ext(out_shape)
    strides = []
    for shape in (shape1, shape2):
        s = ext(shape)
        dense = [int(np.prod(s[a + 1:], dtype=np.int64)) for a in range(4)]
        for a in range(4):
            if s[a] not in (1, out[a]):
                raise ValueError(f"shape {list(shape)} does not broadcast to {list(out_shape)}")
        strides.append([0 if s[a] == 1 and out[a] > 1 else dense[a] for a in range(4)])
    return list(out), strides[0], strides[1]


def transpose_perm(perm, rank: int) -> list[int]:
    """A TRANSPOSE permutation of rank <= 4 extended to 4-D (leading axes stay in place)."""
    perm = [int(p) for p in perm]
    if sorted(perm) != list(range(rank)) or rank > 4:
        raise ValueError(f"permutation {perm} is not one of {rank} axes (rank <= 4)")
    lead = 4 - rank
    return list(range(lead)) + [p + lead for p in perm]


# ---------------------------------------------------------------------------------------------
# Emitters: em is the code generator's emitter (helpers tensor, expect_int8, fail, decls, call,
# act, ptr, activation, zp, sc), op the operator.


def _float_table(name: str, values) -> str:
    from sbtf.micro.codegen import _c_float

    body = "\n".join("  " + ", ".join(_c_float(v) for v in values[i:i + 8]) + ","
                     for i in range(0, len(values), 8))
    return f"static const float {name}[{len(values)}] = {{\n{body}\n}};\n"


def _int8_table(name: str, values) -> str:
    from sbtf.micro.codegen import _c_array

    return _c_array("int8_t", name, values)


def emit_logistic(em, op):
    from sbtf.micro.codegen import _expf

    x, y = em.tensor(op, 0), em.tensor(op, 0, kind="output")
    em.expect_int8(op, x, "input")
    em.expect_int8(op, y, "output")
    if em.zp(y) != -128 or np.float32(em.sc(y)) != np.float32(1.0 / 256):
        em.fail(op, f"output {y.describe()} must have scale 1/256 and zero point -128")
    table = logistic_table(em.sc(x), em.zp(x), em.sc(y), em.zp(y), _expf)
    name = f"op{op.index}_table"
    em.decls.append(_int8_table(name, table))
    em.weight_bytes += 256
    em.call(op, f"sbtf_rt_lut_s8({name}, {x.size}, {em.ptr(op, x, 'input')}, {em.act(y)})")


def _binary(em, op):
    a, b, y = em.tensor(op, 0), em.tensor(op, 1), em.tensor(op, 0, kind="output")
    for t, role in ((a, "input 1"), (b, "input 2"), (y, "output")):
        em.expect_int8(op, t, role)
    try:
        dims, st1, st2 = broadcast_strides(a.shape, b.shape, y.shape)
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
            f"{em.ptr(op, b, 'input 2')}, {em.act(y)}")
    return a, b, y, lo, hi, args


def emit_mul(em, op):
    a, b, y, lo, hi, args = _binary(em, op)
    m, s = mul_multiplier(em.sc(a), em.sc(b), em.sc(y))
    name = f"op{op.index}_params"
    em.decls.append(f"static const sbtf_rt_mul_params {name} = {{{-em.zp(a)}, {-em.zp(b)}, "
                    f"{em.zp(y)}, {m}, {s}, {lo}, {hi}}};\n")
    em.call(op, f"sbtf_rt_mul_s8(&{name}, {args})")


def emit_sub(em, op):
    a, b, y, lo, hi, args = _binary(em, op)
    try:
        (m1, sh1), (m2, sh2), (mo, sho) = add_sub_params(em.sc(a), em.sc(b), em.sc(y))
    except ValueError as exc:
        em.fail(op, f"SUB {exc}")
    name = f"op{op.index}_params"
    em.decls.append(f"static const sbtf_rt_add_params {name} = {{{-em.zp(a)}, {-em.zp(b)}, "
                    f"{em.zp(y)}, 20, {m1}, {sh1}, {m2}, {sh2}, {mo}, {sho}, {lo}, {hi}}};\n")
    em.call(op, f"sbtf_rt_sub_s8(&{name}, {args})")


def emit_transpose(em, op):
    x, p, y = em.tensor(op, 0), em.tensor(op, 1), em.tensor(op, 0, kind="output")
    em.expect_int8(op, x, "input")
    em.expect_int8(op, y, "output")
    if em.zp(x) != em.zp(y) or em.sc(x) != em.sc(y):
        em.fail(op, "input and output quantization differ (TFLite requires them equal)")
    if p.data is None or p.type != _T.INT32:
        em.fail(op, "the permutation must be a constant INT32 tensor")
    try:
        perm = transpose_perm(np.asarray(p.data).reshape(-1), len(x.shape))
    except ValueError as exc:
        em.fail(op, str(exc))
    in4 = (1,) * (4 - len(x.shape)) + tuple(int(d) for d in x.shape)
    if tuple(in4[a] for a in perm)[4 - len(y.shape):] != tuple(y.shape):
        em.fail(op, f"output {y.describe()} is not input {list(x.shape)} permuted by "
                    f"{np.asarray(p.data).reshape(-1).tolist()}")
    name = f"op{op.index}"
    em.decls.append(f"static const int32_t {name}_in[4] = {{{', '.join(map(str, in4))}}};\n"
                    f"static const int32_t {name}_perm[4] = {{{', '.join(map(str, perm))}}};\n")
    em.call(op, f"sbtf_rt_transpose_s8({name}_in, {name}_perm, {em.ptr(op, x, 'input')}, "
                f"{em.act(y)})")


def _per_tensor(em, op, t, role):
    if t.scale.size != 1:
        em.fail(op, f"{role} {t.describe()} must have one scale")


def emit_quantize_float(em, op):
    """QUANTIZE float32 -> int8 (the model's float input)."""
    x, y = em.tensor(op, 0), em.tensor(op, 0, kind="output")
    em.expect_int8(op, y, "output")
    if x.data is not None:
        em.fail(op, f"input {x.describe()} must not be constant")
    from sbtf.micro.codegen import _c_float

    em.call(op, f"sbtf_rt_quantize_f32_s8({_c_float(em.sc(y))}, {em.zp(y)}, {x.size}, "
                f"(const float *){em.act(x)}, {em.act(y)})")


def emit_dequantize(em, op):
    """DEQUANTIZE int8 -> float32 (the model's float output)."""
    x, y = em.tensor(op, 0), em.tensor(op, 0, kind="output")
    em.expect_int8(op, x, "input")
    if y.type != _T.FLOAT32:
        em.fail(op, f"output {y.describe()} is {y.type_name}: only int8 -> float32 is supported")
    _per_tensor(em, op, x, "input")
    name = f"op{op.index}_table"
    em.decls.append(_float_table(name, dequantize_table(em.sc(x), em.zp(x))))
    em.weight_bytes += 256 * 4
    em.call(op, f"sbtf_rt_dequantize_s8_f32({name}, {x.size}, {em.ptr(op, x, 'input')}, "
                f"(float *){em.act(y)})")


def emit_cast(em, op):
    x, y = em.tensor(op, 0), em.tensor(op, 0, kind="output")
    for t, role in ((x, "input"), (y, "output")):
        if t.type not in CAST_TYPES:
            em.fail(op, f"{role} {t.describe()} is {t.type_name}: CAST supports "
                        f"{', '.join(sorted(n for n in _type_names()))}")
    if x.data is not None:
        em.fail(op, f"input {x.describe()} must not be constant")
    if x.size != y.size:
        em.fail(op, f"output {y.describe()} size differs from input {x.describe()}")
    em.call(op, f"sbtf_rt_cast((sbtf_rt_type){x.type}, (sbtf_rt_type){y.type}, {x.size}, {em.act(x)}, {em.act(y)})")


def _type_names():
    names = {v: k for k, v in vars(_T).items() if not k.startswith("_")}
    return [names[t] for t in CAST_TYPES]


# The builtin operators this module emits (QUANTIZE: its float32 input form).
EMITTERS = {
    "LOGISTIC": emit_logistic,
    "MUL": emit_mul,
    "SUB": emit_sub,
    "TRANSPOSE": emit_transpose,
    "DEQUANTIZE": emit_dequantize,
    "CAST": emit_cast,
}
