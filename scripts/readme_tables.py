"""Print the README's result tables (Markdown) from the JSON that `make bench` and `make demo` write.

    make demo bench && .venv/bin/python scripts/readme_tables.py

Sections: whole (sbtf beside TFLite Micro + CMSIS-NN), demo, kernels, models, host. Missing JSON files are named, not invented.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

BENCH = Path("build/bench")
DEMO = Path("build/demo/demo.json")


def load(path: Path):
    if not path.is_file():
        sys.exit(f"readme_tables: {path} is missing: run `make bench` and `make demo` first")
    return json.loads(path.read_text())


def table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def n(x) -> str:
    return f"{x:,}".replace(",", " ")


def whole() -> str:
    """Whole models, instructions per inference: sbtf's runtime and TFLM's, ratio to TFLM +
    CMSIS-NN on the int8 twin (bench/bench_tflm.py)."""
    rows = load(BENCH / "tflm.json")["rows"]
    names = {"tflm-int8": "(a) TFLM + CMSIS-NN, int8 twin", "tflm-sb": "(b) TFLM + CMSIS-NN + sbtf ops",
             "sbtf-sb": "(c) sbtf runtime, signed-binary", "sbtf-int8": "(d) sbtf runtime, int8 twin"}
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from bench_tflm import cell

    cells: dict = {}
    for r in rows:
        cells.setdefault(r["model"], {}).setdefault(r["board"], {})[r["config"]] = cell(r, False)
    boards = sorted({r["board"] for r in rows})
    out = []
    for model, by_board in cells.items():
        out.append((f"**{model}**", *[""] * len(boards)))
        for cfg, label in names.items():
            out.append((label, *[by_board.get(b, {}).get(cfg, "") for b in boards]))
    return table(("runtime", *boards), out)


def demo() -> str:
    d = load(DEMO)
    rows = [
        (board, f"{b['accuracy']:.4f}", "yes" if b["bit_exact_with_host"] else "NO",
         f"{n(b['instructions'])} vs {n(b['int8_instructions'])}",
         f"{n(b['flash'])} vs {n(b['int8_flash'])}", f"{n(b['ram'])} vs {n(b['int8_ram'])}")
        for board, b in d["boards"].items()
    ]
    head = (f"Keras accuracy {d['keras_accuracy']:.4f}, host int8 (TFLite + sbtf delegate) "
            f"{d['host_int8_accuracy']:.4f}; {d['sparsity']:.1%} of the signed-binary weights are "
            f"zero; {d['seconds']:.0f} s from the start of training to the last board run. Each "
            "`a vs b`: signed-binary vs the same model with plain int8 weights through the same "
            "runtime.\n\n")
    return head + table(("board", "accuracy", "bit-exact with host", "instructions / inference",
                         "flash B", "RAM B"), rows)


def kernels() -> str:
    recs = [r for r in load(BENCH / "kernels.json") if r.get("nonzero_percent", 35) == 35]
    rows = []
    for r in recs:
        cmsis = r.get("cmsis_nn_instructions")
        rows.append((r["board"], r["layer"], r["kernel_path"], n(r["sbtf_instructions"]),
                     f"{r['sbtf_instructions_per_mac']:.2f}", n(cmsis) if cmsis else "-",
                     f"{r['ratio_vs_cmsis_nn']:.2f}×" if cmsis else "-",
                     f"{r['ratio_vs_cmsis_nn_element_weighted']:.2f}×"
                     if r.get("ratio_vs_cmsis_nn_element_weighted") else "-",
                     f"{r['ratio_vs_int8_reference']:.2f}×",
                     f"{r['sbtf_weight_bytes']} / {r['int8_weight_bytes']} ({r['weight_compression']:.2f}×)"))
    code = sorted({(r["board"], r["sbtf_kernel_code_bytes"]) for r in recs})
    foot = "\n\nKernel code size: " + ", ".join(f"{b} {c} B" for b, c in code) + "."
    prep = [r for r in recs if r.get("sbtf_prepared_persistent_bytes")]
    if prep:
        foot += " FC with masks decoded at prepare time (the caller's choice): " + ", ".join(
            f"{r['board']} {n(r['sbtf_prepared_instructions'])} "
            f"({r['ratio_prepared_vs_cmsis_nn']:.2f}×, {r['sbtf_prepared_persistent_bytes']} B "
            f"persistent, prepare {n(r['sbtf_prepare_instructions'])} once)" for r in prep) + "."
    return table(("board", "layer", "path", "sbtf instructions", "per MAC", "CMSIS-NN",
                  "vs CMSIS-NN", "vs CMSIS-NN element-weighted", "vs plain int8 C",
                  "weight bytes sbtf / int8"), rows) + foot


def models() -> str:
    d = load(BENCH / "models.json")
    rows = [
        (r["model"], r["weights"], r["board"], n(r["instructions"]),
         f"{r['speedup_vs_int8']:.2f}×" if r["weights"] != "int8" else "",
         n(r["flash_bytes"]), n(r["ram_bytes"]), n(r["arena_bytes"]),
         "yes" if r["fits"] else f"no: {r['overflow']}")
        for r in d["rows"]
    ]
    return table(("model", "weights", "board", "instructions / inference", "fewer than int8",
                  "flash B", "RAM B", "arena B", "fits the board"), rows)


def host() -> str:
    c = load(BENCH / "convert.json")
    conv = table(("model", "sbtf-convert s", "sbtf ops / conv+FC ops", "weights int8 → sbtf B",
                  "file int8 → sbtf B"),
                 [(r["model"], f"{r['convert_s']:.1f}", f"{r['sbtf_ops']} / {r['conv_fc_ops']}",
                   f"{n(r['weight_bytes_int8'])} → {n(r['weight_bytes_sbtf'])}",
                   f"{n(r['file_bytes_int8'])} → {n(r['file_bytes_sbtf'])}") for r in c["rows"]])
    d = load(BENCH / "delegate.json")
    dele = table(("model", "int8 twin, reference kernels ms", "sbtf.Interpreter ms",
                  "outputs differing from the twin"),
                 [(r["model"], f"{r['int8_ref_ms']:.2f}", f"{r['sbtf_ref_ms']:.2f}",
                   r["outputs_differing_from_ref_twin"]) for r in d["results"]])
    t = load(BENCH / "training.json")
    s = t["seconds_per_step"]
    train = (f"Training step, ResNet-8, batch {t['batch_size']} ({t['seconds_per_step_statistic']}): "
             f"signed-binary {s['signed_binary'] * 1000:.0f} ms, larq ste_sign "
             f"{s['ste_sign'] * 1000:.0f} ms, float {s['float'] * 1000:.0f} ms; signed-binary / "
             f"ste_sign = {t['ratio_signed_binary_vs_ste_sign']:.2f}.")
    return conv + "\n\n" + dele + "\n\n" + train


SECTIONS = {"whole": whole, "demo": demo, "kernels": kernels, "models": models, "host": host}

if __name__ == "__main__":
    for name in sys.argv[1:] or SECTIONS:
        print(f"<!-- {name} -->\n{SECTIONS[name]()}\n")
