"""Failures are reported, never hangs or crashes: HardFault, stack overflow and timeouts on a
simulated board; unsupported operators, types and malformed sbtf ops at code generation; the
CLI's errors and exit codes; a scratch buffer sized by the kernels' macro, or reported too small."""
from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest
import tensorflow as tf
from flatbuffers import flexbuffers

import sbtf
from sbtf.converters import tflite_model as tfm
from sbtf.micro import cli, codegen, hostref, qemu, runtime

L = tf.keras.layers


@pytest.fixture(scope="module")
def tiny():
    tf.keras.utils.set_random_seed(1)
    inp = tf.keras.Input((6, 6, 2))
    model = tf.keras.Model(inp, L.Dense(3)(L.Flatten()(L.Conv2D(4, 3)(inp))))
    return hostref.int8_tflite(model, np.random.default_rng(1).normal(size=(16, 6, 6, 2)))


def _x(tflite, n=2):
    return np.zeros((n, codegen.generate(tflite).input_size), np.int8)


@pytest.mark.slow
@pytest.mark.parametrize("provoke,expected", [
    ("fault", "HardFault"),
    ("stack_overflow", "HardFault|stack overflow|STACK OVERFLOW"),
])
@pytest.mark.parametrize("board", ["mps2-an386", "mps3-an547"])
def test_board_faults_are_reported(tiny, provoke, expected, board, tmp_path):
    fw = runtime.build_firmware(tiny, board, _x(tiny), provoke=provoke, out_dir=tmp_path)
    with pytest.raises(runtime.RuntimeError_, match=expected):
        runtime.run_firmware(fw, timeout=60)


@pytest.mark.slow
def test_hang_is_killed_and_reported(tiny, tmp_path):
    fw = runtime.build_firmware(tiny, "mps2-an386", _x(tiny), provoke="hang", out_dir=tmp_path)
    with pytest.raises(runtime.RuntimeError_, match="timed out after"):
        runtime.run_firmware(fw, timeout=3)


def test_unsupported_operator_names_op_and_index():
    tf.keras.utils.set_random_seed(2)
    inp = tf.keras.Input((8,))
    model = tf.keras.Model(inp, L.LeakyReLU(0.2)(L.Dense(4)(inp)))
    tflite = hostref.int8_tflite(model, np.random.default_rng(2).normal(size=(16, 8)))
    with pytest.raises(codegen.UnsupportedModelError,
                       match=r"m\.tflite: 1 operator\(s\) not supported by sbtf's runtime: operator 1 \(LEAKY_RELU\)"):
        codegen.generate(tflite, source="m.tflite")


def test_float_model_is_rejected_with_the_fix():
    """Float32 input and output are fine (QUANTIZE / DEQUANTIZE at the edges), float
    arithmetic inside the model is not."""
    inp = tf.keras.Input((4,))
    model = tf.keras.Model(inp, L.Dense(2)(inp))
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    tflite = converter.convert()  # float model
    with pytest.raises(codegen.UnsupportedModelError,
                       match=r"operator 0 \(FULLY_CONNECTED\): input .* has type FLOAT32, "
                             r"expected INT8 \(convert with full-integer quantization; float32 "
                             r"model inputs and outputs may stay\)"):
        codegen.generate(tflite, source="float.tflite")


def test_not_a_tflite_file():
    with pytest.raises(codegen.UnsupportedModelError, match="bad.tflite: not a TFLite flatbuffer"):
        codegen.generate(b"definitely not a flatbuffer", source="bad.tflite")


def _sbtf_model_with_option(tflite: bytes, key: str, value) -> bytes:
    """Re-encode the first sbtf op's custom options with one key changed (or removed)."""
    model = tfm.read(tflite)
    op = next(op for op in model.subgraphs[0].operators
              if tfm.opcode_name(model, op.opcodeIndex).startswith("SBTF_"))
    options = dict(tfm.flexbuffer_options(op))
    if value is None:
        options.pop(key)
    else:
        options[key] = value
    op.customOptions = list(flexbuffers.Dumps(options))
    return tfm.write(model)


@pytest.fixture(scope="module")
def sbtf_digits_like():
    from sbtf.converters import convert

    tf.keras.utils.set_random_seed(4)
    model = sbtf.models.digits_cnn(filters=(4, 4, 8))
    return convert(model, representative_data=np.random.default_rng(4).uniform(
        0, 1, size=(16, 8, 8, 1)).astype(np.float32))


@pytest.mark.parametrize("key,value,message", [
    ("version", 2, "format version 2 is not supported"),
    ("stride_h", None, "custom option 'stride_h' is missing"),
    ("input_channels", 3, "options say 3"),
])
def test_malformed_sbtf_options_are_rejected(sbtf_digits_like, key, value, message):
    bad = _sbtf_model_with_option(sbtf_digits_like, key, value)
    with pytest.raises(codegen.UnsupportedModelError, match=message):
        codegen.generate(bad, source="bad.tflite")


