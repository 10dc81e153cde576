"""Instructions of SBTF_DEPTHWISE_CONV_2D's kernel vs CMSIS-NN's int8 depthwise convolution.

    .venv/bin/python bench/bench_depthwise.py [--opt -O2] [--boards mps2-an386,...]

Builds micro/tests/bench_depthwise.c with sbtf's kernels and, when CMSIS-NN's sources are found
(as bench_kernels.py finds them), CMSIS-NN's depthwise sources, runs it under qemu-system-arm
with `-icount shift=0` and prints, per layer, both counts, their ratio and whether both gave the
same bytes. Layers: KWS DS-CNN's 3x3 depthwise on 25x5x64, MobileNet v1 0.25 (VWW) blocks, and
a depth multiplier of 2; 65 % zero weights. Writes build/bench/depthwise.json. Figures, no
asserts.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_kernels import BENCH_BOARDS, ROOT, TESTS, cmsis_nn_dir, cmsis_nn_sources

from sbtf.micro import boards, build, qemu


def cmsis_nn_depthwise_sources(d: Path) -> list[Path]:
    """Its depthwise files plus the conv ones (Helium runs one-channel depthwise as a conv)."""
    conv = d / "Source" / "ConvolutionFunctions"
    return [*sorted(conv.glob("arm_depthwise_conv*_s8*.c")),
            conv / "arm_nn_depthwise_conv_s8_core.c",
            d / "Source" / "TransposeFunctions" / "arm_transpose_s8.c", *cmsis_nn_sources(d)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--opt", default="-O2")
    ap.add_argument("--boards", default=",".join(BENCH_BOARDS))
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "depthwise.json")
    args = ap.parse_args(argv)
    workdir = ROOT / "build" / "bench" / "depthwise"
    workdir.mkdir(parents=True, exist_ok=True)
    cdir = cmsis_nn_dir()
    if cdir is None:
        print("CMSIS-NN sources not found (set SBTF_CMSIS_NN_DIR): sbtf figures only")
    records = []
    print(f"{'board':12} {'layer':6} {'sbtf':>10} {'CMSIS-NN':>10} {'ratio':>6} {'per MAC':>7} "
          "same")
    for board in args.boards.split(","):
        sources = [TESTS / "bench_depthwise.c", *build.kernel_sources()]
        include, defines = [TESTS], None
        if cdir:
            sources += cmsis_nn_depthwise_sources(cdir)
            include, defines = [TESTS, cdir / "Include"], ["BENCH_CMSIS_NN"]
        elf = build.build_elf(board, sources, include_dirs=include, defines=defines, opt=args.opt,
                              warnings=cdir is None,
                              extra_cflags=["-std=gnu99", "-w"] if cdir else (),
                              out=workdir / f"bench_depthwise_{board}.elf")
        out = qemu.run(board, elf, timeout=900, icount=True).check().stdout
        for m in re.finditer(r"DW layer=(\w+) status=(-?\d+) sbtf=(\d+) cmsis_nn=(-?\d+) "
                             r"cmsis_status=(-?\d+) same=(-?\d+) macs=(\d+) scratch=(\d+)", out):
            sbtf, cmsis, macs = int(m[3]), int(m[4]), int(m[7])
            rec = {"board": board, "cpu": boards.get(board).cpu, "layer": m[1], "opt": args.opt,
                   "status": int(m[2]), "sbtf_instructions": sbtf,
                   "cmsis_nn_instructions": cmsis if cmsis >= 0 else None,
                   "ratio_vs_cmsis_nn": round(sbtf / cmsis, 3) if cmsis > 0 else None,
                   "outputs_equal_cmsis_nn": None if int(m[6]) < 0 else bool(int(m[6])),
                   "macs": macs, "sbtf_instructions_per_mac": round(sbtf / macs, 3),
                   "sbtf_scratch_bytes": int(m[8])}
            records.append(rec)
            ratio = f"{rec['ratio_vs_cmsis_nn']:.2f}x" if rec["ratio_vs_cmsis_nn"] else "-"
            print(f"{board:12} {m[1]:6} {sbtf:>10} {cmsis if cmsis >= 0 else '-':>10} {ratio:>6} "
                  f"{rec['sbtf_instructions_per_mac']:>7.2f} {rec['outputs_equal_cmsis_nn']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"results": records}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
