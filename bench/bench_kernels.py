"""Instructions per layer: sbtf's signed-binary kernels vs CMSIS-NN and a plain int8 convolution.

    .venv/bin/python bench/bench_kernels.py [--opt -O2] [--boards mps2-an386,...] [--no-profile]

Builds micro/tests/bench_kernels.c (sbtf and the plain int8 loops of int8_reference.c) and, when
CMSIS-NN's sources are found, micro/tests/bench_cmsis_nn.c (CMSIS-NN's int8 kernels) for each
board, and runs them under qemu-system-arm with `-icount shift=0` (1 ns per instruction, so
SysTick counts instructions exactly up to one tick: 40 instructions on mps2, 31.25 on
mps3-an547), from just before each call to just after it, minus the counter's own overhead
around an empty call. Layers (micro/tests/bench_layers.h): MLPerf Tiny ResNet-8's 3x3
convolutions L1..L5 and FC 256 -> 64, a 1x1, a 3x3 stride 2, a wide 8x8x256 1x1 and a 3-channel
first layer, masks with 65 % zeros; L3 and FC again at 0/10/50/100 % non-zero weights.
Both programs print a checksum of every output: sbtf's and CMSIS-NN's must agree (TFLite's int8
result), and sbtf's outputs are compared with the int8 loops byte by byte (`bad`).

CMSIS-NN: $SBTF_CMSIS_NN_DIR, else ../shared/third_party/cmsis-nn beside the repository, else
/work/shared/third_party/cmsis-nn; without it, CMSIS-NN columns come only from the anchor file
(shared/anchors/cmsis_nn_resnet8.json: L1-L5, FC), and the run says so. On Helium boards
bench/profile_kernels.py also counts the MVE gathers/scatters of both libraries per layer and
an element-weighted figure (a gather counted as its element count; QEMU counts it as one).

Prints tables and writes build/bench/kernels.json. Figures, no asserts.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import profile_kernels

from sbtf.bitmask import row_bytes
from sbtf.micro import boards, build, qemu, source_dir

ROOT = Path(__file__).resolve().parents[1]
TESTS = source_dir() / "tests"
BENCH_BOARDS = ["mps2-an386", "mps2-an500", "mps3-an547"]
DENSITY = re.compile(r"^(L3|FC)d(\d+)$")


def _shared(*parts, env=None):
    """A path under the shared directory: $env, ../shared beside the repo, or /work/shared."""
    if env and os.environ.get(env):
        return Path(os.environ[env])
    for base in (ROOT.parent / "shared", Path("/work/shared")):
        if (base.joinpath(*parts)).exists():
            return base.joinpath(*parts)
    return None


def cmsis_nn_dir():
    d = _shared("third_party", "cmsis-nn", env="SBTF_CMSIS_NN_DIR")
    return d if d and (d / "Include" / "arm_nnfunctions.h").is_file() else None


def cmsis_nn_sources(d: Path) -> list[Path]:
    """The CMSIS-NN files the int8 conv and FC wrappers need (unused code is gc'd at link)."""
    conv, fc, support = (d / "Source" / s for s in ("ConvolutionFunctions",
                                                    "FullyConnectedFunctions",
                                                    "NNSupportFunctions"))
    return [*sorted(conv.glob("arm_convolve*_s8*.c")), *sorted(conv.glob("arm_nn_mat_mult_kernel*_s8_s16.c")),
            *sorted(fc.glob("arm_fully_connected*_s8.c")), fc / "arm_vector_sum_s8.c",
            *(s for s in sorted(support.glob("*.c"))
              if not any(x in s.name for x in ("f32", "f16", "lstm")))]


def _anchors():
    path = _shared("anchors", "cmsis_nn_resnet8.json", env="SBTF_ANCHORS")
    if not path:
        return {}
    data = json.loads(path.read_text())
    return {(r["board"], r["opt"], r["layer"]): r["cmsis_nn_instructions"] for r in data["results"]}


def _code_size(board, opt, workdir, defines=None, tag=""):
    total = 0
    for src in build.kernel_sources():
        obj = build.compile_object(board, src, opt=opt, defines=defines,
                                   out=workdir / f"{board}{tag}-{src.stem}.o")
        s = build.size(obj)
        total += s.text + s.data
    return total


def _run(board, elf):
    return qemu.run(board, elf, timeout=900, icount=True).check().stdout


def run_sbtf(board, opt, workdir):
    elf = build.build_elf(board, [TESTS / "bench_kernels.c", TESTS / "int8_reference.c",
                                  *build.kernel_sources()],
                          include_dirs=[TESTS], opt=opt, out=workdir / f"bench_kernels_{board}.elf")
    out = _run(board, elf)
    head = re.search(r"BENCH board=\S+ path=(\w+) counter_overhead=(\d+)", out)
    rows = {m[1]: {"sbtf": int(m[2]), "ref": int(m[3]), "macs": int(m[4]), "scratch": int(m[5]),
                   "bad": int(m[6]), "checksum": m[7], "prepared": int(m[8]),
                   "prepare": int(m[9]), "persistent": int(m[10])}
            for m in re.finditer(r"BENCH layer=(\w+) sbtf=(\d+) int8_reference=(\d+) macs=(\d+) "
                                 r"scratch=(\d+) mismatches=(\d+) checksum=(\w+) "
                                 r"prepared=(\d+) prepare=(\d+) persistent=(\d+)", out)}
    return head[1], int(head[2]), rows


def build_cmsis(board, opt, workdir, d):
    return build.build_elf(board, [TESTS / "bench_cmsis_nn.c", *cmsis_nn_sources(d)],
                           include_dirs=[TESTS, d / "Include"], opt=opt, warnings=False,
                           extra_cflags=["-std=gnu99", "-w"],
                           out=workdir / f"bench_cmsis_nn_{board}.elf")


def run_cmsis(board, elf):
    out = _run(board, elf)
    return {m[1]: {"instructions": int(m[2]), "status": int(m[3]), "checksum": m[4]}
            for m in re.finditer(r"CMSIS layer=(\w+) instructions=(\d+) scratch=\d+ "
                                 r"status=(-?\d+) checksum=(\w+)", out)}


def gather_profile(board, opt, workdir, elf=None):
    """{layer: profile summary} (instructions, gathers, element-weighted) for one program."""
    elf, layers = profile_kernels.profile(board, opt, workdir, elf=elf)
    return {name: profile_kernels.summarize(board, elf, counts)
            for name, (_, counts) in layers.items()}


def _ratio(a, b):
    return round(a / b, 3) if a is not None and b else None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--opt", default="-O2")
    ap.add_argument("--boards", default=",".join(BENCH_BOARDS))
    ap.add_argument("--no-profile", action="store_true",
                    help="skip the gather/scatter profile on Helium boards")
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "kernels.json")
    args = ap.parse_args(argv)
    workdir = ROOT / "build" / "bench" / "kernels"
    workdir.mkdir(parents=True, exist_ok=True)
    anchors = _anchors()
    cdir = cmsis_nn_dir()
    if cdir is None:
        print("CMSIS-NN sources not found (set SBTF_CMSIS_NN_DIR): CMSIS-NN figures only for the "
              "layers in shared/anchors" + ("" if anchors else " (anchors not found either)"))
    records, code_sizes = [], {}
    for board in args.boards.split(","):
        b = boards.get(board)
        path, overhead, rows = run_sbtf(board, args.opt, workdir)
        code_sizes[f"{board} ({path})"] = _code_size(board, args.opt, workdir)
        cmsis, cmsis_elf = {}, None
        if cdir:
            cmsis_elf = build_cmsis(board, args.opt, workdir, cdir)
            cmsis = run_cmsis(board, cmsis_elf)
        prof_sbtf = prof_cmsis = {}
        if b.isa == "mve" and not args.no_profile:
            prof_sbtf = gather_profile(board, args.opt, workdir)
            if cmsis_elf:
                prof_cmsis = gather_profile(board, args.opt, workdir, elf=cmsis_elf)
        for layer, r in rows.items():
            c_out, k = _shape(layer)
            cm = cmsis.get(layer, {})
            anchor = anchors.get((board, args.opt, layer))
            cmsis_n = cm.get("instructions", anchor)
            ps, pc = prof_sbtf.get(layer), prof_cmsis.get(layer)
            d = DENSITY.match(layer)
            rec = {
                "board": board, "cpu": b.cpu, "layer": layer, "opt": args.opt, "kernel_path": path,
                "nonzero_percent": int(d[2]) if d else 35,
                "sbtf_instructions": r["sbtf"],
                "int8_reference_instructions": r["ref"],
                "cmsis_nn_instructions": cmsis_n,
                "cmsis_nn_source": "measured" if cm else ("anchor" if anchor else None),
                "cmsis_nn_anchor_instructions": anchor,
                "ratio_vs_cmsis_nn": _ratio(r["sbtf"], cmsis_n),
                "ratio_vs_int8_reference": _ratio(r["sbtf"], r["ref"]),
                "outputs_agree_with_cmsis_nn": (cm["checksum"] == r["checksum"]) if cm else None,
                "macs": r["macs"],
                "sbtf_instructions_per_mac": round(r["sbtf"] / r["macs"], 3),
                "sbtf_weight_bytes": c_out * row_bytes(k) + c_out,  # mask + sign bytes
                "int8_weight_bytes": c_out * k,
                "sbtf_scratch_bytes": r["scratch"],
                "sbtf_persistent_bytes": 0,  # the plain kernels keep nothing between calls
                "outputs_mismatching_int8_reference": r["bad"],
                "counting": f"SysTick under qemu -icount shift=0 ({b.instructions_per_tick:g} "
                            f"instructions/tick), counter overhead {overhead} subtracted",
            }
            if ps:
                rec.update(sbtf_gather_scatter_instructions=ps["gather_scatter_instructions"],
                           sbtf_gather_scatter_elements=ps["gather_scatter_elements"],
                           sbtf_element_weighted=ps["element_weighted_instructions"])
            if pc:
                rec.update(cmsis_nn_gather_scatter_instructions=pc["gather_scatter_instructions"],
                           cmsis_nn_element_weighted=pc["element_weighted_instructions"])
            if ps and pc:
                rec["ratio_vs_cmsis_nn_element_weighted"] = _ratio(
                    ps["element_weighted_instructions"], pc["element_weighted_instructions"])
            if r["prepared"]:  # FC with masks decoded at prepare time (the caller's choice)
                rec.update(sbtf_prepared_instructions=r["prepared"],
                           sbtf_prepare_instructions=r["prepare"],
                           sbtf_prepared_persistent_bytes=r["persistent"],
                           ratio_prepared_vs_cmsis_nn=_ratio(r["prepared"], cmsis_n))
            rec["weight_compression"] = round(rec["int8_weight_bytes"] / rec["sbtf_weight_bytes"], 2)
            records.append(rec)
    code_sizes["mps2-an386 (portable)"] = _code_size("mps2-an386", args.opt, workdir,
                                                     defines=["SBTF_FORCE_PORTABLE"], tag="-portable")
    for rec in records:
        rec["sbtf_kernel_code_bytes"] = code_sizes[f"{rec['board']} ({rec['kernel_path']})"]
        rec["portable_kernel_code_bytes"] = code_sizes["mps2-an386 (portable)"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(records, indent=1))
    _print(records, code_sizes, args)
    return 0


