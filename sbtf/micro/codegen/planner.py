"""Memory planner: one static arena for every activation tensor, placed by lifetime."""
from __future__ import annotations

from dataclasses import dataclass, field

from sbtf.micro.codegen.graph import Graph, UnsupportedModelError

ARENA_ALIGNMENT = 16  # bytes; kernels read words and Helium vectors
# Operators whose output is the input's bytes under another shape: they share its buffer.
ALIAS_OPS = ("RESHAPE",)


@dataclass
class Buffer:
    """One arena region: a tensor plus the tensors that alias it (RESHAPE outputs)."""

    id: int
    tensors: list[int]
    size: int
    first: int  # first operator step that writes it (-1: the model input, copied in before op 0)
    last: int  # last step that reads it (len(ops): a model output, copied out after the last op)
    offset: int = -1

    def overlaps_in_time(self, other: Buffer) -> bool:
        return self.first <= other.last and other.first <= self.last

    def overlaps_in_space(self, other: Buffer) -> bool:
        return self.offset < other.offset + other.size and other.offset < self.offset + self.size


@dataclass
class MemoryPlan:
    buffers: list[Buffer]
    arena_bytes: int
    naive_bytes: int  # every activation tensor in its own region (the sum of their sizes)
    tensor_buffer: dict[int, int] = field(default_factory=dict)  # tensor index -> buffer id

    def offset(self, tensor: int) -> int:
        return self.buffers[self.tensor_buffer[tensor]].offset

    def live_after(self, step: int) -> list[Buffer]:
        """Buffers whose contents are still needed after operator `step` has run."""
        return [b for b in self.buffers if b.first <= step < b.last]


def _align(n: int, a: int = ARENA_ALIGNMENT) -> int:
    return (n + a - 1) // a * a


# Inputs an operator resets and updates itself (TFLite's variable tensors): the LSTM's output
# and cell state. Every run is a new sequence, so they live for that operator only.
STATE_INPUTS = {"UNIDIRECTIONAL_SEQUENCE_LSTM": (18, 19)}


def state_tensors(op) -> list[int]:
    return [op.inputs[i] for i in STATE_INPUTS.get(op.name, ())
            if i < len(op.inputs) and op.inputs[i] >= 0]


# Variable tensors that keep their values from one invoke to the next (SVDF's memory, as in
# TFLite and TFLite Micro): each is a static array of its own (Emitter.state), not in the arena.
PERSISTENT_INPUTS = {"SVDF": (4,)}


def persistent_tensors(graph: Graph) -> set[int]:
    """The persistent state tensors; each must belong to one operator and nothing else."""
    found: set[int] = set()
    for op in graph.operators:
        for i in PERSISTENT_INPUTS.get(op.name, ()):
            t = op.inputs[i] if i < len(op.inputs) else -1
            if t < 0:
                continue
            shared = t in found or op.inputs.count(t) > 1 or t in graph.inputs or any(
                t in o.outputs or (o is not op and t in o.inputs) for o in graph.operators)
            if shared or t in graph.outputs:
                raise UnsupportedModelError(
                    f"{graph.where(op)}: state tensor {t} must be used by this operator "
                    "alone (not a model input or output, nor another operator's tensor)")
            found.add(t)
    return found


def plan_memory(graph: Graph) -> MemoryPlan:
    """Greedy-by-size, first-fit placement of activation buffers over their lifetimes.

    A buffer lives from the operator that writes it to the last operator that reads it
    (inclusive), so an operator's inputs and outputs never share bytes.
    """
    n_ops = len(graph.operators)
    owner: dict[int, int] = {}  # tensor -> representative tensor (aliases collapse)
    persistent = persistent_tensors(graph)
    for t in graph.tensors:
        if t.data is None and t.index not in persistent:
            owner[t.index] = t.index
    for op in graph.operators:
        if op.name in ALIAS_OPS and graph.tensors[op.inputs[0]].data is None:
            owner[op.outputs[0]] = owner[op.inputs[0]]
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for t in graph.inputs:
        first[owner[t]] = -1
    for step, op in enumerate(graph.operators):
        for t in (*op.outputs, *state_tensors(op)):
            if t in owner:
                first.setdefault(owner[t], step)
        for t in op.inputs:
            if t >= 0 and t in owner:
                last[owner[t]] = max(last.get(owner[t], -1), step)
    for t in graph.outputs:
        last[owner[t]] = n_ops
    groups: dict[int, list[int]] = {}
    for t, rep in owner.items():
        if rep in first:  # skip tensors no operator writes (unused)
            groups.setdefault(rep, []).append(t)
    buffers = []
    tensor_buffer = {}
    for bid, (rep, members) in enumerate(sorted(groups.items())):
        size = max(graph.tensors[t].nbytes for t in members)
        buffers.append(Buffer(bid, sorted(members), _align(size), first[rep],
                              max(last.get(rep, first[rep]), first[rep])))
        for t in members:
            tensor_buffer[t] = bid
    placed: list[Buffer] = []
    for b in sorted(buffers, key=lambda b: (-b.size, b.first, b.id)):
        offset = 0
        for other in sorted((p for p in placed if p.overlaps_in_time(b)), key=lambda p: p.offset):
            if offset + b.size <= other.offset:
                break
            offset = max(offset, other.offset + other.size)
        b.offset = offset
        placed.append(b)
    arena = max((b.offset + b.size for b in buffers), default=0)
    naive = sum(graph.tensors[t].nbytes for t in tensor_buffer)
    plan = MemoryPlan(buffers, arena, naive, tensor_buffer)
    check_plan(plan)
    return plan


def check_plan(plan: MemoryPlan) -> None:
    """Raise AssertionError when two buffers alive at the same step share arena bytes."""
    for i, a in enumerate(plan.buffers):
        if a.offset < 0 or a.offset % ARENA_ALIGNMENT or a.offset + a.size > plan.arena_bytes:
            raise AssertionError(f"buffer {a.id} at {a.offset}+{a.size} lies outside the arena")
        for b in plan.buffers[i + 1:]:
            if a.overlaps_in_time(b) and a.overlaps_in_space(b):
                raise AssertionError(
                    f"buffers {a.id} (tensors {a.tensors}, steps {a.first}..{a.last}, bytes "
                    f"{a.offset}..{a.offset + a.size}) and {b.id} (tensors {b.tensors}, steps "
                    f"{b.first}..{b.last}, bytes {b.offset}..{b.offset + b.size}) overlap"
                )


def poison_ranges(plan: MemoryPlan, step: int) -> list[tuple[int, int]]:
    """Arena byte ranges holding nothing that is needed after `step`."""
    live = sorted((b.offset, b.offset + b.size) for b in plan.live_after(step))
    ranges, pos = [], 0
    for start, end in live:
        if start > pos:
            ranges.append((pos, start - pos))
        pos = max(pos, end)
    if pos < plan.arena_bytes:
        ranges.append((pos, plan.arena_bytes - pos))
    return ranges

