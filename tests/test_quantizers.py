"""SignedBinaryQuantizer against a NumPy reference, its gradient, options and errors."""

import logging

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

import sbtf
from sbtf.quantizers import SignedBinaryQuantizer, signed_binary

SIGN_OPTIONS = ["split", "alternate", "init", 0.0, 0.25, 0.5, 1.0]
ALPHA_OPTIONS = ["none", "mean", "learned"]


# -- NumPy reference -------------------------------------------------------------------------------
def ref_signs(mode, kernel, depthwise=False):
    """Expected ±1 per filter, written out independently of the implementation."""
    c = kernel.shape[2] * kernel.shape[3] if depthwise else kernel.shape[-1]
    if mode == "split":
        return np.array([1.0] * (c // 2) + [-1.0] * (c - c // 2))
    if mode == "alternate":
        return np.array([1.0 if i % 2 == 0 else -1.0 for i in range(c)])
    if mode == "init":
        if depthwise:
            means = kernel.mean(axis=(0, 1)).reshape(-1)
        else:
            means = kernel.reshape(-1, c).mean(axis=0)
        return np.where(means >= 0, 1.0, -1.0)
    n_pos = int(np.floor(mode * c + 0.5))
    return np.array([1.0] * n_pos + [-1.0] * (c - n_pos))


def ref_quantize(w, signs, threshold=0.05, alpha="none", learned=None, depthwise=False,
                 threshold_mode="max"):
    """Q(w) = s_c * alpha_c where s_c * w >= threshold * max|W_c| (or mean|W_c|, and > 0),
    else 0."""
    w = np.asarray(w, np.float64)
    if depthwise:
        flat = w.reshape(-1, w.shape[2] * w.shape[3])  # filters ci * M + m
    else:
        flat = w.reshape(-1, w.shape[-1])
    out = np.zeros_like(flat)
    for c in range(flat.shape[1]):
        col, s = flat[:, c], signs[c]
        delta = threshold * (np.abs(col).max() if threshold_mode == "max" else np.abs(col).mean())
        keep = (s * col >= delta) & (s * col > 0)
        if alpha == "none":
            a = 1.0
        elif alpha == "mean":
            a = np.abs(col[keep]).mean() if keep.any() else 0.0
        else:
            a = learned[c]
        out[keep, c] = s * a
    return out.reshape(w.shape).astype(np.float32)


# -- hand-made kernels -----------------------------------------------------------------------------
def hand_dense_kernel():
    # 4 inputs x 4 filters; exact thresholds at 0.05 * max are exercised by 0.05 and 0.049
    return np.array(
        [
            [1.0, -1.0, 0.05, -0.5],
            [0.5, 0.02, -0.049, -0.05],
            [-0.3, -0.6, 1.0, 0.0],
            [0.04, 0.7, -0.2, -1.0],
        ],
        np.float32,
    )


def kernels():
    rng = np.random.default_rng(0)
    return {
        "dense": (hand_dense_kernel(), False),
        "conv2d": (rng.uniform(-1, 1, (3, 3, 2, 5)).astype(np.float32), False),
        "conv1d": (rng.uniform(-1, 1, (3, 4, 3)).astype(np.float32), False),
        "depthwise": (rng.uniform(-1, 1, (3, 3, 3, 2)).astype(np.float32), True),
    }


@pytest.mark.parametrize("kind", ["dense", "conv2d", "conv1d", "depthwise"])
@pytest.mark.parametrize("signs", SIGN_OPTIONS)
@pytest.mark.parametrize("alpha", ALPHA_OPTIONS)
@pytest.mark.parametrize("threshold", [0.05, 0.3])
def test_forward_matches_numpy_reference(kind, signs, alpha, threshold):
    w, depthwise = kernels()[kind]
    q = SignedBinaryQuantizer(threshold=threshold, signs=signs, alpha=alpha, depthwise=depthwise)
    got = q.quantize(tf.constant(w)).numpy()
    expected_signs = ref_signs(signs, w, depthwise)
    np.testing.assert_array_equal(q.signs.numpy(), expected_signs)
    learned = None
    if alpha == "learned":
        learned = np.linspace(0.5, 2.0, q.num_filters).astype(np.float32)
        q.alpha.assign(learned)
        got = q.quantize(tf.constant(w)).numpy()
    expected = ref_quantize(w, expected_signs, threshold, alpha, learned, depthwise)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=0)
    # call() (with metrics) computes the same values as quantize()
    np.testing.assert_allclose(q(tf.constant(w)).numpy(), expected, rtol=1e-6, atol=0)


@pytest.mark.parametrize("kind", ["dense", "conv2d", "conv1d", "depthwise"])
@pytest.mark.parametrize("alpha", ALPHA_OPTIONS)
@pytest.mark.parametrize("threshold", [0.3, 0.7, 1.5])
def test_mean_threshold_matches_numpy_reference(kind, alpha, threshold):
    w, depthwise = kernels()[kind]
    q = SignedBinaryQuantizer(threshold=threshold, threshold_mode="mean", alpha=alpha,
                              depthwise=depthwise)
    expected_signs = ref_signs("split", w, depthwise)
    expected = ref_quantize(w, expected_signs, threshold, alpha,
                            np.ones(len(expected_signs), np.float32), depthwise, "mean")
    np.testing.assert_allclose(q(tf.constant(w)).numpy(), expected, rtol=1e-6, atol=0)


def test_hand_computed_mean_threshold():
    # delta_c = 0.7 * mean|W_c| = 0.322, 0.406, 0.227, 0.271 for the four filters (+, +, -, -):
    # filter 2 keeps nothing (-0.049 and -0.2 are below 0.227; max-relative 0.05 keeps -0.2),
    # filter 3 drops -0.05 (max-relative 0.05 keeps it)
    q = SignedBinaryQuantizer(threshold=0.7, threshold_mode="mean")
    got = q(tf.constant(hand_dense_kernel())).numpy()
    expected = np.array([[1, 0, 0, -1], [1, 0, 0, 0], [0, 0, 0, 0], [0, 1, 0, -1]], np.float32)
    np.testing.assert_array_equal(got, expected)
    # a multiple of the mean above the max keeps nothing
    q = SignedBinaryQuantizer(threshold=5.0, threshold_mode="mean")
    assert not q(tf.constant(hand_dense_kernel())).numpy().any()


def test_hand_computed_dense_split():
    # split: filters 0, 1 positive, 2, 3 negative; max|W_c| = 1, 1, 1, 1 -> delta = 0.05
    q = SignedBinaryQuantizer()
    got = q(tf.constant(hand_dense_kernel())).numpy()
    expected = np.array([[1, 0, 0, -1], [1, 0, 0, -1], [0, 0, 0, 0], [0, 1, -1, -1]], np.float32)
    np.testing.assert_array_equal(got, expected)


def test_all_zero_filter_quantizes_to_zero():
    q = SignedBinaryQuantizer(signs="alternate")
    w = np.zeros((3, 2), np.float32)
    np.testing.assert_array_equal(q(tf.constant(w)).numpy(), w)


def test_init_signs_fixed_after_first_call():
    w = kernels()["conv2d"][0]
    q = SignedBinaryQuantizer(signs="init")
    first = q(tf.constant(w)).numpy()
    signs = q.signs.numpy().copy()
    np.testing.assert_array_equal(signs, ref_signs("init", w))
    # the filters' means flip: the signs stay, so the layer now zeroes (almost) everything
    again = q(tf.constant(-w)).numpy()
    np.testing.assert_array_equal(q.signs.numpy(), signs)
    np.testing.assert_array_equal(again, ref_quantize(-w, signs))
    assert np.count_nonzero(again) < np.count_nonzero(first)


def test_init_signs_fixed_inside_tf_function():
    w = tf.Variable(kernels()["conv2d"][0])
    q = SignedBinaryQuantizer(signs="init")

    @tf.function
    def f():
        return q(w)

    f()
    signs = q.signs.numpy().copy()
    np.testing.assert_array_equal(signs, ref_signs("init", w.numpy()))
    w.assign(-w)
    f()
    np.testing.assert_array_equal(q.signs.numpy(), signs)


def test_init_signs_set_in_replica_context_under_mirrored_strategy():
    """A plain larq layer sets signs="init" inside `strategy.run` (replica context): the sign
    variable needs an aggregation for that, and ONLY_FIRST_REPLICA keeps replica 0's signs."""
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    w = kernels()["conv2d"][0]
    with strategy.scope():
        layer = lq.layers.QuantConv2D(
            w.shape[-1], w.shape[:2], use_bias=False,
            kernel_quantizer=SignedBinaryQuantizer(signs="init"),
            kernel_constraint=lq.constraints.WeightClip(1.0),
        )
        layer.build((None, 6, 6, w.shape[2]))
        layer.kernel.assign(w)
        q = layer.kernel_quantizer
        q.build(w.shape)  # variables under the strategy, first call inside strategy.run
    x = tf.ones((1, 6, 6, w.shape[2]))
    strategy.run(tf.function(lambda: layer(x)))
    np.testing.assert_array_equal(q.signs.numpy(), ref_signs("init", w))
    assert q.signs.aggregation == tf.VariableAggregation.ONLY_FIRST_REPLICA


# -- gradient -------------------------------------------------------------------------------------
@pytest.mark.parametrize("clip_value", [1.0, 0.5, None])
def test_ste_gradient_is_clipped_identity(clip_value):
    rng = np.random.default_rng(1)
    w = tf.Variable(rng.uniform(-1.5, 1.5, (3, 3, 2, 4)).astype(np.float32))
    upstream = tf.constant(rng.normal(size=(3, 3, 2, 4)).astype(np.float32))
    q = SignedBinaryQuantizer(clip_value=clip_value)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(q(w) * upstream)
    grad = tape.gradient(loss, w).numpy()
    if clip_value is None:
        expected = upstream.numpy()
    else:
        expected = np.where(np.abs(w.numpy()) <= clip_value, upstream.numpy(), 0.0)
    np.testing.assert_array_equal(grad, expected)


def test_pure_function_gradient():
    x = tf.constant([[-2.0, 0.3], [0.5, -0.9]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = signed_binary(x, tf.constant([[1.0, -1.0]]))
    np.testing.assert_array_equal(y.numpy(), [[0.0, 0.0], [1.0, -1.0]])
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [[0.0, 1.0], [1.0, 1.0]])


def test_mean_alpha_scales_gradient_without_differentiating_alpha():
    rng = np.random.default_rng(2)
    w = tf.Variable(rng.uniform(-1, 1, (6, 4)).astype(np.float32))
    q = SignedBinaryQuantizer(alpha="mean")
    with tf.GradientTape() as tape:
        out = q(w)
        loss = tf.reduce_sum(out)
    alpha = np.abs(out.numpy()).max(axis=0)
    np.testing.assert_allclose(tape.gradient(loss, w).numpy(), np.broadcast_to(alpha, (6, 4)))


def test_learned_alpha_gets_gradient():
    rng = np.random.default_rng(3)
    w = tf.constant(rng.uniform(-1, 1, (6, 4)).astype(np.float32))
    q = SignedBinaryQuantizer(alpha="learned")
    q(w)
    assert [v.name.split("/")[-1] for v in q.trainable_weights] == ["alpha:0"]
    with tf.GradientTape() as tape:
        codes = q.quantize(w)
        loss = tf.reduce_sum(codes * 2.0)
    grad = tape.gradient(loss, q.alpha).numpy()
    np.testing.assert_allclose(grad, 2.0 * np.sign(codes.numpy()).sum(axis=0))


# -- larq integration -----------------------------------------------------------------------------
def test_alias_and_precision():
    q = lq.quantizers.get("signed_binary")
    assert isinstance(q, SignedBinaryQuantizer)
    assert q.precision == 1
    assert isinstance(lq.quantizers.get("SignedBinaryQuantizer"), SignedBinaryQuantizer)


@pytest.mark.parametrize("signs", SIGN_OPTIONS)
@pytest.mark.parametrize("alpha", ALPHA_OPTIONS)
def test_get_config_round_trip(signs, alpha):
    q = SignedBinaryQuantizer(threshold=0.1, signs=signs, alpha=alpha, clip_value=0.5)
    config = lq.quantizers.serialize(q)
    q2 = lq.quantizers.get(config)
    assert q2.get_config() == q.get_config()


def test_mean_threshold_mode_round_trips_and_old_configs_default_to_max():
    q = SignedBinaryQuantizer(threshold=0.7, threshold_mode="mean")
    q2 = lq.quantizers.get(lq.quantizers.serialize(q))
    assert q2.threshold_mode == "mean" and q2.get_config() == q.get_config()
    w = tf.constant(hand_dense_kernel())
    np.testing.assert_array_equal(q2(w).numpy(), q(w).numpy())
    old = q.get_config()
    del old["threshold_mode"], old["threshold"]  # a config saved before the option existed
    assert SignedBinaryQuantizer.from_config(old).threshold_mode == "max"


def test_larq_warns_without_weight_clip(caplog):
    with caplog.at_level(logging.WARNING):
        lq.layers.QuantConv2D(4, 3, kernel_quantizer="signed_binary")
    assert "kernel_constraint" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        sbtf.SignedBinaryConv2D(4, 3)
        lq.layers.QuantConv2D(
            4, 3, kernel_quantizer="signed_binary", kernel_constraint="weight_clip"
        )
    assert "kernel_constraint" not in caplog.text


@pytest.mark.parametrize(
    "layer",
    [
        lambda: lq.layers.QuantConv2D(
            6, 3, kernel_quantizer="signed_binary", kernel_constraint="weight_clip"
        ),
        lambda: lq.layers.QuantDense(
            6, kernel_quantizer="signed_binary", kernel_constraint="weight_clip"
        ),
        lambda: lq.layers.QuantDepthwiseConv2D(
            3,
            depth_multiplier=2,
            depthwise_quantizer=SignedBinaryQuantizer(depthwise=True),
            depthwise_constraint="weight_clip",
        ),
    ],
    ids=["QuantConv2D", "QuantDense", "QuantDepthwiseConv2D"],
)
def test_usable_in_larq_layers(layer):
    layer = layer()
    x = np.random.default_rng(4).uniform(size=(2, 5, 5, 3)).astype(np.float32)
    y = layer(x).numpy()
    w = sbtf.quantized_kernel(layer)
    q = sbtf.quantizers.signed_binary_quantizer_of(layer)
    latent = layer.weights[0].numpy()
    np.testing.assert_array_equal(w, ref_quantize(latent, q.signs.numpy(), depthwise=q.depthwise))
    # the layer really computes with the quantized kernel
    if isinstance(layer, lq.layers.QuantDense):
        ref = x @ w + layer.bias.numpy()
    elif isinstance(layer, lq.layers.QuantDepthwiseConv2D):
        ref = tf.nn.depthwise_conv2d(x, w, [1, 1, 1, 1], "VALID").numpy() + layer.bias.numpy()
    else:
        ref = tf.nn.conv2d(x, w, 1, "VALID").numpy() + layer.bias.numpy()
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_depthwise_detected_from_calling_layer():
    layer = lq.layers.QuantDepthwiseConv2D(
        3,
        depth_multiplier=2,
        depthwise_quantizer="signed_binary",
        depthwise_constraint="weight_clip",
    )
    layer(np.ones((1, 5, 5, 3), np.float32))
    q = layer.depthwise_quantizer
    assert q.depthwise and q.num_filters == 6 and q.get_config()["depthwise"]
    latent = layer.depthwise_kernel.latent_variable.numpy()
    np.testing.assert_array_equal(
        sbtf.quantized_kernel(layer), ref_quantize(latent, q.signs.numpy(), depthwise=True)
    )


def test_sparsity_metric_in_fit_logs():
    model = tf.keras.Sequential(
        [
            tf.keras.Input((4, 4, 1)),
            sbtf.SignedBinaryConv2D(4, 3, name="sb_conv"),
            tf.keras.layers.Flatten(),
            lq.layers.QuantDense(
                2,
                kernel_quantizer=SignedBinaryQuantizer(metrics=["sparsity", "flip_ratio"]),
                kernel_constraint="weight_clip",
            ),
        ]
    )
    model.compile(tf.keras.optimizers.SGD(0.0), "mse")  # lr 0: weights, hence sparsity, fixed
    x = np.random.default_rng(5).uniform(size=(16, 4, 4, 1)).astype(np.float32)
    y = np.zeros((16, 2))
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0, validation_data=(x, y))
    expected = float(np.mean(sbtf.quantized_kernel(model.layers[0]) == 0))
    assert history.history["sparsity/sb_conv"] == pytest.approx([expected] * 2, abs=1e-6)
    assert any(k.startswith("flip_ratio/") for k in history.history)
    # In larq's Quant* layers the metric is named after the quantizer (docs/training.md).
    assert any(k.startswith("sparsity/signed_binary_quantizer") for k in history.history)
    # Validation does not update it but logs the sparsity of the weights it ran with, not 0.
    assert history.history["val_sparsity/sb_conv"] == pytest.approx([expected] * 2, abs=1e-6)
    assert model.evaluate(x, y, verbose=0, return_dict=True)["sparsity/sb_conv"] == (
        pytest.approx(expected, abs=1e-6))


def test_sparsity_metric_is_the_latest_steps_and_nan_before_training():
    model = tf.keras.Sequential([tf.keras.Input((4,)), sbtf.SignedBinaryDense(8, name="sb")])
    model.compile(tf.keras.optimizers.SGD(0.5), "mse")
    x = np.random.default_rng(6).normal(size=(32, 4)).astype(np.float32)
    y = np.random.default_rng(7).normal(size=(32, 8)).astype(np.float32)
    assert np.isnan(model.evaluate(x, y, verbose=0, return_dict=True)["sparsity/sb"])
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0, validation_data=(x, y)).history
    assert history["val_sparsity/sb"] == pytest.approx(history["sparsity/sb"], abs=1e-6)
    # The value is the forward pass's of the latest step (not an epoch mean): with the weights
    # frozen for one more epoch it equals the sparsity of the current kernel.
    model.optimizer.learning_rate.assign(0.0)
    history = model.fit(x, y, epochs=1, batch_size=8, verbose=0).history
    latest = float(np.mean(sbtf.quantized_kernel(model.layers[0]) == 0))
    assert history["sparsity/sb"] == pytest.approx([latest], abs=1e-6)


