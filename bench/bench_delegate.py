"""Host inference time: sbtf.Interpreter (sbtf's C kernels via the delegate) vs the int8 twin.

    .venv/bin/python bench/bench_delegate.py [--runs 200]

Converts MLPerf Tiny's ResNet-8 (signed-binary block convs, untrained weights: timing does not
depend on their values) and the digits CNN with sbtf's converter, then times one-image
inference (median of --runs invokes after warm-up, one thread) of
  - the sbtf model with sbtf.Interpreter (default BUILTIN_REF builtins, and optimized builtins),
  - the plain int8 twin with TFLite's reference and optimized builtin kernels.
Also counts outputs that differ between the sbtf model and the BUILTIN_REF twin (expected 0).
Prints a table and writes build/bench/delegate.json. Figures, no asserts.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import sbtf  # first: sets TF_USE_LEGACY_KERAS before TensorFlow loads

# isort: split
import numpy as np
import tensorflow as tf

from sbtf.converters import convert_with_report

ROOT = Path(__file__).resolve().parents[1]
RESOLVERS = {
    "ref": tf.lite.experimental.OpResolverType.BUILTIN_REF,
    "optimized": tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
}


def _time(interp, x, runs):
    detail = interp.get_input_details()[0]
    interp.allocate_tensors()
    for _ in range(5):
        interp.set_tensor(detail["index"], x)
        interp.invoke()
    times = []
    for _ in range(runs):
        interp.set_tensor(detail["index"], x)
        start = time.perf_counter()
        interp.invoke()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def _outputs(interp, xs):
    detail = interp.get_input_details()[0]
    interp.allocate_tensors()
    out = []
    for x in xs:
        interp.set_tensor(detail["index"], x)
        interp.invoke()
        out.append(interp.get_tensor(interp.get_output_details()[0]["index"]).copy())
    return np.stack(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    models = {
        "resnet8": sbtf.models.resnet8(),
        "digits_cnn": sbtf.models.digits_cnn(),
    }
    rows = []
    for name, model in models.items():
        shape = model.input_shape[1:]
        data = rng.normal(0, 1, (32, *shape)).astype(np.float32)
        result = convert_with_report(model, representative_data=data)
        xs = [rng.integers(-128, 128, (1, *shape), dtype=np.int8) for _ in range(20)]
        row = {"model": name, "sbtf_ops": len(result.report.reencoded),
               "file_bytes_int8": len(result.int8_tflite), "file_bytes_sbtf": len(result.tflite)}
        for label, resolver in RESOLVERS.items():
            twin = tf.lite.Interpreter(model_content=result.int8_tflite, num_threads=1,
                                       experimental_op_resolver_type=resolver)
            ours = sbtf.Interpreter(model_content=result.tflite, num_threads=1,
                                    experimental_op_resolver_type=resolver)
            row[f"int8_{label}_ms"] = _time(twin, xs[0], args.runs)
            row[f"sbtf_{label}_ms"] = _time(ours, xs[0], args.runs)
            if label == "ref":
                row["outputs_differing_from_ref_twin"] = int(
                    (_outputs(ours, xs) != _outputs(twin, xs)).sum())
        rows.append(row)

    header = (f"{'model':<11} {'sbtf ops':>8} {'int8 ref':>9} {'sbtf ref':>9} "
              f"{'int8 opt':>9} {'sbtf opt':>9} {'diff vs ref twin':>16}")
    print("median ms per inference, 1 thread (ref: BUILTIN_REF builtins, opt: optimized)")
    print(header)
    for r in rows:
        print(f"{r['model']:<11} {r['sbtf_ops']:>8} {r['int8_ref_ms']:>9.3f} {r['sbtf_ref_ms']:>9.3f} "
              f"{r['int8_optimized_ms']:>9.3f} {r['sbtf_optimized_ms']:>9.3f} "
              f"{r['outputs_differing_from_ref_twin']:>16}")
    out = ROOT / "build" / "bench" / "delegate.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"runs": args.runs, "results": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
