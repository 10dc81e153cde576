"""The paper's comparison, the threshold sweep and the recipe ablation.

Kuhar et al., "Signed Binary Weight Networks" (https://arxiv.org/abs/2211.13838) compare
float, binary, ternary and signed-binary weights at the same architecture, and binary / ternary
networks with as many non-zero weights as the signed-binary one: signed-binary keeps binary's
one bit per weight (plus one sign per filter) but, like ternary, has zeros — more of them,
since every weight of the wrong sign is 0.

```
python -m sbtf.experiments compare [--dataset digits|fashion-mnist] [--arch digits_cnn,resnet8]
        [--epochs N] [--seeds 0,1,2] [--train-size N] [--equal-nonzero] [--distill] [--augment]
        [--threshold T] [--threshold-mode max|mean] [--bn-momentum M] [--out ...json]
python -m sbtf.experiments threshold-sweep [--thresholds 0.01,0.05,...] [--out ...]
python -m sbtf.experiments ablation [--dataset fashion-mnist] [--arch digits_cnn] [--out ...]
```

Every model is `sbtf.models.digits_cnn` or `sbtf.models.resnet8` with its compared 3x3
convolutions (all of digits_cnn's, or its last two with `--first-conv float`; ResNet-8's six
block convs — its first conv and 1x1 shortcuts stay float) made by `conv_factory`:

- `float`: `tf.keras.layers.Conv2D` (int8 after conversion);
- `binary`: larq `QuantConv2D` with `SteSign` weights and `WeightClip(1)` (BWN without α; the
  BatchNorm after each conv absorbs the scale);
- `ternary`: larq `SteTern` in TWN mode (Δ = 0.7·mean|w| of the kernel, Li et al. 2016), since a
  fixed absolute threshold would make the sparsity depend on the initialiser's scale;
- `signed-binary`: `sbtf.layers.SignedBinaryConv2D` (threshold = a fraction of each filter's
  max |w|).

`binary-eq` / `ternary-eq` (`--equal-nonzero`): the binary / ternary network with every width
scaled by one factor so that its compared convs have (about) as many non-zero weights as the
signed-binary network's (the mean over its seeds).

All train with the same recipe (`sbtf.models.train`) and seeds;
`tf.keras.utils.set_random_seed(seed)` is set before each model is built.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from itertools import count

import larq as lq
import numpy as np
import tensorflow as tf

from sbtf import _env  # noqa: F401  (must run before TensorFlow is imported)
from sbtf._summary import row_bytes, summary
from sbtf.data import DATASETS, DatasetMissing, load
from sbtf.layers import SignedBinaryConv2D
from sbtf.models import DEFAULT_LEARNING_RATE, FIRST_CONV, digits_cnn, resnet8, train
from sbtf.quantizers import (
    THRESHOLD_MODES,
    SignedBinaryQuantizer,
    quantized_kernel,
    signed_binary_quantizer_of,
)

__all__ = [
    "ABLATION",
    "ARCHITECTURES",
    "DEFAULT_THRESHOLDS",
    "FIRST_CONV",
    "METHODS",
    "ablation",
    "build_model",
    "compare",
    "conv_factory",
    "digits_model",
    "equal_nonzero_widths",
    "format_ablation",
    "format_compare",
    "format_sweep",
    "main",
    "nonzero_target_from",
    "threshold_sweep",
    "weight_stats",
]

METHODS = ("float", "binary", "ternary", "signed-binary")
EQUAL_NONZERO_METHODS = ("binary-eq", "ternary-eq")
ARCHITECTURES = {"digits_cnn": (32, 32, 64), "resnet8": (16, 32, 64)}  # default widths
DEFAULT_THRESHOLDS = (0.01, 0.05, 0.1, 0.2, 0.3, 0.5)
DEFAULT_EPOCHS = 15
DEFAULT_SEEDS = (0, 1, 2)
COMPARED = "compared_conv"  # name prefix of the convs whose weight format is compared


def conv_factory(method: str, *, threshold: float = 0.05, signs="split", alpha="none",
                 threshold_mode: str = "max", weight_decay: float = 0.0,
                 kernel_initializer="glorot_uniform"):
    """`f(filters, kernel_size, strides) -> layer`: a compared 3x3 conv for `method`.

    The layers are named `compared_conv_<i>` (`weight_stats` counts them). `weight_decay` puts an
    L2 penalty on the (latent) kernel; threshold / signs / alpha / threshold_mode are the
    signed-binary quantizer's options.
    """
    names = (f"{COMPARED}_{i}" for i in count())
    reg = tf.keras.regularizers.l2(weight_decay) if weight_decay else None

    def common():
        return {"padding": "same", "use_bias": False, "name": next(names),
                "kernel_initializer": kernel_initializer, "kernel_regularizer": reg}

    if method == "float":
        return lambda filters, kernel_size, strides: tf.keras.layers.Conv2D(
            filters, kernel_size, strides=strides, **common())
    if method == "binary":
        return lambda filters, kernel_size, strides: lq.layers.QuantConv2D(
            filters, kernel_size, strides=strides, kernel_quantizer=lq.quantizers.SteSign(),
            kernel_constraint=lq.constraints.WeightClip(1.0), **common(),
        )
    if method == "ternary":
        return lambda filters, kernel_size, strides: lq.layers.QuantConv2D(
            filters, kernel_size, strides=strides,
            kernel_quantizer=lq.quantizers.SteTern(ternary_weight_networks=True),
            kernel_constraint=lq.constraints.WeightClip(1.0), **common(),
        )
    if method == "signed-binary":
        return lambda filters, kernel_size, strides: SignedBinaryConv2D(
            filters, kernel_size, strides=strides, kernel_quantizer=SignedBinaryQuantizer(
                threshold=threshold, signs=signs, alpha=alpha, threshold_mode=threshold_mode),
            **common())
    raise ValueError(f"Unknown method {method!r}; expected one of {METHODS}.")


def build_model(arch: str = "digits_cnn", method: str = "signed-binary", *, input_shape,
                widths=None, first_conv: str = "quantized", bn_momentum: float | None = None,
                **conv_options) -> tf.keras.Model:
    """`arch` (a key of `ARCHITECTURES`) with its compared convs made by `method`.

    `widths`: the three stage widths (default `ARCHITECTURES[arch]`). `first_conv` applies to
    digits_cnn only (ResNet-8's first conv is always float). `bn_momentum`: None keeps the
    architecture's default. `conv_options` go to `conv_factory`.
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"Unknown architecture {arch!r}; expected one of {tuple(ARCHITECTURES)}.")
    widths = tuple(widths or ARCHITECTURES[arch])
    extra = {} if bn_momentum is None else {"bn_momentum": bn_momentum}
    name = f"{arch}_{method.replace('-', '_')}"
    if arch == "digits_cnn":
        return digits_cnn(input_shape, filters=widths, first_conv=first_conv, name=name,
                          conv_factory=conv_factory(method, **conv_options), **extra)
    conv_options.setdefault("kernel_initializer", "he_normal")
    conv_options.setdefault("weight_decay", 1e-4)  # as resnet8's float convs (MLPerf Tiny)
    return resnet8(input_shape, num_filters=widths, name=name,
                   conv_factory=conv_factory(method, **conv_options), **extra)


