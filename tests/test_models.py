"""Reference models: ResNet-8 structure, digits data, digits CNN accuracy."""

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

import sbtf
from sbtf.data import load_digits_split


def test_resnet8_matches_mlperf_tiny_structure():
    model = sbtf.models.resnet8()
    assert model.input_shape == (None, 32, 32, 3)
    assert model.output_shape == (None, 10)
    sb = [l for l in model.layers if isinstance(l, sbtf.SignedBinaryConv2D)]
    plain_convs = [l for l in model.layers if type(l) is tf.keras.layers.Conv2D]
    assert [l.filters for l in sb] == [16, 16, 32, 32, 64, 64]
    assert [l.strides for l in sb] == [(1, 1), (1, 1), (2, 2), (1, 1), (2, 2), (1, 1)]
    assert all(l.kernel_size == (3, 3) and not l.use_bias and l.padding == "same" for l in sb)
    # first conv 3x3x16, shortcuts 1x1 with stride 2 in stacks 2 and 3 (identity in stack 1)
    assert [(l.kernel_size, l.strides, l.filters) for l in plain_convs] == [
        ((3, 3), (1, 1), 16),
        ((1, 1), (2, 2), 32),
        ((1, 1), (2, 2), 64),
    ]
    assert len([l for l in model.layers if isinstance(l, tf.keras.layers.Add)]) == 3
    assert len([l for l in model.layers if isinstance(l, tf.keras.layers.BatchNormalization)]) == 7
    pool = [l for l in model.layers if isinstance(l, tf.keras.layers.AveragePooling2D)]
    assert pool[0].pool_size == (8, 8)
    # MLPerf Tiny's ResNet-8 has 78,666 parameters; minus the 224 biases of the 6 bias-free convs
    assert model.count_params() - sum(l.kernel_quantizer.num_filters for l in sb) == 78442
    # every signed-binary conv is followed by BatchNorm
    for layer in sb:
        (node,) = layer.outbound_nodes
        assert isinstance(node.outbound_layer, tf.keras.layers.BatchNormalization)


def test_resnet8_options_and_factory():
    model = sbtf.models.resnet8((16, 16, 3), 4, signs="init", alpha="mean", threshold=0.1)
    q = model.get_layer(index=4).kernel_quantizer
    assert (q.signs_mode, q.alpha_mode, q.threshold) == ("init", "mean", 0.1)
    assert model.output_shape == (None, 4)

    def ste_conv(filters, kernel_size, strides):
        return lq.layers.QuantConv2D(
            filters,
            kernel_size,
            strides=strides,
            padding="same",
            use_bias=False,
            kernel_quantizer="ste_sign",
            kernel_constraint="weight_clip",
        )

    ste = sbtf.models.resnet8(conv_factory=ste_conv)
    assert not any(sbtf.quantizers.is_signed_binary(l) for l in ste.layers)
    assert ste.count_params() == sbtf.models.resnet8().count_params() - 224


def test_resnet8_trains_one_step():
    model = sbtf.models.resnet8((16, 16, 3), 10)
    model.compile("adam", "sparse_categorical_crossentropy")
    x = np.random.default_rng(0).uniform(size=(4, 16, 16, 3)).astype(np.float32)
    history = model.fit(x, np.arange(4), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert sum(k.startswith("sparsity/") for k in history.history) == 6


def test_digits_split():
    (x_train, _), (x_test, y_test) = load_digits_split()
    assert x_train.shape == (1437, 8, 8, 1) and x_test.shape == (360, 8, 8, 1)
    assert x_train.dtype == np.float32 and 0.0 <= x_train.min() and x_train.max() <= 1.0
    counts = np.bincount(y_test, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37  # stratified: ~20 % of each ~180 class
    (x2, _), _ = load_digits_split()
    np.testing.assert_array_equal(x_train, x2)  # fixed split
    with pytest.raises(ValueError, match="test_fraction"):
        load_digits_split(test_fraction=1.0)


def test_digits_cnn_every_conv_signed_binary():
    model = sbtf.models.digits_cnn()
    convs = [l for l in model.layers if isinstance(l, tf.keras.layers.Conv2D)]
    assert len(convs) == 3 and all(sbtf.quantizers.is_signed_binary(l) for l in convs)
    assert all(l.kernel_size == (3, 3) for l in convs)


@pytest.mark.slow
def test_digits_cnn_reaches_90_percent():
    model, accuracy = sbtf.models.train_digits_cnn(seed=0)
    assert accuracy >= 0.90, f"test accuracy {accuracy:.3f}"
    # the accuracy is that of the signed-binary weights: each filter's non-zeros are one value
    for layer in model.layers:
        if sbtf.quantizers.is_signed_binary(layer):
            codes, signs, _ = sbtf.quantizers.signed_binary_codes(layer)
            flat = codes.reshape(-1, signs.size)
            assert np.all((flat == 0) | (flat == signs))


def test_threshold_mode_reaches_every_signed_binary_conv():
    model = sbtf.models.resnet8((16, 16, 1), threshold=0.7, threshold_mode="mean")
    qs = [l.kernel_quantizer for l in model.layers if isinstance(l, sbtf.SignedBinaryConv2D)]
    assert len(qs) == 6 and len({id(q) for q in qs}) == 6  # one quantizer per layer
    assert all((q.threshold, q.threshold_mode) == (0.7, "mean") for q in qs)
    # the metrics are still named after the layers, as with the shortcut options
    assert qs[0].metric_prefix == model.layers[4].name
    cnn = sbtf.models.digits_cnn(threshold_mode="mean", threshold=0.5)
    assert all(l.kernel_quantizer.threshold_mode == "mean" for l in cnn.layers
               if isinstance(l, sbtf.SignedBinaryConv2D))


def test_augmented_batches_cover_each_image_once_per_epoch_with_new_draws():
    x = np.arange(10 * 4 * 4, dtype=np.float32).reshape(10, 4, 4, 1)
    y = np.arange(10, dtype=np.int32)
    batches = sbtf.models._AugmentedBatches(x, y, batch_size=4, seed=0)
    assert len(batches) == 3

    def epoch():
        got = [batches[i] for i in range(len(batches))]
        batches.on_epoch_end()
        return np.concatenate([b[0] for b in got]), np.concatenate([b[1] for b in got])

    first_x, first_y = epoch()
    second_x, second_y = epoch()
    for images, labels in ((first_x, first_y), (second_x, second_y)):
        assert sorted(labels) == list(range(10))  # every image once, with its own label
        for image, label in zip(images, labels):
            assert set(image[image != 0]) <= set(x[label].ravel())  # moved pixels of its image
    assert not np.array_equal(first_y, second_y)  # reshuffled
    assert not np.array_equal(first_x[np.argsort(first_y)], second_x[np.argsort(second_y)])


def test_train_with_augmentation_is_reproducible():
    data = load_digits_split()
    data = ((data[0][0][:64], data[0][1][:64]), (data[1][0][:32], data[1][1][:32]))

    def run():
        tf.keras.utils.set_random_seed(3)
        model = sbtf.models.digits_cnn(filters=(4, 4, 8))
        accuracy = sbtf.models.train(model, data, epochs=1, batch_size=16, augment=True, seed=3)
        return accuracy, model.get_weights()

    (a1, w1), (a2, w2) = run(), run()
    assert a1 == a2
    for u, v in zip(w1, w2):
        np.testing.assert_array_equal(u, v)
