"""The NumPy reference (sbtf.converters.reference) equals TFLite's int8 CONV_2D / FULLY_CONNECTED
bit for bit, on random int8 weights (not only signed-binary).

This validates the reference the C kernels are checked against. TFLite runs with its builtin
kernels only (no XNNPACK, which rounds differently); multipliers are computed from the file's
quantization parameters with `tflite_math.conv_multipliers` / `fully_connected_multipliers`.
All layers sit side by side in one model so one TFLite conversion covers the sweep.
"""

import numpy as np
import pytest
import tensorflow as tf

from sbtf import bitmask
from sbtf.converters import reference, tflite_math
from sbtf.converters import tflite_model as tfm
from sbtf.converters.convert import convert_with_report
from sbtf.converters.testing import builtin_reference, operators_by_layer

H, W = 9, 11
SAMPLES = 6

# name: (kernel, strides, dilation, padding, activation, use_bias, c_in, c_out)
CONV = {
    "k1_same": ((1, 1), 1, 1, "same", None, True, 3, 8),
    "k3_same_relu": ((3, 3), 1, 1, "same", "relu", True, 8, 31),
    "k3_valid_relu6": ((3, 3), 1, 1, "valid", "relu6", False, 33, 32),
    "k5_same_s2": ((5, 5), 2, 1, "same", None, True, 1, 33),
    "k3_valid_s2": ((3, 3), 2, 1, "valid", "relu", False, 31, 8),
    "k3_same_d2": ((3, 3), 1, 2, "same", None, False, 32, 3),
    "k5_valid_d2": ((5, 5), 1, 2, "valid", "relu6", True, 3, 64),
    "k3x1_s2x1": ((3, 1), (2, 1), 1, "same", "relu", True, 64, 1),
    "k1x5_same_d1x2": ((1, 5), 1, (1, 2), "same", None, True, 8, 31),
    "k5_same_s2_even_pad": ((5, 5), 2, 1, "same", "relu6", False, 33, 33),
}
# name: (activation, use_bias, c_in, c_out)
DENSE = {
    "fc_1x1": (None, True, 1, 1),
    "fc_relu": ("relu", True, 31, 33),
    "fc_relu6_nobias": ("relu6", False, 64, 8),
    "fc_wide": (None, True, 300, 32),
}


@pytest.fixture(scope="module")
def converted():
    rng = np.random.default_rng(1234)
    inputs, outputs, calib = {}, [], {}

    def input_for(key, shape):
        if key not in inputs:
            inputs[key] = tf.keras.Input(shape=shape, name=f"in_{key}")
            calib[key] = rng.standard_normal((16, *shape)).astype(np.float32)
        return inputs[key]

    layers = {}
    for name, (k, s, d, pad, act, bias, c_in, c_out) in CONV.items():
        x = input_for(f"conv{c_in}", (H, W, c_in))
        layer = tf.keras.layers.Conv2D(
            c_out,
            k,
            strides=s,
            dilation_rate=d,
            padding=pad,
            activation=act,
            use_bias=bias,
            name=name,
        )
        outputs.append(layer(x))
        layers[name] = layer
    for name, (act, bias, c_in, c_out) in DENSE.items():
        x = input_for(f"fc{c_in}", (c_in,))
        layer = tf.keras.layers.Dense(c_out, activation=act, use_bias=bias, name=name)
        outputs.append(layer(x))
        layers[name] = layer
    model = tf.keras.Model(list(inputs.values()), outputs)
    for layer in layers.values():
        # Random float weights, per-channel magnitudes spread over two decades, so int8 weights
        # take every value and per-channel scales differ.
        weights = layer.get_weights()
        kernel = rng.standard_normal(weights[0].shape) * np.exp(
            rng.uniform(-2, 2, weights[0].shape[-1])
        )
        layer.set_weights(
            [kernel.astype(np.float32)]
            + [(rng.standard_normal(w.shape) * 0.5).astype(np.float32) for w in weights[1:]]
        )
    result = convert_with_report(model, representative_data=[calib[k] for k in inputs])
    int8 = result.int8_tflite
    details = tf.lite.Interpreter(model_content=int8).get_input_details()
    samples = [rng.integers(-128, 128, (SAMPLES, *d["shape"][1:]), dtype=np.int8) for d in details]
    return operators_by_layer(int8, samples, layers)


@pytest.mark.parametrize("name", [*CONV, *DENSE])
def test_reference_equals_tflite(converted, name):
    tfl, io, by_layer = converted
    assert name in by_layer, f"no TFLite operator for layer {name}"
    op = by_layer[name]
    weights = tfm.constant_data(
        tfl, tfl.subgraphs[0].tensors[int(tfl.subgraphs[0].operators[op].inputs[1])]
    )
    if weights.size >= 8:  # really arbitrary int8 weights, not signed-binary
        assert bitmask.signed_binary_violation(weights) is not None
    for x, y in io[op]:
        expected = builtin_reference(tfl, op, x)
        np.testing.assert_array_equal(expected.reshape(y.shape), y)


def test_per_channel_scales_differ(converted):
    """The sweep exercises per-channel requantization, conv and fully connected alike."""
    tfl, _, by_layer = converted
    sg = tfl.subgraphs[0]
    for name in ("k3_same_relu", "fc_relu"):
        w = sg.tensors[int(sg.operators[by_layer[name]].inputs[1])]
        assert len(set(tfm.scales(w).tolist())) > 1


