"""The TensorFlow Lite Micro glue (micro/tflm/).

Its kernel tests (micro/tflm/sbtf_ops_test.cc) compare against golden data embedded in
micro/tflm/sbtf_ops_test_data.h; the first tests keep that data honest: it must be exactly what
the NumPy reference computes today, and its options must be what the converter writes and reads.
The rest build TFLM with the glue for real (sbtf.micro.tflm) and run the kernel tests, ResNet-8
and `sbtf-micro --runtime tflm` on the host and mps2-an386.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from sbtf.converters import host

GENERATOR = Path(__file__).resolve().parents[1] / "micro" / "tflm" / "gen_sbtf_ops_test_data.py"


@pytest.fixture(scope="module")
def gen():
    spec = importlib.util.spec_from_file_location("gen_sbtf_ops_test_data", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_golden_header_matches_reference(gen):
    # Regenerates every expected output with sbtf.converters.reference; a change in the
    # reference, the bitmask layout or the options format makes the committed goldens stale.
    committed = gen.HEADER.read_text()
    assert (
        gen.render() == committed
    ), f"{gen.HEADER.name} is stale: run .venv/bin/python {GENERATOR.relative_to(GENERATOR.parents[2])}"


def test_goldens_are_valid_converter_options(gen):
    for case in gen.CONV_CASES:
        opts = host.parse_options("SBTF_CONV_2D", bytes(_dumps(gen.conv_options(case))))
        assert opts["stride_h"] == case.stride[0] and opts["padding"] == case.padding
    for case in gen.FC_CASES:
        opts = host.parse_options("SBTF_FULLY_CONNECTED", bytes(_dumps(gen.fc_options(case))))
        assert opts["keep_num_dims"] == case.keep_num_dims


def _dumps(obj):
    from flatbuffers import flexbuffers

    return flexbuffers.Dumps(obj)


# ---------------------------------------------------------------------------------------------
# The glue built into TFLite Micro for real (sbtf.micro.tflm, micro/tflm/tflm.mk): TFLM with its
# reference kernels on the host and CMSIS-NN on mps2-an386, from ../shared/third_party
# (SBTF_THIRD_PARTY). The first build takes minutes; later ones reuse build/tflm/.

TFLM_TARGETS = ["host", "mps2-an386"]


@pytest.fixture(scope="module")
def tflm():
    from sbtf.micro import tflm

    why = tflm.missing()
    if why:
        pytest.skip(why)
    return tflm


@pytest.mark.parametrize("target", TFLM_TARGETS)
def test_tflm_kernel_tests_pass(tflm, target):
    # micro/tflm/sbtf_ops_test.cc: golden cases, malformed options, wrong tensors, resolver.
    from sbtf.micro import qemu

    image = tflm.build_kernel_tests(target)
    res = qemu.run_host(image) if target == "host" else qemu.run(target, image, timeout=300)
    out = res.stdout + res.stderr
    assert res.ok, out[-3000:]
    assert "11/11 tests passed" in out and "~~~ALL TESTS PASSED~~~" in out, out[-3000:]


@pytest.fixture(scope="module")
def resnet8_logits():
    """ResNet-8 converted with the project's converter, its classifier without softmax so the
    int8 outputs are not saturated; 3 random int8 inputs and sbtf.Interpreter's outputs."""
    import numpy as np
    import tensorflow as tf

    import sbtf
    from sbtf.converters import convert_with_report

    tf.keras.utils.set_random_seed(0)
    model = sbtf.models.resnet8()
    model.layers[-1].activation = tf.keras.activations.linear
    calib = np.random.default_rng(0).uniform(0, 1, size=(16, 32, 32, 3)).astype(np.float32)
    tflite = convert_with_report(model, representative_data=calib).tflite
    x = np.random.default_rng(1).integers(-128, 128, size=(3, 32, 32, 3)).astype(np.int8)
    interpreter = sbtf.Interpreter(model_content=tflite)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    expected = []
    for xi in x:
        interpreter.set_tensor(inp["index"], xi[None])
        interpreter.invoke()
        expected.append(interpreter.get_tensor(out["index"])[0])
    return tflite, x, np.stack(expected)


