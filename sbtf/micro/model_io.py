"""A model's inputs and outputs as the runtime passes them: one packed byte record each way.

`sbtf_model_invoke(const int8_t *input, int8_t *output)` takes every model input, in the
model's order, as the bytes of one record (SBTF_MODEL_INPUT_SIZE bytes: input 0's bytes, then
input 1's, ...; float32 and wider integers in the target's little-endian order), and returns the
outputs the same way. Types: int8 (quantized with one scale, or plain), float32 (the model
quantizes and dequantizes at its edges), and int32 / int16 / uint8 (e.g. a CAST's output).

    ios = model_inputs(graph)                      # [ModelIO, ...]
    record = pack(ios, [x0, x1])                   # int8 [N, record bytes]
    ys = unpack(model_outputs(graph), raw)         # [y0 [N, *shape[1:]], ...]
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tensorflow.lite.python import schema_py_generated as schema

from sbtf.batch import BadInputError, as_batch

_T = schema.TensorType
DTYPES = {_T.INT8: np.int8, _T.FLOAT32: np.float32, _T.INT32: np.int32, _T.INT16: np.int16,
          _T.UINT8: np.uint8}

__all__ = ["ModelIO", "model_inputs", "model_outputs", "pack", "quantize", "unpack"]


@dataclass(frozen=True)
class ModelIO:
    """One model input or output: its tensor, type and place in the packed record."""

    tensor: int
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    scale: float | None  # quantized int8: the scale; other types and plain int8: None
    zero_point: int
    offset: int  # byte offset in the record

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(self.dtype).itemsize

    def describe(self) -> str:
        q = f", scale {self.scale:.6g}, zero point {self.zero_point}" if self.scale else ""
        return f"{list(self.shape)} {np.dtype(self.dtype).name}{q}"


def _ios(graph, indices, role: str, error) -> list[ModelIO]:
    ios, offset = [], 0
    for i in indices:
        t = graph.tensors[i]
        if t.type not in DTYPES:
            raise error(f"{graph.source}: model {role} {t.describe()} has type {t.type_name}; "
                        "the runtime takes int8, float32, int32, int16 and uint8")
        if t.scale.size > 1:
            raise error(f"{graph.source}: model {role} {t.describe()} has {t.scale.size} scales; "
                        "a model input or output takes one")
        scale = float(t.scale[0]) if t.type == _T.INT8 and t.scale.size else None
        zp = int(t.zero_point[0]) if scale is not None and t.zero_point.size else 0
        io = ModelIO(i, t.name, tuple(t.shape), np.dtype(DTYPES[t.type]), scale, zp, offset)
        ios.append(io)
        offset += io.nbytes
    return ios


def model_inputs(graph, error=ValueError) -> list[ModelIO]:
    return _ios(graph, graph.inputs, "input", error)


def model_outputs(graph, error=ValueError) -> list[ModelIO]:
    return _ios(graph, graph.outputs, "output", error)


def record_bytes(ios: list[ModelIO]) -> int:
    return sum(io.nbytes for io in ios)


def quantize(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Float inputs -> int8 exactly as TFLite's QUANTIZE (x / scale in float32, rounded half
    away from zero, clamped)."""
    q = np.asarray(x, np.float32) / np.float32(scale)
    q = np.where(q >= 0, np.floor(q + 0.5), np.ceil(q - 0.5)) + zero_point
    return np.clip(q, -128, 127).astype(np.int8)