def test_cli_codegen_and_errors(tiny, tmp_path, capsys):
    model = tmp_path / "tiny.tflite"
    model.write_bytes(tiny)
    out = tmp_path / "gen"
    assert cli.main(["codegen", str(model), "-o", str(out)]) == 0
    assert (out / "sbtf_model.c").is_file() and (out / "sbtf_model.h").is_file()
    assert "arena" in capsys.readouterr().out

    missing = tmp_path / "missing"
    assert cli.main(["codegen", str(tmp_path / "nope.tflite"), "-o", str(missing)]) == 2
    assert "no such file" in capsys.readouterr().err
    assert not missing.exists()

    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"junk")
    assert cli.main(["codegen", str(junk), "-o", str(missing)]) == 2
    assert "not a TFLite flatbuffer" in capsys.readouterr().err
    assert not missing.exists()

    bad_input = tmp_path / "x.npy"
    np.save(bad_input, np.zeros((3, 5), np.int8))
    assert cli.main(["run", str(model), "--board", "mps2-an386", "--input", str(bad_input)]) == 2
    assert "inputs have shape [3, 5], the model's input shape is" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_run_writes_bit_exact_outputs(tiny, tmp_path, capsys):
    model = tmp_path / "tiny.tflite"
    model.write_bytes(tiny)
    scale, zp = hostref.input_quantization(tiny)
    x_float = np.random.default_rng(7).normal(size=(5, 6, 6, 2)).astype(np.float32)
    np.save(tmp_path / "x.npy", x_float)
    rc = cli.main(["run", str(model), "--board", "netduinoplus2", "--input", str(tmp_path / "x.npy"),
                   "--output", str(tmp_path / "y.npy")])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    y = np.load(tmp_path / "y.npy")
    np.testing.assert_array_equal(y, hostref.run_reference(tiny, runtime.quantize_inputs(x_float, scale, zp)))
    assert "instructions per inference:" in printed and "flash:" in printed and "RAM:" in printed


def test_too_small_scratch_is_reported(sbtf_digits_like, tmp_path):
    x = np.zeros((1, 64), np.int8)
    exe, gen, _ = runtime.build_host_runner(sbtf_digits_like, x, out_dir=tmp_path, scratch_bytes=16)
    assert "#define SBTF_MODEL_SCRATCH_BYTES (16)" in gen.header
    out = qemu.run_host(exe, timeout=60)
    assert out.exit_code == 2
    need = int(re.search(r"sbtf-info scratch=(-?\d+)", out.stdout).group(1))
    assert need < -16, out.stdout  # the kernels' size, negated: larger than the 16 bytes given
    with pytest.raises(runtime.RuntimeError_, match="status=-4"):
        runtime.parse_output(out.stdout, 1, (10,), "host")


def _symbol_size(exe, name: str) -> int:
    nm = subprocess.run(["nm", "-S", "--defined-only", str(exe)], capture_output=True, text=True,
                        check=True).stdout
    sizes = [int(parts[1], 16) for parts in map(str.split, nm.splitlines())
             if len(parts) == 4 and parts[3] == name]
    assert len(sizes) == 1, f"{name} in {exe}: {sizes}"
    return sizes[0]


def test_scratch_is_sized_by_the_kernels_macro(sbtf_digits_like, tmp_path):
    """SBTF_MODEL_SCRATCH_BYTES is the largest SBTF_SCRATCH_BYTES term, evaluated by the compiler:
    the image's static scratch equals the largest *_get_buffer_size() it reports at boot."""
    x = np.zeros((1, 64), np.int8)
    exe, gen, _ = runtime.build_host_runner(sbtf_digits_like, x, out_dir=tmp_path)
    sbtf_ops = [op for op in gen.graph.operators if op.name.startswith("SBTF_")]
    assert len(sbtf_ops) >= 3
    assert gen.header.count("SBTF_SCRATCH_BYTES(") >= 2 and "SBTF_MAX(" in gen.header
    out = qemu.run_host(exe, timeout=60)
    assert out.exit_code == 0, out.stdout
    reported = int(re.search(r"sbtf-info scratch=(-?\d+)", out.stdout).group(1))
    assert reported > 0 and _symbol_size(exe, "sbtf_scratch") == reported
    assert f"SBTF_MODEL_SCRATCH_BYTES = {gen.scratch_expr} " in gen.summary()


@pytest.mark.slow
def test_large_batches_boot_once_per_chunk(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(runtime, "MAX_BATCH_BYTES", 3 * 72)  # 3 inputs of 6*6*2 per boot
    scale, zp = hostref.input_quantization(tiny)
    x = runtime.quantize_inputs(np.random.default_rng(8).normal(size=(7, 6, 6, 2)), scale, zp)
    res = runtime.run_model(tiny, "mps2-an386", x, out_dir=tmp_path, timeout=60)
    assert len(res.instructions) == 7 and len(list(tmp_path.glob("part*"))) == 3
    np.testing.assert_array_equal(res.outputs, hostref.run_reference(tiny, x))