def digits_model(method: str = "signed-binary", *, threshold: float = 0.05,
                 first_conv: str = "quantized") -> tf.keras.Model:
    """`sbtf.models.digits_cnn` (8x8 digits) with its 3x3 convs made by `method`."""
    return build_model("digits_cnn", method, input_shape=(8, 8, 1), threshold=threshold,
                       first_conv=first_conv)


def _inference_kernel(layer) -> np.ndarray:
    """The kernel exactly as the layer applies it (after its weight quantizer)."""
    if signed_binary_quantizer_of(layer) is not None:
        return quantized_kernel(layer)
    quantizer = getattr(layer, "kernel_quantizer", None)
    kernel = tf.convert_to_tensor(getattr(layer.kernel, "latent_variable", layer.kernel))
    return (quantizer(kernel) if quantizer is not None else kernel).numpy()


def _packed_bits(layer, k: int) -> float:
    """Bits per weight of a conv in the densest format its weights are stored in.

    float (no quantizer): int8 after conversion (8). binary: 1 bit, rows padded like sbtf's
    masks. ternary: 2 such bit planes (log2(3) = 1.58 is the entropy bound, not a layout
    kernels use). signed-binary: sbtf's mask + one int8 sign per filter (docs/op_spec.md).
    """
    quantizer = getattr(layer, "kernel_quantizer", None)
    if quantizer is None:
        return 8.0
    bits = 8 * row_bytes(k) / k
    if isinstance(quantizer, lq.quantizers.SteSign):
        return bits
    if isinstance(quantizer, lq.quantizers.SteTern):
        return 2 * bits
    if signed_binary_quantizer_of(layer) is not None:
        return bits + 8 / k
    raise ValueError(f"{layer.name}: no storage rule for {type(quantizer).__name__}.")


