"""Each builtin int8 operator of sbtf's runtime equals TFLite's interpreter (BUILTIN_REF) bit for
bit: a sweep of small random models compiled for the host (gcc, ASan + UBSan), and one board run
of a model that chains every operator."""
from __future__ import annotations

import functools

import numpy as np
import pytest
import tensorflow as tf

import sbtf  # noqa: F401
from sbtf.converters import tflite_math
from sbtf.micro import codegen, hostref, runtime

L = tf.keras.layers
N_INPUTS = 24  # random inputs per model; near-tie roundings show up at this count


def _model(shape, build, seed):
    tf.keras.utils.set_random_seed(seed)
    inp = tf.keras.Input(shape)
    return tf.keras.Model(inp, build(inp))


@functools.cache  # the host and board runs of one model share its conversion and reference
def _converted(shape, build, seed, n):
    rng = np.random.default_rng(seed)
    model = _model(shape, build, seed)
    tflite = hostref.int8_tflite(model, rng.normal(size=(64, *shape)))
    scale, zp = hostref.input_quantization(tflite)
    x = runtime.quantize_inputs(rng.normal(size=(n, *shape)) * 1.5, scale, zp)
    return tflite, x, hostref.run_reference(tflite, x)


def _check(shape, build, seed, tmp_path, board=None, n=N_INPUTS):
    tflite, x, want = _converted(shape, build, seed, n)
    assert len(np.unique(want)) > 8, "outputs too uniform to show bit-exactness"
    if board is None:
        got = runtime.run_model_host(tflite, x, out_dir=tmp_path, sanitize=True).outputs
    else:
        got = runtime.run_model(tflite, board, x, out_dir=tmp_path, timeout=120).outputs
    got = got.reshape(want.shape)
    mismatches = int((got != want).sum())
    assert mismatches == 0, f"{mismatches} of {want.size} outputs differ from TFLite"
    return tflite


def _conv(filters, k, **kw):
    return lambda x: L.Conv2D(filters, k, **kw)(x)


# (name, input shape, model body); every case is one or two operators.
CASES = [
    ("conv_same_relu", (9, 9, 3), _conv(5, 3, padding="same", activation="relu")),
    ("conv_valid_stride2", (9, 9, 7), _conv(9, 3, strides=2, padding="valid")),
    ("conv_same_stride2_even", (8, 8, 4), _conv(8, 3, strides=2, padding="same")),
    ("conv_1x1_relu6", (5, 5, 33), lambda x: L.ReLU(6.0)(L.Conv2D(31, 1)(x))),
    ("conv_5x5", (11, 11, 2), _conv(3, 5, padding="same")),
    ("conv_rect_kernel", (7, 10, 3), _conv(4, (1, 3), strides=(1, 2), padding="same")),
    ("conv_1x1_stride2", (9, 9, 6), _conv(5, 1, strides=2)),
    ("depthwise_same", (9, 9, 8), lambda x: L.DepthwiseConv2D(3, padding="same")(x)),
    ("depthwise_mult2_valid", (8, 8, 3), lambda x: L.DepthwiseConv2D(3, depth_multiplier=2)(x)),
    ("depthwise_stride2_relu", (10, 10, 5),
     lambda x: L.DepthwiseConv2D(3, strides=2, padding="same", activation="relu")(x)),
    ("dense", (20,), lambda x: L.Dense(7)(x)),
    ("dense_relu_wide", (65,), lambda x: L.Dense(33, activation="relu")(x)),
    ("add", (6, 6, 4), lambda x: L.Add()([L.Conv2D(4, 1)(x), x])),
    ("add_relu", (5, 5, 3), lambda x: L.ReLU()(L.Add()([L.Conv2D(3, 3, padding="same")(x), x]))),
    ("max_pool", (8, 8, 3), lambda x: L.MaxPooling2D(2)(L.Conv2D(3, 1)(x))),
    ("max_pool_3_same", (9, 9, 2), lambda x: L.MaxPooling2D(3, 2, padding="same")(L.Conv2D(2, 1)(x))),
    ("avg_pool_3_same", (9, 9, 2),
     lambda x: L.AveragePooling2D(3, 2, padding="same")(L.Conv2D(2, 1)(x))),
    ("avg_pool_valid", (7, 7, 3), lambda x: L.AveragePooling2D(2)(L.Conv2D(3, 1)(x))),
    ("mean_gap", (5, 5, 6), lambda x: L.GlobalAveragePooling2D()(L.Conv2D(6, 1)(x))),
    ("mean_gap_keepdims", (4, 6, 3),
     lambda x: L.GlobalAveragePooling2D(keepdims=True)(L.Conv2D(3, 1)(x))),
    ("mean_last_axis", (4, 4, 8),
     lambda x: L.Lambda(lambda t: tf.reduce_mean(t, axis=-1))(L.Conv2D(8, 1)(x))),
    ("softmax", (12,), lambda x: L.Softmax()(L.Dense(10)(x))),
    ("softmax_rows", (3, 3, 4), lambda x: L.Softmax()(L.Conv2D(10, 1)(x))),
    ("pad_reshape", (5, 5, 2),
     lambda x: L.Flatten()(L.ZeroPadding2D(((1, 2), (0, 1)))(L.Conv2D(2, 1)(x)))),
    ("pad_channels", (4, 4, 3), lambda x: L.Lambda(
        lambda t: tf.pad(t, [[0, 0], [1, 0], [0, 0], [1, 2]]))(L.Conv2D(3, 1)(x))),
]


