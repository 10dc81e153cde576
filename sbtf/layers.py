"""Signed-binary layers: thin wrappers over larq's quantized layers.

Each layer is the larq layer with Keras's arguments and defaults, except

- the weight quantizer defaults to `SignedBinaryQuantizer(threshold, signs, alpha, clip_value)`
  (pass your own `kernel_quantizer` / `depthwise_quantizer` instead, but then not the
  shortcut arguments as well);
- the weight constraint defaults to `lq.constraints.WeightClip(clip_value)` (pass `None`
  explicitly to train without one; larq then warns about starved weights);
- the quantizer's metrics are named after the layer (`sparsity/<layer name>` in `fit`'s logs);
- with `signs="init"` the signs are fixed from the initial kernel when the layer is built.

```python
import sbtf
x = sbtf.layers.SignedBinaryConv2D(32, 3, padding="same", use_bias=False, signs="alternate")(x)
x = tf.keras.layers.BatchNormalization()(x)
```
"""

from __future__ import annotations

import larq as lq
import tensorflow as tf
from larq import utils as lq_utils

from sbtf.quantizers import SignedBinaryQuantizer

__all__ = ["SignedBinaryConv2D", "SignedBinaryDense", "SignedBinaryDepthwiseConv2D"]

_DEFAULT = object()  # "argument not given", so an explicit None keeps its meaning


def _make_quantizer(layer_name, quantizer, depthwise, **options):
    given = {k: v for k, v in options.items() if v is not None}
    if quantizer is not None:
        if given:
            raise ValueError(
                f"{layer_name}: pass either a quantizer or the quantizer options "
                f"{sorted(given)}, not both (they would be ignored)."
            )
        quantizer = lq.quantizers.get(quantizer)  # resolve "signed_binary" to check it
        if isinstance(quantizer, SignedBinaryQuantizer) and quantizer.depthwise != depthwise:
            raise ValueError(
                f"{layer_name}: its SignedBinaryQuantizer needs depthwise={depthwise}, got "
                f"depthwise={quantizer.depthwise}."
            )
        return quantizer
    return SignedBinaryQuantizer(depthwise=depthwise, **given)


def _default_constraint(constraint, clip_value):
    if constraint is _DEFAULT:
        return lq.constraints.WeightClip(1.0 if clip_value is None else clip_value)
    return constraint


def flatten_layers(model):
    """Leaf layers of a model, nested models expanded, in model order (`sbtf.summary` and the
    converter walk the same list, so their per-layer figures cover the same layers)."""
    for layer in model.layers:
        if isinstance(layer, tf.keras.Model):
            yield from flatten_layers(layer)
        else:
            yield layer


class _SignedBinaryMixin:
    """Names the quantizer's metrics after the layer; fixes "init" signs at build time."""

    _quantizer_attr = "kernel_quantizer"
    _kernel_attr = "kernel"

    def _name_quantizer_metrics(self):
        q = getattr(self, self._quantizer_attr)
        if isinstance(q, SignedBinaryQuantizer):
            q.metric_prefix = self.name

    def build(self, input_shape):
        super().build(input_shape)
        q = getattr(self, self._quantizer_attr)
        if isinstance(q, SignedBinaryQuantizer):
            kernel = getattr(self, self._kernel_attr)
            latent = getattr(kernel, "latent_variable", kernel)
            with tf.init_scope():
                q.set_signs_from_kernel(latent.numpy())
                if not q.built:
                    q._maybe_build(tf.zeros(latent.shape, latent.dtype))


