"""Seeded corpus of hostile .tflite files made from a valid converted model (issue 10).

Byte mutations (flipped bytes, truncations, overwritten words, inserted and deleted ranges) and
structured mutations through the object API (shapes, types, quantization, wiring, buffers,
sparsity, names, builtin and sbtf options, subgraphs): each mutation keeps the flatbuffer
well-formed, so the checks behind the parser are exercised too.
"""
from __future__ import annotations

import copy

import numpy as np
from flatbuffers import flexbuffers
from tensorflow.lite.python import schema_py_generated as schema

from sbtf.converters import tflite_model as tfm

HOSTILE_NAMES = [
    b"*/ int sbtf_injected = 1; /*",
    b"x // y",
    b"a\\\nb",
    b"??/\n#error trigraph",
    b"nul\x00byte",
    b"\xff\xfe not utf-8 \xc3",
    b"\n#include \"/etc/passwd\"\n",
    b"\r\n#error injected\r\n",
    b"n" * 65536,
]
_INTERESTING = [0, 1, 2, 3, 4, 7, 8, 255, 256, 65535, 2**31 - 1, 2**31, 2**32 - 1, 2**32 - 4,
                0x7FFF, 0x8000]
_SCALES = [0.0, -1.0, float("inf"), float("nan"), 1e30, 1e-30, 1e-45]


def _byte_mutation(data: bytes, rng: np.random.Generator) -> bytes:
    b = bytearray(data)
    kind = int(rng.integers(5))
    if kind == 0:
        for _ in range(int(rng.integers(1, 9))):
            b[int(rng.integers(len(b)))] = int(rng.integers(256))
    elif kind == 1:
        b = b[: int(rng.integers(8, len(b)))]
    elif kind == 2:
        at = int(rng.integers(0, len(b) - 4)) & ~3
        value = _INTERESTING[int(rng.integers(len(_INTERESTING)))]
        b[at : at + 4] = int(value).to_bytes(4, "little")
    elif kind == 3:
        at = int(rng.integers(len(b)))
        b[at:at] = bytes(rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8))
    else:
        at = int(rng.integers(len(b)))
        del b[at : at + int(rng.integers(1, 64))]
    return bytes(b)


def _pick(rng, seq):
    return seq[int(rng.integers(len(seq)))]


def _structured(model: schema.ModelT, rng: np.random.Generator) -> str:
    sg = model.subgraphs[0]
    t = _pick(rng, sg.tensors)
    op = _pick(rng, sg.operators)
    n = len(sg.tensors)
    kind = int(rng.integers(13))
    if kind == 0:
        shape = list(t.shape) if t.shape is not None and len(t.shape) else [1]
        shape[int(rng.integers(len(shape)))] = _pick(rng, [0, -1, -5, 2**31 - 1, 10**6, 3, 65536])
        t.shape = np.asarray(shape, np.int32)
        return "shape"
    if kind == 1:
        t.type = int(rng.integers(0, 20))
        return "type"
    if kind == 2:
        q = t.quantization or schema.QuantizationParametersT()
        q.scale = [_pick(rng, _SCALES)] * int(rng.integers(1, 4))
        q.zeroPoint = [int(_pick(rng, [0, 127, 300, -300, 2**40]))] * len(q.scale)
        q.quantizedDimension = int(rng.integers(0, 6))
        t.quantization = q
        return "quantization"
    if kind == 3:
        ins = list(op.inputs)
        ins[int(rng.integers(len(ins)))] = int(_pick(rng, [-2, -1, n, n + 100, 2**31 - 1]))
        op.inputs = ins
        return "input index"
    if kind == 4:
        op.outputs = [int(_pick(rng, list(op.inputs)))]
        return "self-wired"
    if kind == 5:
        op.opcodeIndex = int(_pick(rng, [len(model.operatorCodes), 2**31 - 1, 1000]))
        return "opcode index"
    if kind == 6:
        t.buffer = int(_pick(rng, [len(model.buffers), 2**31 - 1, 0, 1]))
        return "buffer index"
    if kind == 7:
        consts = [x for x in sg.tensors if x.buffer > 0 and model.buffers[x.buffer].data is not None
                  and len(model.buffers[x.buffer].data)]
        buf = model.buffers[_pick(rng, consts).buffer]
        buf.data = np.asarray(buf.data, np.uint8)[: int(rng.integers(0, len(buf.data)))]
        return "short buffer"
    if kind == 8:
        sp = schema.SparsityParametersT()
        sp.traversalOrder, sp.blockMap = [0, 1], []
        t.sparsity = sp
        for consts in [x for x in sg.tensors if x.buffer > 0]:
            if rng.random() < 0.5:
                consts.shape = np.asarray([10**6, 64], np.int32)
                consts.sparsity = sp
        return "sparsity"
    if kind == 9:
        t.name = _pick(rng, HOSTILE_NAMES)
        return "name"
    if kind == 10:
        sbtf = [o for o in sg.operators if o.customOptions is not None]
        target = _pick(rng, sbtf) if sbtf else op
        options = dict(tfm.flexbuffer_options(target)) if target.customOptions is not None else {}
        key = _pick(rng, sorted(options) or ["version"])
        options[key] = int(_pick(rng, [0, -1, 2**31 - 1, 2**40, 3, 65537]))
        if rng.random() < 0.2:
            options.pop(key)
        target.customOptions = list(flexbuffers.Dumps(options))
        return "sbtf options"
    if kind == 11:
        opts = op.builtinOptions
        fields = [k for k, v in vars(opts).items() if isinstance(v, int)] if opts else []
        if not fields:
            return _structured(model, rng)
        setattr(opts, _pick(rng, fields), int(_pick(rng, [0, -1, 2**31 - 1, 100, 7])))
        return "builtin options"
    if rng.random() < 0.5:
        sg.inputs = [int(_pick(rng, [-1, n, 2**31 - 1]))]
    else:
        model.subgraphs.append(copy.deepcopy(sg))
    return "subgraph"


def mutants(base: bytes, count: int, seed: int):
    """`count` (description, bytes) pairs: half byte mutations, half structured ones."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        if i % 2 == 0:
            yield f"bytes #{i}", _byte_mutation(base, rng)
            continue
        model = tfm.read(base)
        what = _structured(model, rng)
        try:
            data = tfm.write(model)
        except Exception:  # noqa: BLE001 (a value the schema writer cannot encode: use the bytes)
            yield f"bytes #{i}", _byte_mutation(base, rng)
            continue
        yield f"{what} #{i}", data