@pytest.mark.parametrize("target", TFLM_TARGETS)
def test_tflm_resnet8_bit_exact_with_sbtf_interpreter(tflm, resnet8_logits, target, tmp_path):
    import numpy as np

    tflite, x, expected = resnet8_logits
    assert len(np.unique(expected)) > 5  # outputs not saturated: the comparison means something
    res = tflm.run_model(tflite, target, x, out_dir=tmp_path)
    np.testing.assert_array_equal(res.outputs, expected)
    names = [name for name, _ in res.per_op]
    assert names.count("SBTF_CONV_2D") == 6 and names.count("CONV_2D") == 3
    assert 40_000 < res.arena_used < 80_000
    if target != "host":
        # Exact counts: the per-op profile accounts for the whole Invoke (up to the counter's
        # resolution per op and the profiler's own calls).
        total = res.instructions_per_inference
        assert total > 1_000_000 and all(abs(n - total) < 0.01 * total for n in res.instructions)
        assert 0.98 * total < sum(n for _, n in res.per_op) < 1.02 * total
        # The reported flash / RAM are those of an image with exactly arena_used; it runs.
        assert res.memory.arena == (res.arena_used + 15) // 16 * 16
        image = tflm.Image(target, res.image, res.memory.arena, res.memory)
        outputs, *_ = tflm.run_image(image, len(x), expected.shape[1:])
        np.testing.assert_array_equal(outputs, expected)


def test_tflm_rejects_a_corrupt_model(tflm, resnet8_logits, tmp_path):
    # A model the validating parser accepts but TFLM's verifier must reject is hard to make, so
    # the runner's own check is exercised directly: a truncated flatbuffer in the image.
    from sbtf.micro import qemu

    tflite, x, _ = resnet8_logits
    image = tflm.build_image(tflite[: len(tflite) // 2], "host", x.reshape(len(x), -1), tmp_path)
    res = qemu.run_host(image.path)
    assert res.exit_code == 2 and "sbtf-error the model is not a valid TFLite file" in res.stdout


def test_sbtf_micro_runtime_tflm(tflm, resnet8_logits, tmp_path, capsys):
    # `sbtf-micro run|build --runtime tflm`: the same figures as sbtf's runtime prints, plus the
    # per-operator breakdown; a board it cannot simulate is one clear error.
    import numpy as np

    from sbtf.micro import cli

    tflite, x, expected = resnet8_logits
    model, inputs, outputs = tmp_path / "m.tflite", tmp_path / "x.npy", tmp_path / "y.npy"
    model.write_bytes(tflite)
    np.save(inputs, x[:1])
    assert cli.main(["run", str(model), "--board", "mps2-an386", "--runtime", "tflm",
                     "--input", str(inputs), "--output", str(outputs)]) == 0
    out = capsys.readouterr().out
    np.testing.assert_array_equal(np.load(outputs), expected[:1])
    for text in ("instructions per inference:", "flash:", "RAM:", "TFLM arena_used_bytes",
                 "SBTF_CONV_2D           x6"):
        assert text in out, out
    elf = tmp_path / "fw.elf"
    assert cli.main(["build", str(model), "--board", "mps2-an386", "--runtime", "tflm",
                     "-o", str(elf)]) == 0
    assert elf.read_bytes()[:4] == b"\x7fELF"
    capsys.readouterr()
    bad = tmp_path / "bad.elf"
    assert cli.main(["build", str(model), "--board", "nucleo-f746zg", "--runtime", "tflm",
                     "-o", str(bad)]) == 2
    assert "--runtime tflm builds for the QEMU boards" in capsys.readouterr().err
    assert not bad.exists()
