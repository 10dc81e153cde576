"""Reference models with signed-binary 3x3 convolutions.

The signed-binary convs are `use_bias=False` and followed by BatchNormalization (which the
converter folds into the conv's int32 bias and per-channel scales). Everything else is plain
Keras ("int8-ready": the converter quantizes it to int8).
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from sbtf.data import augment as augment_images
from sbtf.layers import SignedBinaryConv2D
from sbtf.quantizers import SignedBinaryQuantizer

__all__ = ["FIRST_CONV", "Distiller", "digits_cnn", "resnet8", "train", "train_digits_cnn"]


def _quantizer_options(threshold, signs, alpha, threshold_mode=None):
    """The signed-binary layers' quantizer options (None: the quantizer's defaults)."""
    options = {"threshold": threshold, "signs": signs, "alpha": alpha}
    if threshold_mode is None:
        return options
    # the layers take no threshold_mode shortcut: give them the quantizer itself
    given = {k: v for k, v in options.items() if v is not None}
    return {"kernel_quantizer": SignedBinaryQuantizer(threshold_mode=threshold_mode, **given)}


def resnet8(
    input_shape=(32, 32, 3),
    num_classes: int = 10,
    num_filters=(16, 32, 64),
    *,
    threshold: float | None = None,
    signs: str | float | None = None,
    alpha: str | None = None,
    threshold_mode: str | None = None,
    conv_factory=None,
    weight_decay: float = 1e-4,
    bn_momentum: float = 0.99,
    name: str = "resnet8",
) -> tf.keras.Model:
    """MLPerf Tiny image-classification ResNet-8 with signed-binary block convolutions.

    As the MLPerf Tiny reference (`benchmark/training/image_classification/keras_model.py`,
    `resnet_v1_eembc` with 16/32/64 filters): first conv 3x3 + BN + ReLU; three stacks with
    strides 1/2/2, each conv3x3 -> BN -> ReLU -> conv3x3 -> BN, plus a shortcut (1x1 conv with
    the stride when the shape changes, identity otherwise), add, ReLU; then
    AveragePooling2D over the whole feature map, Flatten, Dense softmax. Same `he_normal`
    initialisation, `l2(weight_decay)` regulariser and `padding="same"`.

    Differences: the six 3x3 convs inside the stacks are `SignedBinaryConv2D` with
    `use_bias=False` (the reference uses a bias, which BN makes redundant); the first conv, the
    1x1 shortcuts and the classifier stay float (int8 after conversion).

    # Arguments
        threshold, signs, alpha, threshold_mode: options of the signed-binary quantizer
            (None: its defaults).
        conv_factory: `f(filters, kernel_size, strides) -> layer` replacing the signed-binary
            conv (the training benchmark uses it to build the same net with larq's `ste_sign`).
        bn_momentum: of every BatchNormalization (Keras's default 0.99, as the reference).
        For Fashion-MNIST: `resnet8((28, 28, 1))` (the final pool then covers 7x7).
    """
    reg = tf.keras.regularizers.l2(weight_decay) if weight_decay else None

    def float_conv(filters, kernel_size, strides):
        return tf.keras.layers.Conv2D(
            filters,
            kernel_size,
            strides=strides,
            padding="same",
            kernel_initializer="he_normal",
            kernel_regularizer=reg,
        )

    def block_conv(filters, strides):
        if conv_factory is not None:
            return conv_factory(filters, 3, strides)
        return SignedBinaryConv2D(
            filters,
            3,
            strides=strides,
            padding="same",
            use_bias=False,
            kernel_initializer="he_normal",
            kernel_regularizer=reg,
            **_quantizer_options(threshold, signs, alpha, threshold_mode),
        )

    inputs = tf.keras.Input(shape=input_shape)
    x = float_conv(num_filters[0], 3, 1)(inputs)
    x = tf.keras.layers.BatchNormalization(momentum=bn_momentum)(x)
    x = tf.keras.layers.Activation("relu")(x)
    channels = num_filters[0]
    for stack, filters in enumerate(num_filters):
        strides = 1 if stack == 0 else 2
        y = block_conv(filters, strides)(x)
        y = tf.keras.layers.BatchNormalization(momentum=bn_momentum)(y)
        y = tf.keras.layers.Activation("relu")(y)
        y = block_conv(filters, 1)(y)
        y = tf.keras.layers.BatchNormalization(momentum=bn_momentum)(y)
        if strides != 1 or filters != channels:
            x = float_conv(filters, 1, strides)(x)
        x = tf.keras.layers.Add()([x, y])
        x = tf.keras.layers.Activation("relu")(x)
        channels = filters
    pool_size = int(np.amin(x.shape[1:3]))
    x = tf.keras.layers.AveragePooling2D(pool_size=pool_size)(x)
    x = tf.keras.layers.Flatten()(x)
    outputs = tf.keras.layers.Dense(
        num_classes, activation="softmax", kernel_initializer="he_normal"
    )(x)
    return tf.keras.Model(inputs, outputs, name=name)


FIRST_CONV = ("quantized", "float")


def digits_cnn(
    input_shape=(8, 8, 1),
    num_classes: int = 10,
    filters=(32, 32, 64),
    *,
    threshold: float | None = None,
    signs: str | float | None = None,
    alpha: str | None = None,
    threshold_mode: str | None = None,
    conv_factory=None,
    first_conv: str = "quantized",
    bn_momentum: float = 0.9,
    name: str = "digits_cnn",
) -> tf.keras.Model:
    """A small CNN for the 8x8 scikit-learn digits in which every 3x3 conv is signed-binary.

    conv3x3(32)-BN-ReLU, conv3x3(32)-BN-ReLU, maxpool 2x2, conv3x3(64)-BN-ReLU,
    global average pool, Dense(num_classes) softmax (float, int8 after conversion).
    All convs `padding="same"`, `use_bias=False`. `bn_momentum` defaults to 0.9 rather than
    Keras's 0.99: a few epochs on 1437 images are ~200 steps, too few for 0.99's moving
    statistics to forget their initial values.

    # Arguments
        threshold, signs, alpha, threshold_mode: options of the signed-binary quantizer
            (None: its defaults).
        conv_factory: `f(filters, kernel_size, strides) -> layer` replacing the signed-binary
            conv, as in `resnet8` (`sbtf.experiments` builds its float/binary/ternary variants
            with it). It must give `padding="same"`, `use_bias=False` layers.
        first_conv: "quantized" (default) makes the first conv like the others; "float" keeps
            it a plain `Conv2D` (int8 after conversion), as binary networks usually do.
    """
    if first_conv not in FIRST_CONV:
        raise ValueError(f"first_conv must be one of {FIRST_CONV}, got {first_conv!r}.")
    def conv(filters, kernel_size, strides):
        if conv_factory is not None:
            return conv_factory(filters, kernel_size, strides)
        return SignedBinaryConv2D(
            filters, kernel_size, strides=strides, padding="same", use_bias=False,
            **_quantizer_options(threshold, signs, alpha, threshold_mode),  # one quantizer each
        )

    def float_conv(filters, kernel_size, strides):
        return tf.keras.layers.Conv2D(
            filters, kernel_size, strides=strides, padding="same", use_bias=False
        )

    inputs = tf.keras.Input(shape=input_shape)
    x = inputs
    for i, f in enumerate(filters):
        make_conv = float_conv if i == 0 and first_conv == "float" else conv
        x = make_conv(f, 3, 1)(x)
        x = tf.keras.layers.BatchNormalization(momentum=bn_momentum)(x)
        x = tf.keras.layers.Activation("relu")(x)
        if i == 1:
            x = tf.keras.layers.MaxPooling2D(2)(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    outputs = tf.keras.layers.Dense(num_classes, activation="softmax")(x)
    return tf.keras.Model(inputs, outputs, name=name)


DEFAULT_LEARNING_RATE = 1e-2


class Distiller(tf.keras.Model):
    """Trains `student` on (1 - weight) * CE + weight * T² * KL(teacher_T || student_T).

    Knowledge distillation (Hinton et al. 2015) from a float teacher, part of the signed-binary
    paper's recipe. Both models end in softmax; log-probabilities divided by T are the softened
    logits. The teacher runs in inference mode and is not trained.
    """

    def __init__(self, student, teacher, weight: float, temperature: float):
        super().__init__(name="distiller")
        if not 0.0 <= weight <= 1.0 or not temperature > 0:
            raise ValueError(f"Distiller: weight must lie in [0, 1] and temperature be > 0, got "
                             f"{weight} and {temperature}.")
        self.student, self.teacher = student, teacher
        self.teacher.trainable = False
        self.weight, self.temperature = float(weight), float(temperature)
        self.ce = tf.keras.losses.SparseCategoricalCrossentropy()
        self.kl = tf.keras.losses.KLDivergence()

    def call(self, x, training=False):
        return self.student(x, training=training)

    def _soften(self, probs):
        return tf.nn.softmax(tf.math.log(tf.clip_by_value(probs, 1e-7, 1.0)) / self.temperature)

    def train_step(self, data):
        x, y = data
        teacher_probs = self.teacher(x, training=False)
        with tf.GradientTape() as tape:
            probs = self.student(x, training=True)
            ce = self.ce(y, probs)
            kd = self.kl(self._soften(teacher_probs), self._soften(probs)) * self.temperature**2
            loss = (1.0 - self.weight) * ce + self.weight * kd + tf.add_n(
                [tf.constant(0.0)] + self.student.losses)
        variables = self.student.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        self.compiled_metrics.update_state(y, probs)
        return {"loss": loss, "ce": ce, "kd": kd, **{m.name: m.result() for m in self.metrics}}

    def test_step(self, data):
        x, y = data
        probs = self.student(x, training=False)
        self.compiled_metrics.update_state(y, probs)
        return {"loss": self.ce(y, probs), **{m.name: m.result() for m in self.metrics}}


class _AugmentedBatches(tf.keras.utils.Sequence):
    """Shuffled batches of (`sbtf.data.augment`ed images, labels), new draws every epoch."""

    def __init__(self, x, y, batch_size, seed):
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(x))

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, i):
        pick = self.order[i * self.batch_size:(i + 1) * self.batch_size]
        return augment_images(self.x[pick], self.rng), self.y[pick]

    def on_epoch_end(self):
        self.order = self.rng.permutation(len(self.x))


def train(
    model: tf.keras.Model,
    data,
    *,
    epochs: int,
    batch_size: int = 32,
    learning_rate: float = DEFAULT_LEARNING_RATE,
    teacher: tf.keras.Model | None = None,
    distill_weight: float = 0.5,
    temperature: float = 4.0,
    augment: bool = False,
    seed: int = 0,
    curve: list | None = None,
    verbose: int = 0,
) -> float:
    """Train `model` with the project's recipe; return its test accuracy.

    `data` is `((x_train, y_train), (x_test, y_test))` with integer labels (as
    `sbtf.data.load`). The recipe: Adam with a learning rate cosine-decayed to 0 over the run,
    sparse categorical cross-entropy; with a `teacher` (a trained float model of the same
    inputs and classes), knowledge distillation (`Distiller`); with `augment`, every epoch
    sees each training image shifted by up to 2 pixels and mirrored left-right at random
    (`sbtf.data.augment`, drawn from `seed`). The model is (re)compiled here; seed it
    (`tf.keras.utils.set_random_seed`) before building it for a reproducible run.

    `curve`: a list to which one `{"epoch", "train_accuracy", "test_accuracy"}` per epoch is
    appended (the test accuracy is only watched, nothing is chosen by it; it costs one
    evaluation per epoch).
    """
    if int(epochs) < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}.")
    (x_train, y_train), (x_test, y_test) = data
    if len(x_train) == 0 or len(x_test) == 0:
        raise ValueError(
            f"train: need training and test examples, got {len(x_train)} and {len(x_test)}."
        )
    steps = epochs * math.ceil(len(x_train) / batch_size)
    schedule = tf.keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps)
    trainer = model if teacher is None else Distiller(model, teacher, distill_weight, temperature)
    trainer.compile(
        optimizer=tf.keras.optimizers.Adam(schedule),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    watch = {} if curve is None else {"validation_data": (x_test, y_test),
                                      "validation_batch_size": 256}
    if augment:
        history = trainer.fit(_AugmentedBatches(x_train, y_train, batch_size, seed),
                              epochs=epochs, verbose=verbose, **watch)
    else:
        history = trainer.fit(x_train, y_train, epochs=epochs, batch_size=batch_size,
                              verbose=verbose, **watch)
    if curve is not None:
        h = history.history
        curve.extend({"epoch": i + 1, "train_accuracy": float(h["accuracy"][i]),
                      "test_accuracy": float(h["val_accuracy"][i])} for i in range(epochs))
    if teacher is not None:  # the Distiller was compiled, not the student
        model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    scores = model.evaluate(x_test, y_test, batch_size=256, verbose=0, return_dict=True)
    return float(scores["accuracy"])


def train_digits_cnn(
    epochs: int = 15,
    batch_size: int = 32,
    learning_rate: float = DEFAULT_LEARNING_RATE,
    seed: int = 0,
    verbose: int = 0,
    dataset: str = "digits",
    train_size: int | None = None,
    **model_kwargs,
):
    """Build `digits_cnn(**model_kwargs)` for `dataset`'s images and `train` it on
    `sbtf.data.load(dataset, seed=seed, train_size=train_size)`.

    ~5-10 s on 2 CPU cores for the digits. Returns `(model, test_accuracy)`.
    """
    from sbtf.data import load

    data = load(dataset, seed=seed, train_size=train_size)
    tf.keras.utils.set_random_seed(seed)
    model = digits_cnn(input_shape=data[0][0].shape[1:], **model_kwargs)
    accuracy = train(
        model,
        data,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        verbose=verbose,
    )
    return model, accuracy
