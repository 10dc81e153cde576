"""The one validator every sbtf reader of a .tflite calls first (docs/host.md, docs/runtime.md).

A model file is untrusted input. `sbtf.Interpreter`, `sbtf-micro` and the converter's
re-encoding pass all read models through `read_model`, which

1. parses the flatbuffer with every read bounds-checked (`_StrictTable`: each table's vtable,
   each offset, string and vector inside the file; a budget bounds the work), so a
   truncated or corrupted file is an error here instead of an out-of-bounds read in TFLite's
   C++ reader, which does not verify the buffer;
2. checks the graph: opcode / tensor / buffer indices in range, shapes non-negative and small
   enough to address, constant buffers exactly shape x element size, no sparsity parameters
   (TFLite skips its own size check for sparse tensors), finite quantization, no operator that
   reads its own output or writes a tensor twice;
3. checks every sbtf op (SBTF_CONV_2D, SBTF_FULLY_CONNECTED, SBTF_DEPTHWISE_CONV_2D) exactly as
   the delegate's Prepare does, so `sbtf-micro` refuses what the host refuses instead of building firmware that fails.

Everything raises `InvalidModelError` (a ValueError), one line naming the file, the operator
and the tensor. Checks run once at load time; nothing is checked per inference.
"""

from __future__ import annotations

import math
import threading
from contextlib import contextmanager

import flatbuffers
import numpy as np
from flatbuffers import encode
from flatbuffers import number_types as N
from tensorflow.lite.python import schema_py_generated as schema

from sbtf import bitmask, op_format
from sbtf.converters import tflite_math
from sbtf.converters import tflite_model as tfm
from sbtf.converters.errors import ConversionError
from sbtf.converters.host import parse_options
from sbtf.op_format import MAX_FILTER_SIZE

# Largest tensor sbtf reads or plans: TFLite and the kernels index bytes with int32.
MAX_TENSOR_BYTES = 2**31 - 1
_ITEM_BYTES = {
    schema.TensorType.FLOAT32: 4,
    schema.TensorType.FLOAT16: 2,
    schema.TensorType.INT32: 4,
    schema.TensorType.UINT8: 1,
    schema.TensorType.INT64: 8,
    schema.TensorType.BOOL: 1,
    schema.TensorType.INT16: 2,
    schema.TensorType.INT8: 1,
    schema.TensorType.FLOAT64: 8,
    schema.TensorType.UINT64: 8,
    schema.TensorType.UINT32: 4,
    schema.TensorType.UINT16: 2,
}
_TYPE_NAMES = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}


# Inputs that may be absent (-1): TFLite's builtin kernels read every other input unchecked.
_OPTIONAL_INPUTS = {
    "CONV_2D": {2}, "DEPTHWISE_CONV_2D": {2}, "FULLY_CONNECTED": {2}, "TRANSPOSE_CONV": {3},
    "SVDF": {3}, **{op.name: op.optional_inputs for op in op_format.OPS.values()},
}
_ANY_INPUT_OPTIONAL = {"LSTM", "UNIDIRECTIONAL_SEQUENCE_LSTM", "BIDIRECTIONAL_SEQUENCE_LSTM",
                       "BIDIRECTIONAL_SEQUENCE_RNN"}  # check their optional inputs themselves


_GEOMETRY_OPTIONS = {
    "CONV_2D": schema.Conv2DOptionsT, "DEPTHWISE_CONV_2D": schema.DepthwiseConv2DOptionsT,
    "AVERAGE_POOL_2D": schema.Pool2DOptionsT, "MAX_POOL_2D": schema.Pool2DOptionsT,
    "L2_POOL_2D": schema.Pool2DOptionsT, "TRANSPOSE_CONV": schema.TransposeConvOptionsT,
}


class InvalidModelError(ConversionError):
    """A model file that is malformed or that sbtf refuses; the message names file, op, tensor."""


# ------------------------------------------------------------------ bounds-checked flatbuffer


