"""sbtf-convert on the reference models: ResNet-8 (every signed-binary conv re-encoded, sizes
agree with sbtf.summary, ops bit-exact) and the trained digits CNN (accuracy kept)."""

import numpy as np
import pytest
import tensorflow as tf

import sbtf
from sbtf.converters import convert_with_report
from sbtf.converters.host import run_sbtf_op
from sbtf.converters.testing import interpreter, operator_io


def _randomize_batchnorm_and_biases(model, rng):
    """Stand-in for training: BatchNorm gammas of both signs, non-zero biases and statistics."""
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            c = layer.gamma.shape[0]
            gamma = rng.uniform(0.5, 1.5, c) * np.where(rng.random(c) < 0.5, -1.0, 1.0)
            layer.set_weights(
                [gamma, rng.normal(0, 0.2, c), rng.normal(0, 0.2, c), rng.uniform(0.5, 2, c)]
            )
        elif getattr(layer, "use_bias", False) and layer.bias is not None:
            layer.bias.assign(rng.normal(0, 0.1, layer.bias.shape))


def _check_against_summary(model, report):
    summary = sbtf.summary(model, print_fn=None)
    for row in report.layers:
        expected = summary.layer(row.layer)
        assert row.bytes_before == expected.int8_bytes, row
        assert row.bytes_after == expected.sbtf_bytes, row
        if expected.weight_format == "signed-binary":
            assert row.sparsity == pytest.approx(expected.sparsity)
    conv_rows = [r for r in summary.layers if r.c_out is not None]
    assert report.bytes_before == sum(r.int8_bytes for r in conv_rows)
    assert report.bytes_after == sum(r.sbtf_bytes for r in conv_rows)


def test_resnet8_converts_every_signed_binary_conv():
    rng = np.random.default_rng(0)
    model = sbtf.models.resnet8()
    _randomize_batchnorm_and_biases(model, rng)
    calib = rng.random((32, 32, 32, 3), dtype=np.float32)
    result = convert_with_report(model, representative_data=calib, strict=True)
    report = result.report
    signed = [r for r in report.layers if r.signed_binary]
    assert len(signed) == 6 and all(r.op == "SBTF_CONV_2D" for r in signed)
    assert {r.op for r in report.layers if not r.signed_binary} == {"CONV_2D", "FULLY_CONNECTED"}
    _check_against_summary(model, report)
    assert len(result.tflite) < len(result.int8_tflite) - 0.8 * (
        report.bytes_before - report.bytes_after
    )
    samples = rng.integers(-128, 128, (2, 32, 32, 3), dtype=np.int8)
    io = operator_io(result.int8_tflite, [samples])
    for row in signed:
        for x, y in io[row.operator]:
            np.testing.assert_array_equal(run_sbtf_op(result.tflite, row.operator, x), y)


def _quantize(x, details):
    scale, zero_point = details["quantization"]
    return np.clip(np.round(x / scale) + zero_point, -128, 127).astype(np.int8)


def _predict(interp, x):
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    preds = []
    for sample in x:
        interp.set_tensor(inp["index"], _quantize(sample[None], inp))
        interp.invoke()
        preds.append(interp.get_tensor(out["index"])[0].copy())
    return np.array(preds)


@pytest.mark.slow
def test_digits_accuracy_survives_conversion():
    """Converted digits CNN: accuracy within 1 point of Keras (stated tolerance: int8
    activations and per-channel weight scales; signed-binary weights themselves quantize
    exactly). Evaluated end to end with sbtf.Interpreter (TFLite reference kernels + sbtf's C
    kernels for the sbtf ops); its logits also equal the plain int8 model's bit for bit."""
    from sbtf.data import load_digits_split
    from sbtf.interpreter import Interpreter
    from sbtf.models import train

    tf.keras.utils.set_random_seed(0)
    data = load_digits_split()
    (x_train, _), (x_test, y_test) = data
    model = sbtf.models.digits_cnn()
    keras_accuracy = train(model, data, epochs=15)
    assert keras_accuracy > 0.85  # the model learned something, so the comparison means something

    result = convert_with_report(model, representative_data=x_train[:200], strict=True)
    assert [r.op for r in result.report.layers if r.signed_binary] == ["SBTF_CONV_2D"] * 3
    _check_against_summary(model, result.report)

    converted = Interpreter(
        model_content=result.tflite,
        experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF,
    )
    converted.allocate_tensors()
    logits = _predict(converted, x_test)
    tflite_accuracy = float(np.mean(logits.argmax(axis=1) == y_test))
    assert abs(tflite_accuracy - keras_accuracy) <= 0.01, (tflite_accuracy, keras_accuracy)

    plain = _predict(interpreter(result.int8_tflite, preserve_all_tensors=False), x_test)
    np.testing.assert_array_equal(logits, plain)