def weight_stats(model: tf.keras.Model) -> dict:
    """Weights and non-zero weights of the 3x3 convs and of the whole model, plus flash bytes.

    `conv_*`: every conv; `compared_*`: the convs `conv_factory` made (whose format differs
    between methods; 0 for a model built otherwise). `total_*`: every conv/dense
    kernel (the classifier is float in all four models). `flash_bytes` is what sbtf deploys
    (`sbtf.summary`'s sbtf bytes: binary and ternary convs become plain int8 convs),
    `int8_bytes` the same model all int8, `conv_bits_per_weight` the packed storage above.
    """
    convs = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.Conv2D)]
    dense = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.Dense)]
    conv_kernels = [_inference_kernel(layer) for layer in convs]
    conv_weights = int(sum(k.size for k in conv_kernels))
    conv_nonzero = int(sum(np.count_nonzero(k) for k in conv_kernels))
    dense_kernels = [layer.kernel.numpy() for layer in dense]
    packed_bits = sum(
        _packed_bits(layer, int(np.prod(k.shape[:-1]))) * k.size
        for layer, k in zip(convs, conv_kernels)
    )
    compared = [k for layer, k in zip(convs, conv_kernels) if layer.name.startswith(COMPARED)]
    compared_weights = int(sum(k.size for k in compared))
    compared_nonzero = int(sum(np.count_nonzero(k) for k in compared))
    report = summary(model, print_fn=None)
    return {
        "conv_weights": conv_weights,
        "conv_nonzero": conv_nonzero,
        "conv_nonzero_fraction": conv_nonzero / conv_weights,
        "conv_layer_sparsity": [float(np.mean(k == 0)) for k in conv_kernels],
        "compared_weights": compared_weights,
        "compared_nonzero": compared_nonzero,
        "compared_nonzero_fraction": compared_nonzero / max(compared_weights, 1),
        "total_weights": conv_weights + int(sum(k.size for k in dense_kernels)),
        "total_nonzero": conv_nonzero + int(sum(np.count_nonzero(k) for k in dense_kernels)),
        "conv_bits_per_weight": packed_bits / conv_weights,
        "flash_bytes": report.sbtf_bytes,
        "int8_bytes": report.int8_bytes,
    }


def compared_weights(arch: str, widths, in_channels: int = 1,
                     first_conv: str = "quantized") -> int:
    """Weights of the compared convs of `arch` at `widths` (what `weight_stats` counts)."""
    w0, w1, w2 = widths
    if arch == "digits_cnn":
        first = 9 * in_channels * w0 if first_conv == "quantized" else 0
        return first + 9 * (w0 * w1 + w1 * w2)
    if arch == "resnet8":
        return 9 * (2 * w0 * w0 + w0 * w1 + w1 * w1 + w1 * w2 + w2 * w2)
    raise ValueError(f"Unknown architecture {arch!r}; expected one of {tuple(ARCHITECTURES)}.")


def equal_nonzero_widths(arch: str, target_nonzero: float, nonzero_fraction: float = 1.0, *,
                         in_channels: int = 1, first_conv: str = "quantized"):
    """The widths `ARCHITECTURES[arch]` scaled by one factor whose compared convs, with
    `nonzero_fraction` of their weights non-zero, come closest to `target_nonzero`."""
    base = np.array(ARCHITECTURES[arch], dtype=np.float64)
    best = None
    for scale in np.arange(0.1, 1.5, 0.002):
        widths = tuple(int(w) for w in np.maximum(1, np.rint(base * scale)))
        nonzero = nonzero_fraction * compared_weights(arch, widths, in_channels, first_conv)
        if best is None or abs(nonzero - target_nonzero) < best[0]:
            best = (abs(nonzero - target_nonzero), widths)
    return best[1]


def nonzero_target_from(path, arch: str, dataset: str) -> float:
    """Signed-binary's mean non-zero compared weights in the compare JSON at `path`, for
    `arch` on `dataset` (ValueError naming the file and what is missing)."""
    try:
        with open(path) as f:
            result = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: not a readable compare JSON ({e})") from None
    runs = result.get("architectures", [result]) if isinstance(result, dict) else []
    for run in runs if isinstance(runs, list) else []:
        config = run.get("config", {}) if isinstance(run, dict) else {}
        if config.get("arch") == arch and config.get("dataset") == dataset:
            try:
                target = run["methods"]["signed-binary"]["compared_nonzero_mean"]
            except (KeyError, TypeError):
                target = None
            if isinstance(target, (int, float)) and target > 0:
                return float(target)
            raise ValueError(f"{path}: the {arch} run on {dataset} has no signed-binary "
                             "compared_nonzero_mean")
    raise ValueError(f"{path}: no compare run of {arch} on {dataset}")


def _mean_std(values) -> tuple[float, float]:
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()), float(values.std())


def _check_run_options(epochs, seeds):
    if int(epochs) < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}.")
    if not seeds:
        raise ValueError("seeds must name at least one seed.")


# The training recipe's options (`sbtf.models.train`, plus `distill`: whether to pass the
# teacher), the signed-binary quantizer's, and the model's (`build_model`: everything else).
TRAIN_OPTIONS = ("epochs", "batch_size", "learning_rate", "distill", "distill_weight",
                 "temperature", "augment")
