"""NumPy reference of TFLite's int8 CONV_2D / FULLY_CONNECTED and of sbtf's signed-binary ops.

The executable form of docs/op_spec.md. Integer arithmetic follows TFLite's reference kernels
to the bit (MultiplyByQuantizedMultiplier with double rounding; the prepare math, i.e.
QuantizeMultiplier, SAME padding and activation clamps, is `tflite_math`), so this module, the C
kernels and TFLite must agree exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sbtf import bitmask
from sbtf.converters.tflite_math import PADDING_SAME, conv_output_size, conv_padding_before


def _saturating_rounding_doubling_high_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a.astype(np.int64)
    b = np.broadcast_to(np.asarray(b, np.int64), a.shape)
    overflow = (a == b) & (a == -(1 << 31))
    ab = a * b  # fits in int64: |a|, |b| <= 2^31
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    # C++ integer division truncates toward zero.
    num = ab + nudge
    result = np.where(num >= 0, num // (1 << 31), -((-num) // (1 << 31)))
    return np.where(overflow, (1 << 31) - 1, result)


def _rounding_divide_by_pot(x: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    exponent = np.broadcast_to(np.asarray(exponent, np.int64), x.shape)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0).astype(np.int64)
    return (x >> exponent) + (remainder > threshold).astype(np.int64)


def multiply_by_quantized_multiplier(acc, multiplier, shift) -> np.ndarray:
    """TFLite's MultiplyByQuantizedMultiplier (double rounding) on int32 accumulators.

    multiplier/shift broadcast against acc (per channel: shape [C] against [..., C]).
    """
    acc = np.asarray(acc, np.int64)
    shift = np.broadcast_to(np.asarray(shift, np.int64), acc.shape)
    left = np.where(shift > 0, shift, 0)
    right = np.where(shift > 0, 0, -shift)
    shifted = acc * (np.int64(1) << left)
    # TFLite computes x * (1 << left_shift) in int32; wrap like the C code does.
    shifted = ((shifted + (1 << 31)) % (1 << 32)) - (1 << 31)
    return _rounding_divide_by_pot(_saturating_rounding_doubling_high_mul(shifted, multiplier), right)


def multiply_by_quantized_multiplier_single_rounding(acc, multiplier, shift) -> np.ndarray:
    """Single-rounding requantization: (acc * multiplier + 2^(30 - shift)) >> (31 - shift).

    What TF 2.21's interpreter does for int8 FULLY_CONNECTED (measured, also under BUILTIN_REF),
    and TFLite's MultiplyByQuantizedMultiplier when built with TFLITE_SINGLE_ROUNDING.
    """
    acc = np.asarray(acc, np.int64)
    total = 31 - np.broadcast_to(np.asarray(shift, np.int64), acc.shape)
    product = acc * np.broadcast_to(np.asarray(multiplier, np.int64), acc.shape)
    return (product + (np.int64(1) << (total - 1))) >> total


@dataclass(frozen=True)
class Requant:
    """Requantization of one layer: offsets, per-channel multiplier/shift and output clamp."""

    input_offset: int
    output_offset: int
    multiplier: np.ndarray
    shift: np.ndarray
    act_min: int = -128
    act_max: int = 127


def _requantize(acc: np.ndarray, bias, rq: Requant, requantize=multiply_by_quantized_multiplier):
    if bias is not None:
        acc = acc + np.asarray(bias, np.int64)
    acc = requantize(acc, rq.multiplier, rq.shift) + rq.output_offset
    return np.clip(acc, rq.act_min, rq.act_max).astype(np.int8)


def conv2d_int8(x, weights, bias, rq: Requant, *, stride=(1, 1), dilation=(1, 1),
                padding=PADDING_SAME) -> np.ndarray:
    """TFLite int8 CONV_2D: x int8 [N,H,W,C_in], weights int8 OHWI [C_out,KH,KW,C_in]."""
    x = np.asarray(x, np.int8)
    w = np.asarray(weights, np.int8)
    n, h, wd, c_in = x.shape
    c_out, kh, kw, wc = w.shape
    if wc != c_in:
        raise ValueError(f"filter has {wc} input channels, input has {c_in}")
    (sh, sw), (dh, dw) = stride, dilation
    oh = conv_output_size(h, kh, sh, dh, padding)
    ow = conv_output_size(wd, kw, sw, dw, padding)
    ph = conv_padding_before(h, kh, sh, dh, padding)
    pw = conv_padding_before(wd, kw, sw, dw, padding)
    # Pad with the input zero point so padded taps contribute (x + input_offset) = 0.
    xs = x.astype(np.int64) + rq.input_offset
    pad_h_after = max((oh - 1) * sh + (kh - 1) * dh + 1 - h - ph, 0)
    pad_w_after = max((ow - 1) * sw + (kw - 1) * dw + 1 - wd - pw, 0)
    xs = np.pad(xs, ((0, 0), (ph, pad_h_after), (pw, pad_w_after), (0, 0)))
    acc = np.zeros((n, oh, ow, c_out), np.int64)
    w64 = w.astype(np.int64)
    for ky in range(kh):
        for kx in range(kw):
            y0, x0 = ky * dh, kx * dw
            patch = xs[:, y0:y0 + (oh - 1) * sh + 1:sh, x0:x0 + (ow - 1) * sw + 1:sw, :]
            acc += patch @ w64[:, ky, kx, :].T
    return _requantize(acc, bias, rq)


def fully_connected_int8(x, weights, bias, rq: Requant) -> np.ndarray:
    """TFLite int8 FULLY_CONNECTED: x int8 [batches, C_in], weights int8 [C_out, C_in].

    Requantizes with single rounding, as TF 2.21's interpreter does (docs/op_spec.md).
    """
    x = np.asarray(x, np.int8)
    w = np.asarray(weights, np.int8)
    acc = (x.astype(np.int64) + rq.input_offset) @ w.astype(np.int64).T
    return _requantize(acc, bias, rq, multiply_by_quantized_multiplier_single_rounding)


def sbtf_conv2d(x, mask, sign, bias, rq: Requant, *, filter_hw, stride=(1, 1), dilation=(1, 1),
                padding=PADDING_SAME) -> np.ndarray:
    """SBTF_CONV_2D: by definition TFLite's int8 conv on the decoded weights sign*127."""
    c_in = np.asarray(x).shape[-1]
    kh, kw = filter_hw
    w = bitmask.unpack(mask, sign, kh * kw * c_in).reshape(-1, kh, kw, c_in)
    return conv2d_int8(x, w, bias, rq, stride=stride, dilation=dilation, padding=padding)


