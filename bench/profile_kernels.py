"""Instruction-address profile of sbtf's kernels under QEMU: where each layer's instructions go.

    .venv/bin/python bench/profile_kernels.py [--board mps3-an547] [--layers L1,L5] [--top 20]

Builds micro/tests/bench_kernels.c without the int8 reference (-DBENCH_NO_REFERENCE) and runs it
under qemu-system-arm with `-icount shift=0 -d in_asm,exec,nochain`: QEMU logs every
translation block it translates (with its instruction addresses) and every block it executes,
so each executed guest instruction is counted at its address (no sampling). The span of one
layer is the sbtf call between bench_region_begin() and bench_region_end(); its total matches
the SysTick count of bench_kernels.py up to the counter's own calls (printed side by side).
Each address is attributed to the innermost source function (addr2line -i, inlined helpers
included) and disassembled (objdump): the profile lists instructions per function, the
MVE gathers/scatters executed and the element-weighted count (QEMU counts a gather or scatter
as one instruction; a Cortex-M55 moves one element per beat, so each counts as its element
count there). Writes build/bench/profile_<board>.json. Figures, no asserts.
"""
from __future__ import annotations

import argparse
import bisect
import functools
import json
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from sbtf.micro import boards, build, qemu, source_dir

ROOT = Path(__file__).resolve().parents[1]
TESTS = source_dir() / "tests"
# An MVE load/store whose address has a Q register: gather (VLDR) or scatter (VSTR).
GATHER = re.compile(r"^v(ldr|str)[bhwd][te]?\.[a-z]*(\d+)\s+q\d+,\s*\[[^\]]*\bq\d+")


def build_profile_elf(board, opt, workdir) -> Path:
    return build.build_elf(board, [TESTS / "bench_kernels.c", TESTS / "int8_reference.c",
                                   *build.kernel_sources()],
                           include_dirs=[TESTS], defines=["BENCH_NO_REFERENCE"], opt=opt,
                           out=Path(workdir) / f"profile_{board}.elf")


def _symbols(elf) -> dict[str, int]:
    out = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True,
                         check=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "tT":
            syms[parts[2]] = int(parts[0], 16) & ~1
    return syms


def trace(board, elf, timeout=900, begin="bench_region_begin", end="bench_region_end"):
    """Per region (from entering function `begin` to entering `end`), Counter of executed
    instruction addresses; and the stdout."""
    syms = _symbols(elf)
    begin, end = syms[begin], syms[end]
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "exec.log"
        cmd = qemu.qemu_command(board, elf, icount=True) + [
            "-d", "in_asm,exec,nochain", "-D", str(log)]
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, start_new_session=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{board}: profile run failed (exit {proc.returncode}): "
                               f"{(proc.stdout + proc.stderr)[-2000:]}")
        # A block is (first, last) guest address of its instructions as in_asm lists them (QEMU's
        # disassembler splits MVE instructions it cannot decode into halfwords, so the
        # instruction boundaries come from objdump later).
        blocks: dict[str, tuple[int, int]] = {}  # host code pointer -> block
        by_pc: dict[int, tuple[int, int]] = {}
        pending: list[int] | None = None
        translated: tuple[int, int] | None = None
        regions: list[Counter] = []
        active = None
        last = None  # (region, block) of the last block counted, for QEMU's corrections
        with open(log, errors="replace") as f:
            for line in f:
                if line.startswith("Trace "):
                    ptr = line.split()[2]
                    pc = int(line[line.index("[") + 1:].split("/")[1], 16)
                    if translated is not None and translated[0] == pc:
                        blocks[ptr] = by_pc[pc] = translated  # first run after translation
                        translated = None
                    last = None
                    if pc == begin:
                        active = Counter()
                        regions.append(active)
                    elif pc == end:
                        active = None
                    elif active is not None:
                        last = (active, blocks.get(ptr) or by_pc[pc])
                        active[last[1]] += 1
                elif line.startswith("Stopped execution of TB chain") and last:
                    # -icount: the budget ran out before the logged block ran; it runs later
                    last[0][last[1]] -= 1
                    last = None
                elif line.startswith("cpu_io_recompile: rewound execution of TB to") and last:
                    # -icount: a device access mid-block; from it on, the block runs again later
                    at = int(line.split()[-1], 16)
                    last[0][(at, last[1][1])] -= 1
                    last = None
                elif line.startswith("IN:"):
                    pending = []
                elif pending is not None:
                    if line.startswith("0x"):
                        pending.append(int(line.split(":")[0], 16))
                    elif not line.strip():
                        translated, pending = (pending[0], pending[-1]), None
    starts = sorted(_disassembly(board, elf))
    counts = []
    for region in regions:
        c = Counter()
        for (first, last), n in region.items():
            for a in starts[bisect.bisect_left(starts, first):bisect.bisect_right(starts, last)]:
                c[a] += n
        counts.append(c)
    return counts, proc.stdout


# Harness code inside a profiled span (the counter calls around the kernel), left out.
HARNESS = ("sbtf_counter_", "run_layer", "SysTick_Handler", "main")