QUANTIZER_OPTIONS = ("threshold", "signs", "alpha", "threshold_mode")
DEFAULT_RECIPE = {"epochs": DEFAULT_EPOCHS, "batch_size": 32,
                  "learning_rate": DEFAULT_LEARNING_RATE, "distill": False}


def _run(arch, method, seed, data, recipe, *, widths=None, teacher=None, verbose=0):
    """Train one model; return (accuracy, weight_stats + the per-epoch curve, seconds, model)."""
    start = time.perf_counter()
    tf.keras.utils.set_random_seed(seed)
    model_options = {k: v for k, v in recipe.items() if k not in TRAIN_OPTIONS}
    model = build_model(arch, method, input_shape=data[0][0].shape[1:], widths=widths,
                        **model_options)
    train_options = {k: recipe[k] for k in TRAIN_OPTIONS if k in recipe and k != "distill"}
    if not recipe.get("distill"):
        teacher = None
    curve = []
    accuracy = train(model, data, teacher=teacher, seed=seed, curve=curve, verbose=verbose,
                     **train_options)
    return accuracy, {**weight_stats(model), "curve": curve}, time.perf_counter() - start, model


def _summarize(runs) -> dict:
    accuracies = [r[0] for r in runs]
    mean, std = _mean_std(accuracies)
    return {
        "accuracy": accuracies,
        "accuracy_mean": mean,
        "accuracy_std": std,
        "conv_nonzero_fraction_mean": _mean_std([r[1]["conv_nonzero_fraction"] for r in runs])[0],
        "compared_nonzero_mean": _mean_std([r[1]["compared_nonzero"] for r in runs])[0],
        "seconds": [round(r[2], 1) for r in runs],
        "curves": [r[1]["curve"] for r in runs],
        **{k: v for k, v in runs[-1][1].items() if k != "curve"},
    }


def _dataset_config(dataset, data):
    (x_train, _), (x_test, _) = data
    return {"dataset": dataset, "train_images": len(x_train), "test_images": len(x_test),
            "input_shape": list(x_train.shape[1:])}


def compare(*, arch: str = "digits_cnn", dataset: str = "digits", epochs: int = DEFAULT_EPOCHS,
            seeds=DEFAULT_SEEDS, methods=METHODS, equal_nonzero: bool = False,
            threshold: float = 0.05, first_conv: str = "quantized", batch_size: int = 32,
            learning_rate: float = DEFAULT_LEARNING_RATE, distill: bool = False, data=None,
            nonzero_target: float | None = None, verbose: int = 0, log=print,
            **recipe) -> dict:
    """Train `arch` once per method and seed; return accuracies and weight counts.

    With `equal_nonzero`, also the binary and ternary networks whose widths are scaled to the
    signed-binary network's non-zero compared weights (`binary-eq`, `ternary-eq`), or to
    `nonzero_target` when signed-binary is not among `methods` (its mean from an earlier run:
    `methods` may then be empty). With
    `distill`, every quantized network learns from the float network of its seed.

    Returns `{"config": ..., "methods": {method: {"accuracy": [per seed], "accuracy_mean",
    "accuracy_std", "conv_nonzero_fraction_mean", "compared_nonzero_mean", "widths",
    "seconds", **weight_stats of the last seed}}, "elapsed_s"}`. `data` defaults to
    `sbtf.data.load(dataset)`.
    """
    _check_run_options(epochs, seeds)
    for m in methods:
        if m not in METHODS:
            raise ValueError(f"Unknown method {m!r}; expected some of {METHODS}.")
    if first_conv not in FIRST_CONV:
        raise ValueError(f"first_conv must be one of {FIRST_CONV}, got {first_conv!r}.")
    if arch not in ARCHITECTURES:
        raise ValueError(f"Unknown architecture {arch!r}; expected one of {tuple(ARCHITECTURES)}.")
    methods = list(methods)
    if distill and "float" not in methods:
        raise ValueError("distill needs the float network (the teacher) in methods.")
    if distill:  # the float networks are the teachers: train them first
        methods.remove("float")
        methods.insert(0, "float")
    if equal_nonzero and "signed-binary" not in methods and not (nonzero_target or 0) > 0:
        raise ValueError("equal_nonzero needs the signed-binary network in methods or a "
                         "positive nonzero_target.")
    if not methods and not equal_nonzero:
        raise ValueError("compare: no methods to train.")
    data = data if data is not None else load(dataset)
    recipe = {**DEFAULT_RECIPE, **recipe, "epochs": epochs, "batch_size": batch_size,
              "learning_rate": learning_rate, "distill": distill, "threshold": threshold}
    if arch == "digits_cnn":
        recipe["first_conv"] = first_conv
    in_channels = int(data[0][0].shape[-1])
    start = time.perf_counter()
    results, teachers = {}, {}

    def run_method(method, widths=None):
        quantizer = method.removesuffix("-eq")
        runs = []
        for seed in seeds:
            options = recipe if quantizer == "signed-binary" else {
                k: v for k, v in recipe.items() if k not in QUANTIZER_OPTIONS}
            run = _run(arch, quantizer, seed, data, options, widths=widths,
                       teacher=teachers.get(seed), verbose=verbose)
            if method == "float" and distill:
                teachers[seed] = run[3]
            runs.append(run[:3])
            if log:
                log(f"{arch} {method:>13} seed {seed}: accuracy {run[0]:.4f}, compared conv "
                    f"non-zeros {run[1]['compared_nonzero']}/{run[1]['compared_weights']} "
                    f"({run[2]:.0f} s)")
        results[method] = {**_summarize(runs),
                           "widths": list(widths or ARCHITECTURES[arch])}

    for method in methods:
        run_method(method)
    if equal_nonzero:
        target = (results["signed-binary"]["compared_nonzero_mean"]
                  if "signed-binary" in results else float(nonzero_target))
        for method in EQUAL_NONZERO_METHODS:
            base = method.removesuffix("-eq")
            fraction = 1.0 if base == "binary" else results.get(base, {}).get(
                "compared_nonzero_fraction")
            if fraction is None:
                continue  # ternary-eq needs the ternary network's fraction of non-zeros
            run_method(method, equal_nonzero_widths(
                arch, target, fraction, in_channels=in_channels,
                first_conv=recipe.get("first_conv", "quantized")))
    return {
        "experiment": "compare",
        "config": {**_dataset_config(dataset, data), "arch": arch, "seeds": list(seeds),
                   **recipe, "optimizer": "Adam + cosine decay"},
        "methods": results,
        "elapsed_s": time.perf_counter() - start,
    }


