"""The four MLPerf Tiny (v1.x) reference models, shaped as in the benchmark, with random weights.

For measuring runtimes, not accuracy: each builder returns an untrained Keras model whose layers,
shapes and operators follow MLPerf Tiny's `benchmark/training/*/keras_model.py`, with the layers
a signed-binary network would quantize made `SignedBinaryConv2D` / `SignedBinaryDense`
(`signed_binary=False` gives plain float layers). Converting one with
`sbtf.converters.convert_with_report` gives both the signed-binary model and its int8 twin.

    for name, build in MODELS.items(): model = build(); ...
    sbtf.mlperf_tiny.calibration("kws_ds_cnn", 32)    # random calibration data of its input shape

- `ic_resnet8`: image classification, CIFAR-10 32x32x3: sbtf.models.resnet8 (the six 3x3
  block convs signed-binary; first conv, 1x1 shortcuts and classifier int8).
- `kws_ds_cnn`: keyword spotting DS-CNN, 49x10x1 MFCC: conv 10x4/2 64 + four depthwise-separable
  blocks of 64 + average pool + FC 12; the four 1x1 pointwise convs signed-binary.
- `vww_mobilenet_v1`: visual wake words MobileNetV1 alpha 0.25, 96x96x3: conv 3x3/2 8 + 13
  depthwise-separable blocks (16 ... 256) + average pool + FC 2; the 13 pointwise convs
  signed-binary.
- `ad_autoencoder`: anomaly detection FC autoencoder, 640 inputs: 640-128-128-128-128-8-128-
  128-128-128-640 with BN + ReLU; the six 128x128 layers signed-binary.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from sbtf import models as _models
from sbtf.layers import SignedBinaryConv2D, SignedBinaryDense

__all__ = ["INPUT_SHAPES", "MODELS", "ad_autoencoder", "calibration", "ic_resnet8", "kws_ds_cnn",
           "vww_mobilenet_v1"]

_L = tf.keras.layers


def _bn_relu(x):
    return _L.Activation("relu")(_L.BatchNormalization()(x))


def _pointwise(filters: int, signed_binary: bool):
    if signed_binary:
        return SignedBinaryConv2D(filters, 1, padding="same", use_bias=False)
    return _L.Conv2D(filters, 1, padding="same", use_bias=False)


def _separable(x, filters: int, strides: int, signed_binary: bool):
    x = _bn_relu(_L.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False)(x))
    return _bn_relu(_pointwise(filters, signed_binary)(x))


def ic_resnet8(signed_binary: bool = True) -> tf.keras.Model:
    conv = None if signed_binary else (
        lambda f, k, s: _L.Conv2D(f, k, strides=s, padding="same", use_bias=False))
    return _models.resnet8(conv_factory=conv, name="ic_resnet8")


def kws_ds_cnn(signed_binary: bool = True) -> tf.keras.Model:
    inputs = tf.keras.Input((49, 10, 1))
    x = _bn_relu(_L.Conv2D(64, (10, 4), strides=(2, 2), padding="same")(inputs))
    for _ in range(4):
        x = _separable(x, 64, 1, signed_binary)
    x = _L.AveragePooling2D(pool_size=(x.shape[1], x.shape[2]))(x)
    x = _L.Flatten()(x)
    outputs = _L.Dense(12, activation="softmax")(x)
    return tf.keras.Model(inputs, outputs, name="kws_ds_cnn")


def vww_mobilenet_v1(signed_binary: bool = True) -> tf.keras.Model:
    inputs = tf.keras.Input((96, 96, 3))
    x = _bn_relu(_L.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(inputs))
    blocks = [(16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2), (128, 1), (128, 1),
              (128, 1), (128, 1), (128, 1), (256, 2), (256, 1)]
    for filters, strides in blocks:
        x = _separable(x, filters, strides, signed_binary)
    x = _L.AveragePooling2D(pool_size=(x.shape[1], x.shape[2]))(x)
    x = _L.Flatten()(x)
    outputs = _L.Dense(2, activation="softmax")(x)
    return tf.keras.Model(inputs, outputs, name="vww_mobilenet_v1")


def ad_autoencoder(signed_binary: bool = True) -> tf.keras.Model:
    inputs = tf.keras.Input((640,))

    def dense(x, units, binary):
        layer = (SignedBinaryDense(units, use_bias=False) if binary and signed_binary
                 else _L.Dense(units))
        return _bn_relu(layer(x))

    x = dense(inputs, 128, False)
    for _ in range(3):
        x = dense(x, 128, True)
    x = dense(x, 8, False)
    for _ in range(3):
        x = dense(x, 128, True)
    x = dense(x, 128, False)
    outputs = _L.Dense(640)(x)
    return tf.keras.Model(inputs, outputs, name="ad_autoencoder")


MODELS = {
    "ic_resnet8": ic_resnet8,
    "kws_ds_cnn": kws_ds_cnn,
    "vww_mobilenet_v1": vww_mobilenet_v1,
    "ad_autoencoder": ad_autoencoder,
}
INPUT_SHAPES = {"ic_resnet8": (32, 32, 3), "kws_ds_cnn": (49, 10, 1),
                "vww_mobilenet_v1": (96, 96, 3), "ad_autoencoder": (640,)}


def calibration(name: str, n: int = 32, seed: int = 0) -> np.ndarray:
    """Random calibration inputs for model `name` (uniform [0, 1), float32)."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, size=(n, *INPUT_SHAPES[name])).astype(np.float32)
