"""SBTF_DEPTHWISE_CONV_2D: the NumPy reference equals TFLite's int8 DEPTHWISE_CONV_2D (reference
kernels) bit for bit, and the C kernel equals the reference on the host (plain, ASan/UBSan,
forced portable) and on simulated boards (DSP path on the M4 and the M55)."""
import importlib.util
import re

import numpy as np
import pytest
import tensorflow as tf

from sbtf.converters import reference, tflite_math
from sbtf.converters import tflite_model as tfm
from sbtf.converters.convert import convert_with_report
from sbtf.converters.testing import builtin_reference, operator_io, operators_by_layer
from sbtf.micro import build, qemu, source_dir

TESTS = source_dir() / "tests"

# name: (kernel, strides, dilation, padding, activation, use_bias, depth_multiplier, c_in)
DEPTHWISE = {
    "dw_k3_same": ((3, 3), 1, 1, "same", None, True, 1, 8),
    "dw_k3_same_relu6_m2": ((3, 3), 1, 1, "same", "relu6", True, 2, 5),
    "dw_k3_valid_s2": ((3, 3), 2, 1, "valid", "relu", False, 1, 8),
    "dw_k5_same_s2_m3": ((5, 5), 2, 1, "same", None, True, 3, 5),
    "dw_k3_same_d2": ((3, 3), 1, 2, "same", "relu", True, 1, 8),
    "dw_k3x1_valid_s2x1": ((3, 1), (2, 1), 1, "valid", None, False, 2, 5),
}
H, W, SAMPLES = 9, 10, 4


@pytest.fixture(scope="module")
def converted():
    """All depthwise layers side by side in one model, random float weights: one conversion."""
    rng = np.random.default_rng(5)
    inputs = {c: tf.keras.Input((H, W, c), name=f"in{c}") for c in (5, 8)}
    layers, outputs = {}, []
    for name, (k, s, d, pad, act, bias, mult, c_in) in DEPTHWISE.items():
        layers[name] = tf.keras.layers.DepthwiseConv2D(
            k, strides=s, dilation_rate=d, padding=pad, activation=act, use_bias=bias,
            depth_multiplier=mult, name=name)
        outputs.append(layers[name](inputs[c_in]))
    model = tf.keras.Model(list(inputs.values()), outputs)
    for layer in layers.values():
        weights = layer.get_weights()
        scale = np.exp(rng.uniform(-2, 2, weights[0].shape[2:]))  # per output channel
        layer.set_weights([(rng.standard_normal(weights[0].shape) * scale).astype(np.float32)]
                          + [rng.standard_normal(w.shape).astype(np.float32) for w in weights[1:]])
    calib = [rng.standard_normal((16, H, W, c)).astype(np.float32) for c in inputs]
    int8 = convert_with_report(model, representative_data=calib).int8_tflite
    details = tf.lite.Interpreter(model_content=int8).get_input_details()
    samples = [rng.integers(-128, 128, (SAMPLES, *d["shape"][1:]), dtype=np.int8) for d in details]
    return operators_by_layer(int8, samples, layers)


@pytest.mark.parametrize("name", list(DEPTHWISE))
def test_reference_equals_tflite_depthwise(converted, name):
    tfl, io, by_layer = converted
    op = by_layer[name]
    sg = tfl.subgraphs[0]
    assert tfm.builtin_code(tfl, sg.operators[op].opcodeIndex) == tfm.OP_DEPTHWISE_CONV_2D
    w = sg.tensors[int(sg.operators[op].inputs[1])]
    assert tfm.scales(w).size == w.shape[3] > 1 and len(set(tfm.scales(w).tolist())) > 1
    for x, y in io[op]:
        np.testing.assert_array_equal(builtin_reference(tfl, op, x), y)


def test_signed_binary_reference_is_the_int8_op_on_decoded_weights():
    """sbtf_depthwise_conv2d decodes mask row c into output channel c of a [1, KH, KW, C_out]
    filter (bit ky * KW + kx)."""
    rng = np.random.default_rng(3)
    c_in, mult, kh, kw = 3, 2, 3, 2
    w = (rng.random((1, kh, kw, c_in * mult)) < 0.5) * 127 * rng.choice([-1, 1], c_in * mult)
    w = w.astype(np.int8)
    from sbtf import bitmask

    mask, sign = bitmask.pack(np.moveaxis(w[0], -1, 0))
    x = rng.integers(-128, 128, (2, 6, 5, c_in), dtype=np.int8)
    mult_q, shift_q = tflite_math.conv_multipliers(0.05, np.full(c_in * mult, 0.002), 0.1)
    rq = reference.Requant(7, -3, mult_q, shift_q)
    ours = reference.sbtf_depthwise_conv2d(x, mask, sign, None, rq, filter_hw=(kh, kw),
                                           depth_multiplier=mult, stride=(2, 1))
    expected = reference.depthwise_conv2d_int8(x, w, None, rq, depth_multiplier=mult, stride=(2, 1))
    np.testing.assert_array_equal(ours, expected)
    assert np.unique(ours).size > 10


