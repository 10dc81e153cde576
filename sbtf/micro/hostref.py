"""Host references for sbtf's runtime: TFLite's interpreter with its reference kernels.

    y = run_reference(tflite_bytes, x_int8)      # int8 [N, *output_shape], OpResolverType.BUILTIN_REF
    y = run_sbtf_interpreter(sbtf_tflite, x_int8)  # sbtf.Interpreter (sbtf delegate + BUILTIN_REF)
    tflite = int8_tflite(keras_model, calibration_data)

Models with sbtf custom ops are compared through their plain int8 twin
(`sbtf.converters.convert_with_report(...).int8_tflite`), which they equal bit for bit by the
op definition (docs/op_spec.md), and through `sbtf.Interpreter` on the sbtf model itself.
"""
from __future__ import annotations

import warnings

import numpy as np

from sbtf import _env  # noqa: F401

__all__ = ["input_quantization", "int8_tflite", "run_reference"]


def _interpreter(tflite: bytes):
    import tensorflow as tf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
        it = tf.lite.Interpreter(
            model_content=bytes(tflite),
            experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF,
        )
    it.allocate_tensors()
    return it


def input_quantization(tflite: bytes) -> tuple[float, int]:
    """(scale, zero_point) of the model's input."""
    scale, zero_point = _interpreter(tflite).get_input_details()[0]["quantization"]
    return float(scale), int(zero_point)


def run_reference(tflite: bytes, x_int8) -> np.ndarray:
    """Run a batch ([N, ...] int8, N model inputs) one input at a time; int8 [N, *out_shape]."""
    return _run_batch(_interpreter(tflite), x_int8)


def run_sbtf_interpreter(tflite: bytes, x_int8) -> np.ndarray:
    """As run_reference, with sbtf.Interpreter (runs the sbtf custom ops with the C kernels)."""
    from sbtf.interpreter import Interpreter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        it = Interpreter(model_content=bytes(tflite))
    it.allocate_tensors()
    return _run_batch(it, x_int8)


def _run_batch(it, x_int8) -> np.ndarray:
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    shape = tuple(inp["shape"])
    x = np.asarray(x_int8, np.int8).reshape((-1, *shape))
    outputs = []
    for xi in x:
        it.set_tensor(inp["index"], xi)
        it.invoke()
        outputs.append(it.get_tensor(out["index"]).copy())
    y = np.stack(outputs)
    return y.reshape((len(x), *y.shape[2:])) if y.shape[1] == 1 else y


def int8_tflite(model, calibration, *, per_channel_dense: bool = True) -> bytes:
    """Full-integer int8 TFLite (int8 input and output) of a float Keras model."""
    import tensorflow as tf

    data = np.asarray(calibration, np.float32)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([d[None]] for d in data)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    if not per_channel_dense:
        converter._experimental_disable_per_channel_quantization_for_dense_layers = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bytes(converter.convert())
