"""`.h5`, `.keras` and SavedModel round trips: a reloaded model quantizes and predicts exactly as
before."""

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

import sbtf
from sbtf.quantizers import SignedBinaryQuantizer, signed_binary_quantizer_of

FORMATS = ["h5", "keras", "savedmodel"]


def small_model(signs="split", alpha="none"):
    inputs = tf.keras.Input((6, 6, 2))
    x = sbtf.SignedBinaryConv2D(5, 3, padding="same", use_bias=False, signs=signs, alpha=alpha)(
        inputs
    )
    x = tf.keras.layers.BatchNormalization()(x)
    x = sbtf.SignedBinaryDepthwiseConv2D(3, depth_multiplier=2, signs=signs, alpha=alpha)(x)
    x = tf.keras.layers.Flatten()(x)
    x = lq.layers.QuantDense(
        7,
        kernel_quantizer=SignedBinaryQuantizer(signs=signs, alpha=alpha),
        kernel_constraint="weight_clip",
    )(x)
    outputs = sbtf.SignedBinaryDense(3, signs=signs, alpha=alpha)(x)
    return tf.keras.Model(inputs, outputs)


def signed_layers(model):
    return [layer for layer in model.layers if sbtf.quantizers.is_signed_binary(layer)]


def round_trip(model, tmp_path, fmt):
    if fmt == "savedmodel":  # a folder; the quantizers' training metrics must export too
        path = str(tmp_path / "saved_model")
        model.save(path, save_format="tf")
    else:
        path = str(tmp_path / f"model.{fmt}")
        model.save(path)
    return tf.keras.models.load_model(path)  # no custom_objects: `import sbtf` registers them


def perturb(model, seed=0):
    """Change every weight, so the reloaded values cannot be mere initial values."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        layer.set_weights(
            [w + rng.normal(0, 0.1, w.shape).astype(w.dtype) for w in layer.get_weights()]
        )


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "signs, alpha",  # every sign mode and every alpha once (get_config of all: test_quantizers)
    [(0.3, "none"), ("init", "mean"), ("split", "learned"), ("alternate", "learned")],
)
def test_round_trip_predicts_identically(tmp_path, fmt, signs, alpha):
    tf.keras.utils.set_random_seed(0)
    model = small_model(signs, alpha)
    for layer in signed_layers(model):
        q = signed_binary_quantizer_of(layer)
        if alpha == "learned":
            q.alpha.assign(np.linspace(0.5, 1.5, q.num_filters))
    x = np.random.default_rng(1).uniform(size=(4, 6, 6, 2)).astype(np.float32)
    before = model.predict(x, verbose=0)
    loaded = round_trip(model, tmp_path, fmt)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), before)
    for a, b in zip(signed_layers(model), signed_layers(loaded)):
        assert type(a) is type(b)
        qa, qb = signed_binary_quantizer_of(a), signed_binary_quantizer_of(b)
        assert qa.get_config() == qb.get_config()
        np.testing.assert_array_equal(qa.signs.numpy(), qb.signs.numpy())
        np.testing.assert_array_equal(sbtf.quantized_kernel(a), sbtf.quantized_kernel(b))


@pytest.mark.parametrize("fmt", FORMATS)
def test_init_signs_restored_after_weights_changed(tmp_path, fmt):
    """ "init" signs come from the file, not from the mean of the reloaded kernel."""
    tf.keras.utils.set_random_seed(0)
    model = small_model("init")
    x = np.random.default_rng(1).uniform(size=(4, 6, 6, 2)).astype(np.float32)
    # sbtf layers fix "init" signs at build; larq's QuantDense at its first call
    model.predict(x, verbose=0)
    saved_signs = [signed_binary_quantizer_of(l).signs.numpy().copy() for l in signed_layers(model)]
    for layer in signed_layers(model):  # flip every filter's mean
        kernel = layer.weights[0]
        kernel.assign(-kernel.numpy())
    after = [signed_binary_quantizer_of(l).signs.numpy() for l in signed_layers(model)]
    for a, b in zip(saved_signs, after):
        np.testing.assert_array_equal(a, b)
    before = model.predict(x, verbose=0)
    loaded = round_trip(model, tmp_path, fmt)
    for layer, signs in zip(signed_layers(loaded), saved_signs):
        kernel = layer.weights[0].numpy()
        if signed_binary_quantizer_of(layer).depthwise:
            means = kernel.mean(axis=(0, 1)).reshape(-1)
        else:
            means = kernel.reshape(-1, signs.size).mean(axis=0)
        mean_signs = np.where(means >= 0, 1.0, -1.0)
        assert not np.array_equal(
            mean_signs, signs
        ), "the test needs signs that differ from the means"
        np.testing.assert_array_equal(signed_binary_quantizer_of(layer).signs.numpy(), signs)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), before)


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_after_training(tmp_path, fmt):
    tf.keras.utils.set_random_seed(0)
    model = sbtf.models.digits_cnn(filters=(8, 8, 16))
    x = np.random.default_rng(0).uniform(size=(32, 8, 8, 1)).astype(np.float32)
    y = np.arange(32) % 10
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    perturb(model)
    before = model.predict(x, verbose=0)
    loaded = round_trip(model, tmp_path, fmt)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), before)


@pytest.mark.parametrize("fmt", ["h5", "keras"])
def test_weights_only_round_trip(tmp_path, fmt):
    tf.keras.utils.set_random_seed(0)
    model = small_model("init", "learned")
    perturb(model)
    for layer in signed_layers(model):
        q = signed_binary_quantizer_of(layer)
        q.signs.assign(-q.signs.numpy())
    x = np.random.default_rng(1).uniform(size=(2, 6, 6, 2)).astype(np.float32)
    before = model.predict(x, verbose=0)
    path = str(tmp_path / ("w.h5" if fmt == "h5" else "model.weights.h5"))
    model.save_weights(path)
    fresh = small_model("init", "learned")
    fresh.load_weights(path)
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), before)