def test_quantize_multiplier_matches_tflite_rules():
    # Exact values of TFLite's QuantizeMultiplier (frexp, round half away from zero).
    assert tflite_math.quantize_multiplier(0.5) == (1 << 30, 0)
    assert tflite_math.quantize_multiplier(1.0) == (1 << 30, 1)
    assert tflite_math.quantize_multiplier(0.0) == (0, 0)
    m, s = tflite_math.quantize_multiplier(1 / 3)
    assert s == -1 and m == round((2 / 3) * (1 << 31))
    # Rounds up to 2^31 -> renormalised.
    assert tflite_math.quantize_multiplier(np.nextafter(1.0, 0.0)) == (1 << 30, 1)
    with pytest.raises(ValueError):
        tflite_math.quantize_multiplier(2.0**40)


def test_multiply_by_quantized_multiplier_rounding():
    # SaturatingRoundingDoublingHighMul rounds ties up (+inf): 1.5 -> 2, -1.5 -> -1, 0.5 -> 1,
    # -0.5 -> 0; RoundingDivideByPOT rounds ties away from zero: 6 * 2^-2 = 1.5 -> 2, -1.5 -> -2.
    m, s = tflite_math.quantize_multiplier(0.5)
    out = reference.multiply_by_quantized_multiplier(np.array([3, -3, 1, -1]), m, s)
    np.testing.assert_array_equal(out, [2, -1, 1, 0])
    m, s = tflite_math.quantize_multiplier(0.25)
    assert s == -1
    out = reference.multiply_by_quantized_multiplier(np.array([6, -6, 2, -2]), m, s)
    np.testing.assert_array_equal(out, [2, -2, 1, -1])


@pytest.mark.parametrize("k", [1, 7, 8, 9, 31, 32, 33, 63, 64, 65])
def test_bitmask_round_trip(k):
    rng = np.random.default_rng(k)
    c_out = 5
    sign = np.where(rng.random(c_out) < 0.5, -1, 1)
    w = (rng.random((c_out, k)) < 0.4) * sign[:, None] * 127
    w[0] = 0  # an all-zero filter: sign +1 by convention
    mask, s = bitmask.pack(w.astype(np.int8))
    assert mask.shape == (c_out, bitmask.row_bytes(k)) and mask.dtype == np.uint8
    assert s[0] == 1 and set(s.tolist()) <= {-1, 1}
    np.testing.assert_array_equal(bitmask.unpack(mask, s, k), w)
    # LSB-first: weight i is bit i % 8 of byte i // 8.
    for i in np.flatnonzero(w[1]):
        assert mask[1, i // 8] >> (i % 8) & 1


def _batch_run(model, calib, x):
    """TFLite's int8 model (reference kernels) on a whole batch at once; (model, outputs)."""
    from sbtf.converters.testing import interpreter

    int8 = convert_with_report(model, representative_data=calib).int8_tflite
    interp = interpreter(int8, preserve_all_tensors=False)
    index = interp.get_input_details()[0]["index"]
    interp.resize_tensor_input(index, x.shape)
    interp.allocate_tensors()
    interp.set_tensor(index, x)
    interp.invoke()
    return int8, interp.get_tensor(interp.get_output_details()[0]["index"])


@pytest.mark.parametrize("kind", ["conv", "dense"])
def test_rounding_is_pinned_on_many_outputs(kind):
    """Single and double rounding differ on ~0.1% of outputs, too rare for the sweep above to
    tell apart. On ~65,000 outputs per op the reference still matches TFLite exactly; for
    FULLY_CONNECTED, double rounding demonstrably does not (TF 2.21 rounds FC once)."""
    rng = np.random.default_rng(99)
    if kind == "conv":
        inputs = tf.keras.Input((8, 8, 16))
        layer = tf.keras.layers.Conv2D(16, 3, padding="same")
        x = rng.integers(-128, 128, (64, 8, 8, 16), dtype=np.int8)
    else:
        inputs = tf.keras.Input((64,))
        layer = tf.keras.layers.Dense(32)
        x = rng.integers(-128, 128, (2048, 64), dtype=np.int8)
    model = tf.keras.Model(inputs, layer(inputs))
    kernel, bias = layer.get_weights()
    scale = np.exp(rng.uniform(-2, 2, kernel.shape[-1]))
    layer.set_weights(
        [
            (rng.standard_normal(kernel.shape) * scale).astype(np.float32),
            rng.standard_normal(bias.shape).astype(np.float32),
        ]
    )
    calib = rng.standard_normal((32, *inputs.shape[1:])).astype(np.float32)
    int8, y = _batch_run(model, calib, x)
    np.testing.assert_array_equal(builtin_reference(int8, 0, x), y)
    if kind == "dense":
        tfl = tfm.read(int8)
        sg = tfl.subgraphs[0]
        op = sg.operators[0]
        t_in, t_w, t_b = (sg.tensors[int(i)] for i in op.inputs)
        t_out = sg.tensors[int(op.outputs[0])]
        w, b = tfm.constant_data(tfl, t_w), tfm.constant_data(tfl, t_b)
        mult, shift = tflite_math.fully_connected_multipliers(
            tfm.scales(t_in)[0], tfm.scales(t_w), tfm.scales(t_out)[0]
        )
        acc = (x.astype(np.int64) - tfm.zero_points(t_in)[0]) @ w.astype(np.int64).T + b
        double = reference.multiply_by_quantized_multiplier(acc, mult, shift)
        double = np.clip(double + tfm.zero_points(t_out)[0], -128, 127)
        assert np.count_nonzero(double != y) > 0
