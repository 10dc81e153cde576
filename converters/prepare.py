"""Step 1 of the converter: the float Keras model TensorFlow's TFLite converter should see.

larq's Quant* layers quantize their kernel in every call; TFLite's converter would trace that
quantizer as graph ops. So each QuantConv2D / QuantDense / QuantDepthwiseConv2D (sbtf's
signed-binary layers included) becomes the plain Keras layer with the *quantized* kernel,
evaluated once, exactly as the layer uses it at inference. Input (activation) quantizers are not
convertible to int8 TFLite ops and are refused with the layer's name.
"""

from __future__ import annotations

import dataclasses
import warnings

import larq as lq
import numpy as np
import tensorflow as tf

from sbtf.converters.errors import ConversionError, ConversionWarning
from sbtf.layers import flatten_layers
from sbtf.quantizers import quantized_kernel, signed_binary_quantizer_of

_PLAIN = {  # larq layer -> (plain Keras layer, kernel attribute, quantizer attribute)
    lq.layers.QuantConv1D: (tf.keras.layers.Conv1D, "kernel", "kernel_quantizer"),
    lq.layers.QuantConv2D: (tf.keras.layers.Conv2D, "kernel", "kernel_quantizer"),
    lq.layers.QuantDense: (tf.keras.layers.Dense, "kernel", "kernel_quantizer"),
    lq.layers.QuantDepthwiseConv2D: (
        tf.keras.layers.DepthwiseConv2D,
        "depthwise_kernel",
        "depthwise_quantizer",
    ),
}
_QUANT_ONLY_KEYS = (
    "input_quantizer",
    "kernel_quantizer",
    "depthwise_quantizer",
    "pad_values",
    "metrics",
    "kernel_constraint",
    "depthwise_constraint",
    "kernel_regularizer",
    "depthwise_regularizer",
)
_LARQ_BASES = (
    lq.layers.QuantizerBase,
    lq.layers.QuantizerDepthwiseBase,
    lq.layers.QuantizerSeparableBase,
)
_WEIGHT_LAYERS = (
    tf.keras.layers.Conv1D,
    tf.keras.layers.Conv2D,
    tf.keras.layers.Dense,
    tf.keras.layers.DepthwiseConv2D,
)


@dataclasses.dataclass
class PreparedModel:
    """The float model to convert, and which of its layers are signed-binary."""

    model: tf.keras.Model
    signed_binary_layers: list[str]
    layer_names: list[str]  # every conv / dense / depthwise layer, to attribute TFLite ops
    aliases: dict[str, str] = dataclasses.field(default_factory=dict)  # see `folded_into`
    masks: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)  # see `kernel_masks`


_FOLDABLE = (tf.keras.layers.BatchNormalization, tf.keras.layers.Activation, tf.keras.layers.ReLU)


def folded_into(model) -> dict[str, str]:
    """{BatchNorm / activation layer name: the conv / dense layer it follows}.

    TFLite folds these layers into the conv before them and may name the folded tensors after
    them only (a Dense + BatchNorm kernel becomes 'model/dense_bn/batchnorm/mul_1').
    """
    aliases = {}
    for layer in flatten_layers(model):
        source = layer
        while isinstance(source, _FOLDABLE):
            nodes = getattr(source, "inbound_nodes", None) or []
            producers = nodes[0].inbound_layers if len(nodes) == 1 else None
            if isinstance(producers, list):
                producers = producers[0] if len(producers) == 1 else None
            source = producers
        if source is not layer and isinstance(source, _WEIGHT_LAYERS):
            aliases[layer.name] = source.name
    return aliases


def kernel_masks(model, names) -> dict[str, np.ndarray]:
    """{layer name: non-zero pattern of its kernel as bool [C_out, K] in TFLite's order}.

    BatchNorm folding scales each filter but keeps its zeros, and a signed-binary filter's
    non-zeros all quantize to ±127, so the pattern identifies the layer's TFLite op when tensor
    names do not (a layer applied twice gets anonymous 'arith.constant' names).
    """
    masks = {}
    for layer in flatten_layers(model):
        if layer.name not in names or not isinstance(layer, _WEIGHT_LAYERS):
            continue
        if isinstance(layer, tf.keras.layers.DepthwiseConv2D):
            # [KH, KW, C_in, M] -> [KH, KW, C_out]: output channel ic * M + m, as in TFLite
            kernel = np.asarray(layer.depthwise_kernel.numpy())
            kernel = kernel.reshape(*kernel.shape[:2], -1)
        else:
            kernel = np.asarray(layer.kernel.numpy())  # [..., C_in, C_out] -> [C_out, ... * C_in]
        masks[layer.name] = np.moveaxis(kernel, -1, 0).reshape(kernel.shape[-1], -1) != 0
    return masks


def _plain_type(layer):
    for quant_type, spec in _PLAIN.items():
        if isinstance(layer, quant_type):
            return spec
    return None


def _check_layer(layer) -> None:
    if isinstance(layer, _LARQ_BASES):
        spec = _plain_type(layer)
        if spec is None:
            raise ConversionError(
                f"layer {layer.name!r} ({type(layer).__name__}) is not supported by sbtf-convert "
                f"(supported larq layers: QuantConv1D, QuantConv2D, QuantDense, "
                f"QuantDepthwiseConv2D)"
            )
        if getattr(layer, "input_quantizer", None) is not None:
            raise ConversionError(
                f"layer {layer.name!r} ({type(layer).__name__}) has input_quantizer="
                f"{type(layer.input_quantizer).__name__}: quantized activations have no int8 "
                f"TFLite equivalent; sbtf needs input_quantizer=None (binary activations are "
                f"Larq Compute Engine's domain)"
            )
        pad = getattr(layer, "pad_values", 0.0)
        if pad not in (0, 0.0):
            raise ConversionError(
                f"layer {layer.name!r} pads with {pad}; TFLite int8 convolutions pad with zero"
            )


