"""TFLite -> Graph: the model's tensors and operators as plain Python objects, after sbtf's one
validator (sbtf.converters.validate) has checked every offset, index and size."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from tensorflow.lite.python import schema_py_generated as schema

from sbtf.converters import tflite_model as tfm
from sbtf.converters.validate import InvalidModelError, read_model
from sbtf.micro.codegen.templates import c_comment

T = schema.TensorType
_TYPE_NAMES = {v: k for k, v in vars(T).items() if not k.startswith("_")}
_ITEM_SIZE = {T.INT8: 1, T.UINT8: 1, T.INT16: 2, T.INT32: 4, T.FLOAT32: 4, T.INT64: 8}


class UnsupportedModelError(ValueError):
    """The model uses an operator, type or option the runtime does not implement."""



@dataclass
class Tensor:
    index: int
    name: str
    type: int
    shape: tuple[int, ...]
    scale: np.ndarray  # float32, empty when not quantized
    zero_point: np.ndarray  # int64
    quantized_dimension: int
    data: np.ndarray | None  # constant data, None for activations
    is_variable: bool = False  # a variable tensor (an operator's state, e.g. SVDF's)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.size * _ITEM_SIZE.get(self.type, 1)

    @property
    def type_name(self) -> str:
        return _TYPE_NAMES.get(self.type, str(self.type))

    def describe(self) -> str:
        return f"tensor {self.index} {self.name!r} ({self.type_name}{list(self.shape)})"


@dataclass
class Operator:
    index: int
    name: str  # builtin name or custom code
    inputs: list[int]  # -1 for an absent optional input
    outputs: list[int]
    options: object  # builtin options object (schema *OptionsT), or the FlexBuffer dict
    raw_custom_options: bytes | None = None
    intermediates: list[int] = field(default_factory=list)  # e.g. the LSTM's hidden-state scale


@dataclass
class Graph:
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]
    source: str = "model"

    def where(self, op: Operator) -> str:
        return f"{self.source}: operator {op.index} ({op.name})"


def load_graph(tflite: bytes, source: str = "model") -> Graph:
    """Parse a .tflite (bytes) into a Graph. Raises UnsupportedModelError on structural problems:
    the model first passes sbtf's one validator (sbtf.converters.validate), as for the host."""
    try:
        model = read_model(tflite, source, single_subgraph=True)
    except InvalidModelError as exc:
        raise UnsupportedModelError(str(exc)) from None
    sg = model.subgraphs[0]
    tensors = []
    for i, t in enumerate(sg.tensors or []):
        q = t.quantization
        try:
            data = tfm.constant_data(model, t)
        except Exception as exc:
            raise UnsupportedModelError(f"{source}: tensor {i}: {exc}") from exc
        tensors.append(Tensor(
            index=i,
            name=tfm.tensor_name(t),
            type=int(t.type),
            shape=tuple(int(d) for d in (t.shape if t.shape is not None else [])),
            scale=tfm.scales(t),
            zero_point=tfm.zero_points(t),
            quantized_dimension=int(q.quantizedDimension) if q is not None else 0,
            data=data,
            is_variable=bool(t.isVariable),
        ))
    ops = []
    for i, op in enumerate(sg.operators or []):
        name = c_comment(tfm.opcode_name(model, op.opcodeIndex))  # printable, for messages
        raw = None
        if op.customOptions is not None:
            raw = bytes(np.asarray(op.customOptions, np.uint8))
        ops.append(Operator(
            index=i,
            name=name,
            inputs=[int(x) for x in (op.inputs if op.inputs is not None else [])],
            outputs=[int(x) for x in (op.outputs if op.outputs is not None else [])],
            options=op.builtinOptions,
            raw_custom_options=raw,
            intermediates=[int(x) for x in (op.intermediates if op.intermediates is not None
                                            else [])],
        ))
    return Graph(tensors, ops, [int(x) for x in sg.inputs], [int(x) for x in sg.outputs], source)
