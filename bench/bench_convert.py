"""Converter benchmark: wall time of sbtf-convert's steps and the size figures, per model.

The steps are `convert_with_report`'s, timed one by one on a cold process (the first model
also pays TensorFlow's warm-up, as a CLI run does). Prints a table and writes
build/bench/convert.json. Figures only, no asserts.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np

import sbtf  # first: sets TF_USE_LEGACY_KERAS before TensorFlow is imported  # isort: skip
import tensorflow as tf  # isort: skip
from sbtf.converters.convert import _calibration, _tflite_int8  # isort: skip
from sbtf.converters.prepare import prepare  # isort: skip
from sbtf.converters.reencode import reencode  # isort: skip

OUT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "build", "bench", "convert.json"
)
CALIBRATION_SAMPLES = 100


def _models():
    rng = np.random.default_rng(0)
    yield "resnet8", sbtf.models.resnet8(), rng.random(
        (CALIBRATION_SAMPLES, 32, 32, 3), dtype=np.float32
    )
    yield "digits_cnn", sbtf.models.digits_cnn(), rng.random(
        (CALIBRATION_SAMPLES, 8, 8, 1), dtype=np.float32
    )


def _bench(name, model, calib):
    t0 = time.perf_counter()
    prepared = prepare(model)
    t1 = time.perf_counter()
    dataset = _calibration(prepared.model, calib, False)
    int8 = _tflite_int8(prepared.model, dataset, tf.int8, tf.int8)
    t2 = time.perf_counter()
    tflite, rows, _ = reencode(
        int8,
        signed_binary_layers=prepared.signed_binary_layers,
        layer_names=prepared.layer_names,
        aliases=prepared.aliases,
        masks=prepared.masks,
        strict=True,
    )
    t3 = time.perf_counter()
    return {
        "model": name,
        "convert_s": round(t3 - t0, 3),
        "prepare_s": round(t1 - t0, 3),
        "tflite_converter_s": round(t2 - t1, 3),
        "reencode_s": round(t3 - t2, 3),
        "calibration_samples": len(calib),
        "sbtf_ops": sum(r.op != r.builtin for r in rows),
        "conv_fc_ops": len(rows),
        "weight_bytes_int8": sum(r.bytes_before for r in rows),
        "weight_bytes_sbtf": sum(r.bytes_after for r in rows),
        "file_bytes_int8": len(int8),
        "file_bytes_sbtf": len(tflite),
    }


def main():
    rows = [_bench(*m) for m in _models()]
    cols = list(rows[0])
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in cols]
    print(" | ".join(c.rjust(w) for c, w in zip(cols, widths)))
    print("-+-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(str(r[c]).rjust(w) for c, w in zip(cols, widths)))
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"benchmark": "convert", "cpu_count": os.cpu_count(), "rows": rows}, f, indent=2)
    print(f"wrote {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