def test_metrics_can_be_disabled():
    q = SignedBinaryQuantizer(metrics=[])
    q(tf.ones((2, 2)))
    assert q.metrics == []


# -- errors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"signs": "random"}, "Unknown signs mode"),
        ({"signs": "Split"}, "Unknown signs mode"),
        ({"signs": None}, "signs"),
        ({"signs": -0.1}, r"\[0, 1\]"),
        ({"signs": 1.5}, r"\[0, 1\]"),
        ({"threshold": 0.0}, r"\(0, 1\)"),
        ({"threshold": 1.0}, r"\(0, 1\)"),
        ({"threshold": -0.2}, r"\(0, 1\)"),
        ({"threshold": 2}, r"\(0, 1\)"),
        ({"threshold": "0.1"}, "threshold"),
        ({"threshold": 0.0, "threshold_mode": "mean"}, "positive multiple"),
        ({"threshold": float("inf"), "threshold_mode": "mean"}, "positive multiple"),
        ({"threshold": 0.5, "threshold_mode": "median"}, "Unknown threshold mode"),
        ({"alpha": "max"}, "Unknown alpha mode"),
        ({"clip_value": 0.0}, "clip_value"),
        ({"metrics": ["accuracy"]}, "Unknown training metric"),
    ],
)
def test_invalid_options_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SignedBinaryQuantizer(**kwargs)


