"""`sbtf-convert` on good and bad input: one-line errors, exit code 2, no partial output files,
and model files that cannot run code while loading."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import sbtf
from sbtf.converters import cli
from sbtf.converters import tflite_model as tfm
from sbtf.converters.host import sbtf_operators

SHAPE = (6, 6, 2)


def _model(extra=None, metrics=None):
    # metrics=[]: SavedModel export of the quantizer's training metric variables fails (a
    # quantizer issue reported to its owner); the converter never needs them.
    inputs = tf.keras.Input(SHAPE)
    x = inputs
    if extra is not None:
        x = extra(x)
    quantizer = sbtf.SignedBinaryQuantizer(metrics=metrics)
    x = sbtf.layers.SignedBinaryConv2D(
        8, 3, padding="same", use_bias=False, name="sb", kernel_quantizer=quantizer
    )(x)
    x = tf.keras.layers.BatchNormalization()(x)
    x = tf.keras.layers.ReLU()(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    x = tf.keras.layers.Dense(3, name="head")(x)
    return tf.keras.Model(inputs, x)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    model = _model()
    model.save(d / "model.h5")
    model.save(d / "model.keras")
    np.save(d / "calib.npy", np.random.default_rng(0).random((16, *SHAPE), dtype=np.float32))
    return d


def _run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    err = capsys.readouterr().err
    return code, err


def _error_line(err):
    lines = [line for line in err.splitlines() if line.startswith("sbtf-convert: error")]
    assert len(lines) == 1, err
    return lines[0]


def _leftovers(folder):
    return [p for p in os.listdir(folder) if p.startswith(".sbtf-convert-")]


@pytest.mark.parametrize("source", ["model.h5", "model.keras"])
def test_converts_h5_and_keras_with_report(files, tmp_path, capsys, source):
    out, report = tmp_path / "m.tflite", tmp_path / "r.json"
    code, err = _run(
        [files / source, out, "--calibration", files / "calib.npy", "--report", report], capsys
    )
    assert code == 0, err
    assert "SBTF_CONV_2D" in err and "Total" in err  # the report always goes to stderr
    data = out.read_bytes()
    assert [name for _, _, name in sbtf_operators(data)] == ["SBTF_CONV_2D"]
    rep = json.loads(report.read_text())
    assert rep["totals"]["file_bytes"] == len(data)
    (row,) = [r for r in rep["layers"] if r["layer"] == "sb"]
    assert row["op"] == "SBTF_CONV_2D" and row["bytes_after"] == sbtf.signed_binary_bytes(8, 18)
    assert oct(os.stat(out).st_mode & 0o777) != oct(0o600) or os.umask(0o022) == 0o077
    assert not _leftovers(tmp_path)


def test_module_entry_point_and_exit_code(files, tmp_path):
    out = tmp_path / "m.tflite"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sbtf.converters.cli",
            str(files / "missing.h5"),
            str(out),
            "--random-calibration",
        ],
        capture_output=True,
        check=False,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2
    assert "sbtf-convert: error:" in proc.stderr and "no such file" in proc.stderr
    assert not out.exists()


def test_float_io_and_random_calibration_warns(files, tmp_path, capsys):
    out = tmp_path / "m.tflite"
    code, err = _run(
        [
            files / "model.h5",
            out,
            "--random-calibration",
            "--input-type",
            "float32",
            "--output-type",
            "float32",
        ],
        capsys,
    )
    assert code == 0, err
    assert "warning: calibrating on random" in err
    interp = tf.lite.Interpreter(model_content=out.read_bytes())
    assert interp.get_input_details()[0]["dtype"] == np.float32


def _write_truncated(src, dst):
    data = src.read_bytes()
    dst.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    "case, match",
    [
        ("missing", "no such file"),
        ("not_a_model", "not a Keras model"),
        ("truncated_h5", "truncated or corrupt|cannot load"),
        ("truncated_keras", "truncated or corrupt|cannot read"),
        ("weights_only_h5", "no model_config"),
        ("no_calibration", "needs calibration data"),
        ("calibration_shape", r"c\.npy: calibration data has shape \(16, 6, 6, 3\).*N x 6 x 6 x 2"),
        ("calibration_dtype", r"c\.npy: calibration data has dtype int32"),
        ("calibration_pickle", "pickled objects are refused"),
        ("calibration_missing", "calibration file does not exist"),
        ("output_folder_missing", "does not exist"),
        ("report_folder_missing", "does not exist"),
        ("output_is_input", "out.tflite: the output is the input model; refusing to overwrite"),
        ("output_under_proc", "cannot write the output in /proc"),
        ("twin_is_output", "the int8 twin and the output are the same file"),
        ("nested_config", "HDF5 model_config is nested too deeply"),
    ],
)
def test_bad_input_is_one_line_exit_2_no_output(files, tmp_path, capsys, case, match):
    model, out = files / "model.h5", tmp_path / "out.tflite"
    calib = ["--calibration", files / "calib.npy"]
    extra = []
    if case == "missing":
        model = tmp_path / "nope.h5"
    elif case == "not_a_model":
        model = tmp_path / "model.h5"
        model.write_text("hello, I am not HDF5\n")
    elif case == "truncated_h5":
        model = tmp_path / "model.h5"
        _write_truncated(files / "model.h5", model)
    elif case == "truncated_keras":
        model = tmp_path / "model.keras"
        _write_truncated(files / "model.keras", model)
    elif case == "weights_only_h5":
        model = tmp_path / "weights.h5"
        _model().save_weights(model)
    elif case == "no_calibration":
        calib = []
    elif case == "calibration_shape":
        np.save(tmp_path / "c.npy", np.zeros((16, 6, 6, 3), np.float32))
        calib = ["--calibration", tmp_path / "c.npy"]
    elif case == "calibration_dtype":
        np.save(tmp_path / "c.npy", np.zeros((16, *SHAPE), np.int32))
        calib = ["--calibration", tmp_path / "c.npy"]
    elif case == "calibration_pickle":
        np.save(tmp_path / "c.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
        calib = ["--calibration", tmp_path / "c.npy"]
    elif case == "calibration_missing":
        calib = ["--calibration", tmp_path / "none.npy"]
    elif case == "output_folder_missing":
        out = tmp_path / "no" / "such" / "out.tflite"
    elif case == "report_folder_missing":
        extra = ["--report", tmp_path / "no" / "r.json"]
    elif case == "output_is_input":  # a link to the model: the same file once resolved
        model = tmp_path / "model.h5"
        model.write_bytes((files / "model.h5").read_bytes())
        out.symlink_to(model)
    elif case == "output_under_proc":
        out = Path("/proc/out.tflite")
    elif case == "twin_is_output":
        extra = ["--int8-twin", out]
    elif case == "nested_config":
        import h5py

        model = tmp_path / "nested.h5"
        with h5py.File(model, "w") as f:
            f.attrs["model_config"] = "[" * 100_000 + "]" * 100_000
    before = model.read_bytes() if model.is_file() else None
    code, err = _run([model, out, *calib, *extra], capsys)
    assert code == 2, err
    line = _error_line(err)
    assert pytest.importorskip("re").search(match, line), line
    assert case == "output_is_input" or not out.exists()
    assert before is None or model.read_bytes() == before
    assert not _leftovers(tmp_path)


class NotRegistered(tf.keras.layers.Layer):
    def call(self, x):
        return x


def test_unknown_custom_layer(tmp_path, capsys):
    _model(extra=NotRegistered(name="mystery")).save(tmp_path / "custom.h5")
    out = tmp_path / "out.tflite"
    code, err = _run([tmp_path / "custom.h5", out, "--random-calibration"], capsys)
    assert code == 2
    assert "NotRegistered" in _error_line(err)
    assert not out.exists()


def _lambda_model(marker):
    # Loading this model would create `marker` if Keras ran the stored bytecode.
    path = str(marker)
    return _model(
        extra=tf.keras.layers.Lambda(
            lambda x: x + 0.0 * float(open(path, "w").close() is None), name="sneaky"
        ),
        metrics=[],
    )


@pytest.mark.parametrize("fmt", ["h5", "keras", "savedmodel"])
def test_lambda_layers_are_refused_without_running_code(tmp_path, capsys, fmt):
    marker = tmp_path / "code_ran"
    model = _lambda_model(marker)
    target = tmp_path / {"h5": "m.h5", "keras": "m.keras", "savedmodel": "saved"}[fmt]
    if fmt == "savedmodel":
        model.save(target, save_format="tf")
    else:
        model.save(target)
    if marker.exists():
        marker.unlink()  # created by building/saving the model, not by the converter
    out = tmp_path / "out.tflite"
    code, err = _run([target, out, "--random-calibration"], capsys)
    assert code == 2, err
    line = _error_line(err)
    assert "Lambda" in line and "--unsafe" in line
    assert not marker.exists()
    assert not out.exists()
    if fmt == "h5":  # the user may opt in
        code, err = _run([target, out, "--random-calibration", "--unsafe"], capsys)
        assert code == 0, err
        assert out.exists()


def test_savedmodel_folder_converts(tmp_path, capsys):
    _model(metrics=[]).save(tmp_path / "saved", save_format="tf")
    out = tmp_path / "out.tflite"
    code, err = _run([tmp_path / "saved", out, "--random-calibration"], capsys)
    assert code == 0, err
    assert [n for _, _, n in sbtf_operators(out.read_bytes())] == ["SBTF_CONV_2D"]


def test_folder_that_is_not_a_savedmodel(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, err = _run([tmp_path / "empty", tmp_path / "o.tflite", "--random-calibration"], capsys)
    assert code == 2 and "not a SavedModel" in _error_line(err)


def test_strict_fails_on_a_layer_that_stays_int8(tmp_path, capsys):
    inputs = tf.keras.Input(SHAPE)
    x = sbtf.layers.SignedBinaryConv2D(2 * SHAPE[-1], 3, groups=SHAPE[-1], name="grp")(inputs)
    tf.keras.Model(inputs, x).save(tmp_path / "grp.h5")
    out = tmp_path / "out.tflite"
    code, err = _run([tmp_path / "grp.h5", out, "--random-calibration", "--strict"], capsys)
    assert code == 2 and "grp" in _error_line(err) and "grouped" in _error_line(err)
    assert not out.exists()
    code, err = _run([tmp_path / "grp.h5", out, "--random-calibration"], capsys)
    assert code == 0 and "warning: layer grp" in err
    model = tfm.read(out.read_bytes())
    assert [tfm.opcode_name(model, op.opcodeIndex) for op in model.subgraphs[0].operators] == [
        "CONV_2D"
    ]


@pytest.mark.parametrize("module,name,named", [
    ("os", "system", "'os'"),
    ("sbtf.layers", "os.system", "'os.system' (a dotted path) under Python module 'sbtf.layers'"),
])
def test_keras_config_naming_another_python_module_is_refused(files, tmp_path, capsys, module,
                                                              name, named):
    """A `.keras` config names each object's module and Keras imports it: an edited file could
    point an activation at `os.system`, directly or as a dotted path under an sbtf module. Only
    Keras/TensorFlow/larq/sbtf modules and plain names are accepted."""
    import zipfile

    src, dst = files / "model.keras", tmp_path / "evil.keras"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                layers = config["config"]["layers"]
                (head,) = [layer for layer in layers if layer["config"]["name"] == "head"]
                head["config"]["activation"] = {
                    "module": module,
                    "class_name": "function",
                    "config": name,
                    "registered_name": "function",
                }
                data = json.dumps(config).encode()
            zout.writestr(item, data)
    out = tmp_path / "out.tflite"
    code, err = _run([dst, out, "--random-calibration"], capsys)
    assert code == 2, err
    line = _error_line(err)
    assert named in line and "--unsafe" in line
    assert not out.exists()


def test_paths_are_checked_before_tensorflow_is_imported(tmp_path):
    """The console script's entry point answers a wrong path without importing TensorFlow."""
    code = (
        "import sys, sbtf_convert\n"
        f"rc = sbtf_convert.main([{str(tmp_path / 'nope.h5')!r}, 'o.tflite', '--random-calibration'])\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'\n"
        "sys.exit(rc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == f"sbtf-convert: error: {tmp_path / 'nope.h5'}: no such file or folder"


def test_int8_twin_is_tensorflows_plain_int8_model(files, tmp_path, capsys):
    out, twin = tmp_path / "m.tflite", tmp_path / "twin.tflite"
    code, err = _run([files / "model.h5", out, "--calibration", files / "calib.npy",
                      "--int8-twin", twin], capsys)
    assert code == 0, err
    assert [name for _, _, name in sbtf_operators(out.read_bytes())] == ["SBTF_CONV_2D"]
    assert sbtf_operators(twin.read_bytes()) == []
    x = np.random.default_rng(1).integers(-128, 128, (1, *SHAPE)).astype(np.int8)
    outputs = []
    for interp in (sbtf.Interpreter(model_path=str(out)), tf.lite.Interpreter(
            model_path=str(twin),
            experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF)):
        interp.allocate_tensors()
        interp.set_tensor(interp.get_input_details()[0]["index"], x)
        interp.invoke()
        outputs.append(interp.get_tensor(interp.get_output_details()[0]["index"]))
    np.testing.assert_array_equal(outputs[0], outputs[1])
