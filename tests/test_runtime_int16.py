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


CASES = [
    ("conv_same_relu", (7, 7, 3),
     lambda x: L.Conv2D(5, 3, padding="same", activation="relu")(x), "CONV_2D"),
    ("conv_stride2_valid", (9, 8, 4), lambda x: L.Conv2D(6, 3, strides=2)(x), "CONV_2D"),
    ("conv_dilated_1x1", (6, 6, 3),
     lambda x: L.Conv2D(4, 1, activation="relu6")(L.Conv2D(4, 3, padding="same")(x)), "CONV_2D"),
    ("depthwise_mult2", (7, 6, 3),
     lambda x: L.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(x), "DEPTHWISE_CONV_2D"),
    ("depthwise_stride2", (9, 9, 4),
     lambda x: L.DepthwiseConv2D(3, strides=2, activation="relu")(x), "DEPTHWISE_CONV_2D"),
    ("dense", (20,), lambda x: L.Dense(7)(L.Dense(12, activation="relu")(x)), "FULLY_CONNECTED"),
    ("dense_no_bias", (10,), lambda x: L.Dense(6, use_bias=False)(x),
     "FULLY_CONNECTED"),
    ("add_residual", (6, 6, 4),
     lambda x: L.Add()([L.Conv2D(4, 3, padding="same")(x), L.Conv2D(4, 1)(x) * 3.0]), "ADD"),
    ("avg_pool", (8, 8, 3),
     lambda x: L.AveragePooling2D(3, strides=2, padding="same")(L.Conv2D(3, 1)(x)),
     "AVERAGE_POOL_2D"),
    ("max_pool_reshape", (8, 6, 3),
     lambda x: L.Flatten()(L.MaxPooling2D(2)(L.Conv2D(4, 3, padding="same")(x))), "MAX_POOL_2D"),
]


@pytest.mark.slow
@pytest.mark.parametrize("name,shape,build,op", CASES, ids=[c[0] for c in CASES])
def test_16x8_op_matches_tflite_on_host(name, shape, build, op, tmp_path):
    model, rng = _model(shape, build, seed=len(name))
    tflite = convert_16x8(model, rng.normal(size=(32, *shape)))
    assert op in _ops(tflite), _ops(tflite)
    check(tflite, _int16_inputs(tflite, rng.normal(size=(N_INPUTS, *shape)) * 1.5), tmp_path)
