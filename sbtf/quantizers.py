"""Signed-binary weight quantizer (larq style: a pure function plus a registered Keras class).

A signed-binary layer gives every filter (output channel) `c` one fixed sign `s_c` in {-1, +1};
the filter's weights are either 0 or `s_c * alpha_c`. In int8 TFLite such a filter quantizes to
{0, s_c * 127}, which the sbtf kernels store as one sign byte and one bit per weight
(docs/op_spec.md).

```python
import sbtf  # registers the sbtf objects with Keras
import larq as lq

x = lq.layers.QuantConv2D(
    32, 3, use_bias=False,
    kernel_quantizer=sbtf.quantizers.SignedBinaryQuantizer(signs="split"),
    kernel_constraint=lq.constraints.WeightClip(1.0),
)(x)
# or by alias, with the defaults:
x = lq.layers.QuantDense(10, kernel_quantizer="signed_binary", kernel_constraint="weight_clip")(x)
```

References:
- Kuhar et al., "Signed Binary Weight Networks", https://arxiv.org/abs/2211.13838
- Kuhar et al., "PLUM: Improving Inference Efficiency by Leveraging Repetition-Sparsity
  Trade-Off", TMLR 2024 (same method, journal version).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import tensorflow as tf
from larq import context as lq_context
from larq import metrics as lq_metrics
from larq import quantizers as lq_quantizers
from larq import utils as lq_utils

__all__ = [
    "ALPHA_MODES",
    "SIGN_MODES",
    "THRESHOLD_MODES",
    "SignedBinaryQuantizer",
    "filter_axes",
    "is_signed_binary",
    "quantized_kernel",
    "signed_binary",
    "signed_binary_codes",
    "signed_binary_quantizer_of",
]

SIGN_MODES = ("split", "alternate", "init")  # or a float in [0, 1]
ALPHA_MODES = ("none", "mean", "learned")
# Δ_c = threshold · max|W_c| ("max") or threshold · mean|W_c| ("mean", TWN's statistic)
THRESHOLD_MODES = ("max", "mean")
METRICS = ("sparsity", "flip_ratio")


class _KernelSparsity(tf.keras.metrics.Metric):
    """Fraction of zero weights of the quantized kernel in the latest training step.

    It describes the weights, not the data, so it is not averaged over an epoch and Keras's
    reset before each epoch and each evaluation keeps it: validation (which never updates it,
    see SignedBinaryQuantizer.call) logs the sparsity of the weights it ran with, not 0.
    """

    def __init__(self, name, dtype=None):
        super().__init__(name=name, dtype=dtype)
        # Every replica holds the same weights, hence the same value. NaN until the first
        # training step: an evaluation before any training has no sparsity to report.
        self.value = self.add_weight("value", initializer=tf.keras.initializers.Constant(np.nan),
                                     aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)

    def update_state(self, sparsity):
        return self.value.assign(tf.cast(sparsity, self.dtype))

    def result(self):
        return tf.identity(self.value)

    def reset_state(self):
        pass


def _clipped_gradient(x, dy, clip_value):
    """`dy` where |x| <= clip_value, else 0 (larq's clipped straight-through estimator)."""
    if clip_value is None:
        return dy
    return tf.where(tf.math.abs(x) <= clip_value, dy, tf.zeros_like(dy))


def filter_axes(rank: int, depthwise: bool = False) -> tuple[int, ...]:
    """The kernel axes that index filters (output channels), for a kernel of `rank`.

    Dense `[C_in, C_out]`, Conv1D `[k, C_in, C_out]`, Conv2D `[kh, kw, C_in, C_out]`: the last
    axis. DepthwiseConv2D `[kh, kw, C_in, depth_multiplier]` (`depthwise=True`): axes 2 and 3
    together, filter `c = ci * depth_multiplier + m` (TFLite's depthwise channel order).

    Raises ValueError for any other rank.
    """
    if depthwise:
        if rank != 4:
            raise ValueError(
                f"A depthwise signed-binary kernel must have rank 4 [kh, kw, C_in, "
                f"depth_multiplier], got rank {rank}."
            )
        return (2, 3)
    if rank not in (2, 3, 4):
        raise ValueError(
            f"Signed-binary quantization needs a kernel of rank 2 (Dense), 3 (Conv1D) or 4 "
            f"(Conv2D/DepthwiseConv2D) whose output channels are the last axis; got a tensor of "
            f"rank {rank}. (Is the quantizer used as an input or activation quantizer? It is a "
            f"weight quantizer only.)"
        )
    return (rank - 1,)


def _num_positive(signs, num_filters: int) -> int:
    if signs == "split":
        return num_filters // 2
    # fraction: round half up, so 0.5 of 3 filters is 2 positive ones
    return math.floor(float(signs) * num_filters + 0.5)


def _calling_layer():
    """The Keras layer whose `call` is running (the one reading the kernel), or None."""
    try:
        from tf_keras.src.engine import base_layer_utils
    except ImportError:  # pragma: no cover - other Keras 2 packaging
        return None
    return base_layer_utils.call_context().layer


def fixed_sign_vector(signs, num_filters: int) -> np.ndarray:
    """The sign vector (float32, ±1, length `num_filters`) of a data-independent sign mode.

    `"split"`: the first ⌊C/2⌋ filters +1, the rest -1. `"alternate"`: +1, -1, +1, ...
    A float f in [0, 1]: the first round(f·C) filters (rounded half up) +1, the rest -1.
    """
    if signs == "alternate":
        return np.where(np.arange(num_filters) % 2 == 0, 1.0, -1.0).astype(np.float32)
    n_pos = _num_positive(signs, num_filters)
    return np.where(np.arange(num_filters) < n_pos, 1.0, -1.0).astype(np.float32)


def init_sign_vector(kernel, depthwise: bool = False) -> np.ndarray:
    """`"init"` mode: the sign of each filter's mean (+1 for a mean of exactly 0), float32 [C]."""
    kernel = np.asarray(kernel, dtype=np.float32)
    axes = filter_axes(kernel.ndim, depthwise)
    reduce = tuple(a for a in range(kernel.ndim) if a not in axes)
    mean = kernel.mean(axis=reduce).reshape(-1)
    return np.where(mean >= 0, 1.0, -1.0).astype(np.float32)


def signed_binary(
    x: tf.Tensor,
    signs: tf.Tensor,
    threshold: float = 0.05,
    clip_value: float | None = 1.0,
    reduce_axes: Sequence[int] | None = None,
    threshold_mode: str = "max",
) -> tf.Tensor:
    r"""Signed-binary codes of a kernel: per filter, 0 or the filter's sign.

    With `signs` broadcastable to `x` (±1 per filter) and, per filter c,
    \\(\Delta_c = \texttt{threshold} \cdot \max |W_c|\\) (`threshold_mode="max"`) or
    \\(\texttt{threshold} \cdot \operatorname{mean} |W_c|\\) (`"mean"`):

    \\[
    q(w) = \begin{cases}
      s_c & s_c\, w \geq \Delta_c \text{ and } s_c\, w > 0 \\\
      0 & \text{otherwise}
    \end{cases}
    \\]

    so weights with the filter's sign and at least Δ_c in magnitude keep the sign, all others (including every weight of the wrong sign) are 0.
    An all-zero filter quantizes to zeros.

    Gradient: the clipped straight-through estimator,
    \\(\partial q / \partial w = 1\\) where \\(|w| \leq \texttt{clip\_value}\\), else 0
    (no clipping when `clip_value` is None).

    # Arguments
        x: the latent (float) kernel.
        signs: ±1 per filter, broadcastable to `x` (e.g. `[1, 1, 1, C_out]` for Conv2D).
        threshold: Δ as a fraction of each filter's max |w|, in (0, 1), or a multiple of its
            mean |w| (> 0) with `threshold_mode="mean"`.
        clip_value: gradient clip; `None` for no clipping.
        reduce_axes: the non-filter axes of `x` (max / mean |w| is taken over them); default:
            all but the last axis.
        threshold_mode: `"max"` or `"mean"`, the statistic of |W_c| that Δ_c scales.

    # References
        - [Signed Binary Weight Networks](https://arxiv.org/abs/2211.13838)
    """
    if reduce_axes is None:
        reduce_axes = tuple(range(x.shape.rank - 1))
    signs = tf.cast(tf.convert_to_tensor(signs), x.dtype)

    @tf.custom_gradient
    def _call(x):
        signed = x * signs
        statistic = tf.reduce_max if threshold_mode == "max" else tf.reduce_mean
        delta = threshold * statistic(tf.math.abs(x), axis=reduce_axes, keepdims=True)
        keep = tf.logical_and(signed >= delta, signed > 0)
        codes = tf.where(keep, signs, tf.zeros_like(x))

        def grad(dy):
            return _clipped_gradient(x, dy, clip_value)

        return codes, grad

    return _call(x)


def _check_options(threshold, signs, alpha, clip_value, metrics, threshold_mode="max"):
    if threshold_mode not in THRESHOLD_MODES:
        raise ValueError(
            f"Unknown threshold mode {threshold_mode!r}; expected one of {THRESHOLD_MODES}."
        )
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise ValueError(  # noqa: TRY004  (larq/Keras style: bad option values -> ValueError)
            f"`threshold` must be a float in (0, 1), got {threshold!r}."
        )
    if threshold_mode == "max" and not 0.0 < float(threshold) < 1.0:
        raise ValueError(
            f"`threshold` must lie in (0, 1) (a fraction of each filter's max |w|), got "
            f"{threshold}."
        )
    if threshold_mode == "mean" and not 0.0 < float(threshold) < math.inf:
        raise ValueError(
            f"`threshold` with threshold_mode='mean' must be a positive multiple of each "
            f"filter's mean |w|, got {threshold}."
        )
    if isinstance(signs, str):
        if signs not in SIGN_MODES:
            raise ValueError(
                f"Unknown signs mode {signs!r}; expected one of {SIGN_MODES} or a float in "
                f"[0, 1] (fraction of positive filters)."
            )
    elif isinstance(signs, bool) or not isinstance(signs, (int, float)):
        raise ValueError(  # noqa: TRY004
            f"`signs` must be one of {SIGN_MODES} or a float in [0, 1], got {signs!r}."
        )
    elif not 0.0 <= float(signs) <= 1.0:
        raise ValueError(
            f"`signs` as a fraction of positive filters must lie in [0, 1], got {signs}."
        )
    if alpha not in ALPHA_MODES:
        raise ValueError(f"Unknown alpha mode {alpha!r}; expected one of {ALPHA_MODES}.")
    if clip_value is not None and not float(clip_value) > 0:
        raise ValueError(f"`clip_value` must be positive or None, got {clip_value}.")
    for m in metrics:
        if m not in METRICS:
            raise ValueError(f"Unknown training metric {m!r}; available: {METRICS}.")


@lq_utils.register_alias("signed_binary")
@lq_utils.register_keras_custom_object
class SignedBinaryQuantizer(lq_quantizers.Quantizer):
    r"""Instantiates a serializable signed-binary weight quantizer.

    Every filter c (output channel) has one fixed sign \\(s_c \in \{-1, +1\}\\) and, per filter,
    \\(\Delta_c = \texttt{threshold} \cdot \max_i |w_{c,i}|\\) (or
    \\(\texttt{threshold} \cdot \operatorname{mean}_i |w_{c,i}|\\) with `threshold_mode="mean"`):

    \\[
    q(w) = \begin{cases}
      s_c \, \alpha_c & s_c\, w \geq \Delta_c \\\
      0 & \text{otherwise (small weights and all weights of the wrong sign)}
    \end{cases}
    \\]

    The gradient is the clipped straight-through estimator: \\(\partial q/\partial w =
    \alpha_c\\) where \\(|w| \leq \texttt{clip\_value}\\), else 0 (with the default
    `alpha="none"`, \\(\alpha_c = 1\\): exactly larq's `SteSign` estimator).

    Filters are the last kernel axis (Dense `[C_in, C_out]`, Conv1D, Conv2D HWIO); with
    `depthwise=True` (DepthwiseConv2D `[kh, kw, C_in, M]`) axes 2 and 3 together, filter
    `ci * M + m`.

    # State
    The sign vector is a non-trainable weight `signs` ([C], ±1) of this quantizer, created when
    the quantizer is first called (larq quantizers are Keras layers, so the quantized layer
    tracks it): it is saved in `.h5` / `.keras` files and a reloaded model quantizes
    identically, whatever the mode. With `alpha="learned"` there is also a trainable weight
    `alpha` ([C], initialised to 1, non-negative).

    # Arguments
        threshold: Δ as a fraction of each filter's max |w|, in (0, 1). Default 0.05.
            With `threshold_mode="mean"`: Δ as a multiple (> 0) of each filter's mean |w|.
        signs: how filter signs are fixed.
            `"split"` (default): the first ⌊C/2⌋ filters +1, the rest -1;
            `"alternate"`: +1, -1, +1, ...;
            a float f in [0, 1]: the fraction of positive filters, the first round(f·C)
            (rounded half up) +1, the rest -1;
            `"init"`: the sign of each filter's mean (mean 0 gives +1) when the signs are first
            set — at build time for the sbtf layers, at the first call for other larq layers —
            fixed afterwards.
        alpha: the per-filter magnitude α_c.
            `"none"` (default): α = 1, for a conv followed by BatchNorm (which absorbs it);
            `"mean"`: mean |w| of the kept weights of each filter (TWN style), recomputed in
            every forward pass under `tf.stop_gradient` (it scales the gradient but is not
            differentiated); 0 for a filter without kept weights;
            `"learned"`: a trainable per-filter scale, initialised to 1.
        clip_value: gradient clip of the straight-through estimator; `None` for no clipping.
        depthwise: the kernel is a DepthwiseConv2D kernel (see above). Set automatically when
            the quantizer is first called by a DepthwiseConv2D (e.g. larq's
            `QuantDepthwiseConv2D(depthwise_quantizer="signed_binary")`).
        threshold_mode: `"max"` (default) or `"mean"`: the per-filter statistic of |w| that Δ
            scales. The mean is TWN's statistic (Li et al. 2016, Δ = 0.7·mean|w|); unlike the
            max it does not follow a single outlier weight.
        metrics: training metrics shown in `fit`'s logs, from `("sparsity", "flip_ratio")`.
            `"sparsity"` is the fraction of zero weights of the layer's quantized kernel in
            the latest training step, logged as `sparsity/<layer name>` (sbtf's layers) or
            `sparsity/<quantizer name>` (larq's). Metrics are updated in training calls only
            (not in `predict`/`evaluate` or inference graphs). Default `None`: `["sparsity"]`
            plus the metrics of an enclosing `larq.context.metrics_scope`. `[]` for none.

    # References
        - [Signed Binary Weight Networks](https://arxiv.org/abs/2211.13838)
    """

    precision = 1

    def __init__(
        self,
        threshold: float = 0.05,
        signs: str | float = "split",
        alpha: str = "none",
        clip_value: float | None = 1.0,
        depthwise: bool = False,
        metrics: Sequence[str] | None = None,
        threshold_mode: str = "max",
        **kwargs,
    ):
        if metrics is None:
            metrics = ["sparsity", *sorted(lq_context.get_training_metrics())]
        metrics = list(metrics)
        _check_options(threshold, signs, alpha, clip_value, metrics, threshold_mode)
        self.threshold = float(threshold)
        self.threshold_mode = threshold_mode
        self.signs_mode = signs if isinstance(signs, str) else float(signs)
        self.alpha_mode = alpha
        self.clip_value = None if clip_value is None else float(clip_value)
        self.depthwise = bool(depthwise)
        self.training_metrics = metrics
        # Name shown in metric names; the sbtf layers set it to their own name.
        self.metric_prefix = None
        self._signs_fixed = False
        super().__init__(**kwargs)

    # -- state ---------------------------------------------------------------------------------
    def __call__(self, inputs, *args, **kwargs):
        # Used as `depthwise_quantizer` of a (larq) DepthwiseConv2D: its kernel
        # [kh, kw, C_in, M] has C_in * M filters, so switch to depthwise filter axes.
        if (
            not self.built
            and not self.depthwise
            and isinstance(_calling_layer(), tf.keras.layers.DepthwiseConv2D)
        ):
            self.depthwise = True
        return super().__call__(inputs, *args, **kwargs)

    def build(self, input_shape):
        shape = tf.TensorShape(input_shape)
        axes = filter_axes(shape.rank, self.depthwise)
        filter_dims = [shape[a] for a in axes]
        if any(d is None for d in filter_dims):
            raise ValueError(f"Signed-binary kernel needs known filter dims, got {shape}.")
        self.num_filters = int(np.prod(filter_dims))
        self._reduce_axes = tuple(a for a in range(shape.rank) if a not in axes)
        self._broadcast_shape = [shape[a] if a in axes else 1 for a in range(shape.rank)]

        if self.signs_mode == "init":
            initial = tf.keras.initializers.Zeros()  # 0 = "not set yet", see `call`
        else:
            initial = tf.keras.initializers.Constant(
                fixed_sign_vector(self.signs_mode, self.num_filters)
            )
            self._signs_fixed = True
        self.signs = self.add_weight(
            name="signs",
            shape=(self.num_filters,),
            dtype=tf.float32,
            initializer=initial,
            trainable=False,
            # signs="init" assigns the signs in replica context under tf.distribute: the first
            # replica's value wins, deterministically, instead of an error or a mean of signs.
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
        )
        if self.alpha_mode == "learned":
            self.alpha = self.add_weight(
                name="alpha",
                shape=(self.num_filters,),
                dtype=tf.float32,
                initializer=tf.keras.initializers.Ones(),
                constraint=tf.keras.constraints.NonNeg(),
                trainable=True,
            )
        # Metric objects are made here, not by add_metric(aggregation=...) inside call: a metric
        # created while tracing is not tracked, and SavedModel export then fails.
        if "sparsity" in self.training_metrics:
            self.sparsity = _KernelSparsity(name=f"sparsity/{self._metric_name()}")
        if "flip_ratio" in self.training_metrics:
            self.flip_ratio = lq_metrics.FlipRatio(name=f"flip_ratio/{self._metric_name()}")
            self.flip_ratio.build(shape)
        super().build(input_shape)

    @property
    def non_trainable_weights(self):
        # Like larq's quantizers, hide the metrics' state; keep the sign vector.
        signs = getattr(self, "signs", None)
        return [w for w in super().non_trainable_weights if w is signs]

    def set_signs_from_kernel(self, kernel) -> None:
        """`signs="init"`: fix the signs from a concrete kernel value (eagerly). No-op otherwise.

        The sbtf layers call this at build time so the signs are fixed before any training.
        """
        if self.signs_mode != "init":
            return
        kernel = np.asarray(kernel)
        if not self.built:
            with tf.init_scope():
                self._maybe_build(tf.constant(kernel, tf.float32))
        with tf.init_scope():
            self.signs.assign(init_sign_vector(kernel, self.depthwise))
        self._signs_fixed = True

    def _metric_name(self):
        return self.metric_prefix or self.name

    def _sign_tensor(self, inputs):
        """The ±1 signs broadcastable to the kernel (fixing them first in "init" mode)."""
        if self.signs_mode == "init" and not self._signs_fixed:
            with tf.init_scope():  # set by an earlier step or loaded: no assign op from now on
                self._signs_fixed = bool(np.all(self.signs.numpy() != 0))
        signs = tf.convert_to_tensor(self.signs)
        if self.signs_mode == "init" and not self._signs_fixed:
            # Unset entries (0) take the sign of the filter's mean; remember them.
            mean = tf.reduce_mean(inputs, axis=self._reduce_axes)
            from_mean = tf.reshape(tf.where(mean >= 0, 1.0, -1.0), [-1])
            signs = tf.where(tf.equal(signs, 0), tf.cast(from_mean, signs.dtype), signs)
            with tf.control_dependencies([self.signs.assign(signs)]):
                signs = tf.identity(signs)
        return tf.reshape(signs, self._broadcast_shape)

    # -- forward -------------------------------------------------------------------------------
    def quantize(self, inputs):
        """The quantized kernel (s_c·α_c or 0), with the straight-through gradient; no metrics."""
        inputs = tf.convert_to_tensor(inputs)
        if not self.built:
            self._maybe_build(inputs)
        codes = signed_binary(
            inputs,
            self._sign_tensor(inputs),
            threshold=self.threshold,
            clip_value=self.clip_value,
            reduce_axes=self._reduce_axes,
            threshold_mode=self.threshold_mode,
        )
        if self.alpha_mode == "none":
            return codes
        if self.alpha_mode == "mean":
            kept = tf.reduce_sum(tf.math.abs(codes), axis=self._reduce_axes, keepdims=True)
            total = tf.reduce_sum(codes * inputs, axis=self._reduce_axes, keepdims=True)
            return codes * tf.stop_gradient(tf.math.divide_no_nan(total, kept))
        return codes * tf.reshape(self.alpha, self._broadcast_shape)

    def call(self, inputs, training=None):
        outputs = self.quantize(inputs)
        # Metrics only while training (Keras propagates `training` from the quantized layer's
        # call): an inference graph, e.g. the one the TFLite converter traces, has no metric
        # update ops.
        if training is None or training is False:
            return outputs
        if hasattr(self, "sparsity"):
            self.add_metric(self.sparsity(tf.reduce_mean(tf.cast(tf.equal(outputs, 0), tf.float32))))
        if hasattr(self, "flip_ratio"):
            self.add_metric(self.flip_ratio(tf.sign(outputs)))
        return outputs

    def get_config(self):
        return {
            **super().get_config(),
            "threshold": self.threshold,
            "threshold_mode": self.threshold_mode,
            "signs": self.signs_mode,
            "alpha": self.alpha_mode,
            "clip_value": self.clip_value,
            "depthwise": self.depthwise,
            "metrics": list(self.training_metrics),
        }


# -- helpers for summary and the converter -------------------------------------------------------
_QUANTIZER_ATTRS = ("kernel_quantizer", "depthwise_quantizer")


def signed_binary_quantizer_of(layer) -> SignedBinaryQuantizer | None:
    """The layer's SignedBinaryQuantizer (kernel or depthwise quantizer), or None."""
    for attr in _QUANTIZER_ATTRS:
        q = getattr(layer, attr, None)
        if isinstance(q, SignedBinaryQuantizer):
            return q
    return None


def is_signed_binary(layer) -> bool:
    """True when the layer's weights are quantized by a SignedBinaryQuantizer."""
    return signed_binary_quantizer_of(layer) is not None


def _latent_kernel(layer):
    name = (
        "depthwise_kernel" if getattr(layer, "depthwise_quantizer", None) is not None else "kernel"
    )
    var = getattr(layer, name)
    return getattr(var, "latent_variable", var)


def quantized_kernel(layer) -> np.ndarray:
    """The layer's kernel exactly as the layer uses it at inference, as a NumPy float32 array.

    Same shape and layout as the Keras kernel (Conv2D HWIO, Dense IO, depthwise HWCM): every
    filter holds 0 or s_c·α_c. Raises ValueError when the layer is not signed-binary or not built.
    """
    q = signed_binary_quantizer_of(layer)
    if q is None:
        raise ValueError(f"Layer {layer.name!r} ({type(layer).__name__}) is not signed-binary.")
    if not layer.built:
        raise ValueError(f"Layer {layer.name!r} is not built yet; call it on an input first.")
    return q.quantize(tf.convert_to_tensor(_latent_kernel(layer))).numpy()


def signed_binary_codes(layer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(codes int8 in {-1, 0, +1} kernel-shaped, signs int8 [C], alpha float32 [C]) of a layer.

    `quantized_kernel(layer) == codes * alpha` broadcast over filters; filters are flattened
    in the quantizer's order (depthwise: `ci * M + m`).
    """
    q = signed_binary_quantizer_of(layer)
    w = quantized_kernel(layer)
    codes = np.sign(w).astype(np.int8)
    signs = q.signs.numpy().astype(np.int8)
    axes = filter_axes(w.ndim, q.depthwise)
    reduce = tuple(a for a in range(w.ndim) if a not in axes)
    alpha = np.abs(w).max(axis=reduce).reshape(-1).astype(np.float32)
    return codes, signs, alpha
