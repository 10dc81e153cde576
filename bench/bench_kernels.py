"""Instructions per layer: sbtf's signed-binary kernels vs a plain int8 convolution and CMSIS-NN.

    .venv/bin/python bench/bench_kernels.py [--opt -O2] [--boards mps2-an386,...]

Builds micro/tests/bench_kernels.c for each board, runs it under qemu-system-arm with
`-icount shift=0` (1 ns per instruction, so SysTick counts instructions exactly up to one tick:
40 instructions on mps2, 31.25 on mps3-an547), from just before each call to just after it, minus
the counter's own overhead around an empty call. Layers: MLPerf Tiny ResNet-8's 3x3 convolutions
L1..L5 (SAME padding) and an FC 256 -> 64, random data, masks with 65% zeros. CMSIS-NN's counts on
the same layers, boards, compiler and flags come from /work/shared/anchors/cmsis_nn_resnet8.json
(counted with a TCG plugin, first instruction of the call to its return). Prints a table and
writes build/bench/kernels.json. Figures, no asserts.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from sbtf.converters.bitmask import row_bytes
from sbtf.micro import boards, build, qemu, source_dir

ROOT = Path(__file__).resolve().parents[1]
ANCHORS = Path("/work/shared/anchors/cmsis_nn_resnet8.json")
TESTS = source_dir() / "tests"
BENCH_BOARDS = ["mps2-an386", "mps2-an500", "mps3-an547"]
# (C_out, K) of each layer, for weight storage.
SHAPES = {"L1": (16, 144), "L2": (32, 144), "L3": (32, 288), "L4": (64, 288), "L5": (64, 576),
          "FC": (64, 256)}


def _anchors():
    if not ANCHORS.is_file():
        return {}
    data = json.loads(ANCHORS.read_text())
    return {(r["board"], r["opt"], r["layer"]): r["cmsis_nn_instructions"] for r in data["results"]}


def _kernel_code_size(board, opt, workdir):
    total = 0
    for src in build.kernel_sources():
        obj = build.compile_object(board, src, opt=opt, out=workdir / f"{board}-{src.stem}.o")
        s = build.size(obj)
        total += s.text + s.data
    return total


def run_board(board, opt, workdir):
    elf = build.build_elf(board, [TESTS / "bench_kernels.c", TESTS / "int8_reference.c",
                                  *build.kernel_sources()],
                          include_dirs=[TESTS], opt=opt, out=workdir / f"bench_kernels_{board}.elf")
    res = qemu.run(board, elf, timeout=600, icount=True).check()
    head = re.search(r"BENCH board=\S+ path=(\w+) counter_overhead=(\d+)", res.stdout)
    rows = {}
    for m in re.finditer(r"BENCH layer=(\w+) impl=(\w+) instructions=(\d+) macs=(\d+) "
                         r"scratch=(\d+) mismatches=(\d+)", res.stdout):
        rows.setdefault(m[1], {})[m[2]] = {"instructions": int(m[3]), "macs": int(m[4]),
                                               "scratch": int(m[5]), "mismatches": int(m[6])}
    return head[1], int(head[2]), rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--opt", default="-O2")
    ap.add_argument("--boards", default=",".join(BENCH_BOARDS))
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "kernels.json")
    args = ap.parse_args(argv)
    workdir = ROOT / "build" / "bench" / "kernels"
    workdir.mkdir(parents=True, exist_ok=True)
    anchors = _anchors()
    records = []
    for board in args.boards.split(","):
        b = boards.get(board)
        path, overhead, rows = run_board(board, args.opt, workdir)
        code = _kernel_code_size(board, args.opt, workdir)
        for layer, (c_out, k) in SHAPES.items():
            r = rows[layer]
            sb, ref = r["sbtf"], r["int8_reference"]
            cmsis = anchors.get((board, args.opt, layer))
            cmsis_pc = anchors.get((board, args.opt, "FCpc")) if layer == "FC" else None
            rec = {
                "board": board, "cpu": b.cpu, "layer": layer, "opt": args.opt, "kernel_path": path,
                "sbtf_instructions": sb["instructions"],
                "int8_reference_instructions": ref["instructions"],
                "cmsis_nn_instructions": cmsis,
                "ratio_vs_cmsis_nn": round(sb["instructions"] / cmsis, 3) if cmsis else None,
                "ratio_vs_int8_reference": round(sb["instructions"] / ref["instructions"], 3),
                "macs": sb["macs"],
                "sbtf_instructions_per_mac": round(sb["instructions"] / sb["macs"], 3),
                "sbtf_weight_bytes": c_out * row_bytes(k) + c_out,  # mask + sign bytes
                "int8_weight_bytes": c_out * k,
                "sbtf_scratch_bytes": sb["scratch"],
                "sbtf_kernel_code_bytes": code,
                "outputs_mismatching_int8_reference": sb["mismatches"],
                "counting": f"SysTick under qemu -icount shift=0 ({b.instructions_per_tick:g} "
                         f"instructions/tick), counter overhead {overhead} subtracted",
            }
            if cmsis_pc:
                rec["cmsis_nn_fc_per_channel_instructions"] = cmsis_pc
                rec["ratio_vs_cmsis_nn_fc_per_channel"] = round(sb["instructions"] / cmsis_pc, 3)
            rec["weight_compression"] = round(rec["int8_weight_bytes"] / rec["sbtf_weight_bytes"], 2)
            records.append(rec)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(records, indent=1))

    hdr = (f"{'board':<11} {'layer':<5} {'path':<8} {'sbtf instr':>11} {'instr/MAC':>9} "
           f"{'int8 ref':>11} {'CMSIS-NN':>10} {'vs CMSIS':>8} {'vs ref':>7} {'weights B':>10} "
           f"{'int8 B':>7} {'x smaller':>9} {'scratch':>7} {'bad':>4}")
    print(f"sbtf kernels, {args.opt}, instructions counted exactly (SysTick, -icount shift=0)")
    print(hdr)
    print("-" * len(hdr))
    for r in records:
        cm = f"{r['cmsis_nn_instructions']:>10}" if r["cmsis_nn_instructions"] else f"{'-':>10}"
        ratio = f"{r['ratio_vs_cmsis_nn']:>8.3f}" if r["ratio_vs_cmsis_nn"] else f"{'-':>8}"
        print(f"{r['board']:<11} {r['layer']:<5} {r['kernel_path']:<8} {r['sbtf_instructions']:>11} "
              f"{r['sbtf_instructions_per_mac']:>9.3f} {r['int8_reference_instructions']:>11} {cm} "
              f"{ratio} {r['ratio_vs_int8_reference']:>7.3f} {r['sbtf_weight_bytes']:>10} "
              f"{r['int8_weight_bytes']:>7} {r['weight_compression']:>9.2f} "
              f"{r['sbtf_scratch_bytes']:>7} {r['outputs_mismatching_int8_reference']:>4}")
        if "cmsis_nn_fc_per_channel_instructions" in r:
            print(f"{'':<11} {'FCpc':<5} {'':<8} {'':>11} {'':>9} {'':>11} "
                  f"{r['cmsis_nn_fc_per_channel_instructions']:>10} "
                  f"{r['ratio_vs_cmsis_nn_fc_per_channel']:>8.3f}")
    sizes = {r["board"]: r["sbtf_kernel_code_bytes"] for r in records}
    print("kernel code size (text+data of micro/src objects): " +
          ", ".join(f"{k} {v} B" for k, v in sizes.items()))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