class _Budget(threading.local):
    remaining = None  # reads left while this thread parses an untrusted file


_budget = _Budget()
_patch_lock = threading.Lock()


class _StrictTable(flatbuffers.table.Table):
    """flatbuffers' Table with every read checked against the buffer (the Python reader lets
    negative offsets wrap around and truncates strings silently)."""

    __slots__ = ()

    def _check(self, off: int, size: int, what: str) -> None:
        if off < 0 or off + size > len(self.Bytes):
            raise InvalidModelError(f"{what} at byte {off} (+{size}) lies outside the "
                                    f"{len(self.Bytes)}-byte file")

    def Get(self, flags, off):
        self._check(off, flags.bytewidth, "a value")
        if off % flags.bytewidth:  # as flatbuffers' C++ verifier: every scalar aligned
            raise InvalidModelError(f"a {flags.bytewidth}-byte value at byte {off} is misaligned")
        return flags.py_type(encode.Get(flags.packer_type, self.Bytes, off))

    def Offset(self, vtableOffset):
        if _budget.remaining is not None:
            _budget.remaining -= 1
            if _budget.remaining < 0:
                raise InvalidModelError("the flatbuffer refers to its tables too many times")
        self._check(self.Pos, 4, "a table")
        vtable = self.Pos - self.Get(N.SOffsetTFlags, self.Pos)
        self._check(vtable, 4, "a vtable")
        vt_size = self.Get(N.VOffsetTFlags, vtable)
        inline = self.Get(N.VOffsetTFlags, vtable + 2)
        if vt_size < 4 or vt_size % 2:
            raise InvalidModelError(f"vtable at byte {vtable} has size {vt_size}")
        self._check(vtable, vt_size, "a vtable")
        self._check(self.Pos, max(inline, 4), "a table")
        if vtableOffset + 2 > vt_size:
            return 0
        field = self.Get(N.VOffsetTFlags, vtable + vtableOffset)
        if field and not 4 <= field < inline:
            raise InvalidModelError(f"table at byte {self.Pos} has a field outside the table")
        return field

    def Indirect(self, off):
        target = off + self.Get(N.UOffsetTFlags, off)
        self._check(target, 4, "a table")
        return target

    def String(self, off):
        start = self.Indirect(off)
        length = self.Get(N.UOffsetTFlags, start)
        self._check(start + 4, length + 1, "a string")  # + its NUL terminator
        if self.Bytes[start + 4 + length] != 0:
            raise InvalidModelError(f"the string at byte {start} lacks its NUL terminator")
        return bytes(self.Bytes[start + 4 : start + 4 + length])

    def Vector(self, off):
        return self.Indirect(off + self.Pos) + 4

    def VectorLen(self, off):
        start = self.Indirect(off + self.Pos)
        length = self.Get(N.UOffsetTFlags, start)
        self._check(start + 4, length, "a vector")  # at least a byte per element
        return length

    def Union(self, t2, off):
        t2.Pos = self.Indirect(off + self.Pos)
        t2.Bytes = self.Bytes


@contextmanager
def _strict_tables(size: int):
    """Make the generated schema code read through _StrictTable for the duration."""
    with _patch_lock:
        original = flatbuffers.table.Table
        flatbuffers.table.Table = _StrictTable
        _budget.remaining = 64 * size + 4096
        try:
            yield
        finally:
            flatbuffers.table.Table = original
            _budget.remaining = None


def parse(data: bytes) -> schema.ModelT:
    """The file's ModelT, every read of the flatbuffer checked; InvalidModelError if malformed."""
    data = bytearray(data)
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise InvalidModelError("not a TFLite flatbuffer (missing the 'TFL3' identifier)")
    try:
        with _strict_tables(len(data)):
            model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(data, 0))
    except InvalidModelError as exc:
        raise InvalidModelError(f"malformed flatbuffer: {exc}") from None
    except Exception as exc:  # noqa: BLE001 (any decoding failure of a corrupted file)
        raise InvalidModelError(f"malformed flatbuffer: {type(exc).__name__}: {exc}") from None
    return model


