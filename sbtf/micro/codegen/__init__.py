"""Ahead-of-time compilation of an int8 .tflite into C for sbtf's lean runtime.

`generate(tflite_bytes)` parses the flatbuffer, checks that every operator and tensor is one the
runtime implements, plans one static arena (tensors placed by lifetime), precomputes every
parameter TFLite computes in Prepare (sbtf.converters.tflite_math: multipliers and shifts,
activation clamps, paddings, softmax scaling) and emits

* `sbtf_model.h`: sizes, input/output quantization and
  `sbtf_status sbtf_model_invoke(const int8_t *input, int8_t *output)`;
* `sbtf_model.c`: the weights as const arrays (signed-binary layers as bitmask + sign), the
  arena, and straight-line calls to micro/runtime/ (sbtf_rt.h) and the sbtf_nn.h kernels.

    gen = generate(open("model.tflite", "rb").read())
    gen.write("build/model")            # sbtf_model.c, sbtf_model.h
    print(gen.plan.arena_bytes, gen.plan.naive_bytes)

Compile with `-DSBTF_MODEL_POISON` to fill every arena byte that holds no live tensor with a
poison value after each operator (a memory-plan check: outputs must not change).

One module per job, each importing only those above it:

* `templates`: the C text (file templates, arrays, float literals, safe comments, scratch size);
* `graph`: TFLite -> Graph (`load_graph`), after sbtf's validator;
* `planner`: the static arena (`plan_memory`, `check_plan`);
* `emitter`: `Emitter`, the C under construction and the checks and setup operators share;
* `operators`: one emitter per operator, registered in `EMITTERS` by `@emits("NAME")`;
  `SUPPORTED_OPS` is that table's keys. A new operator is one decorated function there (see
  its docstring);
* this module: `generate`, which runs them in that order.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sbtf.micro.codegen.emitter import Emitter
from sbtf.micro.codegen.graph import Graph, Operator, T, Tensor, UnsupportedModelError, load_graph
from sbtf.micro.codegen.operators import EMITTERS, SUPPORTED_OPS
from sbtf.micro.codegen.planner import (
    ARENA_ALIGNMENT,
    Buffer,
    MemoryPlan,
    check_plan,
    plan_memory,
    poison_ranges,
)
from sbtf.micro.codegen.templates import HEADER, SOURCE, c_comment, c_float, scratch_expr

__all__ = [
    "ARENA_ALIGNMENT",
    "SUPPORTED_OPS",
    "Buffer",
    "GeneratedModel",
    "Graph",
    "MemoryPlan",
    "Operator",
    "Tensor",
    "UnsupportedModelError",
    "c_comment",
    "check_plan",
    "generate",
    "load_graph",
    "plan_memory",
    "scratch_expr",
]


@dataclass
class GeneratedModel:
    source: str  # sbtf_model.c
    header: str  # sbtf_model.h
    plan: MemoryPlan
    graph: Graph
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int
    weight_bytes: int  # constant data emitted (weights, masks, signs, biases, multipliers)
    scratch_expr: str  # C constant expression of SBTF_MODEL_SCRATCH_BYTES (the compiler evaluates it)
    op_counts: dict[str, int]

    @property
    def input_size(self) -> int:
        return int(np.prod(self.input_shape))

    def write(self, out_dir) -> tuple[Path, Path]:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        c, h = out / "sbtf_model.c", out / "sbtf_model.h"
        c.write_text(self.source)
        h.write_text(self.header)
        return c, h

    def summary(self) -> str:
        ops = ", ".join(f"{n} x{c}" for n, c in sorted(self.op_counts.items()))
        return (
            f"{len(self.graph.operators)} operators ({ops})\n"
            f"input {list(self.input_shape)} int8 (scale {self.input_scale:.6g}, zero point "
            f"{self.input_zero_point}); output {list(self.output_shape)} int8 (scale "
            f"{self.output_scale:.6g}, zero point {self.output_zero_point})\n"
            f"constants {self.weight_bytes} bytes; arena {self.plan.arena_bytes} bytes (sum of all "
            f"activation tensors {self.plan.naive_bytes} bytes)\n"
            f"scratch SBTF_MODEL_SCRATCH_BYTES = {self.scratch_expr} (bytes, evaluated by the compiler)"
        )



def generate(tflite: bytes, *, source: str = "model", scratch_bytes: int | None = None) -> GeneratedModel:
    """Compile TFLite flatbuffer bytes into the C sources of the ahead-of-time runtime.

    The scratch buffer of the sbtf kernels is SBTF_MODEL_SCRATCH_BYTES, the largest
    SBTF_SCRATCH_BYTES(k, c_out) (sbtf_nn.h) of the model's sbtf ops, evaluated by the target
    compiler. scratch_bytes: a fixed size instead (tests provoking SBTF_ERROR_BUFFER_SIZE).
    Raises UnsupportedModelError naming the operator and tensor for anything unsupported.
    """
    graph = load_graph(tflite, source)
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise UnsupportedModelError(
            f"{source}: the runtime supports one input and one output, the model has "
            f"{len(graph.inputs)} inputs and {len(graph.outputs)} outputs")
    tin, tout = graph.tensors[graph.inputs[0]], graph.tensors[graph.outputs[0]]
    for t, role in ((tin, "input"), (tout, "output")):
        if t.type != T.INT8 or t.scale.size != 1:
            raise UnsupportedModelError(
                f"{source}: model {role} {t.describe()} must be int8 with one scale (convert with "
                "inference_input_type=tf.int8 and inference_output_type=tf.int8)")
    if not graph.operators:
        raise UnsupportedModelError(f"{source}: the model has no operators")
    unsupported = [f"{op.index} ({op.name})" for op in graph.operators if op.name not in SUPPORTED_OPS]
    if unsupported:
        raise UnsupportedModelError(
            f"{source}: {len(unsupported)} operator(s) not supported by sbtf's runtime: operator "
            f"{', '.join(unsupported)} (supported: {', '.join(SUPPORTED_OPS)})")
    plan = plan_memory(graph)
    if plan.arena_bytes > 2**31 - 1:
        raise UnsupportedModelError(
            f"{source}: the activations need a {plan.arena_bytes}-byte arena, more than a "
            "Cortex-M can address")
    em = Emitter(graph, plan)
    n_ops = len(graph.operators)
    op_counts: dict[str, int] = {}
    for op in graph.operators:
        op_counts[op.name] = op_counts.get(op.name, 0) + 1
        for t in op.outputs:
            if graph.tensors[t].data is not None:
                raise UnsupportedModelError(f"{graph.where(op)}: writes a constant tensor")
    body: list[str] = []
    for op in graph.operators:
        em.body = []
        EMITTERS[op.name](em, op)
        body += em.body
        body.append(f"  SBTF_MODEL_OP_END({op.index});")
        for off, n in poison_ranges(plan, op.index):
            body.append(f"  SBTF_MODEL_POISON_RANGE({off}, {n});")
    scratch = (scratch_expr(em.scratch_shapes, em.scratch_terms) if scratch_bytes is None
               else str(int(scratch_bytes)))
    in_off, out_off = plan.offset(tin.index), plan.offset(tout.index)
    poison_input = "\n".join(f"  SBTF_MODEL_POISON_RANGE({o}, {n});" for o, n in poison_ranges(plan, -1))
    header = HEADER.format(
        n_ops=n_ops, in_size=tin.size, out_size=tout.size, arena=plan.arena_bytes,
        naive=plan.naive_bytes, scratch=scratch,
        in_scale=c_float(tin.scale[0]), in_zp=int(tin.zero_point[0]),
        out_scale=c_float(tout.scale[0]), out_zp=int(tout.zero_point[0]),
        in_shape=list(tin.shape), out_shape=list(tout.shape),
    )
    scratch_check = "\n".join(
        f"  need = {expr};\n  if (need < 0) return need;\n  if (need > max) max = need;"
        for expr in em.scratch_ops)
    source_c = SOURCE.format(
        source=c_comment(source), decls="\n".join(em.decls), body="\n".join(body), in_off=in_off,
        out_off=out_off, poison_input=poison_input, arena_total=plan.arena_bytes,
        scratch_check=scratch_check or "  (void)need;",
    )
    return GeneratedModel(
        source=source_c, header=header, plan=plan, graph=graph, input_shape=tin.shape,
        output_shape=tout.shape, input_scale=float(tin.scale[0]),
        input_zero_point=int(tin.zero_point[0]), output_scale=float(tout.scale[0]),
        output_zero_point=int(tout.zero_point[0]), weight_bytes=em.weight_bytes,
        scratch_expr=scratch, op_counts=op_counts,
    )
