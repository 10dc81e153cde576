"""`sbtf.summary(model)`: per-layer weight format, parameters, sparsity and flash bytes.

Flash bytes count what an int8 TFLite file stores per layer (docs/op_spec.md):

- int8 conv / dense / depthwise: `C_out * K` weight bytes + a 4·C_out int32 bias;
- signed-binary conv / dense: `C_out * row_bytes(K)` mask bytes + `C_out` sign bytes + a
  4·C_out int32 bias, with `row_bytes(K) = 2 * ceil(K / 16)` (docs/op_spec.md);

where `K` is the number of weights per filter: `kh*kw*C_in` for Conv2D, `C_in` for Dense,
`kh*kw` for DepthwiseConv2D (whose `C_out = C_in * depth_multiplier`).

Bias rule: **every conv / dense / depthwise layer gets a 4·C_out int32 bias**, whether or not it
has `use_bias=True`: the converter folds the BatchNormalization after a conv into the conv's
bias, and TFLite's int8 conv/FC kernels are given an int32 bias vector. BatchNormalization
layers themselves count 0 bytes (folded). Quantization parameters (per-channel float scales and
zero points) are metadata and not counted. Other layers with weights are counted as float32.

`signed_binary_bytes` and `int8_bytes` are the one place of this formula; the converter's
tests compare their real per-layer weight bytes against them.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import tensorflow as tf

from sbtf.bitmask import row_bytes
from sbtf.layers import flatten_layers
from sbtf.quantizers import quantized_kernel, signed_binary_quantizer_of

__all__ = [
    "LayerSummary",
    "ModelSummary",
    "int8_bytes",
    "kernel_dims",
    "row_bytes",
    "signed_binary_bytes",
    "summary",
]

BIAS_BYTES_PER_CHANNEL = 4  # int32




def _check_dims(c_out, k):
    if int(c_out) < 1 or int(k) < 1:
        raise ValueError(f"c_out and k must be positive, got c_out={c_out}, k={k}.")


def signed_binary_bytes(c_out: int, k: int, bias: bool = True) -> int:
    """Flash bytes of a signed-binary layer: mask `c_out*row_bytes(k)` + signs `c_out` + bias."""
    _check_dims(c_out, k)
    return c_out * row_bytes(k) + c_out + (BIAS_BYTES_PER_CHANNEL * c_out if bias else 0)


def int8_bytes(c_out: int, k: int, bias: bool = True) -> int:
    """Flash bytes of an int8 layer: weights `c_out*k` + int32 bias `4*c_out`."""
    _check_dims(c_out, k)
    return c_out * k + (BIAS_BYTES_PER_CHANNEL * c_out if bias else 0)


_CONV_TYPES = (tf.keras.layers.Conv1D, tf.keras.layers.Conv2D, tf.keras.layers.Dense)
_DEPTHWISE_TYPES = (tf.keras.layers.DepthwiseConv2D,)


def kernel_dims(layer) -> tuple[int, int] | None:
    """(C_out, K) of a conv / dense / depthwise layer, None for other layers."""
    if isinstance(layer, _DEPTHWISE_TYPES):
        kh, kw, c_in, m = (int(d) for d in layer.depthwise_kernel.shape)
        return c_in * m, kh * kw
    if isinstance(layer, _CONV_TYPES) and hasattr(layer, "kernel"):
        shape = [int(d) for d in layer.kernel.shape]
        return shape[-1], int(np.prod(shape[:-1]))
    return None


@dataclasses.dataclass(frozen=True)
class LayerSummary:
    """One layer with weights.

    weight_format: "signed-binary", "int8" (float conv/dense, int8 after conversion),
        "folded" (BatchNormalization, folded into the conv before it) or "float".
    c_out, k: filters and weights per filter (None for non-conv layers).
    sparsity: fraction of zero weights of the quantized kernel (signed-binary layers only).
    int8_bytes: flash bytes if the layer were deployed as int8.
    sbtf_bytes: flash bytes as sbtf deploys it (signed-binary ops for signed-binary conv /
        dense, int8 otherwise).
    """

    name: str
    layer_type: str
    weight_format: str
    params: int
    c_out: int | None
    k: int | None
    sparsity: float | None
    int8_bytes: int
    sbtf_bytes: int


@dataclasses.dataclass(frozen=True)
class ModelSummary:
    """Rows for every layer with weights, plus totals. `str()` gives the table."""

    name: str
    layers: list[LayerSummary]

    @property
    def params(self) -> int:
        return sum(r.params for r in self.layers)

    @property
    def int8_bytes(self) -> int:
        return sum(r.int8_bytes for r in self.layers)

    @property
    def sbtf_bytes(self) -> int:
        return sum(r.sbtf_bytes for r in self.layers)

    @property
    def compression(self) -> float:
        """int8 bytes / sbtf bytes (how many times smaller the sbtf model's weights are)."""
        return self.int8_bytes / self.sbtf_bytes if self.sbtf_bytes else math.nan

    def layer(self, name: str) -> LayerSummary:
        for row in self.layers:
            if row.name == name:
                return row
        raise KeyError(name)

    def __str__(self) -> str:
        header = ("Layer", "Type", "Format", "Params", "C_out", "K", "Sparsity", "int8 B", "sbtf B")
        rows = [
            (
                r.name,
                r.layer_type,
                r.weight_format,
                str(r.params),
                "-" if r.c_out is None else str(r.c_out),
                "-" if r.k is None else str(r.k),
                "-" if r.sparsity is None else f"{r.sparsity:.2f}",
                str(r.int8_bytes),
                str(r.sbtf_bytes),
            )
            for r in self.layers
        ]
        total = (
            "Total",
            "",
            "",
            str(self.params),
            "",
            "",
            "",
            str(self.int8_bytes),
            str(self.sbtf_bytes),
        )
        widths = [max(len(row[i]) for row in [header, *rows, total]) for i in range(len(header))]

        def fmt(row):
            cells = [
                cell.ljust(w) if i < 3 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths))
            ]
            return "| " + " | ".join(cells) + " |"

        rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
        lines = [f"{self.name} weights on flash", rule, fmt(header), rule]
        lines += [fmt(r) for r in rows] + [rule, fmt(total), rule]
        lines.append(
            f"int8: {self.int8_bytes} B, sbtf: {self.sbtf_bytes} B "
            f"({self.compression:.2f}x smaller). Every conv/dense counts a 4*C_out int32 bias "
            f"(BatchNorm folded); BatchNorm itself 0 B."
        )
        return "\n".join(lines)