def _functions(elf, addrs) -> dict[int, tuple[str, str]]:
    """address -> (function, outermost function): the innermost source function of the DWARF
    inline chain that is not a compiler intrinsic (__arm_*), and the function it was inlined
    into; for code without debug info (newlib) the enclosing symbol."""
    addrs = sorted(addrs)
    out = subprocess.run(["arm-none-eabi-addr2line", "-a", "-f", "-i", "-e", str(elf),
                          *(hex(a) for a in addrs)], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    chains, i = {}, 0
    while i < len(out):
        addr = int(out[i], 16)
        i += 1
        names = []
        while i < len(out) and not out[i].startswith("0x"):
            names.append(out[i])
            i += 2
        chains[addr] = names
    syms = sorted((a, n) for n, a in _symbols(elf).items())
    result = {}
    for a, names in chains.items():
        names = [n for n in names if n != "??"]
        if not names:
            name = max(((s, n) for s, n in syms if s <= a), default=(0, "??"))[1]
            names = [name]
        inner = next((n for n in names if not n.startswith("__arm_")), names[-1])
        result[a] = (inner, names[-1])
    return result


@functools.cache
def _disassembly(board, elf) -> dict[int, str]:
    """address -> instruction text (MVE needs the architecture named: not taken from the ELF)."""
    arch = ["-marmv8.1-m.main"] if boards.get(board).isa == "mve" else []
    out = subprocess.run(["arm-none-eabi-objdump", "-d", "--no-show-raw-insn", *arch, str(elf)],
                         capture_output=True, text=True, check=True).stdout
    insns = {}
    for line in out.splitlines():
        m = re.match(r"\s*([0-9a-f]+):\s+(.*)", line)
        if m and not m[2].startswith((".word", ".short")):
            insns[int(m[1], 16)] = m[2].split(";")[0].split("@")[0].strip()
    return insns


def gather_elements(asm: str) -> int:
    """Elements a gather/scatter moves (0 when asm is neither): 128 bits / element width."""
    m = GATHER.match(asm)
    return 128 // int(m[2]) if m else 0


def element_weighted(board, elf, counts: Counter) -> dict:
    """Instructions executed (`counts`: address -> executions, from trace), the MVE
    gathers/scatters among them, the elements those move, and the element-weighted count: each
    gather/scatter counted as its element count (a Cortex-M55 moves one element per beat)."""
    asm = _disassembly(board, elf)
    gathers = elements = 0
    for a, n in counts.items():
        e = gather_elements(asm.get(a, ""))
        if e:
            gathers += n
            elements += n * e
    total = sum(counts.values())
    return {"instructions": total, "gather_scatter_instructions": gathers,
            "gather_scatter_elements": elements,
            "element_weighted_instructions": total - gathers + elements}


def summarize(board, elf, counts: Counter) -> dict:
    funcs = _functions(elf, counts)
    kernel = Counter({a: n for a, n in counts.items() if not funcs[a][1].startswith(HARNESS)})
    by_function = Counter()
    for a, n in kernel.items():
        by_function[funcs[a][0]] += n
    return {**element_weighted(board, elf, kernel), "by_function": dict(by_function.most_common())}


def hot_addresses(board, elf, counts: Counter, top: int):
    funcs, asm = _functions(elf, counts), _disassembly(board, elf)
    return [(a, n, funcs[a][0], asm.get(a, "?")) for a, n in counts.most_common(top)]


def profile(board, opt="-O2", workdir=None, elf=None):
    """ELF and {layer: (SysTick count, Counter of addresses)} for every bracketed call of a
    bench program (default: bench_kernels.c's sbtf calls) on `board`."""
    workdir = Path(workdir or ROOT / "build" / "bench" / "profile")
    workdir.mkdir(parents=True, exist_ok=True)
    elf = elf or build_profile_elf(board, opt, workdir)
    counts, stdout = trace(board, elf)
    layers = re.findall(r"(?:BENCH|CMSIS) layer=(\w+) (?:sbtf|instructions)=(\d+)", stdout)
    if len(layers) != len(counts):
        raise RuntimeError(f"{board}: {len(counts)} profiled calls for {len(layers)} layers")
    return elf, {name: (int(systick), c) for (name, systick), c in zip(layers, counts)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", default="mps3-an547")
    ap.add_argument("--opt", default="-O2")
    ap.add_argument("--layers", default="L1,L5", help="comma-separated, or 'all'")
    ap.add_argument("--top", type=int, default=0, help="also list the N hottest addresses")
    args = ap.parse_args(argv)
    elf, layers = profile(args.board, args.opt)
    wanted = list(layers) if args.layers == "all" else args.layers.split(",")
    report = {}
    for name in wanted:
        systick, counts = layers[name]
        s = summarize(args.board, elf, counts)
        report[name] = {"systick_instructions": systick, **s}
        print(f"== {args.board} {name}: {s['instructions']} instructions profiled "
              f"(SysTick {systick}), gathers/scatters {s['gather_scatter_instructions']} moving "
              f"{s['gather_scatter_elements']} elements, element-weighted "
              f"{s['element_weighted_instructions']}")
        for fn, n in s["by_function"].items():
            if n * 200 >= s["instructions"]:  # >= 0.5 %
                print(f"   {n:>9} {100 * n / s['instructions']:5.1f} %  {fn}")
        for a, n, fn, text in hot_addresses(args.board, elf, counts, args.top):
            print(f"   {a:08x} {n:>8}  {fn:<24} {text}")
    out = ROOT / "build" / "bench" / f"profile_{args.board}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
