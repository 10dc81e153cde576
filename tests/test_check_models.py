"""scripts/check_models.py (sbtf.micro.check_models): a folder of .tflite files through sbtf's
runtime against TFLite's BUILTIN_REF, one row per model: bit-exact, refused (naming every
unsupported operator) or differing, on models the test builds."""
from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

import sbtf  # noqa: F401
from sbtf.micro import check_models, codegen, hostref

L = tf.keras.layers


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """A supported model with float32 input and output, one with an unsupported operator (twice)
    and a file that is not a model."""
    folder = tmp_path_factory.mktemp("zoo")
    tf.keras.utils.set_random_seed(4)
    rng = np.random.default_rng(4)
    inp = tf.keras.Input((6, 6, 2))
    y = L.Dense(5)(L.Flatten()(L.Conv2D(4, 3, activation="relu")(inp)))
    conv = tf.lite.TFLiteConverter.from_keras_model(tf.keras.Model(inp, y))
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    calib = rng.normal(size=(32, 6, 6, 2)).astype(np.float32)
    conv.representative_dataset = lambda: ([calib[i:i + 1]] for i in range(len(calib)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    (folder / "a_float_io.tflite").write_bytes(conv.convert())
    inp = tf.keras.Input((8,))
    y = L.LeakyReLU(0.2)(L.Dense(4)(L.LeakyReLU(0.2)(L.Dense(4)(inp))))
    (folder / "b_leaky.tflite").write_bytes(
        hostref.int8_tflite(tf.keras.Model(inp, y), rng.normal(size=(16, 8))))
    (folder / "c_garbage.tflite").write_bytes(b"\x00" * 7 + b"not a flatbuffer")
    (folder / "notes.txt").write_text("ignored: not a .tflite")
    return folder


def test_random_inputs_cover_what_the_quantize_op_represents(zoo):
    gen = codegen.generate((zoo / "a_float_io.tflite").read_bytes())
    (x,) = check_models.random_inputs(gen, 64, seed=1)
    assert x.dtype == np.float32 and x.shape == (64, 6, 6, 2)
    q = gen.graph.tensors[gen.graph.operators[0].outputs[0]]
    lo = (-128 - int(q.zero_point[0])) * float(q.scale[0])
    hi = (127 - int(q.zero_point[0])) * float(q.scale[0])
    assert lo <= x.min() < lo / 2 and hi / 2 < x.max() <= hi


def test_compare_is_bitwise_and_names_what_differs():
    a = np.array([[1, 2, 3]], np.int8)
    assert check_models.compare(a, a.copy()) == "bit-exact"
    assert check_models.compare(a, a + np.int8(1)) == "DIFFERS (3 of 3 values)"
    assert check_models.compare([a, a], a).startswith("DIFFERS: 2 outputs")
    assert "reference int16" in check_models.compare(a, a.astype(np.int16))
    z = np.zeros((1, 2), np.float32)
    assert check_models.compare(z, -z) == "DIFFERS (2 of 2 values)"  # -0.0 is not 0.0


def test_folder_table_json_and_exit_code(zoo, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert check_models.main([str(zoo), "--target", "host", "-n", "3", "--json", str(out)]) == 0
    rows = {r["model"]: r for r in json.loads(out.read_text())}
    assert set(rows) == {"a_float_io.tflite", "b_leaky.tflite", "c_garbage.tflite"}
    a = rows["a_float_io.tflite"]
    assert a["targets"] == {"host": "bit-exact"}
    assert a["operators"][0] == "QUANTIZE" and a["operators"][-1] == "DEQUANTIZE"
    assert a["io"] == "[1, 6, 6, 2] float32 -> [1, 5] float32"
    b = rows["b_leaky.tflite"]["targets"]["host"]
    assert b.startswith("refused: 2 operator(s) not supported") and "1 (LEAKY_RELU), 3 (LEAKY_RELU)" in b
    assert rows["c_garbage.tflite"]["targets"]["host"].startswith("refused: ")
    table = capsys.readouterr().out
    assert table.splitlines()[0] == "| model | operators | inputs -> outputs | host |"
    assert "| a_float_io.tflite | QUANTIZE, " in table and "| bit-exact |" in table


def test_a_differing_output_fails_the_run(zoo, tmp_path, monkeypatch, capsys):
    (tmp_path / "a.tflite").write_bytes((zoo / "a_float_io.tflite").read_bytes())
    real = check_models._reference
    monkeypatch.setattr(check_models, "_reference",
                        lambda *a: np.nextafter(real(*a), np.float32(np.inf)))
    assert check_models.main([str(tmp_path)]) == 1
    assert "DIFFERS (10 of 10 values)" in capsys.readouterr().out


def test_usage_errors_exit_2(tmp_path, capsys):
    assert check_models.main([str(tmp_path)]) == 2
    assert "no .tflite files" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        check_models.main([str(tmp_path), "--target", "no-such-board"])
    assert exc.value.code == 2
