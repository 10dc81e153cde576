"""Instructions per call: the runtime's int8 builtins (micro/runtime) vs CMSIS-NN, same shapes.

    .venv/bin/python bench/bench_builtins.py [--opt -O2] [--boards mps2-an386,...]

Builds bench/bench_builtins.c with micro/runtime/sbtf_rt_*.c and CMSIS-NN's own kernel sources
(compiled from $SBTF_CMSIS_NN_DIR, default ../shared/third_party/cmsis-nn beside the clone;
never copied into the repo) into one image per board, with the flags and SysTick counter of
bench/bench_kernels.py, and runs it under qemu-system-arm -icount shift=0. Shapes: the int8
operators of ResNet-8 as sbtf's runtime runs them, two 3x3 layers of its int8 twin, a depthwise
3x3, FC, ADD, pooling and softmax. Prints a table and writes build/bench/builtins.json. Figures,
no asserts; skipped with a message when CMSIS-NN is absent.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

from sbtf.micro import boards, build, qemu, runtime

ROOT = Path(__file__).resolve().parents[1]
BENCH_BOARDS = ["mps2-an386", "mps2-an500", "mps3-an547"]
# CMSIS-NN's int8 operators and their support code (not its float, int4 or int16 variants).
CMSIS_DIRS = ("ConvolutionFunctions", "FullyConnectedFunctions", "BasicMathFunctions",
              "PoolingFunctions", "SoftmaxFunctions", "NNSupportFunctions", "TransposeFunctions")


def cmsis_nn_dir() -> Path:
    return Path(os.environ.get("SBTF_CMSIS_NN_DIR", ROOT.parent / "shared" / "third_party" / "cmsis-nn"))


def cmsis_nn_sources(src: Path) -> list[Path]:
    def wanted(name: str) -> bool:
        if re.search(r"f16|f32|_s4|lstm", name):
            return False
        return "s8" in name or not re.search(r"_s16", name)

    return sorted(p for d in CMSIS_DIRS for p in (src / "Source" / d).glob("*.c") if wanted(p.name))


def cmsis_nn_objects(board: str, opt: str, src: Path, workdir: Path) -> list[Path]:
    """CMSIS-NN compiled once per board and flags (cached: objects newer than their source)."""
    out_dir = workdir / "cmsis-nn" / f"{board}{opt}"
    objs = []
    for c in cmsis_nn_sources(src):
        obj = out_dir / f"{c.stem}.o"
        if not obj.is_file() or obj.stat().st_mtime < c.stat().st_mtime:
            build.compile_object(board, c, include_dirs=[src / "Include"], opt=opt, out=obj,
                                 extra_cflags=["-Wno-error", "-std=gnu99"])
        objs.append(obj)
    return objs


def run_board(board: str, opt: str, src: Path, workdir: Path) -> list[dict]:
    elf = build.build_elf(
        board, [ROOT / "bench" / "bench_builtins.c", *runtime.runtime_sources(),
                *cmsis_nn_objects(board, opt, src, workdir)],
        include_dirs=[runtime.runtime_dir(), src / "Include"], opt=opt,
        out=workdir / f"bench_builtins_{board}.elf", extra_cflags=runtime.RUNTIME_CFLAGS,
        ldflags=["-lm"])
    res = qemu.run(board, elf, timeout=600, icount=True).check()
    if "BENCH-ERROR" in res.stdout or "BENCH done" not in res.stdout:
        raise RuntimeError(f"{board}: the bench failed\n{res.stdout[-2000:]}")
    rows = []
    for m in re.finditer(r"BENCH op=(\w+) shape=(\S+) sbtf=(\d+) cmsis=(\d+) outputs=(\d+) "
                         r"differ=(\d+)", res.stdout):
        sb, cm = int(m[3]), int(m[4])
        rows.append({"board": board, "cpu": boards.get(board).cpu, "opt": opt, "op": m[1],
                     "shape": m[2], "sbtf_instructions": sb, "cmsis_nn_instructions": cm,
                     "ratio_vs_cmsis_nn": round(sb / cm, 3), "outputs": int(m[5]),
                     "outputs_differing": int(m[6])})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--opt", default="-O2")
    ap.add_argument("--boards", default=",".join(BENCH_BOARDS))
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "builtins.json")
    args = ap.parse_args(argv)
    src = cmsis_nn_dir()
    if not (src / "Include" / "arm_nnfunctions.h").is_file():
        print(f"bench_builtins: skipped, CMSIS-NN not found at {src} (set SBTF_CMSIS_NN_DIR)")
        return 0
    workdir = ROOT / "build" / "bench" / "builtins"
    workdir.mkdir(parents=True, exist_ok=True)
    rows = [r for board in args.boards.split(",") for r in run_board(board, args.opt, src, workdir)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"cmsis_nn": str(src), "rows": rows}, indent=1))
    print(f"sbtf runtime builtins vs CMSIS-NN ({src}), {args.opt}, instructions per call "
          "(SysTick, -icount shift=0)")
    hdr = (f"{'board':<11} {'op':<18} {'shape':<18} {'sbtf':>10} {'CMSIS-NN':>10} {'ratio':>6} "
           f"{'differ':>7}")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        print(f"{r['board']:<11} {r['op']:<18} {r['shape']:<18} {r['sbtf_instructions']:>10} "
              f"{r['cmsis_nn_instructions']:>10} {r['ratio_vs_cmsis_nn']:>6.2f} "
              f"{r['outputs_differing']:>3}/{r['outputs']:<4}")
    print("differ: outputs where the two disagree; 0 expected except FULLY_CONNECTED (TF 2.21 "
          "rounds once, CMSIS-NN twice) and SOFTMAX (CMSIS-NN's integer exp vs TFLite's table)")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
