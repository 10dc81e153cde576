"""TFLite's prepare math for int8 operators, written once: what TFLite computes in each
operator's Prepare from the tensors' scales and the operator's options.

QuantizeMultiplier, the fused-activation clamp, SAME/VALID output sizes and padding, and the
per-operator multipliers of CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED, ADD / SUB, MUL, MEAN,
QUANTIZE, the lookup tables of SOFTMAX, LOGISTIC, TANH and DEQUANTIZE, and the 4-D broadcast and
permutation of binary operators and TRANSPOSE. Used by the NumPy reference (`reference`), the
validator, the host op, the code generator (`sbtf.micro.codegen`) and the C test-data scripts;
the per-element arithmetic that runs in Eval (MultiplyByQuantizedMultiplier) is in `reference`.
"""
from __future__ import annotations

import math

import numpy as np

# TFLite ActivationFunctionType / Padding enum values (schema.fbs).
ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6 = 0, 1, 2, 3
PADDING_SAME, PADDING_VALID = 0, 1
ADD_LEFT_SHIFT = 20  # add.cc: inputs are shifted left by 20 bits before rescaling (int8)
ADD_LEFT_SHIFT_INT16 = 15  # add.cc, int16 with general scales (pot_scale_int16 false)
INT8_RANGE, INT16_RANGE = (-128, 127), (-32768, 32767)


def tflite_round(x: float) -> int:
    """std::round: half away from zero."""
    return math.floor(abs(x) + 0.5) * (1 if x >= 0 else -1)


def quantize_multiplier(real_multiplier: float) -> tuple[int, int]:
    """TFLite's QuantizeMultiplier: real = multiplier * 2^(shift - 31), multiplier in [2^30, 2^31)."""
    if real_multiplier == 0.0:
        return 0, 0
    q, shift = math.frexp(real_multiplier)
    q_fixed = tflite_round(q * (1 << 31))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift, q_fixed = 0, 0
    if shift > 30:  # TFLite would overflow here; refuse rather than silently differ
        raise ValueError(f"requantization multiplier {real_multiplier} is too large")
    return int(q_fixed), int(shift)


def conv_multipliers(input_scale: float, weight_scales, output_scale: float):
    """Per-channel (multiplier, shift) arrays as TFLite's conv computes them (in double)."""
    pairs = [
        quantize_multiplier(float(input_scale) * float(s) / float(output_scale))
        for s in np.asarray(weight_scales, dtype=np.float32).reshape(-1)
    ]
    return np.array([p[0] for p in pairs], np.int64), np.array([p[1] for p in pairs], np.int64)


def fully_connected_multipliers(input_scale: float, weight_scales, output_scale: float):
    """(multiplier, shift) arrays as TFLite's fully connected computes them.

    Per tensor, TFLite multiplies the two scales in float before widening to double; per
    channel (TFLite and TFLM's PopulateQuantizedPerChannel) it computes in double, like conv.
    """
    if np.asarray(weight_scales).size > 1:
        return conv_multipliers(input_scale, weight_scales, output_scale)
    pairs = []
    for s in np.asarray(weight_scales, dtype=np.float32).reshape(-1):
        product = float(np.float32(input_scale) * np.float32(s))
        pairs.append(quantize_multiplier(product / float(output_scale)))
    return np.array([p[0] for p in pairs], np.int64), np.array([p[1] for p in pairs], np.int64)


def requantize_multiplier(input_scale: float, output_scale: float) -> tuple[int, int]:
    """QUANTIZE (int8 -> int8) and MEAN's base: QuantizeMultiplier of the float32 scales' ratio
    computed in double."""
    return quantize_multiplier(float(np.float32(input_scale)) / float(np.float32(output_scale)))


