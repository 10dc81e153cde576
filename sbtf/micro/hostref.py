"""Host references for sbtf's runtime: TFLite's interpreter with its reference kernels.

    y = run_reference(tflite_bytes, x_int8)      # int8 [N, *output_shape], OpResolverType.BUILTIN_REF
    ys = run_reference(tflite_bytes, [x0, x1])   # several inputs / outputs: lists
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
    from sbtf.converters.testing import interpreter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
        return interpreter(tflite, preserve_all_tensors=False)


def input_quantization(tflite: bytes) -> tuple[float, int]:
    """(scale, zero_point) of the model's input, read from the flatbuffer (works for models with
    sbtf ops, which a plain TFLite interpreter cannot allocate)."""
    from sbtf.converters import tflite_model as tfm

    model = tfm.read(tflite)
    tensor = model.subgraphs[0].tensors[int(model.subgraphs[0].inputs[0])]
    return float(tfm.scales(tensor)[0]), int(tfm.zero_points(tensor)[0])


def run_reference(tflite: bytes, x_int8, *, stream: bool = False):
    """Run a batch (int8 [N, *input_shape[1:]], sbtf.batch; float for a float32 input; a list
    of batches for several inputs) one input at a time; [N, *out_shape] (a list for several
    outputs). Each input starts from reset variable tensors, unless `stream`: then the inputs
    are one sequence, state (SVDF's memory) carrying over as on the boards."""
    return _run_batch(_interpreter(tflite), x_int8, stream)


def run_sbtf_interpreter(tflite: bytes, x_int8) -> np.ndarray:
    """As run_reference, with sbtf.Interpreter (runs the sbtf custom ops with the C kernels)."""
    from sbtf.interpreter import Interpreter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        it = Interpreter(model_content=bytes(tflite))
    it.allocate_tensors()
    return _run_batch(it, x_int8)


def _run_batch(it, xs, stream: bool = False):
    """xs: one batch [N, *input_shape[1:]] (sbtf.batch) per model input (an array for one input,
    else a list in model order), cast to each input's dtype. Returns one [N, *output_shape[1:]]
    array per output (the array alone for a one-output model)."""
    from sbtf.batch import as_batch

    ins, outs = it.get_input_details(), it.get_output_details()
    if isinstance(xs, np.ndarray) or not isinstance(xs, (list, tuple)):
        xs = [xs]
    if len(xs) != len(ins):
        raise ValueError(f"{len(xs)} input batch(es) for a model with {len(ins)} input(s)")
    xs = [as_batch(np.asarray(x, d["dtype"]), d["shape"]) for x, d in zip(xs, ins)]
    ys = [[] for _ in outs]
    reset = None if stream else getattr(it, "reset_all_variables", None)
    for i in range(len(xs[0])):
        if reset is not None:
            reset()  # every input a new sequence: an LSTM's state starts from zero
        for x, d in zip(xs, ins):
            it.set_tensor(d["index"], x[i])
        it.invoke()
        for y, d in zip(ys, outs):
            y.append(it.get_tensor(d["index"]).copy())
    ys = [np.stack(y) for y in ys]
    ys = [y.reshape((len(y), *y.shape[2:])) if y.ndim > 1 and y.shape[1] == 1 else y for y in ys]
    return ys[0] if len(ys) == 1 else ys


def int8_tflite(model, calibration) -> bytes:
    """TensorFlow's full-integer int8 TFLite (int8 input and output) of a Keras model, made as
    sbtf-convert makes its int8 twin."""
    from sbtf.converters.convert import convert_with_report

    return convert_with_report(model, representative_data=np.asarray(calibration, np.float32)).int8_tflite


def int16x8_tflite(model, calibration, int16_io: bool = True) -> bytes:
    """TensorFlow's 16x8 TFLite (int16 activations, int8 weights, int64 biases;
    EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8) of a one-input Keras model,
    with int16 (or float32) input and output."""
    import tensorflow as tf

    calibration = np.asarray(calibration, np.float32)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([calibration[i:i + 1]] for i in range(len(calibration)))
    conv.target_spec.supported_ops = [
        tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    if int16_io:
        conv.inference_input_type = conv.inference_output_type = tf.int16
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bytes(conv.convert())