def as_inputs(ios: list[ModelIO], xs, what: str = "inputs") -> list[np.ndarray]:
    """One batch per model input ([N, *shape[1:]], sbtf.batch), each of its input's dtype:
    int8 inputs take int8 (as is) or float (quantized); float32 inputs take float; integer
    inputs their own type. `xs`: an array for a one-input model, else a list in model order.
    BadInputError naming the input otherwise."""
    if isinstance(xs, np.ndarray) or not isinstance(xs, (list, tuple)):
        xs = [xs]
    if len(xs) != len(ios):
        raise BadInputError(f"{what}: {len(xs)} array(s) given, the model has {len(ios)} "
                            f"input(s): {'; '.join(io.describe() for io in ios)}")
    out = []
    for k, (io, x) in enumerate(zip(ios, xs)):
        label = what if len(ios) == 1 else f"{what} (model input {k})"
        x = as_batch(np.asarray(x), io.shape, label)
        floating = np.issubdtype(x.dtype, np.floating)
        if io.dtype == np.int8 and floating and io.scale is not None:
            x = quantize(x, io.scale, io.zero_point)
        elif io.dtype == np.float32 and floating:
            x = x.astype(np.float32)
        elif x.dtype != io.dtype:
            kinds = {np.dtype(np.int8): "int8 (quantized) or float",
                     np.dtype(np.float32): "float"}.get(io.dtype, io.dtype.name)
            raise BadInputError(f"{label} must be {kinds}, got {x.dtype}")
        out.append(x)
    if len({len(x) for x in out}) > 1:
        raise BadInputError(f"{what}: batches of different lengths {[len(x) for x in out]}")
    return out


def pack(ios: list[ModelIO], xs, what: str = "inputs") -> np.ndarray:
    """int8 [N, record bytes]: the inputs (as_inputs) as records."""
    xs = as_inputs(ios, xs, what)
    n = len(xs[0])
    return np.concatenate([np.ascontiguousarray(x).reshape(n, -1).view(np.int8) for x in xs],
                          axis=1)


def unpack(ios: list[ModelIO], raw: np.ndarray):
    """int8 [N, record bytes] -> one array per output [N, *shape[1:]] (the shape itself when its
    first dimension is not 1); the array alone for a one-output model."""
    raw = np.ascontiguousarray(raw, np.int8).reshape(len(raw), -1)
    ys = []
    for io in ios:
        y = raw[:, io.offset:io.offset + io.nbytes].copy().view(io.dtype)
        shape = io.shape[1:] if io.shape and io.shape[0] == 1 else io.shape
        ys.append(y.reshape((len(raw), *shape)))
    return ys[0] if len(ys) == 1 else ys


# ---------------------------------------------------------------------------------------------
# Generated C (sbtf_model.h / sbtf_model.c)


def c_defines(inputs: list[ModelIO], outputs: list[ModelIO]) -> str:
    """sbtf_model.h's record layout: SBTF_MODEL_INPUT_SIZE / OUTPUT_SIZE (bytes of a record),
    the count and, per input / output k, _<k>_OFFSET (bytes into the record), _<k>_SIZE (bytes)
    and, for int8, _<k>_SCALE / _<k>_ZERO_POINT (also without <k> for the first one)."""
    from sbtf.micro.codegen.templates import c_float

    lines = []
    for role, ios in (("INPUT", inputs), ("OUTPUT", outputs)):
        lines.append(f"#define SBTF_MODEL_NUM_{role}S {len(ios)}")
        lines.append(f"#define SBTF_MODEL_{role}_SIZE {record_bytes(ios)} /* bytes of a record */")
        for k, io in enumerate(ios):
            p = f"SBTF_MODEL_{role}{k}"
            lines.append(f"#define {p}_OFFSET {io.offset} /* {io.dtype.name} {list(io.shape)} */")
            lines.append(f"#define {p}_SIZE {io.nbytes}")
            if io.scale is not None:
                for q in [p] + ([f"SBTF_MODEL_{role}"] if k == 0 else []):
                    lines.append(f"#define {q}_SCALE {c_float(io.scale)}")
                    lines.append(f"#define {q}_ZERO_POINT {io.zero_point}")
    return "\n".join(lines) + "\n"


def c_copies(ios: list[ModelIO], arena_offset, direction: str) -> str:
    """The memcpy lines between the record and the arena (arena_offset(tensor) -> bytes)."""
    lines = []
    for io in ios:
        arena = f"sbtf_arena + {arena_offset(io.tensor)}"
        if direction == "in":
            lines.append(f"  memcpy({arena}, input + {io.offset}, {io.nbytes});")
        else:
            lines.append(f"  memcpy(output + {io.offset}, {arena}, {io.nbytes});")
    return "\n".join(lines)
