"""Whole models: sbtf's runtime beside TensorFlow Lite Micro + CMSIS-NN, on M4, M7 and M55.

For ResNet-8 (= MLPerf Tiny IC), the digits CNN and the MLPerf Tiny-shaped KWS DS-CNN, VWW
MobileNetV1-0.25 and AD autoencoder (sbtf.mlperf_tiny; random weights, random calibration),
each converted by the project's converter into a signed-binary model and its int8 twin, on
mps2-an386 (M4), mps2-an500 (M7) and mps3-an547 (M55), one inference of one random input:

  (a) tflm-int8   TFLM + CMSIS-NN, int8 twin (what users run today; the ratios' baseline)
  (b) tflm-sb     TFLM + CMSIS-NN + sbtf's ops, signed-binary model
  (c) sbtf-sb     sbtf's ahead-of-time runtime, signed-binary model
  (d) sbtf-int8   sbtf's runtime, int8 twin

Instructions per inference (exact: SysTick under QEMU -icount shift=0), ratio to (a), flash,
RAM (.data + .bss + reserved stack; TFLM's image is linked with exactly its arena_used_bytes),
arena, whether the outputs equal sbtf.Interpreter's on the host, and instructions per operator
(TFLM: its MicroProfiler around each invoke; sbtf: a counter after each operator). Needs the
third-party trees (SBTF_THIRD_PARTY, micro/tflm/README.md). Prints a table, writes
build/bench/tflm.json. Figures, no asserts.

--gathers (Helium board only, slow: QEMU's exec log): QEMU counts an MVE gather/scatter as one
instruction, a Cortex-M55 moves one element per beat. Each configuration's image is run again
with every executed instruction traced by address over the span SysTick counts (from entering
sbtf_counter_start to entering sbtf_counter_read around the first inference;
profile_kernels.trace), and each gather/scatter is counted as its elements
(profile_kernels.element_weighted): traced and SysTick counts side by side, gathers executed,
element-weighted instructions and their ratio to (a)'s element-weighted count.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import profile_kernels

BOARDS = ["mps2-an386", "mps2-an500", "mps3-an547"]
CONFIGS = [("tflm-int8", "tflm", "int8"), ("tflm-sb", "tflm", "sb"), ("sbtf-sb", "sbtf", "sb"),
           ("sbtf-int8", "sbtf", "int8")]
OUT = Path("build/bench")


def _models(only=None):
    """(name, signed-binary tflite, int8 tflite, one int8 input)."""
    import tensorflow as tf

    import sbtf
    from sbtf import mlperf_tiny
    from sbtf.converters import convert_with_report

    builders = {"resnet8": mlperf_tiny.ic_resnet8, "digits_cnn": sbtf.models.digits_cnn,
                "kws_ds_cnn": mlperf_tiny.kws_ds_cnn,
                "vww_mobilenet_v1": mlperf_tiny.vww_mobilenet_v1,
                "ad_autoencoder": mlperf_tiny.ad_autoencoder}
    shapes = {**mlperf_tiny.INPUT_SHAPES, "resnet8": (32, 32, 3), "digits_cnn": (8, 8, 1)}
    for name, build in builders.items():
        if only and name not in only:
            continue
        tf.keras.utils.set_random_seed(0)
        rng = np.random.default_rng(0)
        calib = rng.uniform(0, 1, size=(32, *shapes[name])).astype(np.float32)
        r = convert_with_report(build(), representative_data=calib)
        x = rng.integers(-128, 128, size=(1, *shapes[name])).astype(np.int8)
        yield name, r.tflite, r.int8_tflite, x


def _host_reference(tflite: bytes, x: np.ndarray) -> np.ndarray:
    import sbtf

    it = sbtf.Interpreter(model_content=tflite)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x.reshape(it.get_input_details()[0]["shape"]))
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


def _element_weighted(board, elf, outputs) -> dict:
    """Trace the first inference of `elf` (the span SysTick counts) and count its gathers."""
    from sbtf.micro import runtime

    counts, stdout = profile_kernels.trace(board, elf, begin="sbtf_counter_start",
                                           end="sbtf_counter_read")
    traced = runtime.parse_output(stdout, 1, (outputs[0].size,), board)
    if not np.array_equal(traced[0].reshape(-1), outputs[0].reshape(-1)):
        raise RuntimeError(f"{board}: the traced run's output differs from the counted run's")
    return {"systick_instructions": traced[1][0],
            **profile_kernels.element_weighted(board, elf, counts[0])}


def _fmt(n) -> str:
    return "—" if n is None else f"{n:,}"


def main(argv=None) -> None:
    import argparse

    from sbtf.micro import boards, compare, tflm

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", help="a subset of the models (default: all)")
    parser.add_argument("--boards", nargs="*", default=BOARDS, choices=BOARDS)
    parser.add_argument("--configs", nargs="*", default=[c for c, _, _ in CONFIGS],
                        choices=[c for c, _, _ in CONFIGS], help="a subset of (a)-(d)")
    parser.add_argument("--gathers", action="store_true",
                        help="on Helium boards also count each MVE gather/scatter as its elements "
                             "(traces one inference; slow)")
    parser.add_argument("--markdown", action="store_true",
                        help="print build/bench/tflm.json as docs/runtime.md's table, run nothing")
    args = parser.parse_args(argv)
    if args.markdown:
        _markdown(json.loads((OUT / "tflm.json").read_text())["rows"])
        return

    why = tflm.missing()
    if why:
        print(f"bench_tflm: skipped: {why}")
        return
    start = time.monotonic()
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, sb, int8, x in _models(args.models):
        models = {"sb": sb, "int8": int8}
        expected = {k: _host_reference(m, x) for k, m in models.items()}
        for board in args.boards:
            for config, runtime, variant in (c for c in CONFIGS if c[0] in args.configs):
                t0 = time.monotonic()
                work = OUT / "tflm" / f"{name}-{config}-{board}"
                row = {"model": name, "board": board, "config": config}
                try:
                    run = compare.run_tflm if runtime == "tflm" else compare.run_sbtf
                    r = run(models[variant], board, x, work)
                    row.update(r.row())
                    row["bit_exact_with_host"] = bool(
                        np.array_equal(r.outputs.reshape(-1), expected[variant].reshape(-1)))
                except (ValueError, RuntimeError, OSError) as exc:  # reported, not fatal
                    row["error"] = str(exc).splitlines()[0][:300]
                if args.gathers and boards.get(board).isa == "mve" and "error" not in row:
                    try:
                        row["gathers"] = _element_weighted(board, r.elf, r.outputs)
                    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                        row["gathers_error"] = str(exc).splitlines()[0][:300]
                row["seconds"] = round(time.monotonic() - t0, 1)
                rows.append(row)
                print(f"  {name} {board} {config}: {_fmt(row.get('instructions'))} "
                      f"({row['seconds']} s){' ERROR ' + row['error'] if 'error' in row else ''}"
                      f"{' GATHERS NOT COUNTED ' + row['gathers_error'] if 'gathers_error' in row else ''}",
                      file=sys.stderr, flush=True)
    _print(rows)
    wall = round(time.monotonic() - start)
    path = OUT / "tflm.json"
    path.write_text(json.dumps({"inputs": 1, "wall_seconds": wall, "rows": rows}, indent=1))
    print(f"wrote {path} ({wall} s)")


def _print(rows) -> None:
    base = {(r["model"], r["board"]): r.get("instructions") for r in rows
            if r["config"] == "tflm-int8"}
    header = (f"{'model':<17} {'board':<11} {'config':<10} {'instr/inference':>15} {'vs (a)':>7} "
              f"{'flash B':>9} {'RAM B':>9} {'arena B':>8}  bit-exact")
    print(header)
    print("-" * len(header))
    for r in rows:
        b, n = base.get((r["model"], r["board"])), r.get("instructions")
        r["ratio_to_tflm_int8"] = round(n / b, 3) if b and n else None
        ratio = f"{r['ratio_to_tflm_int8']:.2f}x" if r["ratio_to_tflm_int8"] else ""
        exact = ("yes" if r.get("bit_exact_with_host") else "NO") if "error" not in r else \
            "error: " + r["error"][:80]
        print(f"{r['model']:<17} {r['board']:<11} {r['config']:<10} {_fmt(n):>15} {ratio:>7} "
              f"{_fmt(r.get('flash_bytes')):>9} {_fmt(r.get('ram_bytes')):>9} "
              f"{_fmt(r.get('arena_bytes')):>8}  {exact}")
    _print_gathers(rows)
    print("\ninstructions per operator (one inference):")
    for r in rows:
        if r.get("per_op"):
            ops = ", ".join(f"{op} x{e['count']} {e['instructions']:,}"
                            for op, e in r["per_op"].items())
            print(f"  {r['model']} {r['board']} {r['config']}: {ops}")


def _print_gathers(rows) -> None:
    """The --gathers figures: plain (traced, and SysTick) and element-weighted, ratios to (a)."""
    rows = [r for r in rows if r.get("gathers")]
    if not rows:
        return
    base = {(r["model"], r["board"]): r["gathers"] for r in rows if r["config"] == "tflm-int8"}
    print("\nMVE gathers/scatters counted as their elements (one inference, traced):")
    header = (f"{'model':<17} {'board':<11} {'config':<10} {'traced':>11} {'SysTick':>11} "
              f"{'gathers':>9} {'elements':>10} {'elem-weighted':>13} {'vs (a)':>7} "
              f"{'e-w vs (a)':>10}")
    print(header)
    print("-" * len(header))
    for r in rows:
        g, b = r["gathers"], base.get((r["model"], r["board"]))
        if b:
            g["ratio_to_tflm_int8"] = round(g["instructions"] / b["instructions"], 3)
            g["element_weighted_ratio_to_tflm_int8"] = round(
                g["element_weighted_instructions"] / b["element_weighted_instructions"], 3)
        ratios = (f"{g['ratio_to_tflm_int8']:>6.3f}x {g['element_weighted_ratio_to_tflm_int8']:>9.3f}x"
                  if b else "")
        print(f"{r['model']:<17} {r['board']:<11} {r['config']:<10} {_fmt(g['instructions']):>11} "
              f"{_fmt(g['systick_instructions']):>11} {_fmt(g['gather_scatter_instructions']):>9} "
              f"{_fmt(g['gather_scatter_elements']):>10} "
              f"{_fmt(g['element_weighted_instructions']):>13} {ratios}")


def cell(r: dict, memory: bool = True) -> str:
    """One row of tflm.json as a Markdown table cell: instructions (ratio to (a)), with `memory`
    also flash / RAM / arena in KiB; "≠" where the outputs differ from the host's."""
    if "error" in r:
        return "does not fit / failed"
    ratio = r.get("ratio_to_tflm_int8")
    text = f"{r['instructions'] / 1e6:.2f} M" + (f" ({ratio:.2f}×)" if ratio else "")
    if memory:
        text += (f"<br>{r['flash_bytes'] // 1024} / {r['ram_bytes'] // 1024} / "
                 f"{r['arena_bytes'] // 1024} KiB")
    return text + ("" if r["bit_exact_with_host"] else " ≠")


def _markdown(rows) -> None:
    print("| model | board | (a) TFLM + CMSIS-NN, int8 | (b) TFLM + CMSIS-NN + sbtf ops | "
          "(c) sbtf runtime, signed-binary | (d) sbtf runtime, int8 |")
    print("|---|---|---|---|---|---|")
    cells: dict = {}
    for r in rows:
        cells.setdefault((r["model"], r["board"]), {})[r["config"]] = cell(r)
    for (model, board), c in cells.items():
        print(f"| {model} | {board} | " + " | ".join(c.get(k, "") for k, _, _ in CONFIGS) + " |")


if __name__ == "__main__":
    main()