def add_multipliers(input1_scale: float, input2_scale: float, output_scale: float,
                    left_shift: int = ADD_LEFT_SHIFT):
    """add.cc Prepare (int8, and int16 with left_shift ADD_LEFT_SHIFT_INT16): ((m1, s1), (m2,
    s2), (m_out, s_out)) for inputs shifted left by left_shift. Scales are float; 2 * max(float,
    float) is float."""
    s1, s2, so = np.float32(input1_scale), np.float32(input2_scale), np.float32(output_scale)
    twice_max = float(np.float32(2) * max(s1, s2))
    real = (float(s1) / twice_max, float(s2) / twice_max,
            twice_max / float(np.float32(np.float32(1 << left_shift) * so)))
    return tuple(quantize_multiplier(r) for r in real)


def mean_multiplier(input_scale: float, output_scale: float, count: int) -> tuple[int, int]:
    """reduce.cc (reference) QuantizedMeanOrSum for int8: QuantizeMultiplier(s_in / s_out) in
    Prepare, then 1/count folded into the multiplier with a shift of floor(log2(count))."""
    m, s = requantize_multiplier(input_scale, output_scale)
    shift = min(count.bit_length() - 1, 32, 31 + s)
    return (m << shift) // count, s - shift


def activation_range(activation: int, scale: float, zero_point: int,
                     qrange: tuple[int, int] = INT8_RANGE) -> tuple[int, int]:
    """TFLite's CalculateActivationRangeQuantized for int8 (or, with INT16_RANGE, int16)
    outputs (f / scale in float)."""
    qmin, qmax = qrange

    def q(f: float) -> int:
        return zero_point + tflite_round(float(np.float32(f) / np.float32(scale)))

    if activation == ACT_NONE:
        return qmin, qmax
    if activation == ACT_RELU:
        return max(qmin, q(0.0)), qmax
    if activation == ACT_RELU6:
        return max(qmin, q(0.0)), min(qmax, q(6.0))
    if activation == ACT_RELU_N1_TO_1:
        return max(qmin, q(-1.0)), min(qmax, q(1.0))
    raise ValueError(f"unsupported fused activation {activation}")


def conv_output_size(size: int, kernel: int, stride: int, dilation: int, padding: int) -> int:
    effective = (kernel - 1) * dilation + 1
    if padding == PADDING_SAME:
        return (size + stride - 1) // stride
    if padding == PADDING_VALID:
        return (size - effective + stride) // stride
    raise ValueError(f"unknown padding {padding}")


def conv_padding_before(size: int, kernel: int, stride: int, dilation: int, padding: int) -> int:
    """TFLite's ComputePaddingHeightWidth: padding before the first row/column."""
    out = conv_output_size(size, kernel, stride, dilation, padding)
    effective = (kernel - 1) * dilation + 1
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2


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
    return _libm("expf")(x)


def _libm(name: str):
    """The C library's float32 function `name` (expf, tanhf): the one TFLite calls."""
    if name not in _LIBM:
        import ctypes
        import ctypes.util

        libm = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
        fn = getattr(libm, name)
        fn.restype, fn.argtypes = ctypes.c_float, [ctypes.c_float]
        _LIBM[name] = fn
    return _LIBM[name]


_LIBM: dict = {}


def _round_half_away_f32(x: np.float32) -> np.float32:
    """std::round on a float32."""
    return np.float32(np.sign(x) * np.floor(np.abs(x) + np.float32(0.5)))


def _lut_table(transform, input_scale, input_zero_point: int, output_scale,
               output_zero_point: int) -> np.ndarray:
    """TFLite's LUTPopulate for int8 -> int8: table[v + 128] = clamp(round(transform(s_in * (v -
    zp_in)) / s_out) + zp_out), each step in float32 (what the interpreter evaluates for int8
    LOGISTIC and TANH, also with BUILTIN_REF)."""
    s_in, inverse = np.float32(input_scale), np.float32(1) / np.float32(output_scale)
    table = np.empty(256, np.int8)
    for v in range(-128, 128):
        x = np.float32(s_in * np.float32(v - input_zero_point))
        y = np.float32(transform(x))
        q = _round_half_away_f32(np.float32(y * inverse)) + np.float32(output_zero_point)
        table[v + 128] = max(-128, min(127, int(q)))
    return table