@pytest.mark.parametrize("shape", [(), (5,), (1, 2, 3, 4, 5)])
def test_unsupported_rank_raises(shape):
    with pytest.raises(ValueError, match="rank"):
        SignedBinaryQuantizer()(tf.zeros(shape))


def test_depthwise_needs_rank_4():
    with pytest.raises(ValueError, match="rank 4"):
        SignedBinaryQuantizer(depthwise=True)(tf.zeros((3, 3, 4)))


def test_quantized_kernel_rejects_other_layers():
    layer = tf.keras.layers.Dense(3)
    layer.build((None, 2))
    with pytest.raises(ValueError, match="not signed-binary"):
        sbtf.quantized_kernel(layer)


def test_inference_graph_has_no_state_updates():
    """What the TFLite converter traces: no metric updates, no "init" sign assignment."""
    inputs = tf.keras.Input((4, 4, 1))
    x = sbtf.SignedBinaryConv2D(4, 3, signs="init")(inputs)
    x = tf.keras.layers.Flatten()(x)
    outputs = lq.layers.QuantDense(
        2,
        kernel_quantizer=SignedBinaryQuantizer(signs="init", metrics=["sparsity", "flip_ratio"]),
        kernel_constraint="weight_clip",
    )(x)
    model = tf.keras.Model(inputs, outputs)
    model.predict(np.ones((1, 4, 4, 1), np.float32), verbose=0)  # larq layer: fixes its signs
    fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec((1, 4, 4, 1), tf.float32)
    )
    updates = [op.type for op in fn.graph.get_operations() if "Assign" in op.type]
    assert updates == []
