"""Whole models on the simulated boards through sbtf's ahead-of-time runtime.

For the signed-binary ResNet-8 (MLPerf Tiny layout, random-initialised) and the trained digits
CNN, and for each one's plain int8 twin from the converter (same calibration, builtin int8 convs),
on every QEMU board: instructions per inference (exact: SysTick under -icount shift=0, one
inference, the median over the batch), flash (text + rodata + data init) and RAM (.data + .bss,
which holds the arena and the kernels' scratch, + the reserved stack). The int8 operators run
the runtime's optimized builtins (micro/runtime; per operator against CMSIS-NN in
bench_builtins.py). Prints a table; writes build/bench/models.json. Figures, no asserts.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

import sbtf
from sbtf.converters import convert_with_report
from sbtf.micro import hostref, runtime

BOARDS = ["mps2-an386", "mps2-an500", "mps3-an547", "netduinoplus2"]
N_INPUTS = 2


def resnet8():
    """The random-initialised ResNet-8 (seed 0), converted: (report, N_INPUTS random inputs)."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    resnet = sbtf.models.resnet8()
    calib = np.random.default_rng(0).uniform(0, 1, size=(32, 32, 32, 3)).astype(np.float32)
    r = convert_with_report(resnet, representative_data=calib)
    rng = np.random.default_rng(1)
    return r, rng.integers(-128, 128, size=(N_INPUTS, 32 * 32 * 3)).astype(np.int8)


def _models():
    from sbtf.data import load_digits_split

    r, x_resnet = resnet8()
    digits, _ = sbtf.models.train_digits_cnn(epochs=8)
    (x_train, _), (x_test, _) = load_digits_split()
    d = convert_with_report(digits, representative_data=x_train[:256])
    scale, zp = hostref.input_quantization(d.int8_tflite)
    x_digits = runtime.quantize_inputs(x_test[:N_INPUTS], scale, zp)
    return [
        ("resnet8", "signed-binary", r.tflite, x_resnet),
        ("resnet8", "int8", r.int8_tflite, x_resnet),
        ("digits_cnn", "signed-binary", d.tflite, x_digits),
        ("digits_cnn", "int8", d.int8_tflite, x_digits),
    ]


def main() -> None:
    out_dir = Path("build/bench")
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for model, variant, tflite, x in _models():
        for board in BOARDS:
            start = time.monotonic()
            res = runtime.run_model(tflite, board, x, timeout=600,
                                    out_dir=Path("build/bench/models") / f"{model}-{variant}-{board}")
            m = res.memory
            rows.append({
                "model": model, "weights": variant, "board": board,
                "instructions": res.instructions_per_inference,
                "flash_bytes": m.flash, "ram_bytes": m.ram, "arena_bytes": m.arena,
                "scratch_bytes": res.scratch_needed, "stack_reserved_bytes": m.stack,
                "stack_used_bytes": m.stack_used,
                "fits": m.fits(), "overflow": m.overflow_message(board),
                "seconds": round(time.monotonic() - start, 1),
            })
    by_key = {(r["model"], r["weights"], r["board"]): r for r in rows}
    header = (f"{'model':<11} {'weights':<13} {'board':<14} {'instr/inference':>16} {'vs int8':>8} "
              f"{'flash B':>9} {'RAM B':>8} {'arena B':>8} {'stack used':>10}  fits")
    print(header)
    print("-" * len(header))
    for r in rows:
        base = by_key[(r["model"], "int8", r["board"])]["instructions"]
        ratio = f"{base / r['instructions']:.2f}x" if r["weights"] != "int8" else ""
        r["speedup_vs_int8"] = round(base / r["instructions"], 3)
        print(f"{r['model']:<11} {r['weights']:<13} {r['board']:<14} {r['instructions']:>16,} "
              f"{ratio:>8} {r['flash_bytes']:>9,} {r['ram_bytes']:>8,} {r['arena_bytes']:>8,} "
              f"{r['stack_used_bytes'] or 0:>10,}  {'yes' if r['fits'] else 'NO: ' + r['overflow']}")
    path = out_dir / "models.json"
    path.write_text(json.dumps({"n_inputs": N_INPUTS, "rows": rows}, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
