"""Write the generated C of a fixed set of models, to diff code generation across commits.

    .venv/bin/python scripts/codegen_snapshot.py build/snap-a     # at one commit
    .venv/bin/python scripts/codegen_snapshot.py build/snap-b     # at another
    diff -r build/snap-a build/snap-b                             # empty: byte-identical C

The models: every test_runtime_ops case (each builtin operator), an int8 -> int8 QUANTIZE, and
bench_tflm's ResNet-8, digits CNN, KWS, VWW and AD, signed-binary and int8 (random weights,
fixed seeds). Each gives <name>.c, <name>.h and <name>.txt (GeneratedModel.summary()).
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
    import test_runtime_ops as ops

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