# ------------------------------------------------------------------ graph checks


def _is_utf8(raw: bytes) -> bool:
    try:
        bytes(raw).decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _name(tensor) -> str:
    """A tensor name for a message: printable, bounded."""
    text = tfm.tensor_name(tensor)
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= 60 else text[:57] + "..."


class _Checker:
    def __init__(self, model: schema.ModelT, source: str, file_size: int):
        self.m = model
        self.source = source
        self.file_size = file_size

    def fail(self, where: str, msg: str):
        raise InvalidModelError(f"{self.source}: {where}: {msg}")

    def model(self, single_subgraph: bool) -> None:
        m = self.m
        subgraphs = m.subgraphs or []
        if not subgraphs:
            self.fail("model", "has no subgraph")
        if single_subgraph and len(subgraphs) != 1:
            self.fail("model", f"expected exactly one subgraph, found {len(subgraphs)}")
        buffers = m.buffers or []
        for i, b in enumerate(buffers):
            if b.offset > 1 and b.offset + b.size > self.file_size:
                self.fail(f"buffer {i}", f"external data {b.offset}+{b.size} lies outside the file")
        for s, sg in enumerate(subgraphs):
            self.subgraph(s, sg)
        self.signatures()

    def signatures(self) -> None:
        """Signature defs name tensors of a subgraph; TFLite's Python API decodes their names."""
        for k, sig in enumerate(self.m.signatureDefs or []):
            where = f"signature {k}"
            if not 0 <= sig.subgraphIndex < len(self.m.subgraphs):
                self.fail(where, f"subgraph index {sig.subgraphIndex} is out of range")
            n = len(self.m.subgraphs[sig.subgraphIndex].tensors or [])
            names = [sig.signatureKey]
            for tmap in [*(sig.inputs or []), *(sig.outputs or [])]:
                names.append(tmap.name)
                if not 0 <= tmap.tensorIndex < n:
                    self.fail(where, f"tensor index {tmap.tensorIndex} is out of range (0..{n - 1})")
            for name in names:
                if isinstance(name, (bytes, bytearray)) and not _is_utf8(name):
                    self.fail(where, f"name {bytes(name)[:40]!r} is not UTF-8")

    def subgraph(self, s: int, sg) -> None:
        m = self.m
        tensors = sg.tensors or []
        n_buffers = len(m.buffers or [])
        n_opcodes = len(m.operatorCodes or [])
        sgw = f"subgraph {s}" if len(m.subgraphs) > 1 else "model"
        prefix = f"{sgw}: " if len(m.subgraphs) > 1 else ""
        for i, t in enumerate(tensors):
            self.tensor(f"{prefix}tensor {i} {_name(t)!r}", t, n_buffers)
        for what, ids in (("input", sg.inputs), ("output", sg.outputs)):
            for i in ids if ids is not None else []:
                if not 0 <= i < len(tensors):
                    self.fail(sgw, f"{what} tensor index {i} is out of range (0..{len(tensors) - 1})")
        written = {}
        for k, op in enumerate(sg.operators or []):
            if not 0 <= op.opcodeIndex < n_opcodes:
                self.fail(f"{prefix}operator {k}",
                          f"opcode index {op.opcodeIndex} is out of range (0..{n_opcodes - 1})")
            name = tfm.opcode_name(m, op.opcodeIndex)
            code = tfm.builtin_code(m, op.opcodeIndex)
            if code == tfm.OP_CUSTOM and hasattr(schema.BuiltinOperator, name):
                self.fail(f"{prefix}operator {k}", f"custom code {name!r} is a builtin's name")
            name = "".join(c if c.isprintable() else "?" for c in name)[:60]
            where = f"{prefix}operator {k} ({name})"
            ins = [int(i) for i in (op.inputs if op.inputs is not None else [])]
            outs = [int(i) for i in (op.outputs if op.outputs is not None else [])]
            for what, ids in (("input", ins), ("output", outs)):
                for i in ids:
                    if not (0 <= i < len(tensors) or (what == "input" and i == -1)):
                        self.fail(where, f"{what} tensor index {i} is out of range "
                                         f"(0..{len(tensors) - 1})")
            absent = [p for p, i in enumerate(ins) if i == -1]
            if name not in _ANY_INPUT_OPTIONAL and set(absent) - _OPTIONAL_INPUTS.get(name, set()):
                self.fail(where, f"input {absent[0]} is absent (-1) but the operator needs it")
            for i in outs:
                if i in ins:
                    self.fail(where, f"tensor {i} {_name(tensors[i])!r} is both an input and "
                                     "an output of the operator")
                if i in written:
                    self.fail(where, f"tensor {i} {_name(tensors[i])!r} is also written by "
                                     f"operator {written[i]}")
                written[i] = k
            if name in tfm.SBTF_OPS:
                _SbtfOp(self, where, name, op, tensors).check()
            else:
                self.builtin_options(where, name, op)

    def builtin_options(self, where: str, name: str, op) -> None:
        """The options a windowed operator needs are there, with geometry >= 1 (a stride of 0
        divides by zero in the output-size arithmetic)."""
        options = op.builtinOptions
        expected = _GEOMETRY_OPTIONS.get(name)
        if expected is not None and not isinstance(options, expected):
            self.fail(where, f"builtin options are missing (expected {expected.__name__[:-1]})")
        for key, value in vars(options).items() if options is not None else ():
            if key.startswith(("stride", "dilation", "filter")) and isinstance(value, int) \
                    and value < 1:
                self.fail(where, f"builtin option {key} = {value} must be >= 1")

    def tensor(self, where: str, t, n_buffers: int) -> None:
        if isinstance(t.name, (bytes, bytearray)) and not _is_utf8(t.name):
            self.fail(where, "name is not UTF-8")  # TFLite's Python API decodes names
        if t.sparsity is not None:
            self.fail(where, "has sparsity parameters (sparse tensors are not supported)")
        shape = [] if t.shape is None else [int(d) for d in t.shape]
        if any(d < 0 for d in shape):
            self.fail(where, f"shape {shape} has a negative dimension")
        item = _ITEM_BYTES.get(t.type)
        n = math.prod(shape)
        if item is not None and n * item > MAX_TENSOR_BYTES:
            self.fail(where, f"shape {shape} needs {n * item} bytes, more than {MAX_TENSOR_BYTES}")
        if not 0 <= t.buffer < n_buffers:
            self.fail(where, f"buffer index {t.buffer} is out of range (0..{n_buffers - 1})")
        data = self.m.buffers[t.buffer].data if t.buffer > 0 else None
        if data is not None and len(data) > 0:
            if item is None:
                self.fail(where, f"constant of type {_TYPE_NAMES.get(t.type, t.type)} is not supported")
            if len(data) != n * item:
                self.fail(where, f"constant buffer {t.buffer} holds {len(data)} bytes, the shape "
                                 f"{shape} of {_TYPE_NAMES[t.type]} needs {n * item}")
        q = t.quantization
        if q is not None:
            scale = np.asarray(q.scale if q.scale is not None else [], np.float64).reshape(-1)
            if not np.all(np.isfinite(scale)) or np.any(scale < 0):
                self.fail(where, f"quantization scales must be finite and >= 0, got {scale[:4]}")
            if data is None and np.any(scale == 0):
                self.fail(where, "activation quantization scale is 0")
            zp = tfm.zero_points(t)
            if t.type == tfm.TYPE_INT8 and np.any((zp < -128) | (zp > 127)):
                self.fail(where, f"int8 zero point {zp[:4]} is outside [-128, 127]")
            if zp.size > 1 and scale.size != zp.size:
                self.fail(where, f"{scale.size} scales but {zp.size} zero points")
            dim = q.quantizedDimension
            if scale.size and not 0 <= dim < max(len(shape), 1):
                self.fail(where, f"quantized dimension {dim} is not a dimension of {shape}")
            if scale.size > 1 and shape[dim] != scale.size:
                self.fail(where, f"{scale.size} scales do not match dimension {dim} of {shape}")


