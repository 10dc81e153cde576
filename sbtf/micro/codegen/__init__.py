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
  `operators_int16`: the 16x8 (int16 activation) forms of some of them; `operators_svdf`: SVDF;
  `SUPPORTED_OPS` is that table's keys. A new operator is one decorated function there (see
  its docstring);
* this module: `generate`, which runs them in that order.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sbtf.micro import model_io
from sbtf.micro.codegen import operators_svdf  # noqa: F401  (registers SVDF in EMITTERS)
from sbtf.micro.codegen.emitter import Emitter
from sbtf.micro.codegen.graph import Graph, Operator, Tensor, UnsupportedModelError, load_graph
from sbtf.micro.codegen.operators import EMITTERS
from sbtf.micro.codegen.operators_int16 import emitter_for
from sbtf.micro.codegen.planner import (
    ARENA_ALIGNMENT,
    Buffer,
    MemoryPlan,
    check_plan,
    plan_memory,
    poison_ranges,
)
from sbtf.micro.codegen.templates import HEADER, SOURCE, c_comment, scratch_expr

SUPPORTED_OPS = tuple(EMITTERS)  # after every operator module has registered its emitters

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
    inputs: list[model_io.ModelIO]  # per model input, in order: one packed record (model_io)
    outputs: list[model_io.ModelIO]
    weight_bytes: int  # constant data emitted (weights, masks, signs, biases, multipliers)
    scratch_expr: str  # C constant expression of SBTF_MODEL_SCRATCH_BYTES (the compiler evaluates it)
    op_counts: dict[str, int]

    @property
    def input_size(self) -> int:
        """Bytes of an input record (every model input, sbtf.micro.model_io)."""
        return model_io.record_bytes(self.inputs)

    @property
    def output_size(self) -> int:
        return model_io.record_bytes(self.outputs)

    # The first input and output (most models' only ones).
    input_shape = property(lambda self: self.inputs[0].shape)
    input_scale = property(lambda self: self.inputs[0].scale)
    input_zero_point = property(lambda self: self.inputs[0].zero_point)
    output_shape = property(lambda self: self.outputs[0].shape)

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
            f"inputs {'; '.join(io.describe() for io in self.inputs)}\n"
            f"outputs {'; '.join(io.describe() for io in self.outputs)}\n"
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
    ins = model_io.model_inputs(graph, UnsupportedModelError)
    outs = model_io.model_outputs(graph, UnsupportedModelError)
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
        (emitter_for(graph, op) or EMITTERS[op.name])(em, op)  # 16x8 first
        body += em.body
        body.append(f"  SBTF_MODEL_OP_END({op.index});")
        for off, n in poison_ranges(plan, op.index):
            body.append(f"  SBTF_MODEL_POISON_RANGE({off}, {n});")
    scratch = (scratch_expr(em.scratch_shapes, em.scratch_terms) if scratch_bytes is None
               else str(int(scratch_bytes)))
    poison_input = "\n".join(f"  SBTF_MODEL_POISON_RANGE({o}, {n});" for o, n in poison_ranges(plan, -1))
    header = HEADER.format(n_ops=n_ops, arena=plan.arena_bytes, naive=plan.naive_bytes,
                           scratch=scratch, io=model_io.c_defines(ins, outs))
    scratch_check = "\n".join(
        f"  need = {expr};\n  if (need < 0) return need;\n  if (need > max) max = need;"
        for expr in em.scratch_ops)
    source_c = SOURCE.format(
        source=c_comment(source), decls="\n".join(em.decls), body="\n".join(body),
        copy_in=model_io.c_copies(ins, plan.offset, "in"),
        copy_out=model_io.c_copies(outs, plan.offset, "out"),
        poison_input=poison_input, arena_total=plan.arena_bytes,
        scratch_check=scratch_check or "  (void)need;",
        state_reset="\n".join(f"  memset({name}, 0, sizeof {name});" for name in em.states)
        or "  /* no operator state */",
    )
    return GeneratedModel(
        source=source_c, header=header, plan=plan, graph=graph, inputs=ins, outputs=outs,
        weight_bytes=em.weight_bytes,
        scratch_expr=scratch, op_counts=op_counts,
    )