def threshold_sweep(*, thresholds=DEFAULT_THRESHOLDS, epochs: int = DEFAULT_EPOCHS,
                    seeds=DEFAULT_SEEDS, batch_size: int = 32,
                    learning_rate: float = DEFAULT_LEARNING_RATE, dataset: str = "digits",
                    data=None, verbose: int = 0, log=print) -> dict:
    """Train the signed-binary digits CNN at each threshold; accuracy and sparsity per point.

    Sparsity is the fraction of zero weights over all signed-binary convs (mean over seeds).
    Returns `{"config": ..., "points": [{"threshold", "accuracy", "accuracy_mean",
    "accuracy_std", "sparsity", "layer_sparsity", "flash_bytes"}], "elapsed_s"}`.
    """
    _check_run_options(epochs, seeds)
    thresholds = [float(t) for t in thresholds]
    bad = [t for t in thresholds if not 0.0 < t < 1.0]
    if bad or not thresholds:
        raise ValueError(f"thresholds must lie in (0, 1) (a fraction of each filter's max |w|), "
                         f"got {bad or thresholds}.")
    data = data if data is not None else load(dataset)
    start = time.perf_counter()
    points = []
    for t in thresholds:
        recipe = {"epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
                  "threshold": t}
        runs = []
        for seed in seeds:
            runs.append(_run("digits_cnn", "signed-binary", seed, data, recipe,
                             verbose=verbose)[:3])
            if log:
                log(f"threshold {t:<5} seed {seed}: accuracy {runs[-1][0]:.4f}, "
                    f"sparsity {1.0 - runs[-1][1]['conv_nonzero_fraction']:.3f}")
        mean, std = _mean_std([r[0] for r in runs])
        points.append({
            "threshold": t,
            "accuracy": [r[0] for r in runs],
            "accuracy_mean": mean,
            "accuracy_std": std,
            "sparsity": _mean_std([1.0 - r[1]["conv_nonzero_fraction"] for r in runs])[0],
            "layer_sparsity": np.mean([r[1]["conv_layer_sparsity"] for r in runs],
                                      axis=0).tolist(),
            "flash_bytes": runs[-1][1]["flash_bytes"],
        })
    return {
        "experiment": "threshold-sweep",
        "config": {**_dataset_config(dataset, data), "epochs": epochs,
                   "seeds": list(seeds), "batch_size": batch_size,
                   "learning_rate": learning_rate, "optimizer": "Adam + cosine decay"},
        "points": points,
        "elapsed_s": time.perf_counter() - start,
    }


