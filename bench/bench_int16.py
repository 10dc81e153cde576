"""16x8 models (int16 activations, int8 weights) beside their int8 twins in sbtf's runtime.

The MLPerf Tiny-shaped KWS and IC models (sbtf.mlperf_tiny, int8 weights, random-initialised,
seed 0), converted once 16x8 (hostref.int16x8_tflite) and once int8 (hostref.int8_tflite), on
Cortex-M4 (mps2-an386): instructions per inference (exact: SysTick under -icount shift=0, the
median over the batch), flash and arena. The 16x8 operators are portable C
(micro/runtime/sbtf_rt_int16.c); the int8 ones the optimized builtins. Writes
build/bench/int16.json. Figures, no asserts.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sbtf import mlperf_tiny
from sbtf.micro import hostref, runtime

BOARD = "mps2-an386"
MODELS = ["kws_ds_cnn", "ic_resnet8"]
N_INPUTS = 2


def main() -> None:
    import tensorflow as tf

    out_dir = Path("build/bench")
    rows = []
    for name in MODELS:
        tf.keras.utils.set_random_seed(0)
        model = mlperf_tiny.MODELS[name](signed_binary=False)
        calib = mlperf_tiny.calibration(name, n=16)
        rng = np.random.default_rng(1)
        size = (N_INPUTS, *mlperf_tiny.INPUT_SHAPES[name])
        variants = {
            "int8": (hostref.int8_tflite(model, calib),
                     rng.integers(-128, 128, size=size).astype(np.int8)),
            "16x8": (hostref.int16x8_tflite(model, calib),
                     rng.integers(-32768, 32768, size=size).astype(np.int16)),
        }
        for variant, (tflite, x) in variants.items():
            res = runtime.run_model(tflite, BOARD, x, timeout=900,
                                    out_dir=out_dir / "int16" / f"{name}-{variant}")
            rows.append({"model": name, "activations": variant, "board": BOARD,
                         "instructions": res.instructions_per_inference,
                         "flash_bytes": res.memory.flash, "arena_bytes": res.memory.arena})
    print(f"{'model':<11} {'activations':<12} {'instr/inference':>16} {'vs int8':>8} "
          f"{'flash B':>9} {'arena B':>8}")
    for r in rows:
        base = next(b for b in rows if b["model"] == r["model"] and b["activations"] == "int8")
        r["ratio_to_int8"] = round(r["instructions"] / base["instructions"], 3)
        print(f"{r['model']:<11} {r['activations']:<12} {r['instructions']:>16,} "
              f"{r['ratio_to_int8']:>7.2f}x {r['flash_bytes']:>9,} {r['arena_bytes']:>8,}")
    path = out_dir / "int16.json"
    path.write_text(json.dumps({"board": BOARD, "n_inputs": N_INPUTS, "rows": rows}, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
