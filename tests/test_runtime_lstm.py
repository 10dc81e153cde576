"""The runtime's UNIDIRECTIONAL_SEQUENCE_LSTM (TFLite's 8x8_16 integer LSTM,
micro/runtime/sbtf_rt_lstm.c) and STRIDED_SLICE (what a Keras LSTM returning its last step
converts to) equal TFLite's interpreter (BUILTIN_REF) bit for bit on Keras
LSTMs converted the way users convert them (full-integer int8, representative dataset), on the
host under ASan + UBSan (with the dead arena bytes poisoned) and on Cortex-M4; its int16 sigmoid / tanh equal gemmlowp's for every
input; the variants it does not implement are refused by name."""
from __future__ import annotations

import functools
import re
import subprocess

import numpy as np
import pytest
import tensorflow as tf

import sbtf  # noqa: F401
from sbtf.converters import tflite_math
from sbtf.converters import tflite_model as tfm
from sbtf.micro import codegen, hostref, qemu, runtime, source_dir, tflm

L = tf.keras.layers


@functools.cache  # converting an LSTM is slow: the host, board and refusal tests share models
def _lstm_model(seed, steps, features, units, layers=1, time_major=False, batch=1):
    """Input [B, T, F] (or [T, B, F] time major) -> LSTM(s) returning the whole sequence, and a
    Dense + tanh head on the flattened sequence (TANH in the same model)."""
    tf.keras.utils.set_random_seed(seed)
    shape = (batch, features) if time_major else (steps, features)
    inp = tf.keras.Input(shape, batch_size=steps if time_major else batch)
    h = inp
    for _ in range(layers):
        h = L.LSTM(units, return_sequences=True, time_major=time_major)(h)
    head = L.Dense(16, activation="tanh")(L.Flatten()(h))
    return _convert(tf.keras.Model(inp, [h, head]), seed, time_major or batch > 1)


def _convert(model, seed, whole_input=False):
    """TensorFlow's full-integer int8 conversion with a representative dataset, and int8 inputs
    (6 of them; whole_input: one, the model's input shape itself)."""
    rng = np.random.default_rng(seed)
    inp = model.inputs[0]
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    calib = rng.normal(size=(48, *inp.shape)).astype(np.float32)
    conv.representative_dataset = lambda: ([c] for c in calib)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int8
    tflite = conv.convert()
    size = tuple(inp.shape) if whole_input else (6, *inp.shape[1:])
    x = runtime.quantize_inputs(rng.normal(size=size) * 1.5,
                                *hostref.input_quantization(tflite))
    return tflite, x


def _lstm_op(tflite):
    g = codegen.load_graph(tflite)
    return g, next(op for op in g.operators if op.name == "UNIDIRECTIONAL_SEQUENCE_LSTM")


def _compare(tflite, x, tmp_path, board=None):
    want = hostref.run_reference(tflite, x)
    if board is None:
        # poison: every arena byte no live tensor holds is overwritten after each operator
        got = runtime.run_model_host(tflite, x, out_dir=tmp_path, sanitize=True,
                                     poison=True).outputs
    else:
        got = runtime.run_model(tflite, board, x, out_dir=tmp_path, timeout=300).outputs
    want, got = (want, got) if isinstance(want, list) else ([want], [got])
    for k, (g, w) in enumerate(zip(got, want)):
        g = g.reshape(w.shape)
        assert len(np.unique(w)) > 8, f"output {k} too uniform to show bit-exactness"
        assert int((g != w).sum()) == 0, f"output {k}: {int((g != w).sum())} of {w.size} differ"


CASES = [  # (seed, steps, features, units, layers, time_major, batch)
    (3, 4, 12, 5, 2, False, 2),
    (4, 5, 4, 7, 1, True, 3),
]


@pytest.mark.slow
@pytest.mark.parametrize("seed,steps,features,units,layers,time_major,batch", CASES)
def test_lstm_matches_tflite_on_host(seed, steps, features, units, layers, time_major, batch,
                                     tmp_path):
    tflite, x = _lstm_model(seed, steps, features, units, layers, time_major, batch)
    g, op = _lstm_op(tflite)
    assert {"UNIDIRECTIONAL_SEQUENCE_LSTM", "TANH"} <= {o.name for o in g.operators}
    assert bool(op.options.timeMajor) == time_major
    assert g.tensors[op.inputs[19]].type_name == "INT16"  # the int16 cell state
    _compare(tflite, x, tmp_path)


@pytest.mark.slow
def test_keras_lstm_last_step_to_dense_matches_tflite(tmp_path):
    """The common model: LSTM(units) (the last step: STRIDED_SLICE of the sequence) -> Dense."""
    tf.keras.utils.set_random_seed(6)
    inp = tf.keras.Input((7, 4), batch_size=1)
    out = L.Dense(10)(L.LSTM(12)(inp))
    tflite, x = _convert(tf.keras.Model(inp, out), 6)
    assert {"UNIDIRECTIONAL_SEQUENCE_LSTM", "STRIDED_SLICE"} <= {o.name for o in
                                                                  codegen.load_graph(tflite).operators}
    _compare(tflite, x, tmp_path)