# The recipe ablation: each row changes the base recipe in one way; the last combines the two
# changes that helped in a first run (docs/results.md).
ABLATION = (
    ("base", {}),
    ("distillation from the float net", {"distill": True}),
    ("2x epochs", {"epochs": "2x"}),
    ("learning rate 1e-3", {"learning_rate": 1e-3}),
    ("learning rate 3e-3", {"learning_rate": 3e-3}),
    ("threshold 0.2 of max|w|", {"threshold": 0.2}),
    ("signs init (from the initial weights)", {"signs": "init"}),
    ("alpha mean", {"alpha": "mean"}),
    ("alpha learned", {"alpha": "learned"}),
    ("BatchNorm momentum 0.99", {"bn_momentum": 0.99}),
    ("weight decay 1e-4 on latent weights", {"weight_decay": 1e-4}),
    ("distillation + threshold 0.2", {"distill": True, "threshold": 0.2}),
    ("threshold 0.7 of mean|w|", {"threshold": 0.7, "threshold_mode": "mean"}),
    ("augmentation (shifts <= 2 px, flips)", {"augment": True}),
    ("BatchNorm momentum 0.9", {"bn_momentum": 0.9}),
    ("batch 128", {"batch_size": 128}),
    ("weight decay 5e-4 on latent weights", {"weight_decay": 5e-4}),
)


def ablation(*, arch: str = "digits_cnn", dataset: str = "fashion-mnist", epochs: int = 3,
             seeds=(0,), rows=ABLATION, data=None, verbose: int = 0, log=print,
             **base) -> dict:
    """Train the signed-binary `arch` under the base recipe and under each change of `rows`.

    Base: `DEFAULT_RECIPE` with `epochs` and `base` (e.g. `first_conv="float"`). The float net
    of each seed (same recipe) is trained first: the distillation teacher and the reference.
    Returns `{"config", "float": {...}, "rows": [{"name", "change", "accuracy", ...}]}`.
    """
    _check_run_options(epochs, seeds)
    data = data if data is not None else load(dataset)
    recipe = {**DEFAULT_RECIPE, "epochs": epochs, **base}
    start = time.perf_counter()
    teachers, float_runs = {}, []
    float_recipe = {k: v for k, v in recipe.items() if k not in QUANTIZER_OPTIONS}
    for seed in seeds:
        run = _run(arch, "float", seed, data, {**float_recipe, "distill": False}, verbose=verbose)
        teachers[seed] = run[3]
        float_runs.append(run[:3])
        if log:
            log(f"float seed {seed}: accuracy {run[0]:.4f} ({run[2]:.0f} s)")
    out = []
    for name, change in rows:
        change = {k: (v if v != "2x" else 2 * recipe[k]) for k, v in change.items()}
        runs = []
        for seed in seeds:
            run = _run(arch, "signed-binary", seed, data, {**recipe, **change},
                       teacher=teachers[seed], verbose=verbose)
            runs.append(run[:3])
            if log:
                log(f"{name:<40} seed {seed}: accuracy {run[0]:.4f}, non-zeros "
                    f"{run[1]['compared_nonzero_fraction']:.3f} ({run[2]:.0f} s)")
        out.append({"name": name, "change": change, **_summarize(runs)})
    return {
        "experiment": "ablation",
        "config": {**_dataset_config(dataset, data), "arch": arch, "seeds": list(seeds),
                   **recipe, "optimizer": "Adam + cosine decay"},
        "float": _summarize(float_runs),
        "rows": out,
        "elapsed_s": time.perf_counter() - start,
    }


def _table(header, rows) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(
        str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths))
    ) + " |"
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    return "\n".join([rule, line(header), rule, *map(line, rows), rule])


def _setting(c: dict) -> str:
    data = (f"{c.get('dataset', 'digits')} ({c.get('train_images', '?')} train / "
            f"{c.get('test_images', '?')} test images)")
    first = ", first conv float" if c.get("first_conv") == "float" else ""
    distill = ", distilled from the float net" if c.get("distill") else ""
    augmented = ", augmented" if c.get("augment") else ""
    return (f"{c.get('arch', 'digits_cnn')}{first} on {data}, {c['epochs']} epochs, "
            f"lr {c['learning_rate']:g}, batch {c['batch_size']}{distill}{augmented}, "
            f"seeds {c['seeds']}")


def format_compare(result: dict) -> str:
    """The comparison as a text table."""
    header = ("Weights", "Widths", "Accuracy", "Compared conv non-zeros", "Non-zero %",
              "Bits/conv weight", "Flash B (sbtf)", "s/run")
    rows = []
    for method, r in result["methods"].items():
        rows.append((
            method,
            "/".join(str(w) for w in r.get("widths", ())),
            f"{r['accuracy_mean']:.4f} ± {r['accuracy_std']:.4f}",
            (f"{r.get('compared_nonzero_mean', r['conv_nonzero']):.0f}/"
             f"{r.get('compared_weights', r['conv_weights'])}"),
            f"{100 * r.get('compared_nonzero_fraction', r['conv_nonzero_fraction_mean']):.1f}",
            f"{r['conv_bits_per_weight']:.2f}",
            str(r["flash_bytes"]),
            f"{np.mean(r.get('seconds', [0])):.0f}",
        ))
    return (f"{_setting(result['config'])} (accuracy mean ± std over seeds; non-zeros: mean "
            f"over seeds)\n" + _table(header, rows))