@pytest.mark.slow
@pytest.mark.parametrize("name,shape,build", CASES, ids=[c[0] for c in CASES])
def test_builtin_op_matches_tflite_on_host(name, shape, build, tmp_path):
    tflite = _check(shape, build, seed=len(name), tmp_path=tmp_path)
    graph = codegen.load_graph(tflite)
    ops = {op.name for op in graph.operators}
    expected = {"conv": "CONV_2D", "depthwise": "DEPTHWISE_CONV_2D", "dense": "FULLY_CONNECTED",
                "add": "ADD", "max_pool": "MAX_POOL_2D", "avg_pool": "AVERAGE_POOL_2D",
                "mean": "MEAN", "softmax": "SOFTMAX", "pad": "PAD"}
    key = next(k for k in expected if name.startswith(k))
    assert expected[key] in ops, f"the model does not exercise {expected[key]}: {sorted(ops)}"


@pytest.mark.slow
def test_every_builtin_op_on_a_board(tmp_path):
    def body(x):
        y = L.ZeroPadding2D(1)(x)
        y = L.Conv2D(8, 3, strides=2, activation="relu")(y)
        y = L.Add()([y, L.DepthwiseConv2D(3, padding="same")(y)])
        y = L.MaxPooling2D(2, padding="same")(y)
        y = L.AveragePooling2D(2, padding="same")(y)
        y = L.GlobalAveragePooling2D(keepdims=True)(y)
        return L.Softmax()(L.Dense(10)(L.Flatten()(y)))

    tflite = _check((14, 14, 3), body, seed=7, tmp_path=tmp_path, board="mps2-an386", n=8)
    ops = {op.name for op in codegen.load_graph(tflite).operators}
    assert {"PAD", "CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "MAX_POOL_2D", "AVERAGE_POOL_2D",
            "MEAN", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"} <= ops, sorted(ops)


def _tails(x):
    """Every remainder of the optimized paths: K = 27 (not a multiple of 4 or 16), odd channel and
    pixel counts, 1x1 convs read in place (stride 1 and 2), an ADD large enough for its tables,
    depthwise with multiplier 2 and with 22 channels (not a multiple of 4), FC with K = 117."""
    a = L.Conv2D(11, 3, padding="same", activation="relu")(x)
    b = L.Conv2D(11, 1)(a)
    c = L.Add()([a, b])
    d = L.DepthwiseConv2D(3, depth_multiplier=2, strides=2, padding="same")(c)
    e = L.DepthwiseConv2D(3, padding="same", activation="relu")(d)
    f = L.Conv2D(13, 1, strides=2)(e)
    return L.Dense(7)(L.Flatten()(f))


@pytest.mark.slow
@pytest.mark.parametrize("board", ["host", "mps2-an386", "mps3-an547"])
def test_optimized_paths_match_tflite(board, tmp_path):
    """Portable C on the host (ASan + UBSan), the DSP path on Cortex-M4, Helium on Cortex-M55."""
    tflite = _check((11, 11, 3), _tails, seed=11, tmp_path=tmp_path,
                    board=None if board == "host" else board, n=6)
    graph = codegen.load_graph(tflite)
    assert [op.name for op in graph.operators if op.name != "RESHAPE"] == [
        "CONV_2D", "CONV_2D", "ADD", "DEPTHWISE_CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D",
        "FULLY_CONNECTED"]
    assert codegen.generate(tflite).graph.tensors[graph.operators[2].outputs[0]].size >= 1024


def _depthwise_groups(x):
    """Helium's pixels in groups of up to four along a row: (11, 15) -> stride 2 SAME (6, 8):
    padded rows (one pixel of padding on every side), two groups of four; VALID (4, 6) and (2, 4):
    read in place, groups of four and two; SAME 5 x 3 on (2, 4): the taps loop (not 3 x 3), rows
    above and below the input; 10 channels: two blocks of four and two past them."""
    a = L.DepthwiseConv2D(3, strides=2, padding="same", activation="relu")(x)
    b = L.DepthwiseConv2D(3)(L.DepthwiseConv2D(3)(a))
    return L.DepthwiseConv2D((5, 3), padding="same")(b)


@pytest.mark.slow
def test_depthwise_pixel_groups_match_tflite_on_helium(tmp_path):
    tflite = _check((11, 15, 10), _depthwise_groups, seed=5, tmp_path=tmp_path,
                    board="mps3-an547", n=4)
    assert [op.name for op in codegen.load_graph(tflite).operators] == ["DEPTHWISE_CONV_2D"] * 4


def test_softmax_table_is_expf_of_the_float32_products():
    scale = np.float32(0.05)
    table = tflite_math.softmax_table(scale, np.float32(1.0))
    assert table.dtype == np.float32 and table.shape == (256,)
    assert table[255] == np.float32(1.0)  # exp(0)
    d = np.arange(256)
    args = (np.float32(-scale) * d.astype(np.float32)).astype(np.float32)
    exact = np.exp(args.astype(np.float64)).astype(np.float32)  # correctly rounded but for ties
    ulps = np.abs(table[255 - d].view(np.int32) - exact.view(np.int32))
    assert ulps.max() <= 1  # glibc's expf is within 1 ulp; the table must be its values


def test_quantize_inputs_rounds_half_away_from_zero():
    x = np.array([0.5, -0.5, 1.5, -1.5, 200.0, -200.0], np.float32)
    q = runtime.quantize_inputs(x, 1.0, 0)
    assert q.tolist() == [1, -1, 2, -2, 127, -128]


def _append_requantize(tflite: bytes, scale: float, zero_point: int) -> bytes:
    """Append QUANTIZE (int8 -> int8, new scale / zero point) after the model's output: TFLite's
    converter emits it only around operators sbtf does not support, so build it directly."""
    from tensorflow.lite.python import schema_py_generated as schema

    from sbtf.converters import tflite_model as tfm

    model = tfm.read(tflite)
    sg = model.subgraphs[0]
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.QUANTIZE
    code.version = 1
    model.operatorCodes.append(code)
    old = sg.tensors[sg.outputs[0]]
    new = schema.TensorT()
    new.shape, new.type, new.name = list(old.shape), schema.TensorType.INT8, b"requantized"
    new.buffer = 0
    new.quantization = schema.QuantizationParametersT()
    new.quantization.scale, new.quantization.zeroPoint = [scale], [zero_point]
    sg.tensors.append(new)
    op = schema.OperatorT()
    op.opcodeIndex = len(model.operatorCodes) - 1
    op.inputs, op.outputs = [sg.outputs[0]], [len(sg.tensors) - 1]
    sg.operators.append(op)
    sg.outputs = [len(sg.tensors) - 1]
    return tfm.write(model)


@pytest.mark.parametrize("scale,zero_point", [(0.013, 5), (0.5, -100), (0.0021, 0)])
def test_quantize_int8_to_int8_matches_tflite(scale, zero_point, tmp_path):
    tf.keras.utils.set_random_seed(9)
    inp = tf.keras.Input((4, 4, 3))
    model = tf.keras.Model(inp, L.Conv2D(6, 3, padding="same")(inp))
    rng = np.random.default_rng(9)
    tflite = _append_requantize(hostref.int8_tflite(model, rng.normal(size=(32, 4, 4, 3))),
                                scale, zero_point)
    assert "QUANTIZE" in {op.name for op in codegen.load_graph(tflite).operators}
    s, zp = hostref.input_quantization(tflite)
    x = runtime.quantize_inputs(rng.normal(size=(N_INPUTS, 4, 4, 3)) * 1.5, s, zp)
    want = hostref.run_reference(tflite, x)
    got = runtime.run_model_host(tflite, x, out_dir=tmp_path).outputs.reshape(want.shape)
    np.testing.assert_array_equal(got, want)


def _pools(x):
    """The pooling paths: 20 channels (a chunk of 16 for the DSP and Helium paths, four past
    it); MAX 3x3 stride 2 SAME (clipped border windows), AVERAGE 3x3 SAME and 2x2 VALID, then
    MEAN over H and W."""
    y = L.MaxPooling2D(3, 2, padding="same")(L.Conv2D(20, 1)(x))
    y = L.AveragePooling2D(2)(L.AveragePooling2D(3, 1, padding="same")(y))
    return L.GlobalAveragePooling2D()(y)


@pytest.mark.slow
@pytest.mark.parametrize("board", ["mps2-an386", "mps3-an547"])
def test_pooling_paths_match_tflite(board, tmp_path):
    tflite = _check((9, 9, 3), _pools, seed=9, tmp_path=tmp_path, board=board, n=6)
    assert [op.name for op in codegen.load_graph(tflite).operators] == [
        "CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D", "AVERAGE_POOL_2D", "MEAN"]
