"""Reading and writing TFLite flatbuffers with TensorFlow's object API (`ModelT`).

Small helpers shared by the re-encoding pass, the host-execution helper and the tests: enum
values, tensor data as NumPy arrays, and a writer that aligns every constant buffer to 16 bytes
(as TFLite's own converter does), so C kernels can read masks and biases as words.
"""

from __future__ import annotations

import numpy as np
from flatbuffers import flexbuffers
from tensorflow.lite.python import schema_py_generated as schema
from tensorflow.lite.tools import flatbuffer_utils

from sbtf import op_format
from sbtf.converters.errors import ConversionError

# schema.fbs enum values used here.
OP_CONV_2D = schema.BuiltinOperator.CONV_2D
OP_DEPTHWISE_CONV_2D = schema.BuiltinOperator.DEPTHWISE_CONV_2D
OP_FULLY_CONNECTED = schema.BuiltinOperator.FULLY_CONNECTED
OP_CUSTOM = schema.BuiltinOperator.CUSTOM
TYPE_INT8 = schema.TensorType.INT8
TYPE_UINT8 = schema.TensorType.UINT8
TYPE_INT32 = schema.TensorType.INT32
FLEXBUFFERS = schema.CustomOptionsFormat.FLEXBUFFERS

# The sbtf ops' names and version, from their one spec (sbtf/op_format.py).
SBTF_CONV_2D = op_format.CONV_2D.name
SBTF_FULLY_CONNECTED = op_format.FULLY_CONNECTED.name
SBTF_DEPTHWISE_CONV_2D = op_format.DEPTHWISE_CONV_2D.name
SBTF_OPS = tuple(op_format.OPS)
SBTF_FORMAT_VERSION = op_format.FORMAT_VERSION

_NUMPY_TYPES = {
    schema.TensorType.FLOAT32: np.float32,
    schema.TensorType.INT32: np.int32,
    schema.TensorType.UINT8: np.uint8,
    schema.TensorType.INT64: np.int64,
    schema.TensorType.INT16: np.int16,
    schema.TensorType.INT8: np.int8,
}
_BUFFER_ALIGNMENT = 16

_BUILTIN_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}


def read(tflite: bytes) -> schema.ModelT:
    """Parse TFLite flatbuffer bytes into a mutable `ModelT`."""
    data = bytes(tflite)
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ConversionError("not a TFLite flatbuffer (missing the 'TFL3' identifier)")
    return flatbuffer_utils.convert_bytearray_to_object(bytearray(data))


class _AlignedBufferT(schema.BufferT):
    """BufferT whose data vector starts on a 16-byte boundary (TFLite's converter does the same)."""

    def Pack(self, builder):
        data = None
        if self.data is not None:
            payload = np.asarray(self.data, dtype=np.uint8).tobytes()
            builder.StartVector(1, len(payload), _BUFFER_ALIGNMENT)
            builder.head -= len(payload)
            builder.Bytes[builder.head : builder.head + len(payload)] = payload
            data = builder.EndVector()
        schema.BufferStart(builder)
        if data is not None:
            schema.BufferAddData(builder, data)
        schema.BufferAddOffset(builder, self.offset)
        schema.BufferAddSize(builder, self.size)
        return schema.BufferEnd(builder)


def write(model: schema.ModelT) -> bytes:
    """Serialize a `ModelT` (buffers 16-byte aligned) to TFLite flatbuffer bytes."""
    for i, buf in enumerate(model.buffers):
        if not isinstance(buf, _AlignedBufferT):
            aligned = _AlignedBufferT()
            aligned.data, aligned.offset, aligned.size = buf.data, buf.offset, buf.size
            model.buffers[i] = aligned
    return flatbuffer_utils.convert_object_to_bytearray(model)


def opcode_name(model: schema.ModelT, opcode_index: int) -> str:
    """'CONV_2D', 'SBTF_CONV_2D', ...: the builtin name, or the custom code of a custom op."""
    oc = model.operatorCodes[opcode_index]
    code = max(oc.builtinCode, oc.deprecatedBuiltinCode)
    if code == OP_CUSTOM:
        return _as_str(oc.customCode)
    return _BUILTIN_NAMES.get(code, str(code))


def builtin_code(model: schema.ModelT, opcode_index: int) -> int:
    oc = model.operatorCodes[opcode_index]
    return max(oc.builtinCode, oc.deprecatedBuiltinCode)


def tensor_name(tensor) -> str:
    return _as_str(tensor.name)


def _as_str(value) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, (bytes, bytearray)) else str(value)


def constant_data(model: schema.ModelT, tensor) -> np.ndarray | None:
    """A constant tensor's data as a NumPy array of its shape, or None for a non-constant tensor."""
    data = model.buffers[tensor.buffer].data if tensor.buffer > 0 else None
    if data is None or len(data) == 0:
        return None
    dtype = _NUMPY_TYPES.get(tensor.type)
    if dtype is None:
        raise ConversionError(f"tensor {tensor_name(tensor)!r} has unsupported type {tensor.type}")
    shape = [] if tensor.shape is None else [int(d) for d in tensor.shape]
    return np.frombuffer(np.asarray(data, np.uint8).tobytes(), dtype=dtype).reshape(shape)


def scales(tensor) -> np.ndarray:
    q = tensor.quantization
    if q is None or q.scale is None:
        return np.zeros(0, np.float32)
    return np.asarray(q.scale, np.float32).reshape(-1)


def zero_points(tensor) -> np.ndarray:
    q = tensor.quantization
    if q is None or q.zeroPoint is None:
        return np.zeros(0, np.int64)
    return np.asarray(q.zeroPoint, np.int64).reshape(-1)


def flexbuffer_options(op) -> dict:
    """The custom options of an operator as a dict, with FlexBuffer types checked by the caller."""
    if op.customOptions is None:
        return {}
    return flexbuffers.Loads(bytes(np.asarray(op.customOptions, np.uint8)))


def typed_flexbuffer_map(raw: bytes) -> dict:
    """{key: (kind, value)} of a FlexBuffer map, kind in {'int', 'bool', 'other'}."""
    root = flexbuffers.GetRoot(bytearray(raw))
    if not root.IsMap:
        raise ConversionError("custom options are not a FlexBuffer map")
    m = root.AsMap
    out = {}
    for key, value in zip(m.Keys, m.Values):
        name = key.AsKey if hasattr(key, "AsKey") else str(key)
        if value.IsBool:
            out[name] = ("bool", value.AsBool)
        elif value.IsInt or value.IsUInt:
            out[name] = ("int", int(value.AsInt))
        else:
            out[name] = ("other", None)
    return out
