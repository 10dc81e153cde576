"""sbtf's runtime beside TensorFlow Lite Micro on one model and board: the figures both print.

    a = run_tflm(tflite_int8, "mps2-an386", x, out_dir)   # Result; also (b) with the sbtf model
    c = run_sbtf(tflite_sbtf, "mps2-an386", x, out_dir)   # Result, per_op from a profiled image

(a) TFLM + CMSIS-NN on the int8 twin, (b) TFLM + CMSIS-NN + sbtf's ops on the signed-binary
model, (c) sbtf's ahead-of-time runtime on the signed-binary model: instructions per inference,
flash, RAM, arena, and instructions per operator, all from one run each under QEMU
(-icount shift=0). Used by bench/bench_tflm.py; `sbtf-micro run --runtime tflm` prints
op_lines.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sbtf.micro import build as _build
from sbtf.micro import qemu as _qemu
from sbtf.micro import runtime as _runtime
from sbtf.micro import tflm as _tflm

__all__ = ["Result", "by_op", "op_lines", "run_sbtf", "run_tflm",
           "sbtf_op_profile"]


@dataclass
class Result:
    runtime: str  # "tflm" or "sbtf"
    board: str
    outputs: np.ndarray
    instructions: int | None
    flash: int | None
    ram: int | None
    arena: int
    per_op: list[tuple[str, int]] = field(default_factory=list)
    elf: Path | None = None  # the image that ran (boards)

    def row(self) -> dict:
        return {"runtime": self.runtime, "board": self.board, "instructions": self.instructions,
                "flash_bytes": self.flash, "ram_bytes": self.ram, "arena_bytes": self.arena,
                "per_op": by_op(self.per_op)}


def by_op(per_op: list[tuple[str, int]]) -> dict[str, dict]:
    """{op name: {"count": n, "instructions": total}} in order of first appearance."""
    out: dict[str, dict] = {}
    for name, n in per_op:
        entry = out.setdefault(name, {"count": 0, "instructions": 0})
        entry["count"] += 1
        entry["instructions"] += n
    return out


def sbtf_op_profile(tflite: bytes, board: str, x_int8, out_dir) -> list[tuple[str, int]]:
    """Instructions per operator of sbtf's runtime for the first input (a separate image built
    with -DSBTF_MODEL_PROFILE and micro/runtime/sbtf_op_profile.c)."""
    out_dir = Path(out_dir)
    gen, _ = _runtime._prepare(tflite, np.asarray(x_int8)[:1], out_dir, "model")
    rt = _runtime.runtime_dir()
    elf = _build.build_elf(board, [*_runtime._sources(out_dir), rt / "sbtf_op_profile.c"],
                           include_dirs=[out_dir, rt], defines=["SBTF_MODEL_PROFILE"],
                           out=out_dir / "profile.elf", extra_cflags=_runtime.RUNTIME_CFLAGS)
    res = _qemu.run(board, elf, timeout=600, icount=True)
    if not res.ok:
        raise _runtime.RuntimeError_(f"{res.error}\n{(res.stdout + res.stderr)[-2000:]}")
    names = [op.name for op in gen.graph.operators]
    return [(names[int(i)], int(n)) for i, n in re.findall(r"^sbtf-op (\d+) (\d+)$", res.stdout,
                                                            re.MULTILINE)]


def run_sbtf(tflite: bytes, board: str, x_int8, out_dir, profile: bool = True) -> Result:
    run_dir = Path(out_dir) / "run"
    res = _runtime.run_model(tflite, board, x_int8, timeout=600, out_dir=run_dir)
    m = res.memory
    per_op = sbtf_op_profile(tflite, board, x_int8, Path(out_dir) / "profile") if profile else []
    return Result("sbtf", board, res.outputs, res.instructions_per_inference, m.flash, m.ram,
                  m.arena, per_op, run_dir / "firmware.elf")  # a batch of one boot (run_model)


def run_tflm(tflite: bytes, board: str, x_int8, out_dir) -> Result:
    res = _tflm.run_model(tflite, board, x_int8, out_dir=out_dir)
    m = res.memory
    return Result("tflm", board, res.outputs, res.instructions_per_inference,
                  m.flash if m else None, m.ram if m else None, res.arena_used, res.per_op,
                  res.image)


def op_lines(per_op: list[tuple[str, int]]) -> list[str]:
    """One line per operator type: count, instructions, share of the inference."""
    total = sum(n for _, n in per_op) or 1
    return [f"  {name:<22} x{e['count']:<3} {e['instructions']:>12,} "
            f"({100 * e['instructions'] / total:.1f} %)" for name, e in by_op(per_op).items()]
