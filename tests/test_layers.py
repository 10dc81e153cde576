"""Signed-binary layers: Keras defaults kept, options forwarded, training keeps the form."""

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

import sbtf
from sbtf.quantizers import SignedBinaryQuantizer, signed_binary_quantizer_of

LAYERS = {
    "conv": (lambda **kw: sbtf.SignedBinaryConv2D(6, 3, **kw), tf.keras.layers.Conv2D(6, 3)),
    "dense": (lambda **kw: sbtf.SignedBinaryDense(6, **kw), tf.keras.layers.Dense(6)),
    "depthwise": (
        lambda **kw: sbtf.SignedBinaryDepthwiseConv2D(3, depth_multiplier=2, **kw),
        tf.keras.layers.DepthwiseConv2D(3, depth_multiplier=2),
    ),
}
INPUT = {"conv": (2, 6, 6, 3), "dense": (2, 5), "depthwise": (2, 6, 6, 3)}
KERAS_ONLY = {"name", "trainable", "dtype", "kernel_constraint", "depthwise_constraint"}


@pytest.mark.parametrize("kind", LAYERS)
def test_keeps_keras_defaults(kind):
    make, keras_layer = LAYERS[kind]
    ours = make().get_config()
    theirs = keras_layer.get_config()
    for key, value in theirs.items():
        if key not in KERAS_ONLY:
            assert ours[key] == value, key
    constraint = ours.get("kernel_constraint") or ours.get("depthwise_constraint")
    assert constraint["class_name"] == "WeightClip"
    assert constraint["config"]["clip_value"] == 1.0


@pytest.mark.parametrize("kind", LAYERS)
def test_options_forwarded_to_quantizer(kind):
    make, _ = LAYERS[kind]
    layer = make(threshold=0.2, signs="alternate", alpha="mean", clip_value=0.5)
    q = signed_binary_quantizer_of(layer)
    assert (q.threshold, q.signs_mode, q.alpha_mode, q.clip_value) == (
        0.2,
        "alternate",
        "mean",
        0.5,
    )
    assert q.depthwise == (kind == "depthwise")
    constraint = getattr(layer, "kernel_constraint", None) or layer.depthwise_constraint
    assert constraint.clip_value == 0.5


@pytest.mark.parametrize("kind", LAYERS)
def test_explicit_quantizer_and_no_constraint(kind):
    make, _ = LAYERS[kind]
    q = SignedBinaryQuantizer(signs=0.25, depthwise=kind == "depthwise")
    arg = "depthwise" if kind == "depthwise" else "kernel"
    layer = make(**{f"{arg}_quantizer": q, f"{arg}_constraint": None})
    assert signed_binary_quantizer_of(layer) is q
    assert getattr(layer, f"{arg}_constraint") is None


def test_quantizer_and_options_conflict():
    with pytest.raises(ValueError, match="not both"):
        sbtf.SignedBinaryConv2D(4, 3, kernel_quantizer="signed_binary", signs="init")


@pytest.mark.parametrize("quantizer", [SignedBinaryQuantizer(), "signed_binary"])
def test_depthwise_quantizer_mismatch(quantizer):
    with pytest.raises(ValueError, match="depthwise=True"):
        sbtf.SignedBinaryDepthwiseConv2D(3, depthwise_quantizer=quantizer)
    with pytest.raises(ValueError, match="depthwise=False"):
        sbtf.SignedBinaryConv2D(3, 3, kernel_quantizer=SignedBinaryQuantizer(depthwise=True))


@pytest.mark.parametrize("kind", LAYERS)
def test_state_created_at_build(kind):
    make, _ = LAYERS[kind]
    layer = make(signs="init", alpha="learned")
    layer.build(INPUT[kind])
    q = signed_binary_quantizer_of(layer)
    assert q.built
    names = [w.name.split("/")[-1] for w in layer.weights]
    assert "signs:0" in names and "alpha:0" in names
    kernel = layer.weights[0].numpy()
    axis = (0, 1) if kind == "depthwise" else tuple(range(kernel.ndim - 1))
    np.testing.assert_array_equal(
        q.signs.numpy(), np.where(kernel.mean(axis=axis).reshape(-1) >= 0, 1, -1)
    )


