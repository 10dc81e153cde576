"""A batch of inputs is [N, *model_input_shape[1:]] (or the model's shape) everywhere: anything
else, such as an NCHW batch for an NHWC model, is one error naming both shapes (exit code 2 from
the CLI), never a silent reshape into wrong inputs."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from sbtf.batch import BadInputError, as_batch
from sbtf.micro import cli, hostref


@pytest.fixture(scope="module")
def small():
    """int8 model with input [1, 4, 4, 3]."""
    tf.keras.utils.set_random_seed(5)
    inp = tf.keras.Input((4, 4, 3))
    out = tf.keras.layers.Dense(2)(tf.keras.layers.Flatten()(inp))
    model = tf.keras.Model(inp, out)
    return hostref.int8_tflite(model, np.random.default_rng(5).normal(size=(16, 4, 4, 3)))


def test_as_batch_accepts_n_inputs_or_the_model_shape():
    assert as_batch(np.zeros((5, 4, 4, 3)), [1, 4, 4, 3]).shape == (5, 1, 4, 4, 3)
    assert as_batch(np.zeros((1, 4, 4, 3)), [1, 4, 4, 3]).shape == (1, 1, 4, 4, 3)
    # A model with a fixed batch of 2 takes exactly its shape, as one input.
    assert as_batch(np.zeros((2, 6)), [2, 6]).shape == (1, 2, 6)


@pytest.mark.parametrize("shape", [(2, 3, 4, 4), (4, 4, 3), (2, 48), (48,), (0, 4, 4, 3),
                                   (2, 4, 4, 3, 1)])
def test_as_batch_refuses_other_shapes_naming_both(shape):
    with pytest.raises(BadInputError) as exc:
        as_batch(np.zeros(shape), [1, 4, 4, 3], "x.npy: inputs")
    assert str(exc.value) == (f"x.npy: inputs have shape {list(shape)}, the model's input shape "
                              "is [1, 4, 4, 3]: expected [N, 4, 4, 3]")
    with pytest.raises(BadInputError, match=r"expected \[4, 6\]"):
        as_batch(np.zeros((8, 6)), [4, 6])


@pytest.mark.parametrize("shape", [(2, 3, 4, 4), (3, 16, 3), (2, 48)])
def test_cli_run_refuses_a_mis_shaped_batch_with_exit_2(small, shape, tmp_path, capsys):
    model = tmp_path / "m.tflite"
    model.write_bytes(small)
    x = tmp_path / "x.npy"
    np.save(x, np.zeros(shape, np.float32))
    out = tmp_path / "y.npy"
    argv = ["run", str(model), "--board", "mps2-an386", "--input", str(x), "--output", str(out)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"sbtf-micro run: error: {x}: inputs have shape {list(shape)}, the model's "
                   "input shape is [1, 4, 4, 3]: expected [N, 4, 4, 3]")
    assert not out.exists()


def test_cli_refuses_inputs_of_another_type_with_exit_2(small, tmp_path, capsys):
    model = tmp_path / "m.tflite"
    model.write_bytes(small)
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((1, 4, 4, 3), np.int32))
    assert cli.main(["build", str(model), "--board", "mps2-an386", "--input", str(x),
                     "-o", str(tmp_path / "fw.elf")]) == 2
    assert "inputs must be int8 (quantized) or float, got int32" in capsys.readouterr().err
    assert not (tmp_path / "fw.elf").exists()


def test_host_helpers_refuse_a_mis_shaped_batch(small):
    x = np.random.default_rng(6).integers(-128, 128, size=(2, 4, 4, 3)).astype(np.int8)
    assert hostref.run_reference(small, x).shape == (2, 2)
    with pytest.raises(BadInputError, match=r"have shape \[2, 3, 4, 4\].*\[1, 4, 4, 3\]"):
        hostref.run_reference(small, x.transpose(0, 3, 1, 2))
    with pytest.raises(BadInputError, match=r"have shape \[2, 48\]"):
        hostref.run_sbtf_interpreter(small, x.reshape(2, -1))


@pytest.mark.parametrize("shape", [(2, 3, 4, 4), (3, 16, 3), (4, 4, 3)])
def test_runtime_api_refuses_a_mis_shaped_int8_batch(small, shape, tmp_path):
    """run_model / run_model_host / build_firmware / tflm.run_model take int8 batches
    [N, 4, 4, 3] or packed records [N, 48]; an int8 NCHW batch is not silently reshaped
    (refused before compiling)."""
    from sbtf.micro import runtime, tflm

    x = np.zeros(shape, np.int8)
    dims = ", ".join(map(str, shape))
    with pytest.raises(BadInputError, match=rf"m.tflite: inputs have shape \[{dims}\]"):
        runtime.build_host_runner(small, x, out_dir=tmp_path, source="m.tflite")
    with pytest.raises(BadInputError, match=r"expected \[N, 4, 4, 3\]"):
        runtime.run_model(small, "mps2-an386", x, out_dir=tmp_path, source="m.tflite")
    with pytest.raises(BadInputError, match=r"expected \[N, 4, 4, 3\]"):
        tflm.run_model(small, "host", x, out_dir=tmp_path, source="m.tflite")


def test_flash_figure_shows_the_compiled_in_inputs_apart(small, tmp_path, capsys):
    """The flash printed for a firmware separates the model (and runtime) from the batch of
    inputs compiled into the image: more inputs change only the inputs' share."""
    import re

    model = tmp_path / "m.tflite"
    model.write_bytes(small)
    model_flash = []
    for n in (1, 2, 5):
        np.save(tmp_path / "x.npy", np.zeros((n, 4, 4, 3), np.int8))
        assert cli.main(["build", str(model), "--board", "nucleo-f411re", "--input",
                         str(tmp_path / "x.npy"), "-o", str(tmp_path / f"fw{n}.elf")]) == 0
        line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("flash:"))
        m = re.fullmatch(r"flash: (\d+) B of 524288 B \(text \+ rodata \d+ B, data init \d+ B\) = "
                         r"model and runtime (\d+) B \+ (\d+) compiled-in input\(s\) (\d+) B", line)
        assert m, line
        total, model_b, count, inputs_b = map(int, m.groups())
        assert (count, inputs_b) == (n, n * 48) and total == model_b + inputs_b
        model_flash.append(model_b)
    assert len(set(model_flash)) == 1, model_flash
