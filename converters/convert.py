"""`sbtf.converters.convert`: Keras model -> int8 TFLite flatbuffer with sbtf custom ops.

1. `prepare`: larq/sbtf quantized layers become plain Keras layers with quantized kernels.
2. TensorFlow's TFLiteConverter: full-integer int8, calibrated on representative data.
3. `reencode`: signed-binary CONV_2D / FULLY_CONNECTED -> SBTF_CONV_2D / SBTF_FULLY_CONNECTED.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from sbtf import _env
from sbtf.converters.errors import ConversionError, ConversionWarning
from sbtf.converters.prepare import prepare
from sbtf.converters.reencode import reencode
from sbtf.converters.report import ConversionReport

DETECT_MODES = ("quantizer", "weights")
RANDOM_CALIBRATION_SAMPLES = 64


@dataclasses.dataclass
class ConversionResult:
    """tflite: the sbtf model; int8_tflite: TensorFlow's int8 model before re-encoding (same
    calibration), the bit-exact reference for the sbtf ops; report: the per-layer report."""

    tflite: bytes
    int8_tflite: bytes
    report: ConversionReport


def _io_type(value, name):
    try:
        dtype = tf.dtypes.as_dtype(value)
    except TypeError:
        dtype = None
    if dtype not in (tf.int8, tf.float32):
        raise ConversionError(f"{name} must be tf.int8 or tf.float32, got {value!r}")
    return dtype


def _input_shapes(model) -> list[tuple]:
    return [tuple(None if d is None else int(d) for d in t.shape) for t in model.inputs]


def _check_array(data, shape, what) -> np.ndarray:
    if not isinstance(data, np.ndarray):
        raise ConversionError(f"{what} must be a NumPy array, got {type(data).__name__}")
    if not np.issubdtype(data.dtype, np.floating):
        raise ConversionError(
            f"{what} has dtype {data.dtype}; it must be floating point, preprocessed like the "
            f"model's training inputs"
        )
    if data.ndim != len(shape) or any(
        e is not None and e != d for e, d in zip(shape[1:], data.shape[1:])
    ):
        expected = "N x " + " x ".join("?" if d is None else str(d) for d in shape[1:])
        raise ConversionError(f"{what} has shape {data.shape}; the model input needs {expected}")
    if data.shape[0] < 1:
        raise ConversionError(f"{what} holds no samples")
    if not np.all(np.isfinite(data)):
        raise ConversionError(f"{what} contains NaN or infinite values")
    return data.astype(np.float32)


def check_calibration(model, data, what: str = "representative data") -> None:
    """Raise ConversionError (starting with `what`) unless `data` calibrates a one-input model."""
    shapes = _input_shapes(model)
    if len(shapes) != 1:
        raise ConversionError(
            f"{what}: one array for a model with {len(shapes)} inputs; pass a list of arrays "
            f"to sbtf.converters.convert instead"
        )
    _check_array(data, shapes[0], what)


def _calibration(model, representative_data, random_calibration) -> Callable:
    shapes = _input_shapes(model)
    if representative_data is not None and random_calibration:
        raise ConversionError(
            "pass either representative_data or random_calibration=True, not both"
        )
    if representative_data is None and not random_calibration:
        raise ConversionError(
            "int8 conversion needs calibration data: pass representative_data (N x input shape) "
            "or random_calibration=True (accuracy will suffer)"
        )
    if callable(representative_data):
        return representative_data  # TensorFlow's representative_dataset protocol
    if random_calibration:
        warnings.warn(
            "calibrating on random normal data: int8 ranges will not match real inputs "
            "and accuracy will suffer",
            ConversionWarning,
            stacklevel=3,
        )
        rng = np.random.default_rng(0)
        arrays = [
            rng.standard_normal((RANDOM_CALIBRATION_SAMPLES, *(d or 1 for d in s[1:]))).astype(
                np.float32
            )
            for s in shapes
        ]
    else:
        arrays = (
            list(representative_data)
            if isinstance(representative_data, (list, tuple))
            else [representative_data]
        )
        if len(arrays) != len(shapes):
            raise ConversionError(
                f"representative_data has {len(arrays)} arrays; the model has "
                f"{len(shapes)} inputs"
            )
        arrays = [
            _check_array(
                a,
                s,
                "representative data" if len(shapes) == 1 else f"representative data for input {i}",
            )
            for i, (a, s) in enumerate(zip(arrays, shapes))
        ]
        if len({len(a) for a in arrays}) != 1:
            raise ConversionError("representative data arrays differ in their number of samples")

    if len(arrays) == 1:

        def dataset():
            for i in range(len(arrays[0])):
                yield [arrays[0][i : i + 1]]

    else:
        # TFLite orders a signature's inputs by name, not as model.inputs: key them by name.
        names = list(model.input_names)

        def dataset():
            for i in range(len(arrays[0])):
                yield {n: a[i : i + 1] for n, a in zip(names, arrays)}

    return dataset


def _tflite_int8(model, dataset, input_type, output_type) -> bytes:
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.representative_dataset = dataset
    converter.inference_input_type = input_type
    converter.inference_output_type = output_type
    try:
        with warnings.catch_warnings(), _env.native_stderr_captured():
            warnings.simplefilter("ignore")  # TF's notes on statistics and deprecations
            return bytes(converter.convert())
    except Exception as exc:
        first = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        raise ConversionError(f"TensorFlow's TFLite converter failed: {first}") from exc


def convert_with_report(
    model: tf.keras.Model,
    *,
    representative_data=None,
    random_calibration: bool = False,
    inference_input_type=tf.int8,
    inference_output_type=tf.int8,
    detect: str = "quantizer",
    strict: bool = False,
) -> ConversionResult:
    """As `convert`, returning the sbtf model, the plain int8 model and the report."""
    if detect not in DETECT_MODES:
        raise ConversionError(f"detect must be one of {DETECT_MODES}, got {detect!r}")
    for flag, name in ((random_calibration, "random_calibration"), (strict, "strict")):
        if not isinstance(flag, bool):
            raise ConversionError(f"{name} must be True or False, got {flag!r}")
    input_type = _io_type(inference_input_type, "inference_input_type")
    output_type = _io_type(inference_output_type, "inference_output_type")
    prepared = prepare(model)
    dataset = _calibration(prepared.model, representative_data, random_calibration)
    int8 = _tflite_int8(prepared.model, dataset, input_type, output_type)
    tflite, rows, problems = reencode(
        int8,
        signed_binary_layers=prepared.signed_binary_layers if detect == "quantizer" else None,
        layer_names=prepared.layer_names,
        aliases=prepared.aliases,
        masks=prepared.masks,
        strict=strict,
    )
    report = ConversionReport(rows, len(int8), len(tflite), list(problems))
    return ConversionResult(tflite, int8, report)


def convert(
    model: tf.keras.Model,
    *,
    representative_data=None,
    random_calibration: bool = False,
    inference_input_type=tf.int8,
    inference_output_type=tf.int8,
    detect: str = "quantizer",
    strict: bool = False,
) -> bytes:
    """Convert a Keras model to an int8 TFLite flatbuffer with sbtf's signed-binary ops.

    Args:
        model: a built Keras model; larq Quant* layers (and sbtf's signed-binary layers) are
            converted with their quantized kernels; their input_quantizer must be None.
        representative_data: calibration inputs, a float array N x input shape (a list of
            arrays for several inputs), or TensorFlow's representative_dataset callable.
        random_calibration: calibrate on random normal data instead (warns; accuracy suffers).
        inference_input_type, inference_output_type: tf.int8 (default) or tf.float32.
        detect: which conv / dense layers become sbtf ops: "quantizer" (default) the layers
            with a SignedBinaryQuantizer; "weights" every CONV_2D / FULLY_CONNECTED whose int8
            weights are signed-binary.
        strict: a signed-binary layer that stays a builtin int8 op raises ConversionError
            instead of a ConversionWarning.

    Returns the `.tflite` file's bytes. Raises ConversionError on bad models or options.
    """
    return convert_with_report(
        model,
        representative_data=representative_data,
        random_calibration=random_calibration,
        inference_input_type=inference_input_type,
        inference_output_type=inference_output_type,
        detect=detect,
        strict=strict,
    ).tflite