@pytest.fixture(scope="module")
def golden(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("make_golden_depthwise",
                                                  TESTS / "make_golden_depthwise.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path_factory.mktemp("golden_dw") / "sbtf_golden_depthwise.h"
    n_cases = mod.main([str(out)])
    assert n_cases > 30
    return out.parent, n_cases


def _sources():
    return [TESTS / "test_depthwise.c", *build.kernel_sources()]


def _check(res, n_cases):
    res.check()
    m = re.search(r"sbtf_depthwise_tests: cases=(\d+) max_scratch=(\d+) failures=(\d+)", res.stdout)
    assert m, res.stdout[-2000:]
    assert int(m[1]) == n_cases and int(m[3]) == 0, res.stdout[-2000:]


@pytest.mark.parametrize("variant", ["plain", "sanitize", "portable"])
def test_depthwise_kernel_host(variant, golden, tmp_path):
    inc, n_cases = golden
    exe = build.build_host(_sources(), include_dirs=[inc, TESTS],
                           defines=["SBTF_FORCE_PORTABLE"] if variant == "portable" else None,
                           opt="-O1" if variant == "sanitize" else "-O2",
                           sanitize=variant == "sanitize", out=tmp_path / f"test_dw_{variant}")
    _check(qemu.run_host(exe, timeout=300), n_cases)


@pytest.mark.parametrize("board", ["mps2-an386", "mps3-an547"])
def test_depthwise_kernel_board(board, golden, tmp_path):
    inc, n_cases = golden
    elf = build.build_elf(board, _sources(), include_dirs=[inc, TESTS],
                          out=tmp_path / f"dw_{board}.elf")
    _check(qemu.run(board, elf, timeout=300), n_cases)


# ---- the op through every layer: converter, host reader, sbtf.Interpreter, sbtf's runtime, TFLM


@pytest.fixture(scope="module")
def ds_cnn():
    """A small DS-CNN-like model whose depthwise layers are signed-binary (multiplier 1 and 2,
    stride 2, SAME and VALID), converted; int8 logits; 3 random int8 inputs."""
    import sbtf

    tf.keras.utils.set_random_seed(2)
    x = inputs = tf.keras.Input((10, 8, 4))
    x = sbtf.SignedBinaryDepthwiseConv2D(3, padding="same", use_bias=False, name="dw1")(x)
    x = tf.keras.layers.ReLU()(tf.keras.layers.BatchNormalization()(x))
    x = sbtf.SignedBinaryConv2D(8, 1, use_bias=False, name="pw1")(x)
    x = tf.keras.layers.ReLU(6.0)(tf.keras.layers.BatchNormalization()(x))
    x = sbtf.SignedBinaryDepthwiseConv2D(3, strides=2, depth_multiplier=2, name="dw2")(x)
    x = tf.keras.layers.BatchNormalization()(x)
    x = tf.keras.layers.Dense(6, name="logits")(tf.keras.layers.Flatten()(x))
    model = tf.keras.Model(inputs, x)
    rng = np.random.default_rng(0)
    for layer in model.layers:  # BatchNorm statistics away from the identity
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            gamma, beta, _, _ = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 2, gamma.shape), rng.normal(0, 0.3, beta.shape),
                               rng.normal(0, 0.2, gamma.shape), rng.uniform(0.5, 2, gamma.shape)])
    calib = rng.standard_normal((32, 10, 8, 4)).astype(np.float32)
    res = convert_with_report(model, representative_data=calib, strict=True)
    samples = rng.integers(-128, 128, size=(3, 10, 8, 4)).astype(np.int8)
    return res, samples


def test_converter_writes_sbtf_depthwise_ops_equal_to_the_int8_ops(ds_cnn):
    from sbtf.converters.host import run_sbtf_op, sbtf_operators

    res, samples = ds_cnn
    rows = {r.layer: r for r in res.report.layers}
    assert rows["dw1"].op == rows["dw2"].op == "SBTF_DEPTHWISE_CONV_2D"
    assert (rows["dw2"].c_out, rows["dw2"].k) == (16, 9)
    names = [n for _, _, n in sbtf_operators(res.tflite)]
    assert names.count("SBTF_DEPTHWISE_CONV_2D") == 2 and names.count("SBTF_CONV_2D") == 1
    assert "DEPTHWISE_CONV_2D" not in {tfm.opcode_name(tfm.read(res.tflite), i)
                                       for i in range(len(tfm.read(res.tflite).operatorCodes))}
    io = operator_io(res.int8_tflite, [samples])
    for layer in ("dw1", "dw2"):
        for x, y in io[rows[layer].operator]:
            np.testing.assert_array_equal(run_sbtf_op(res.tflite, rows[layer].operator, x), y)
    # 9 taps -> 2 mask bytes + 1 sign byte per channel.
    assert rows["dw2"].bytes_after == 16 * 3 + 16 * 4 and rows["dw2"].bytes_before == 16 * 9 + 16 * 4


def _want(ds_cnn):
    from sbtf.micro import hostref

    res, samples = ds_cnn
    want = hostref.run_reference(res.int8_tflite, samples)
    assert len(np.unique(want)) > 8, "outputs too uniform to show bit-exactness"
    return want


def test_sbtf_interpreter_equals_the_int8_twin(ds_cnn):
    from sbtf.micro import hostref

    res, samples = ds_cnn
    np.testing.assert_array_equal(hostref.run_sbtf_interpreter(res.tflite, samples), _want(ds_cnn))


@pytest.mark.parametrize("board", ["mps2-an386", "mps3-an547"])
def test_sbtf_runtime_on_board_equals_the_int8_twin(ds_cnn, board, tmp_path):
    from sbtf.micro import runtime

    res, samples = ds_cnn
    out = runtime.run_model(res.tflite, board, samples, out_dir=tmp_path, timeout=300)
    np.testing.assert_array_equal(out.outputs, _want(ds_cnn))


@pytest.mark.parametrize("target", ["host", "mps2-an386"])
def test_tflm_glue_equals_the_int8_twin(ds_cnn, target, tmp_path):
    from sbtf.micro import tflm

    why = tflm.missing()
    if why:
        pytest.skip(why)
    res, samples = ds_cnn
    out = tflm.run_model(res.tflite, target, samples, out_dir=tmp_path)
    np.testing.assert_array_equal(out.outputs, _want(ds_cnn))
    assert [n for n, _ in out.per_op].count("SBTF_DEPTHWISE_CONV_2D") == 2