def _own_params(layer) -> int:
    """Kernel + bias (+ other own weights), without a quantizer's sign/alpha state."""
    q = signed_binary_quantizer_of(layer)
    skip = {id(w) for w in q.weights} if q is not None else set()
    return int(sum(np.prod(w.shape) for w in layer.weights if id(w) not in skip))


def _layer_summary(layer) -> LayerSummary | None:
    params = _own_params(layer)
    if params == 0:
        return None
    kind = type(layer).__name__
    dims = kernel_dims(layer)
    if dims is not None:
        c_out, k = dims
        as_int8 = int8_bytes(c_out, k)
        if signed_binary_quantizer_of(layer) is not None:
            sparsity = float(np.mean(quantized_kernel(layer) == 0))
            # Op spec v1 has signed-binary conv and fully connected ops only.
            deployed = (
                as_int8 if isinstance(layer, _DEPTHWISE_TYPES) else signed_binary_bytes(c_out, k)
            )
            return LayerSummary(
                layer.name, kind, "signed-binary", params, c_out, k, sparsity, as_int8, deployed
            )
        return LayerSummary(layer.name, kind, "int8", params, c_out, k, None, as_int8, as_int8)
    if isinstance(layer, tf.keras.layers.BatchNormalization):
        return LayerSummary(layer.name, kind, "folded", params, None, None, None, 0, 0)
    return LayerSummary(layer.name, kind, "float", params, None, None, None, 4 * params, 4 * params)


def summary(model: tf.keras.Model, print_fn=print) -> ModelSummary:
    """Summarise a built model's weights per layer and print the table.

    Returns a `ModelSummary` (rows: `LayerSummary`; totals: `.params`, `.int8_bytes`,
    `.sbtf_bytes`, `.compression`). Pass `print_fn=None` to skip printing. Nested models are
    flattened; layers without weights are left out.
    """
    if not model.built:
        raise ValueError(f"Model {model.name!r} is not built; build it or call it on an input.")
    rows = [r for r in (_layer_summary(layer) for layer in flatten_layers(model)) if r]
    result = ModelSummary(model.name, rows)
    if print_fn is not None:
        print_fn(str(result))
    return result