class _SbtfOp:
    """The delegate's Prepare checks (micro/delegate/sbtf_delegate.c), for the static shapes."""

    def __init__(self, checker: _Checker, where: str, name: str, op, tensors):
        self.c, self.where, self.name, self.op, self.tensors = checker, where, name, op, tensors

    def fail(self, msg: str):
        self.c.fail(self.where, msg)

    def t(self, i: int):
        return self.tensors[i]

    def check(self) -> None:
        op = self.op
        ins = [int(i) for i in (op.inputs if op.inputs is not None else [])]
        outs = [int(i) for i in (op.outputs if op.outputs is not None else [])]
        if len(outs) != 1:
            self.fail(f"expected 1 output, got {len(outs)}")
        if len(ins) not in (3, 4) or min(ins[:3]) < 0:
            self.fail(f"expected inputs (input, bitmask, sign[, bias]), got {ins}")
        raw = bytes(np.asarray(op.customOptions, np.uint8)) if op.customOptions is not None else b""
        try:
            self.opts = opts = parse_options(self.name, raw)
        except ConversionError as exc:
            self.fail(str(exc).removeprefix(f"{self.name}: "))
        x, y = self.t(ins[0]), self.t(outs[0])
        for t, role in ((x, "input"), (y, "output")):
            self.activation(t, role)
        c_in = opts["input_channels"]
        k = op_format.OPS[self.name].filter_size(opts)
        shape = [int(d) for d in x.shape] if x.shape is not None else []
        if self.name != tfm.SBTF_FULLY_CONNECTED:
            self.conv_geometry(shape, opts)
        elif not shape or math.prod(shape) < 1 or math.prod(shape) % c_in:
            self.fail(f"input {_name(x)!r} of shape {shape} is not a whole number of rows of "
                      f"input_channels = {c_in}")
        elif opts["keep_num_dims"] and shape[-1] != c_in:
            self.fail(f"keep_num_dims needs the input's last dimension ({shape[-1]}) to equal "
                      f"input_channels = {c_in}")
        if k > MAX_FILTER_SIZE:
            self.fail(f"filter size K = {k} exceeds the kernels' limit {MAX_FILTER_SIZE}")
        mask, sign = self.t(ins[1]), self.t(ins[2])
        c_out = self.weights(mask, sign, k)
        if self.name == tfm.SBTF_DEPTHWISE_CONV_2D and c_out != c_in * opts["depth_multiplier"]:
            self.fail(f"sign {_name(sign)!r} has {c_out} values, expected input_channels * "
                      f"depth_multiplier = {c_in * opts['depth_multiplier']}")
        if len(ins) == 4 and ins[3] >= 0:
            b = self.t(ins[3])
            if (b.type != tfm.TYPE_INT32 or tfm.constant_data(self.c.m, b) is None
                    or math.prod(b.shape) != c_out):
                self.fail(f"bias tensor {ins[3]} {_name(b)!r} must be a constant INT32 tensor of "
                          f"C_out = {c_out} values")
        self.requantization(x, sign, y, c_out)

    def activation(self, t, role: str) -> None:
        scale, zp = tfm.scales(t), tfm.zero_points(t)
        if t.type != tfm.TYPE_INT8 or scale.size != 1 or not scale[0] > 0:
            self.fail(f"{role} {_name(t)!r} must be INT8 with one positive quantization scale")
        if zp.size != 1 or not -128 <= zp[0] <= 127:
            self.fail(f"{role} {_name(t)!r} zero point must be one value in [-128, 127]")

    def weights(self, mask, sign, k: int) -> int:
        mshape = [int(d) for d in mask.shape] if mask.shape is not None else []
        c_out = mshape[0] if mshape else 0
        mdata, sdata = tfm.constant_data(self.c.m, mask), tfm.constant_data(self.c.m, sign)
        if (mask.type != tfm.TYPE_UINT8 or mdata is None or c_out < 1
                or mshape != [c_out, bitmask.row_bytes(k)]):
            self.fail(f"bitmask {_name(mask)!r} {mshape} must be a constant UINT8 tensor "
                      f"[C_out, {bitmask.row_bytes(k)}] for K = {k}")
        sshape = [int(d) for d in sign.shape] if sign.shape is not None else []
        if sign.type != tfm.TYPE_INT8 or sdata is None or sshape != [c_out]:
            self.fail(f"sign {_name(sign)!r} {sshape} must be a constant INT8 tensor [{c_out}]")
        try:  # the format's own checks: signs are +-1, padding bits are zero
            bitmask.unpack(mdata, sdata, k)
        except ValueError as exc:
            self.fail(f"bitmask {_name(mask)!r} / sign {_name(sign)!r}: {exc}")
        q = sign.quantization
        scale, zp = tfm.scales(sign), tfm.zero_points(sign)
        if scale.size not in (1, c_out) or (scale.size > 1 and q.quantizedDimension != 0):
            self.fail(f"sign {_name(sign)!r} must carry 1 or C_out = {c_out} weight scales "
                      "on dimension 0")
        if np.any(zp != 0):
            self.fail(f"sign {_name(sign)!r}: weight zero points must be 0")
        return c_out

    def requantization(self, x, sign, y, c_out: int) -> None:
        s_in, s_out, s_w = float(tfm.scales(x)[0]), float(tfm.scales(y)[0]), tfm.scales(sign)
        fn = (tflite_math.conv_multipliers if self.name != tfm.SBTF_FULLY_CONNECTED
              else tflite_math.fully_connected_multipliers)
        try:
            fn(s_in, s_w, s_out)
            tflite_math.activation_range(self.opts["fused_activation_function"], s_out,
                                       int(tfm.zero_points(y)[0]))
        except (ValueError, OverflowError, ZeroDivisionError) as exc:
            self.fail(f"quantization of {_name(x)!r} -> {_name(y)!r}: {exc}")

    def conv_geometry(self, shape, opts) -> None:
        if len(shape) != 4 or min(shape) < 1:
            self.fail(f"input shape {shape} must be 4-D NHWC with every dimension >= 1")
        if shape[3] != opts["input_channels"]:
            self.fail(f"input has {shape[3]} channels, options say {opts['input_channels']} "
                      "(input_channels; grouped convolution is not supported)")
        for size, k, stride, dil in ((shape[1], opts["filter_height"], opts["stride_h"],
                                      opts["dilation_h_factor"]),
                                     (shape[2], opts["filter_width"], opts["stride_w"],
                                      opts["dilation_w_factor"])):
            if (k - 1) * dil + 1 > 2**31 - 1 or tflite_math.conv_output_size(
                    size, k, stride, dil, opts["padding"]) < 1:
                self.fail(f"input {shape[1]}x{shape[2]} is too small for a "
                          f"{opts['filter_height']}x{opts['filter_width']} filter with dilation "
                          f"{opts['dilation_h_factor']}x{opts['dilation_w_factor']}")


def read_model(data: bytes, source: str = "model", *, single_subgraph: bool = False
               ) -> schema.ModelT:
    """Parse and check an untrusted .tflite; its ModelT, or InvalidModelError naming the file,
    operator and tensor. single_subgraph: also refuse models with several subgraphs."""
    data = bytes(data)
    try:
        model = parse(data)
    except InvalidModelError as exc:
        raise InvalidModelError(f"{source}: {exc}") from None
    try:
        _Checker(model, source, len(data)).model(single_subgraph)
    except InvalidModelError:
        raise
    except Exception as exc:  # noqa: BLE001 (a field of a type the schema code did not expect)
        raise InvalidModelError(f"{source}: malformed model: {type(exc).__name__}: {exc}") from None
    return model