@pytest.mark.slow
def test_strided_slices_match_tflite(tmp_path):
    """Negative strides, begin / end masks, a shrunk axis and negative indices."""
    tf.keras.utils.set_random_seed(9)
    inp = tf.keras.Input((6, 7, 5), batch_size=1)
    c = L.Conv2D(5, 1)(inp)
    outs = [L.Lambda(lambda t: t[:, 1:5:2, ::-1, :3])(c), L.Lambda(lambda t: t[:, -2, 1:])(c),
            L.Lambda(lambda t: t[:, ::-3, -5:-1, 4])(c)]
    tflite, x = _convert(tf.keras.Model(inp, outs), 9)
    assert "STRIDED_SLICE" in {o.name for o in codegen.load_graph(tflite).operators}
    _compare(tflite, x, tmp_path)


def test_strided_slice_ranges_follow_tflite():
    r = tflite_math.strided_slice_ranges((1, 6, 8), [0, -1, 0], [0, 0, 0], [1, 1, 1], 5, 5, 2)
    assert r == [(0, 1, 1), (0, 1, 1), (5, 6, 1), (0, 8, 1)]
    r = tflite_math.strided_slice_ranges((7,), [-100], [100], [-2], 0, 0, 0)
    assert r[3] == (-1, 6, -2) and tflite_math.slice_count(*r[3]) == 0
    assert tflite_math.slice_count(6, -1, -2) == 4
    with pytest.raises(ValueError, match="stride 0"):
        tflite_math.strided_slice_ranges((4,), [0], [4], [0], 0, 0, 0)


@pytest.mark.slow
def test_lstm_and_tanh_on_a_board(tmp_path):
    tflite, x = _lstm_model(*CASES[0])  # two layers, batch 2: the host case's model on Cortex-M4
    _compare(tflite, x, tmp_path, board="mps2-an386")


def test_int16_sigmoid_and_tanh_equal_gemmlowp_for_every_input(tmp_path):
    """Every int16 input at 0..6 integer bits: sbtf_rt_logistic_s16 / sbtf_rt_tanh_s16 against
    gemmlowp::logistic / tanh (C++ templates, so built with g++ beside the runtime file)."""
    root = source_dir()
    exe = tmp_path / "test_lstm_fixedpoint"
    subprocess.run(
        ["g++", "-std=c++17", "-O1", "-Wall", "-Wextra", "-Werror",
         "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
         f"-I{tflm.third_party_dir() / 'gemmlowp'}", f"-I{root / 'include'}",
         f"-I{root / 'runtime'}", str(root / "tests" / "test_lstm_fixedpoint.cc"),
         "-x", "c++", str(root / "runtime" / "sbtf_rt_lstm.c"), "-o", str(exe)],
        check=True, capture_output=True, text=True)
    res = qemu.run_host(exe, timeout=300)
    res.check()
    m = re.search(r"cases=(\d+) failures=(\d+)", res.stdout)
    assert m and int(m[1]) == 7 * 65536 * 2 and int(m[2]) == 0, res.stdout[-2000:]


def _edit_lstm(tflite, edit) -> bytes:
    m = tfm.read(tflite)
    sg = m.subgraphs[0]
    op = next(o for o in sg.operators
              if tfm.opcode_name(m, o.opcodeIndex) == "UNIDIRECTIONAL_SEQUENCE_LSTM")
    edit(op, sg.tensors)
    return tfm.write(m)


@pytest.fixture(scope="module")
def small_lstm():
    return _lstm_model(*CASES[1])[0]


@pytest.mark.parametrize("what,edit,message", [
    ("peephole", lambda op, ts: op.inputs.__setitem__(9, op.inputs[12]),
     "input 9 is present: peephole LSTMs are not supported"),
    ("projection", lambda op, ts: op.inputs.__setitem__(16, op.inputs[5]),
     "input 16 is present: projection LSTMs are not supported"),
    ("layer norm", lambda op, ts: op.inputs.__setitem__(21, op.inputs[13]),
     "input 21 is present: layer norm LSTMs are not supported"),
    ("cifg", lambda op, ts: op.inputs.__setitem__(1, -1), "CIFG LSTMs"),
    ("relu", lambda op, ts: setattr(op.builtinOptions, "fusedActivationFunction", 1),
     "activation TANH"),
    ("no hidden scale", lambda op, ts: setattr(op, "intermediates", op.intermediates[:4]),
     "expected 5 intermediate tensors"),
    ("cell scale", lambda op, ts: ts[op.inputs[19]].quantization.scale.__setitem__(0, 1e-4),
     "must be a power of two in 2^-15 .. 2^-9"),
])
def test_unsupported_lstm_variants_are_refused(small_lstm, what, edit, message):
    bad = _edit_lstm(small_lstm, edit)
    with pytest.raises(codegen.UnsupportedModelError,
                       match=r"m\.tflite: operator 0 \(UNIDIRECTIONAL_SEQUENCE_LSTM\): .*"
                             + re.escape(message)):
        codegen.generate(bad, source="m.tflite")


def test_lstm_state_lives_in_the_arena_for_the_operator_only(small_lstm):
    """The output and cell state (TFLite's variable tensors) are planned buffers alive during
    the LSTM only, so other tensors may reuse their bytes."""
    g, op = _lstm_op(small_lstm)
    plan = codegen.plan_memory(g)
    for pos in (18, 19):
        b = plan.buffers[plan.tensor_buffer[op.inputs[pos]]]
        assert (b.first, b.last) == (op.index, op.index)
