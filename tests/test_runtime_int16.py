"""16x8 models (int16 activations, int8 weights: TensorFlow's converter with
EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8, as TFLM's keyword_scrambled
example) in sbtf's runtime equal TFLite's interpreter (BUILTIN_REF) bit for bit: two small Keras
models covering every 16x8 operator and MLPerf Tiny-shaped models on the host (gcc, ASan +
UBSan), one model on a board; what stays unsupported is refused by name, hostile 16x8 files are
generated or refused."""
from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf

import sbtf  # noqa: F401
from sbtf.micro import codegen, hostref, runtime

L = tf.keras.layers
N_INPUTS = 16


convert_16x8 = hostref.int16x8_tflite


def _int16_inputs(tflite, x):
    """Float data quantized to the model's int16 input, as TFLite's QUANTIZE would."""
    g = codegen.load_graph(tflite)
    scale = np.float32(g.tensors[g.inputs[0]].scale[0])
    q = np.asarray(x, np.float32) / scale
    q = np.where(q >= 0, np.floor(q + 0.5), np.ceil(q - 0.5))
    return np.clip(q, -32768, 32767).astype(np.int16)


def _ops(tflite) -> list[str]:
    return [op.name for op in codegen.load_graph(tflite).operators]


def check(tflite, x, tmp_path, board=None):
    """The runtime's outputs equal the interpreter's, bitwise (float outputs too)."""
    want = hostref.run_reference(tflite, x)
    if board is None:
        got = runtime.run_model_host(tflite, x, out_dir=tmp_path, sanitize=True).outputs
    else:
        got = runtime.run_model(tflite, board, x, out_dir=tmp_path, timeout=300).outputs
    got = got.reshape(want.shape)
    assert got.dtype == want.dtype
    assert len(np.unique(want)) > min(8, want.size // 2), "outputs too uniform to show bit-exactness"
    diff = got.view(f"u{got.itemsize}") != want.view(f"u{want.itemsize}")
    assert not diff.any(), f"{int(diff.sum())} of {want.size} differ"


def _model(shape, build, seed):
    tf.keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    inp = tf.keras.Input(shape)
    return tf.keras.Model(inp, build(inp)), rng


def _every_op(x):
    """CONV_2D (SAME, ReLU), DEPTHWISE_CONV_2D (multiplier 2), ADD, AVERAGE_POOL_2D (SAME,
    stride 2), MAX_POOL_2D, RESHAPE, FULLY_CONNECTED (ReLU, then none) and SOFTMAX."""
    y = L.Conv2D(5, 3, padding="same", activation="relu")(x)
    y = L.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(y)
    y = L.Add()([y, L.Conv2D(10, 1)(y) * 3.0])
    y = L.MaxPooling2D(2)(L.AveragePooling2D(3, strides=2, padding="same")(y))
    y = L.Dense(12, activation="relu")(L.Flatten()(y))
    return L.Softmax()(L.Dense(7)(y) * 4.0)


def _strided(x):
    """CONV_2D stride 2 VALID, DEPTHWISE_CONV_2D stride 2 VALID with ReLU, 1x1 CONV_2D with
    ReLU6, FULLY_CONNECTED with 600 inputs and without bias."""
    y = L.Conv2D(6, 3, strides=2)(x)
    y = L.DepthwiseConv2D(3, strides=2, activation="relu")(y)
    y = L.Conv2D(8, 1, activation="relu6")(y)
    y = L.Dense(600, activation="relu")(L.Flatten()(y))
    return L.Dense(9, use_bias=False)(y)


def _more_ops(x):
    """PAD (ZeroPadding2D), MEAN over H and W (GlobalAveragePooling2D) and over the channels,
    MUL broadcast ([1,H,W,C] * [1,1,1,C], squeeze-and-excite) and elementwise, SUB."""
    y = L.ZeroPadding2D(((1, 0), (2, 1)))(x)
    y = L.Conv2D(6, 3, activation="relu")(y)
    y = L.Multiply()([y, L.GlobalAveragePooling2D(keepdims=True)(y)])
    y = L.Subtract()([y, L.Conv2D(6, 1)(y)])
    y = L.Multiply()([y, L.Conv2D(6, 1)(y)])
    y = L.Conv2D(4, 1)(tf.reduce_mean(y, axis=-1, keepdims=True))
    return L.Dense(5)(L.GlobalAveragePooling2D()(y))


CASES = [  # name, input shape, model, float32 I/O (QUANTIZE / DEQUANTIZE at the edges)
    ("every_op", (8, 8, 3), _every_op, False),
    ("strided_float_io", (11, 10, 4), _strided, True),
    ("more_ops", (7, 6, 3), _more_ops, False),
]
EVERY_OP = {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "AVERAGE_POOL_2D", "MAX_POOL_2D", "RESHAPE",
            "FULLY_CONNECTED", "SOFTMAX"}
MORE_OPS = {"PAD", "MEAN", "MUL", "SUB"}


@pytest.mark.slow
@pytest.mark.parametrize("name,shape,build,float_io", CASES, ids=[c[0] for c in CASES])
def test_16x8_ops_match_tflite_on_host(name, shape, build, float_io, tmp_path):
    model, rng = _model(shape, build, seed=len(name))
    tflite = convert_16x8(model, rng.normal(size=(32, *shape)), int16_io=not float_io)
    ops = _ops(tflite)
    if float_io:
        assert ops[0] == "QUANTIZE" and ops[-1] == "DEQUANTIZE", ops
        x = rng.normal(size=(N_INPUTS, *shape)).astype(np.float32) * 1.5
        # saturating QUANTIZE (beyond int16, within int32: past 2^31 TFLite's cast is undefined)
        x[0, :2, 0, 0] = [100.0, -100.0]
    else:
        assert (EVERY_OP if name == "every_op" else MORE_OPS) <= set(ops), ops
        x = _int16_inputs(tflite, rng.normal(size=(N_INPUTS, *shape)) * 1.5)
    check(tflite, x, tmp_path)


def _without_final_softmax(tflite: bytes) -> bytes:
    """The model up to its logits: untrained random models give near-uniform softmax outputs
    (SOFTMAX itself is in test_16x8_ops_match_tflite_on_host)."""
    from sbtf.converters import tflite_model as tfm

    model = tfm.read(tflite)
    sg = model.subgraphs[0]
    if model.operatorCodes[sg.operators[-1].opcodeIndex].builtinCode == 25:  # SOFTMAX
        sg.operators = sg.operators[:-1]
        sg.outputs = [sg.operators[-1].outputs[0]]
    return tfm.write(model)


@pytest.mark.slow
def test_16x8_softmax_over_its_whole_range(tmp_path):
    """SOFTMAX alone on 64 rows of 96 int16 inputs, from near-uniform rows (large sums: the
    1/(1+x) LUT's whole range) to rows spanning all of int16 (the exp LUT's [-10, 0])."""
    inp = tf.keras.Input((96,))
    rng = np.random.default_rng(1)
    tflite = convert_16x8(tf.keras.Model(inp, L.Softmax()(inp)), rng.normal(size=(16, 96)) * 8)
    spread = np.geomspace(1, 65535, 64)[:, None]
    x = np.clip(rng.uniform(-0.5, 0.5, size=(64, 96)) * spread, -32768, 32767)
    check(tflite, x.astype(np.int16), tmp_path)


# ResNet-8 (~1 min) in make test; the others (their operators are all in the models above;
# 1-1.5 min each) with SBTF_TEST_ALL_MLPERF=1.
MLPERF_16X8 = ["ic_resnet8"] + (
    ["kws_ds_cnn", "vww_mobilenet_v1", "ad_autoencoder"]
    if os.environ.get("SBTF_TEST_ALL_MLPERF") else [])


@pytest.mark.slow
@pytest.mark.parametrize("name", MLPERF_16X8)
def test_mlperf_tiny_16x8_matches_tflite_on_host(name, tmp_path):
    """The MLPerf Tiny-shaped models (int8 weights, sbtf.mlperf_tiny) converted 16x8."""
    from sbtf import mlperf_tiny

    tf.keras.utils.set_random_seed(0)
    model = mlperf_tiny.MODELS[name](signed_binary=False)
    tflite = _without_final_softmax(convert_16x8(model, mlperf_tiny.calibration(name, n=8)))
    x = _int16_inputs(tflite, mlperf_tiny.calibration(name, n=3, seed=1))
    check(tflite, x, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name,shape,build,ops", [
    ("every_op", (8, 8, 3), _every_op, EVERY_OP), ("more_ops", (7, 6, 3), _more_ops, MORE_OPS)])