def _train(model, x, y, epochs=3):
    model.compile(tf.keras.optimizers.Adam(0.05), "mse")
    model.fit(x, y, epochs=epochs, batch_size=8, verbose=0)


@pytest.mark.parametrize("kind", LAYERS)
@pytest.mark.parametrize("signs", ["alternate", "init"])  # all modes: test_quantizers.py
@pytest.mark.parametrize("alpha", ["none", "mean", "learned"])
def test_after_fit_each_filter_has_one_value_with_its_sign(kind, signs, alpha):
    tf.keras.utils.set_random_seed(0)
    make, _ = LAYERS[kind]
    layer = make(signs=signs, alpha=alpha)
    shape = INPUT[kind]
    model = tf.keras.Sequential([tf.keras.Input(shape[1:]), layer, tf.keras.layers.Flatten()])
    x = np.random.default_rng(0).normal(size=(16, *shape[1:])).astype(np.float32)
    y = np.random.default_rng(1).normal(size=(16, *model.output_shape[1:])).astype(np.float32)
    before = layer.weights[0].numpy().copy()
    _train(model, x, y)
    assert not np.array_equal(before, layer.weights[0].numpy()), "the latent kernel trained"
    q = signed_binary_quantizer_of(layer)
    w = sbtf.quantized_kernel(layer)
    flat = w.reshape(-1, q.num_filters)
    signs_vec = q.signs.numpy()
    assert set(np.unique(signs_vec)) <= {-1.0, 1.0}
    for c in range(q.num_filters):
        nz = flat[:, c][flat[:, c] != 0]
        if nz.size:
            assert np.all(nz == nz[0]), f"filter {c} has several values {np.unique(nz)}"
            assert np.sign(nz[0]) == signs_vec[c]
    codes, signs_out, alpha_out = sbtf.quantizers.signed_binary_codes(layer)
    np.testing.assert_array_equal(signs_out, signs_vec.astype(np.int8))
    np.testing.assert_allclose(
        (codes.reshape(-1, q.num_filters) * alpha_out).reshape(w.shape), w, rtol=1e-6
    )
    # the layer's output is computed with exactly this kernel
    out = model.predict(x, verbose=0)
    if kind == "dense":
        ref = x @ w + layer.bias.numpy()
    elif kind == "depthwise":
        ref = tf.nn.depthwise_conv2d(x, w, [1, 1, 1, 1], "VALID").numpy() + layer.bias.numpy()
    else:
        ref = tf.nn.conv2d(x, w, 1, "VALID").numpy() + layer.bias.numpy()
    np.testing.assert_allclose(out, ref.reshape(out.shape), rtol=1e-4, atol=1e-4)


def test_init_signs_do_not_follow_training():
    tf.keras.utils.set_random_seed(1)
    layer = sbtf.SignedBinaryDense(4, signs="init")
    model = tf.keras.Sequential([tf.keras.Input((3,)), layer])
    signs = signed_binary_quantizer_of(layer).signs.numpy().copy()
    layer.kernel.assign(-layer.kernel.latent_variable)  # every filter's mean flips
    _train(model, np.ones((8, 3), np.float32), np.ones((8, 4), np.float32), epochs=1)
    np.testing.assert_array_equal(signed_binary_quantizer_of(layer).signs.numpy(), signs)


def test_is_a_larq_layer():
    layer = sbtf.SignedBinaryConv2D(4, 3)
    assert isinstance(layer, lq.layers.QuantConv2D)
    assert sbtf.quantizers.is_signed_binary(layer)
    assert not sbtf.quantizers.is_signed_binary(tf.keras.layers.Conv2D(4, 3))
