"""Instruction-address profile of one ResNet-8 inference through sbtf's runtime under QEMU.

    .venv/bin/python bench/profile_model.py [--board mps2-an386] [--top 20]

Builds the firmware bench_models.py runs (signed-binary ResNet-8, random weights, seed 0; one
input) and counts every instruction of one sbtf_model_invoke() by address with
profile_kernels.trace (QEMU -d in_asm,exec: exact, no sampling). Each address is attributed to
the operator function it runs in (the outermost function of its DWARF inline chain) and to the
innermost source function, so the table shows, per operator implementation, where the
instructions go; the per-operator split of one model (which layer) is the runtime's per-op
profile's job. Writes build/bench/profile_model_<board>.json. Figures, no asserts.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_models
import profile_kernels

from sbtf.micro import runtime

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", default="mps2-an386")
    ap.add_argument("--top", type=int, default=0, help="also list the N hottest addresses")
    args = ap.parse_args(argv)
    report, x = bench_models.resnet8()
    fw = runtime.build_firmware(report.tflite, args.board, x[:1],
                                out_dir=ROOT / "build" / "bench" / f"profile_model_{args.board}")
    # From entering sbtf_model_invoke to reading the counter right after it returns.
    (counts,), stdout = profile_kernels.trace(args.board, fw.elf, begin="sbtf_model_invoke",
                                              end="sbtf_counter_read")
    systick = runtime.parse_output(stdout, 1, runtime._batch_shape(fw.generated), args.board)[1]
    funcs = profile_kernels._functions(fw.elf, counts)
    by_op, by_fn = Counter(), Counter()
    for a, n in counts.items():
        inner, outer = funcs[a]
        by_op[outer] += n
        by_fn[(outer, inner)] += n
    total = sum(by_op.values())
    print(f"== {args.board} resnet8 signed-binary: {total} instructions profiled "
          f"(SysTick {systick[0]})")
    for op, n in by_op.most_common():
        print(f"   {n:>9} {100 * n / total:5.1f} %  {op}")
        for (o, fn), m in by_fn.most_common():
            if o == op and fn != op and m * 200 >= total:  # >= 0.5 % of the inference
                print(f"   {m:>9} {100 * m / total:5.1f} %      {fn}")
    for a, n, fn, text in profile_kernels.hot_addresses(args.board, fw.elf, counts, args.top):
        print(f"   {a:08x} {n:>8}  {fn:<24} {text}")
    out = ROOT / "build" / "bench" / f"profile_model_{args.board}.json"
    out.write_text(json.dumps({"systick_instructions": systick[0], "instructions": total,
                               "by_operator_function": dict(by_op.most_common()),
                               "by_function": {f"{o}/{f}": n for (o, f), n
                                               in by_fn.most_common()}}, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