def logistic_table(input_scale, input_zero_point: int, output_scale,
                   output_zero_point: int) -> np.ndarray:
    """int8 LOGISTIC's 256 outputs, table[v + 128]: LUTPopulate of 1 / (1 + expf(-x))."""
    return _lut_table(
        lambda x: np.float32(1) / (np.float32(1) + np.float32(_expf(float(-x)))),
        input_scale, input_zero_point, output_scale, output_zero_point)


def tanh_table(input_scale, input_zero_point: int, output_scale,
               output_zero_point: int) -> np.ndarray:
    """int8 TANH's 256 outputs, table[v + 128]: LUTPopulate of the C library's tanhf."""
    return _lut_table(lambda x: _libm("tanhf")(float(x)), input_scale, input_zero_point,
                      output_scale, output_zero_point)


def dequantize_table(scale, zero_point: int) -> np.ndarray:
    """DEQUANTIZE int8 -> float32's 256 outputs, table[v + 128] = (float)((double)scale * (v -
    zp)) (reference_ops::Dequantize)."""
    v = np.arange(-128, 128, dtype=np.float64)
    return (float(np.float32(scale)) * (v - zero_point)).astype(np.float32)


def mul_multiplier(input1_scale, input2_scale, output_scale) -> tuple[int, int]:
    """mul.cc Prepare (int8): QuantizeMultiplier(s1 * s2 / s_out) in double."""
    return quantize_multiplier(float(np.float32(input1_scale)) * float(np.float32(input2_scale))
                               / float(np.float32(output_scale)))


def broadcast_strides(shape1, shape2, out_shape):
    """TFLite's 4-D broadcast of a binary operator's inputs onto its output: (dims, strides1,
    strides2), the output shape extended to 4-D and each input's element strides along it (0
    where the input has extent 1). ValueError when an extent is neither 1 nor the output's."""
    def ext(s):
        s = tuple(int(d) for d in s)
        if len(s) > 4:
            raise ValueError(f"rank {len(s)} > 4 is not supported")
        return (1,) * (4 - len(s)) + s

    out = ext(out_shape)
    strides = []
    for shape in (shape1, shape2):
        s = ext(shape)
        if any(s[a] not in (1, out[a]) for a in range(4)):
            raise ValueError(f"shape {list(shape)} does not broadcast to {list(out_shape)}")
        dense = [int(np.prod(s[a + 1:], dtype=np.int64)) for a in range(4)]
        strides.append([0 if s[a] == 1 and out[a] > 1 else dense[a] for a in range(4)])
    return list(out), strides[0], strides[1]


def transpose_perm(perm, rank: int) -> list[int]:
    """A TRANSPOSE permutation of rank <= 4 extended to 4-D (leading axes stay in place)."""
    perm = [int(p) for p in perm]
    if rank > 4 or sorted(perm) != list(range(rank)):
        raise ValueError(f"permutation {perm} is not one of {rank} axes (rank <= 4)")
    lead = 4 - rank
    return list(range(lead)) + [p + lead for p in perm]