def format_sweep(result: dict) -> str:
    """The threshold sweep as a text table."""
    c = result["config"]
    header = ("Threshold", "Accuracy", "Sparsity", "Layer sparsity")
    rows = [
        (f"{p['threshold']:g}", f"{p['accuracy_mean']:.4f} ± {p['accuracy_std']:.4f}",
         f"{p['sparsity']:.3f}", " ".join(f"{s:.2f}" for s in p["layer_sparsity"]))
        for p in result["points"]
    ]
    return (f"Signed-binary digits CNN, {c['epochs']} epochs, seeds {c['seeds']}\n"
            + _table(header, rows))


def format_ablation(result: dict) -> str:
    """The ablation as a text table (difference to the base row in points)."""
    base = result["rows"][0]["accuracy_mean"]
    versus = "vs base" if result["rows"][0]["name"] == "base" else "vs first row"
    header = ("Recipe", "Accuracy", versus, "Non-zero %", "s/run")
    rows = [("float net (teacher)", f"{result['float']['accuracy_mean']:.4f}", "", "", "")]
    for r in result["rows"]:
        rows.append((r["name"], f"{r['accuracy_mean']:.4f} ± {r['accuracy_std']:.4f}",
                     f"{100 * (r['accuracy_mean'] - base):+.2f}",
                     f"{100 * r['compared_nonzero_fraction']:.1f}",
                     f"{np.mean(r['seconds']):.0f}"))
    return f"Signed-binary {_setting(result['config'])}\n" + _table(header, rows)


def write_json(result: dict, path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)


def _int_list(text):
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")


