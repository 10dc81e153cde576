"""Write the generated C of a fixed set of models, to diff code generation across commits.

    .venv/bin/python scripts/codegen_snapshot.py build/snap-a     # at one commit
    .venv/bin/python scripts/codegen_snapshot.py build/snap-b     # at another
    diff -r build/snap-a build/snap-b                             # empty: byte-identical C

The models: every test_runtime_ops case (each builtin operator), an int8 -> int8 QUANTIZE,
bench_tflm's ResNet-8, digits CNN, KWS, VWW and AD, signed-binary and int8 (random weights,
fixed seeds), and the 16x8 models: every test_runtime_int16 case and MLPerf Tiny's KWS and
ResNet-8 converted 16x8. Each gives <name>.c, <name>.h and <name>.txt (GeneratedModel.summary()).
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def models():
    """(name, tflite bytes) of every model in the snapshot."""
    sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "bench")]
    import bench_tflm
    import numpy as np
    import test_runtime_int16 as ops16
    import test_runtime_ops as ops

    from sbtf import mlperf_tiny
    from sbtf.micro import hostref

    for name, shape, build in ops.CASES:
        model = ops._model(shape, build, 1)
        calib = np.random.default_rng(1).normal(size=(64, *shape))
        yield name, hostref.int8_tflite(model, calib)
    model = ops._model((4, 4, 3), lambda x: ops.L.Conv2D(6, 3, padding="same")(x), 9)
    calib = np.random.default_rng(9).normal(size=(32, 4, 4, 3))
    yield "quantize", ops._append_requantize(hostref.int8_tflite(model, calib), 0.013, 5)
    for name, sb, int8, _ in bench_tflm._models():
        yield f"{name}_sb", sb
        yield f"{name}_int8", int8
    for name, shape, build, float_io in ops16.CASES:
        model, rng = ops16._model(shape, build, seed=len(name))
        yield f"{name}_16x8", ops16.convert_16x8(model, rng.normal(size=(32, *shape)),
                                                 int16_io=not float_io)
    for name in ("kws_ds_cnn", "ic_resnet8"):
        ops16.tf.keras.utils.set_random_seed(0)
        model = mlperf_tiny.MODELS[name](signed_binary=False)
        yield f"{name}_16x8", hostref.int16x8_tflite(model, mlperf_tiny.calibration(name, n=8))


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    from sbtf.micro import codegen

    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    for name, tflite in models():
        gen = codegen.generate(tflite, source=f"{name}.tflite")
        (out / f"{name}.c").write_text(gen.source)
        (out / f"{name}.h").write_text(gen.header)
        (out / f"{name}.txt").write_text(gen.summary() + "\n")
        print(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