def _shape(layer):
    """(C_out, K) of a bench layer, for weight storage (micro/tests/bench_layers.h)."""
    base = DENSITY.match(layer)
    name = base[1] if base else layer
    return {"L1": (16, 144), "L2": (32, 144), "L3": (32, 288), "L4": (64, 288), "L5": (64, 576),
            "FC": (64, 256), "PW": (64, 64), "S2": (64, 576), "WIDE": (256, 256),
            "RGB": (16, 27)}[name]


def _f(v, fmt):
    return format(v, fmt) if v is not None else "-".rjust(int(re.match(r">(\d+)", fmt)[1]))


def _print(records, code_sizes, args):
    print(f"sbtf kernels, {args.opt}, instructions counted exactly (SysTick, -icount shift=0); "
          "CMSIS-NN measured the same way (anchor = shared/anchors figure); on Helium also "
          "gathers/scatters and the element-weighted ratio")
    hdr = (f"{'board':<11} {'layer':<6} {'nz%':>3} {'sbtf instr':>10} {'instr/MAC':>9} "
           f"{'CMSIS-NN':>9} {'anchor':>9} {'vs CMSIS':>8} {'gathers':>7} {'vs CMSIS ew':>11} "
           f"{'int8 ref':>10} {'vs ref':>6} {'weights B':>9} {'int8 B':>6} {'scratch':>7} "
           f"{'same':>4} {'bad':>3}")
    print(hdr)
    print("-" * len(hdr))
    for r in records:
        same = {True: "yes", False: "NO", None: "-"}[r["outputs_agree_with_cmsis_nn"]]
        print(f"{r['board']:<11} {r['layer']:<6} {r['nonzero_percent']:>3} "
              f"{r['sbtf_instructions']:>10} {r['sbtf_instructions_per_mac']:>9.3f} "
              f"{_f(r['cmsis_nn_instructions'], '>9')} "
              f"{_f(r['cmsis_nn_anchor_instructions'], '>9')} "
              f"{_f(r['ratio_vs_cmsis_nn'], '>8.3f')} "
              f"{_f(r.get('sbtf_gather_scatter_instructions'), '>7')} "
              f"{_f(r.get('ratio_vs_cmsis_nn_element_weighted'), '>11.3f')} "
              f"{r['int8_reference_instructions']:>10} {r['ratio_vs_int8_reference']:>6.3f} "
              f"{r['sbtf_weight_bytes']:>9} {r['int8_weight_bytes']:>6} "
              f"{r['sbtf_scratch_bytes']:>7} {same:>4} {r['outputs_mismatching_int8_reference']:>3}")
        if r.get("sbtf_prepared_instructions"):
            print(f"{'':<11} {'+prep':<6} {'':>3} {r['sbtf_prepared_instructions']:>10} "
                  f"{'':>9} {'':>9} {'':>9} {_f(r['ratio_prepared_vs_cmsis_nn'], '>8.3f')}   "
                  f"masks decoded at prepare time: prepare {r['sbtf_prepare_instructions']} "
                  f"instructions once, {r['sbtf_prepared_persistent_bytes']} B persistent")
    print("kernel code size (text+data of micro/src objects): " +
          ", ".join(f"{k} {v} B" for k, v in code_sizes.items()))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