def _float_list(text):
    try:
        return [float(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}")


def _arch_list(text):
    archs = [a for a in text.split(",") if a]
    bad = [a for a in archs if a not in ARCHITECTURES]
    if bad or not archs:
        raise argparse.ArgumentTypeError(
            f"expected some of {','.join(ARCHITECTURES)}, got {text!r}")
    return archs


def _method_list(text):
    methods = [m for m in text.split(",") if m]
    if not methods or any(m not in METHODS for m in methods):
        raise argparse.ArgumentTypeError(f"expected some of {','.join(METHODS)}, got {text!r}")
    return methods


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sbtf.experiments", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, default_out in (("compare", "build/results/compare.json"),
                              ("threshold-sweep", "build/results/threshold_sweep.json"),
                              ("ablation", "build/results/ablation.json")):
        p = sub.add_parser(name)
        p.add_argument("--dataset", choices=DATASETS,
                       default="fashion-mnist" if name == "ablation" else "digits")
        p.add_argument("--train-size", type=_positive_int, default=None,
                       help="train on the first N training images (default: all)")
        p.add_argument("--test-size", type=_positive_int, default=None,
                       help="test on the first N test images (default: all)")
        p.add_argument("--epochs", type=_positive_int,
                       default=3 if name == "ablation" else DEFAULT_EPOCHS)
        p.add_argument("--seeds", type=_int_list,
                       default=[0] if name == "ablation" else list(DEFAULT_SEEDS),
                       help="comma-separated training seeds (default: %(default)s)")
        p.add_argument("--batch-size", type=_positive_int, default=32)
        p.add_argument("--lr", type=float, default=DEFAULT_LEARNING_RATE,
                       help="Adam learning rate, cosine-decayed (default: %(default)s)")
        p.add_argument("--out", default=default_out, help="JSON output (default: %(default)s)")
        p.add_argument("--verbose", action="store_true",
                       help="print Keras's line per epoch (train and test accuracy)")
        if name != "threshold-sweep":
            p.add_argument("--arch", type=_arch_list, default=["digits_cnn"],
                           help="comma-separated architectures (default: digits_cnn)")
            p.add_argument("--first-conv", choices=FIRST_CONV, default="quantized",
                           help="digits_cnn: quantize the first conv like the others (default) "
                                "or keep it float (int8)")
            p.add_argument("--distill", action="store_true",
                           help="distil every quantized net from the float net of its seed")
            p.add_argument("--augment", action="store_true",
                           help="random shifts (<= 2 px) and left-right flips of the training "
                                "images, every epoch (sbtf.data.augment)")
            p.add_argument("--bn-momentum", type=float, default=None,
                           help="momentum of every BatchNormalization (default: the "
                                "architecture's: digits_cnn 0.9, resnet8 0.99)")
            p.add_argument("--weight-decay", type=float, default=None,
                           help="L2 penalty on every compared conv's (latent) kernel, the same "
                                "for every weight format (default: the architecture's: "
                                "digits_cnn 0, resnet8 1e-4)")
        if name == "ablation":
            p.add_argument("--rows", type=_int_list, default=None,
                           help="comma-separated indices of ABLATION rows to run (default: all; "
                                "0 is the base recipe)")
        if name == "compare":
            p.add_argument("--threshold", type=float, default=0.05,
                           help="signed-binary threshold (default: %(default)s)")
            p.add_argument("--threshold-mode", choices=THRESHOLD_MODES, default="max",
                           help="the threshold is a fraction of each filter's max |w| "
                                "(default) or a multiple of its mean |w|")
            p.add_argument("--methods", type=_method_list, default=None,
                           help="comma-separated weight formats (default: all four; none "
                                "with --equal-nonzero-to)")
            p.add_argument("--equal-nonzero", action="store_true",
                           help="add binary and ternary nets scaled to signed-binary's "
                                "non-zero weights")
            p.add_argument("--equal-nonzero-to", metavar="JSON", default=None,
                           help="like --equal-nonzero, to the signed-binary non-zeros of an "
                                "earlier compare run's JSON (same dataset and architecture)")
        if name == "threshold-sweep":
            p.add_argument("--thresholds", type=_float_list, default=list(DEFAULT_THRESHOLDS),
                           help="comma-separated thresholds in (0, 1) (default: %(default)s)")
    args = parser.parse_args(argv)
    if not args.seeds:
        parser.error("--seeds must name at least one seed")
    if not args.lr > 0:
        parser.error(f"--lr must be positive, got {args.lr}")
    if args.command == "ablation" and args.rows is not None and (
            not args.rows or not all(0 <= i < len(ABLATION) for i in args.rows)):
        parser.error(f"--rows must be indices in 0..{len(ABLATION) - 1}, got {args.rows}")
    if args.command == "compare" and not (0.0 < args.threshold < 1.0 or (
            args.threshold_mode == "mean" and 0.0 < args.threshold < float("inf"))):
        parser.error(f"--threshold must lie in (0, 1) (> 0 with --threshold-mode mean), got "
                     f"{args.threshold}")
    if getattr(args, "bn_momentum", None) is not None and not 0.0 <= args.bn_momentum < 1.0:
        parser.error(f"--bn-momentum must lie in [0, 1), got {args.bn_momentum}")
    if getattr(args, "weight_decay", None) is not None and not 0.0 <= args.weight_decay < 1.0:
        parser.error(f"--weight-decay must lie in [0, 1), got {args.weight_decay}")
    if args.command == "threshold-sweep":
        bad = [t for t in args.thresholds if not 0.0 < t < 1.0]
        if bad or not args.thresholds:
            parser.error(f"--thresholds must lie in (0, 1), got {bad or args.thresholds}")
    try:
        data = load(args.dataset, train_size=args.train_size, test_size=args.test_size)
    except (DatasetMissing, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    common = {"epochs": args.epochs, "seeds": args.seeds, "batch_size": args.batch_size,
              "learning_rate": args.lr, "dataset": args.dataset, "data": data,
              "verbose": 2 if args.verbose else 0}
    if args.command == "threshold-sweep":
        result = threshold_sweep(thresholds=args.thresholds, **common)
        print(format_sweep(result))
    else:
        first = {"first_conv": args.first_conv}
        results = []
        for arch in args.arch:
            options = {**common, "arch": arch, "distill": args.distill,
                       **(first if arch == "digits_cnn" else {}),
                       **({"augment": True} if args.augment else {}),
                       **({} if args.bn_momentum is None else {"bn_momentum": args.bn_momentum}),
                       **({} if args.weight_decay is None else
                          {"weight_decay": args.weight_decay})}
            if args.command == "compare":
                target = None
                if args.equal_nonzero_to:
                    try:
                        target = nonzero_target_from(args.equal_nonzero_to, arch, args.dataset)
                    except ValueError as e:
                        print(f"error: {e}", file=sys.stderr)
                        return 2
                methods = args.methods if args.methods is not None else (
                    [] if target else list(METHODS))
                r = compare(threshold=args.threshold, methods=methods, nonzero_target=target,
                            equal_nonzero=args.equal_nonzero or target is not None, **options,
                            **({} if args.threshold_mode == "max" else
                               {"threshold_mode": args.threshold_mode}))
                print(format_compare(r))
            else:
                rows = ABLATION if args.rows is None else [ABLATION[i] for i in args.rows]
                r = ablation(rows=rows, **options)
                print(format_ablation(r))
            results.append(r)
        result = results[0] if len(results) == 1 else {
            "experiment": args.command, "architectures": results,
            "elapsed_s": sum(r["elapsed_s"] for r in results)}
    write_json(result, args.out)
    print(f"{result['elapsed_s']:.0f} s; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