def _lut_int16(input_scale, input_zero_point: int, output_scale, transform) -> np.ndarray:
    """TFLite's LUTPopulateInt16<float> (output zero point 0): 512 samples of `transform` over
    the int16 input range plus the end point, each corrected by half its midpoint
    interpolation error, every step in float32 as TFLite computes it."""
    f = np.float32
    input_min = f(f(input_scale) * f(-32768 - input_zero_point))
    input_max = f(f(input_scale) * f(32767 - input_zero_point))
    output_min, output_max = f(f(output_scale) * f(-32768)), f(f(output_scale) * f(32767))
    step = f((input_max - input_min) / f(512))
    half_step = f(step / f(2))
    inv = f(f(65536) / f(output_max - output_min))
    lut = np.empty(513, np.int16)
    for i in range(512):
        base = f(input_min + f(f(i) * step))
        val, mid = f(transform(base)), f(transform(f(base + half_step)))
        nxt = f(transform(f(input_min + f(f(i + 1) * step))))
        sample = _round_half_away_f32(f(val * inv))
        interp = _round_half_away_f32(f(f(f(nxt * inv) + sample) / f(2)))
        err = f(interp - _round_half_away_f32(f(mid * inv)))
        lut[i] = int(min(max(f(sample - _round_half_away_f32(f(err / f(2)))), -32768), 32767))
    lut[512] = int(min(max(_round_half_away_f32(f(f(transform(input_max)) * inv)), -32768), 32767))
    return lut


def softmax_int16_luts() -> tuple[np.ndarray, np.ndarray]:
    """softmax.cc Prepare (int16): the 513-entry LUTs of exp on [-10, 0] and of 1 / (1 + x) on
    [0, 1] (TFLite's LUTPopulate<int16_t> with the C library's expf)."""
    f = np.float32
    rng = 65535
    exp_lut = _lut_int16(f(10.0) / f(rng), 32767, f(2.0) / f(rng), lambda v: _expf(float(v)))
    recip_lut = _lut_int16(f(1.0) / f(rng), -32768, f(2.0) / f(rng),
                           lambda v: f(1.0) / f(f(1.0) + f(v)))
    return exp_lut, recip_lut


def softmax_int16_multiplier(input_scale, beta) -> tuple[int, int]:
    """softmax.cc Prepare (int16): input differences rescaled so [-65535, 0] is [-10, 0]."""
    return quantize_multiplier(float(np.float32(input_scale)) * float(np.float32(beta))
                               / (10.0 / 65535.0))


def softmax_fixed_point_params(input_scale, beta) -> tuple[int, int, int]:
    """softmax.cc Prepare for TFLite's reference int8 softmax (what the interpreter runs for
    int8 -> int16): PreprocessSoftmaxScaling with 5 integer bits, beta * s_in * 2^26 in double
    capped at 2^31 - 1 as QuantizeMultiplierGreaterThanOne (multiplier, left shift), and diff_min
    = -CalculateInputRadius(5, left shift)."""
    real = min(float(np.float32(beta)) * float(np.float32(input_scale)) * (1 << 26), 2.0**31 - 1)
    if not real > 1.0:
        raise ValueError(f"input scale * beta = {real / 2**26} is too small for the int8 softmax")
    multiplier, left_shift = quantize_multiplier(real)
    diff_min = -math.floor(31 * 2.0**26 / 2.0**left_shift)
    return multiplier, left_shift, diff_min


def svdf_multipliers(input_scale, weights_feature_scale, weights_time_scale, state_scale,
                     output_scale) -> tuple[tuple[int, int], tuple[int, int]]:
    """svdf.cc Prepare (full integer): QuantizeMultiplier of s_in * s_wf / s_state (the feature
    product into the int16 state) and of s_state * s_wt / s_out (the time product into the
    output), each computed in float32 and widened to double, as TFLite's C++ does."""
    f = np.float32
    one = f(f(input_scale) * f(weights_feature_scale)) / f(state_scale)
    two = f(f(state_scale) * f(weights_time_scale)) / f(output_scale)
    return quantize_multiplier(float(f(one))), quantize_multiplier(float(f(two)))


# UNIDIRECTIONAL_SEQUENCE_LSTM (8x8_16): gates are Q3.12 int16 without layer norm.
LSTM_GATE_SCALE = np.float32(2.0 ** -12)