@lq_utils.register_keras_custom_object
class SignedBinaryConv2D(_SignedBinaryMixin, lq.layers.QuantConv2D):
    """2D convolution with signed-binary weights (`larq.layers.QuantConv2D` + defaults).

    # Arguments
        filters, kernel_size, ...: as `tf.keras.layers.Conv2D` (same defaults).
        threshold, signs, alpha, clip_value: options of the default
            `SignedBinaryQuantizer` (see there); `None` means the quantizer's default.
        kernel_quantizer: a quantizer instead of the default one.
        kernel_constraint: default `WeightClip(clip_value)`.
        **kwargs: further arguments of `larq.layers.QuantConv2D` (e.g. `input_quantizer`,
            `pad_values`).
    """

    def __init__(
        self,
        filters,
        kernel_size,
        strides=(1, 1),
        padding="valid",
        *,
        threshold=None,
        signs=None,
        alpha=None,
        clip_value=None,
        kernel_quantizer=None,
        kernel_constraint=_DEFAULT,
        **kwargs,
    ):
        super().__init__(
            filters,
            kernel_size,
            strides=strides,
            padding=padding,
            kernel_quantizer=_make_quantizer(
                type(self).__name__,
                kernel_quantizer,
                False,
                threshold=threshold,
                signs=signs,
                alpha=alpha,
                clip_value=clip_value,
            ),
            kernel_constraint=_default_constraint(kernel_constraint, clip_value),
            **kwargs,
        )
        self._name_quantizer_metrics()


@lq_utils.register_keras_custom_object
class SignedBinaryDense(_SignedBinaryMixin, lq.layers.QuantDense):
    """Densely connected layer with signed-binary weights (`larq.layers.QuantDense` + defaults).

    # Arguments
        units, activation, use_bias, ...: as `tf.keras.layers.Dense` (same defaults).
        threshold, signs, alpha, clip_value, kernel_quantizer, kernel_constraint, **kwargs:
            as for `SignedBinaryConv2D`.

    TF 2.21 quantizes fully connected weights per output channel, so every `alpha` mode stays
    signed-binary (±127 per filter) after int8 conversion; a converter that quantizes them per
    tensor would keep only `alpha="none"` signed-binary.
    """

    def __init__(
        self,
        units,
        *,
        threshold=None,
        signs=None,
        alpha=None,
        clip_value=None,
        kernel_quantizer=None,
        kernel_constraint=_DEFAULT,
        **kwargs,
    ):
        super().__init__(
            units,
            kernel_quantizer=_make_quantizer(
                type(self).__name__,
                kernel_quantizer,
                False,
                threshold=threshold,
                signs=signs,
                alpha=alpha,
                clip_value=clip_value,
            ),
            kernel_constraint=_default_constraint(kernel_constraint, clip_value),
            **kwargs,
        )
        self._name_quantizer_metrics()


@lq_utils.register_keras_custom_object
class SignedBinaryDepthwiseConv2D(_SignedBinaryMixin, lq.layers.QuantDepthwiseConv2D):
    """Depthwise 2D convolution with signed-binary weights (`larq.layers.QuantDepthwiseConv2D`).

    Filters are the `C_in * depth_multiplier` output channels (`ci * depth_multiplier + m`).
    The converter deploys it as `SBTF_DEPTHWISE_CONV_2D` (docs/op_spec.md).

    # Arguments
        kernel_size, strides, padding, depth_multiplier, ...: as
            `tf.keras.layers.DepthwiseConv2D`.
        threshold, signs, alpha, clip_value: options of the default quantizer.
        depthwise_quantizer: a quantizer instead of the default one (it needs
            `depthwise=True`).
        depthwise_constraint: default `WeightClip(clip_value)`.
    """

    _quantizer_attr = "depthwise_quantizer"
    _kernel_attr = "depthwise_kernel"

    def __init__(
        self,
        kernel_size,
        strides=(1, 1),
        padding="valid",
        depth_multiplier=1,
        *,
        threshold=None,
        signs=None,
        alpha=None,
        clip_value=None,
        depthwise_quantizer=None,
        depthwise_constraint=_DEFAULT,
        **kwargs,
    ):
        super().__init__(
            kernel_size,
            strides=strides,
            padding=padding,
            depth_multiplier=depth_multiplier,
            depthwise_quantizer=_make_quantizer(
                type(self).__name__,
                depthwise_quantizer,
                True,
                threshold=threshold,
                signs=signs,
                alpha=alpha,
                clip_value=clip_value,
            ),
            depthwise_constraint=_default_constraint(depthwise_constraint, clip_value),
            **kwargs,
        )
        self._name_quantizer_metrics()