def test_16x8_ops_on_a_board(name, shape, build, ops, tmp_path):
    """Every 16x8 operator on Cortex-M4 (mps2-an386), float32 in and out."""
    model, rng = _model(shape, build, seed=21)
    tflite = convert_16x8(model, rng.normal(size=(32, *shape)), int16_io=False)
    assert ops | {"QUANTIZE", "DEQUANTIZE"} <= set(_ops(tflite))
    check(tflite, rng.normal(size=(4, *shape)).astype(np.float32) * 1.5, tmp_path, "mps2-an386")


def _mutated(tflite, op_name, edit):
    from sbtf.converters import tflite_model as tfm

    model = tfm.read(tflite)
    g = codegen.load_graph(tflite)
    op = next(o for o in g.operators if o.name == op_name)
    edit(model.subgraphs[0], model.subgraphs[0].operators[op.index], model)
    return tfm.write(model), op.index


def test_unsupported_16x8_is_refused_by_name():
    """An int16 operator the runtime lacks (LOGISTIC), an int64 bias beyond 2^46, an FC whose
    int32 accumulator could overflow and a power-of-two int16 ADD are refused before any C is
    written, naming operator and tensor."""
    tf.keras.utils.set_random_seed(2)
    rng = np.random.default_rng(2)
    inp = tf.keras.Input((6, 6, 3))
    y = L.Conv2D(4, 3, padding="same")(inp)
    y = L.Add()([y, L.Conv2D(4, 1)(y)])
    y = L.Dense(5)(L.GlobalAveragePooling2D()(y))
    tflite = convert_16x8(tf.keras.Model(inp, L.Activation("sigmoid")(y)),
                          rng.normal(size=(16, 6, 6, 3)))
    g = codegen.load_graph(tflite)
    mean = next(o for o in g.operators if o.name == "MEAN")
    logistic = next(o for o in g.operators if o.name == "LOGISTIC")
    with pytest.raises(codegen.UnsupportedModelError,
                       match=rf"m.tflite: operator {logistic.index} \(LOGISTIC\): input tensor "
                             r".*has type INT16: int16 activations \(16x8\) are not supported "
                             r"by LOGISTIC"):
        codegen.generate(tflite, source="m.tflite")

    def no_mean_and_logistic(sg, op, model):  # cut the model after the ADD
        add = next(o for o in sg.operators if o.outputs[0] == mean.inputs[0])
        sg.operators = sg.operators[:sg.operators.index(add) + 1]
        sg.outputs = [add.outputs[0]]

    base, _ = _mutated(tflite, "MEAN", no_mean_and_logistic)
    codegen.generate(base)  # supported as it stands
    from hostile_corpus import mutants

    outcomes = set()
    for what, data in mutants(base, 120, seed=16):  # hostile files: generated, or refused
        try:
            codegen.generate(data)
            outcomes.add("generated")
        except codegen.UnsupportedModelError:
            outcomes.add("refused")
    assert outcomes == {"generated", "refused"}

    def big_bias(sg, op, model):
        model.buffers[sg.tensors[op.inputs[2]].buffer].data = np.full(
            4, (1 << 46) + 1, "<i8").view(np.uint8)

    def pot_scale(sg, op, model):
        op.builtinOptions.potScaleInt16 = True

    for op_name, edit, expected in (
            ("CONV_2D", big_bias, "bias tensor .* has a value beyond"),
            ("ADD", pot_scale, "int16 ADD with power-of-two scales")):
        bad, index = _mutated(base, op_name, edit)
        with pytest.raises(codegen.UnsupportedModelError,
                           match=rf"operator {index} \({op_name}\): {expected}"):
            codegen.generate(bad)

    inp = tf.keras.Input((700,))
    tflite = convert_16x8(tf.keras.Model(inp, L.Dense(2)(inp)), rng.normal(size=(8, 700)))

    def heavy_weights(sg, op, model):
        model.buffers[sg.tensors[op.inputs[1]].buffer].data = np.full(1400, 127, np.int8).view(
            np.uint8)

    bad, index = _mutated(tflite, "FULLY_CONNECTED", heavy_weights)
    with pytest.raises(codegen.UnsupportedModelError, match="accumulator can exceed int32"):
        codegen.generate(bad)


def test_mis_shaped_16x8_pad_and_mean_are_refused():
    """A PAD or MEAN whose int16 output does not hold what the operator writes is refused before
    any C is generated (it would overrun the arena)."""
    from sbtf.converters import tflite_model as tfm

    inp = tf.keras.Input((4, 5, 3))
    y = L.GlobalAveragePooling2D()(L.ZeroPadding2D(1)(L.Conv2D(3, 1)(inp)))
    tflite = convert_16x8(tf.keras.Model(inp, y), np.random.default_rng(3).normal(size=(8, 4, 5, 3)))
    codegen.generate(tflite)  # supported as it stands
    g = codegen.load_graph(tflite)
    for name, expected in (("PAD", "is not input .* padded by"), ("MEAN", "does not hold the mean")):
        op = next(o for o in g.operators if o.name == name)
        model = tfm.read(tflite)
        model.subgraphs[0].tensors[op.outputs[0]].shape[-1] += 1
        with pytest.raises(codegen.UnsupportedModelError,
                           match=rf"operator {op.index} \({name}\).*{expected}"):
            codegen.generate(tfm.write(model))