def lstm_gate_multiplier(weight_scale, input_scale) -> tuple[int, int]:
    """QuantizeMultiplier of a gate product's effective scale, s_w * s_x / 2^-12 in float32
    (PopulateQuantizedLstmParams8x8_16)."""
    real = np.float32(np.float32(weight_scale) * np.float32(input_scale)) / LSTM_GATE_SCALE
    return quantize_multiplier(float(np.float32(real)))


def lstm_hidden_multiplier(hidden_scale) -> tuple[int, int]:
    """output gate (Q0.15) x tanh(cell) (Q0.15) -> int8 hidden state: 2^-15 / s_hidden * 2^-15
    in float32."""
    two15 = np.float32(2.0 ** -15)
    return quantize_multiplier(float(np.float32(np.float32(two15 / np.float32(hidden_scale))
                                                * two15)))


def lstm_cell_scale_log2(cell_scale) -> int | None:
    """CheckedLog2: the cell state's scale as a power of two, None when it is not one."""
    with np.errstate(all="ignore"):
        x = np.float32(np.log(np.float32(cell_scale))) * np.float32(1.0 / np.log(np.float32(2)))
    if not np.isfinite(x):
        return None
    rounded = np.float32(tflite_round(float(x)))
    return int(rounded) if abs(float(np.float32(x - rounded))) < 1e-3 else None


def lstm_cell_clip(cell_clip, cell_scale) -> int:
    """The quantized cell clip (0: none): cell_clip / s_cell in float32, clamped to int16 and
    truncated."""
    if not np.float32(cell_clip) > 0:
        return 0
    q = np.float32(np.float32(cell_clip) / np.float32(cell_scale))
    return int(min(max(float(q), -32768.0), 32767.0))


def zero_point_times_weights(zero_point: int, weights, bias=None) -> np.ndarray:
    """PrecomputeZeroPointTimesWeightWithBias: bias + zero_point * the row sums of weights."""
    w = np.asarray(weights, np.int64)
    out = zero_point * w.reshape(w.shape[0], -1).sum(axis=1)
    return out if bias is None else out + np.asarray(bias, np.int64).reshape(-1)


def strided_slice_ranges(shape, begin, end, strides, begin_mask: int, end_mask: int,
                         shrink_axis_mask: int):
    """STRIDED_SLICE's per-axis (start, stop, stride), extended to 4-D (leading axes 0, 1, 1):
    TFLite's StartForAxis / StopForAxis (masks override, negative indices wrap, clamping; a
    shrunk axis takes one element). ValueError for a stride of 0 or a rank above 4."""
    rank = len(shape)
    if rank > 4 or not len(begin) == len(end) == len(strides) == rank:
        raise ValueError(f"begin/end/strides {list(begin)}, {list(end)}, {list(strides)} do not "
                         f"fit input rank {rank} (<= 4)")
    lo, hi = -(1 << 31), (1 << 31) - 1
    ranges = [(0, 1, 1)] * (4 - rank)
    for a in range(rank):
        size, stride = int(shape[a]), int(strides[a])
        if stride == 0:
            raise ValueError(f"stride 0 on axis {a}")
        start = int(begin[a])
        if begin_mask >> a & 1:
            start = lo if stride > 0 else hi
        if start < 0:
            start += size
        start = min(max(start, 0), size) if stride > 0 else min(max(start, -1), size - 1)
        if shrink_axis_mask >> a & 1:
            stop = start + 1
        else:
            stop = int(end[a])
            if end_mask >> a & 1:
                stop = hi if stride > 0 else lo
            if stop < 0:
                stop += size
            stop = min(max(stop, 0), size) if stride > 0 else min(max(stop, -1), size - 1)
        ranges.append((start, stop, stride))
    return ranges


def slice_count(start: int, stop: int, stride: int) -> int:
    """How many indices `for (i = start; stride > 0 ? i < stop : i > stop; i += stride)` visits."""
    span = stop - start if stride > 0 else start - stop
    return max(0, -(-span // abs(stride)))