def sbtf_fully_connected(x, mask, sign, bias, rq: Requant) -> np.ndarray:
    """SBTF_FULLY_CONNECTED: TFLite's int8 fully connected on the decoded weights."""
    x = np.asarray(x, np.int8)
    c_in = x.shape[-1]
    w = bitmask.unpack(mask, sign, c_in)
    return fully_connected_int8(x.reshape(-1, c_in), w, bias, rq)


def depthwise_conv2d_int8(x, weights, bias, rq: Requant, *, depth_multiplier=1, stride=(1, 1),
                          dilation=(1, 1), padding=PADDING_SAME) -> np.ndarray:
    """TFLite int8 DEPTHWISE_CONV_2D: x int8 [N,H,W,C_in], weights int8 [1,KH,KW,C_out] with
    C_out = C_in * depth_multiplier; output channel c reads input channel c // depth_multiplier."""
    x = np.asarray(x, np.int8)
    w = np.asarray(weights, np.int8)
    c_in = x.shape[-1]
    if w.ndim != 4 or w.shape[0] != 1 or w.shape[3] != c_in * depth_multiplier:
        raise ValueError(f"filter shape {w.shape} is not [1, KH, KW, {c_in} * {depth_multiplier}]")
    # Input channel ic repeated depth_multiplier times lines up with output channel ic * M + m,
    # and a diagonal OHWI filter turns the depthwise conv into conv2d_int8's arithmetic.
    xs = np.repeat(x, depth_multiplier, axis=-1)
    c_out, (kh, kw) = w.shape[3], w.shape[1:3]
    diagonal = np.zeros((c_out, kh, kw, c_out), np.int8)
    idx = np.arange(c_out)
    diagonal[idx, :, :, idx] = np.moveaxis(w[0], -1, 0)
    return conv2d_int8(xs, diagonal, bias, rq, stride=stride, dilation=dilation, padding=padding)


def sbtf_depthwise_conv2d(x, mask, sign, bias, rq: Requant, *, filter_hw, depth_multiplier=1,
                          stride=(1, 1), dilation=(1, 1), padding=PADDING_SAME) -> np.ndarray:
    """SBTF_DEPTHWISE_CONV_2D: TFLite's int8 depthwise conv on the decoded weights sign*127.

    Mask row c holds output channel c's KH*KW taps (bit ky*KW + kx)."""
    kh, kw = filter_hw
    w = bitmask.unpack(mask, sign, kh * kw)  # [C_out, KH*KW]
    w = w.T.reshape(1, kh, kw, -1)
    return depthwise_conv2d_int8(x, w, bias, rq, depth_multiplier=depth_multiplier,
                                 stride=stride, dilation=dilation, padding=padding)