def _quantized(layer, kernel_attr, quantizer_attr) -> np.ndarray:
    if signed_binary_quantizer_of(layer) is not None:
        return quantized_kernel(layer)
    kernel = getattr(layer, kernel_attr)
    quantizer = getattr(layer, quantizer_attr, None)
    if quantizer is None:
        return np.asarray(kernel.numpy())
    return np.asarray(quantizer(tf.convert_to_tensor(kernel)).numpy())


def _plain_layer(layer):
    spec = _plain_type(layer)
    if spec is None:
        return layer.__class__.from_config(layer.get_config())
    plain_type = spec[0]
    config = {k: v for k, v in layer.get_config().items() if k not in _QUANT_ONLY_KEYS}
    return plain_type.from_config(config)


def _clone(model):
    def clone_layer(layer):
        if isinstance(layer, tf.keras.Model):
            return _clone(layer)
        return _plain_layer(layer)

    try:
        return tf.keras.models.clone_model(model, clone_function=clone_layer)
    except Exception as exc:  # subclassed models cannot be rebuilt from their config
        raise ConversionError(
            f"model {model.name!r} uses larq/sbtf quantized layers but cannot be cloned into a "
            f"float model ({type(exc).__name__}: {exc}); build it as a Functional or Sequential "
            f"model"
        ) from exc


def prepare(model: tf.keras.Model) -> PreparedModel:
    """The float model whose kernels are the quantized kernels; the original is not modified."""
    if not isinstance(model, tf.keras.Model):
        raise ConversionError(f"expected a tf.keras.Model, got {type(model).__name__}")
    if not model.built:
        raise ConversionError(f"model {model.name!r} is not built; call it on an input first")
    layers = list(flatten_layers(model))
    for layer in layers:
        _check_layer(layer)
    signed = [layer.name for layer in layers if signed_binary_quantizer_of(layer) is not None]
    if not any(_plain_type(layer) for layer in layers):
        names = [layer.name for layer in layers if isinstance(layer, _WEIGHT_LAYERS)]
        return PreparedModel(model, signed, names, folded_into(model), kernel_masks(model, signed))

    clone = _clone(model)
    clone_layers = list(flatten_layers(clone))
    if [x.name for x in clone_layers] != [x.name for x in layers]:
        raise ConversionError(f"cloning model {model.name!r} changed its layers; cannot convert")
    for old, new in zip(layers, clone_layers):
        spec = _plain_type(old)
        if spec is None:
            new.set_weights(old.get_weights())
            continue
        weights = [_quantized(old, spec[1], spec[2])]
        if getattr(old, "use_bias", False):
            weights.append(old.bias.numpy())
        new.set_weights(weights)
    aliases = folded_into(clone)
    zero_vanishing_filters(clone, signed, aliases)
    names = [layer.name for layer in clone_layers if isinstance(layer, _WEIGHT_LAYERS)]
    return PreparedModel(clone, signed, names, aliases, kernel_masks(clone, signed))


# Below this folded magnitude TensorFlow's weight quantizer no longer maps a filter's largest
# weight to ±127 (measured: a filter of 9.6e-7 became 50, one of about 1e-7 became 18), so
# the filter would not read as signed-binary and its whole layer would stay int8.
VANISHING_FILTER_MAGNITUDE = 1e-5


def zero_vanishing_filters(model, signed, aliases) -> dict[str, list[int]]:
    """Zero the signed-binary filters whose BatchNorm folds them to almost nothing.

    A channel whose BatchNorm scale |gamma| / sqrt(var + eps) trained to ~0 (a dead channel)
    contributes less than VANISHING_FILTER_MAGNITUDE * sum|x| before its bias; as an all-zero
    filter it is still signed-binary, and the int8 twin, converted from the same model, agrees.
    Returns {layer name: zeroed output channels}.
    """
    layers = {layer.name: layer for layer in flatten_layers(model)}
    zeroed = {}
    for bn_name, conv_name in aliases.items():
        bn, conv = layers.get(bn_name), layers.get(conv_name)
        if conv_name not in signed or not isinstance(bn, tf.keras.layers.BatchNormalization):
            continue
        if isinstance(conv, tf.keras.layers.DepthwiseConv2D):
            continue  # [KH, KW, C_in, M]: its channels are not the kernel's last axis
        weights = dict(zip((w.name.split("/")[-1].split(":")[0] for w in bn.weights),
                           (w.numpy() for w in bn.weights)))
        variance = weights["moving_variance"]
        gamma = weights.get("gamma", np.ones_like(variance))
        kernel = conv.kernel.numpy()
        peak = np.abs(kernel).reshape(-1, kernel.shape[-1]).max(axis=0)
        folded = peak * np.abs(gamma) / np.sqrt(variance + bn.epsilon)
        dead = np.flatnonzero((folded < VANISHING_FILTER_MAGNITUDE) & (peak > 0))
        if dead.size:
            kernel[..., dead] = 0
            conv.kernel.assign(kernel)
            zeroed[conv_name] = dead.tolist()
            warnings.warn(
                f"layer {conv_name}: filter(s) {dead.tolist()} zeroed: BatchNorm {bn_name} scales "
                f"them to below {VANISHING_FILTER_MAGNITUDE:g} (dead channels), which int8 "
                f"quantization cannot keep signed-binary",
                ConversionWarning,
                stacklevel=2,
            )
    return zeroed
