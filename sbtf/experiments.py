"""The paper's comparison and the threshold sweep, on the scikit-learn digits.

Kuhar et al., "Signed Binary Weight Networks" (https://arxiv.org/abs/2211.13838) compare
float, binary, ternary and signed-binary weights at the same architecture: signed-binary keeps
binary's one bit per weight (plus one sign per filter) but, like ternary, has zeros — more of
them, since every weight of the wrong sign is 0. This module reproduces that comparison on a
problem small enough to train in seconds, and sweeps the signed-binary threshold.

```
python -m sbtf.experiments compare [--epochs N] [--seeds 0,1,2] [--out build/results/compare.json]
python -m sbtf.experiments threshold-sweep [--thresholds 0.01,0.05,...] [--out ...]
```

Every model is the digits CNN of `sbtf.models.digits_cnn` with its 3x3 convolutions swapped:

- `float`: `tf.keras.layers.Conv2D` (int8 after conversion);
- `binary`: larq `QuantConv2D` with `SteSign` weights and `WeightClip(1)` (BWN without α; the
  BatchNorm after each conv absorbs the scale);
- `ternary`: larq `SteTern` in TWN mode (Δ = 0.7·mean|w| of the kernel, Li et al. 2016), since a
  fixed absolute threshold would make the sparsity depend on the initialiser's scale;
- `signed-binary`: `sbtf.layers.SignedBinaryConv2D` (threshold = a fraction of each filter's
  max |w|).

All four train with the same recipe (`sbtf.models.train`: Adam, cosine-decayed learning rate,
same batches) and seeds; `tf.keras.utils.set_random_seed(seed)` is set before each model is
built.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import larq as lq
import numpy as np
import tensorflow as tf

from sbtf import _env  # noqa: F401  (must run before TensorFlow is imported)
from sbtf._summary import row_bytes, summary
from sbtf.data import load_digits_split
from sbtf.layers import SignedBinaryConv2D
from sbtf.models import DEFAULT_LEARNING_RATE, FIRST_CONV, digits_cnn, train
from sbtf.quantizers import quantized_kernel, signed_binary_quantizer_of

__all__ = [
    "DEFAULT_THRESHOLDS",
    "FIRST_CONV",
    "METHODS",
    "compare",
    "conv_factory",
    "digits_model",
    "format_compare",
    "format_sweep",
    "main",
    "threshold_sweep",
    "weight_stats",
]

METHODS = ("float", "binary", "ternary", "signed-binary")
DEFAULT_THRESHOLDS = (0.01, 0.05, 0.1, 0.2, 0.3, 0.5)
DEFAULT_EPOCHS = 15
DEFAULT_SEEDS = (0, 1, 2)


def conv_factory(method: str, *, threshold: float = 0.05):
    """`f(filters, kernel_size, strides) -> layer`: a 3x3 conv of the digits CNN for `method`."""
    common = {"padding": "same", "use_bias": False}
    if method == "float":
        return lambda filters, kernel_size, strides: tf.keras.layers.Conv2D(
            filters, kernel_size, strides=strides, **common
        )
    if method == "binary":
        return lambda filters, kernel_size, strides: lq.layers.QuantConv2D(
            filters, kernel_size, strides=strides, kernel_quantizer=lq.quantizers.SteSign(),
            kernel_constraint=lq.constraints.WeightClip(1.0), **common,
        )
    if method == "ternary":
        return lambda filters, kernel_size, strides: lq.layers.QuantConv2D(
            filters, kernel_size, strides=strides,
            kernel_quantizer=lq.quantizers.SteTern(ternary_weight_networks=True),
            kernel_constraint=lq.constraints.WeightClip(1.0), **common,
        )
    if method == "signed-binary":
        return lambda filters, kernel_size, strides: SignedBinaryConv2D(
            filters, kernel_size, strides=strides, threshold=threshold, **common
        )
    raise ValueError(f"Unknown method {method!r}; expected one of {METHODS}.")


def digits_model(method: str = "signed-binary", *, threshold: float = 0.05,
                 first_conv: str = "quantized") -> tf.keras.Model:
    """`sbtf.models.digits_cnn` with its 3x3 convs made by `method` (see `conv_factory`)."""
    return digits_cnn(conv_factory=conv_factory(method, threshold=threshold),
                      first_conv=first_conv, name=f"digits_{method.replace('-', '_')}")


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

    `conv_*`: the 3x3 convs (the layers whose quantizer differs between methods). `total_*`: every conv/dense
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
    report = summary(model, print_fn=None)
    return {
        "conv_weights": conv_weights,
        "conv_nonzero": conv_nonzero,
        "conv_nonzero_fraction": conv_nonzero / conv_weights,
        "conv_layer_sparsity": [float(np.mean(k == 0)) for k in conv_kernels],
        "total_weights": conv_weights + int(sum(k.size for k in dense_kernels)),
        "total_nonzero": conv_nonzero + int(sum(np.count_nonzero(k) for k in dense_kernels)),
        "conv_bits_per_weight": packed_bits / conv_weights,
        "flash_bytes": report.sbtf_bytes,
        "int8_bytes": report.int8_bytes,
    }


def _mean_std(values) -> tuple[float, float]:
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()), float(values.std())


def _check_run_options(epochs, seeds):
    if int(epochs) < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}.")
    if not seeds:
        raise ValueError("seeds must name at least one seed.")


def _run(method, seed, data, *, epochs, threshold, first_conv, batch_size, learning_rate,
         verbose):
    tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(seed)
    model = digits_model(method, threshold=threshold, first_conv=first_conv)
    accuracy = train(model, data, epochs=epochs, batch_size=batch_size,
                     learning_rate=learning_rate, verbose=verbose)
    return accuracy, weight_stats(model)


def compare(*, epochs: int = DEFAULT_EPOCHS, seeds=DEFAULT_SEEDS, methods=METHODS,
            threshold: float = 0.05, first_conv: str = "quantized", batch_size: int = 32,
            learning_rate: float = DEFAULT_LEARNING_RATE, data=None, verbose: int = 0,
            log=print) -> dict:
    """Train the digits CNN once per method and seed; return accuracies and weight counts.

    Returns `{"config": ..., "methods": {method: {"accuracy": [per seed], "accuracy_mean",
    "accuracy_std", "conv_nonzero_fraction_mean", **weight_stats of the last seed}},
    "elapsed_s"}`. `data` defaults to `sbtf.data.load_digits_split()`.
    """
    _check_run_options(epochs, seeds)
    for m in methods:
        if m not in METHODS:
            raise ValueError(f"Unknown method {m!r}; expected some of {METHODS}.")
    if first_conv not in FIRST_CONV:
        raise ValueError(f"first_conv must be one of {FIRST_CONV}, got {first_conv!r}.")
    data = data if data is not None else load_digits_split()
    start = time.perf_counter()
    results = {}
    for method in methods:
        accuracies, fractions, stats = [], [], None
        for seed in seeds:
            accuracy, stats = _run(method, seed, data, epochs=epochs, threshold=threshold,
                                   first_conv=first_conv, batch_size=batch_size,
                                   learning_rate=learning_rate, verbose=verbose)
            accuracies.append(accuracy)
            fractions.append(stats["conv_nonzero_fraction"])
            if log:
                log(f"{method:>13} seed {seed}: accuracy {accuracy:.4f}, "
                    f"conv non-zeros {stats['conv_nonzero_fraction']:.3f}")
        mean, std = _mean_std(accuracies)
        results[method] = {
            "accuracy": accuracies,
            "accuracy_mean": mean,
            "accuracy_std": std,
            "conv_nonzero_fraction_mean": _mean_std(fractions)[0],
            **stats,
        }
    return {
        "experiment": "compare",
        "config": {"dataset": "sklearn digits (1437 train / 360 test)", "epochs": epochs,
                   "seeds": list(seeds), "threshold": threshold, "first_conv": first_conv,
                   "batch_size": batch_size,
                   "learning_rate": learning_rate, "optimizer": "Adam + cosine decay"},
        "methods": results,
        "elapsed_s": time.perf_counter() - start,
    }


def threshold_sweep(*, thresholds=DEFAULT_THRESHOLDS, epochs: int = DEFAULT_EPOCHS,
                    seeds=DEFAULT_SEEDS, batch_size: int = 32,
                    learning_rate: float = DEFAULT_LEARNING_RATE, data=None, verbose: int = 0,
                    log=print) -> dict:
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
    data = data if data is not None else load_digits_split()
    start = time.perf_counter()
    points = []
    for t in thresholds:
        accuracies, sparsities, layer_sparsities, stats = [], [], [], None
        for seed in seeds:
            accuracy, stats = _run("signed-binary", seed, data, epochs=epochs, threshold=t,
                                   first_conv="quantized", batch_size=batch_size,
                                   learning_rate=learning_rate, verbose=verbose)
            accuracies.append(accuracy)
            sparsities.append(1.0 - stats["conv_nonzero_fraction"])
            layer_sparsities.append(stats["conv_layer_sparsity"])
            if log:
                log(f"threshold {t:<5} seed {seed}: accuracy {accuracy:.4f}, "
                    f"sparsity {sparsities[-1]:.3f}")
        mean, std = _mean_std(accuracies)
        points.append({
            "threshold": t,
            "accuracy": accuracies,
            "accuracy_mean": mean,
            "accuracy_std": std,
            "sparsity": _mean_std(sparsities)[0],
            "layer_sparsity": np.mean(layer_sparsities, axis=0).tolist(),
            "flash_bytes": stats["flash_bytes"],
        })
    return {
        "experiment": "threshold-sweep",
        "config": {"dataset": "sklearn digits (1437 train / 360 test)", "epochs": epochs,
                   "seeds": list(seeds), "batch_size": batch_size,
                   "learning_rate": learning_rate, "optimizer": "Adam + cosine decay"},
        "points": points,
        "elapsed_s": time.perf_counter() - start,
    }


def _table(header, rows) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(
        str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths))
    ) + " |"
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    return "\n".join([rule, line(header), rule, *map(line, rows), rule])


def format_compare(result: dict) -> str:
    """The comparison as a text table."""
    c = result["config"]
    header = ("Weights", "Accuracy", "Conv non-zeros", "Non-zero %", "Bits/conv weight",
              "Flash B (sbtf)")
    rows = []
    for method, r in result["methods"].items():
        rows.append((
            method,
            f"{r['accuracy_mean']:.4f} ± {r['accuracy_std']:.4f}",
            f"{r['conv_nonzero']}/{r['conv_weights']}",
            f"{100 * r['conv_nonzero_fraction_mean']:.1f}",
            f"{r['conv_bits_per_weight']:.2f}",
            str(r["flash_bytes"]),
        ))
    first = ", first conv float" if c.get("first_conv") == "float" else ""
    return (f"Digits CNN{first}, {c['epochs']} epochs, seeds {c['seeds']} (accuracy mean ± std "
            f"over seeds; non-zeros of the last seed)\n" + _table(header, rows))


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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sbtf.experiments", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, default_out in (("compare", "build/results/compare.json"),
                              ("threshold-sweep", "build/results/threshold_sweep.json")):
        p = sub.add_parser(name)
        p.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
        p.add_argument("--seeds", type=_int_list, default=list(DEFAULT_SEEDS),
                       help="comma-separated training seeds (default: %(default)s)")
        p.add_argument("--out", default=default_out, help="JSON output (default: %(default)s)")
        if name == "compare":
            p.add_argument("--threshold", type=float, default=0.05,
                           help="signed-binary threshold (default: %(default)s)")
            p.add_argument("--first-conv", choices=FIRST_CONV, default="quantized",
                           help="quantize the first conv like the others (default, as "
                                "sbtf.models.digits_cnn) or keep it float (int8)")
        else:
            p.add_argument("--thresholds", type=_float_list, default=list(DEFAULT_THRESHOLDS),
                           help="comma-separated thresholds in (0, 1) (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs must be >= 1, got {args.epochs}")
    if not args.seeds:
        parser.error("--seeds must name at least one seed")
    if args.command == "compare":
        if not 0.0 < args.threshold < 1.0:
            parser.error(f"--threshold must lie in (0, 1), got {args.threshold}")
        result = compare(epochs=args.epochs, seeds=args.seeds, threshold=args.threshold,
                         first_conv=args.first_conv)
        print(format_compare(result))
    else:
        bad = [t for t in args.thresholds if not 0.0 < t < 1.0]
        if bad or not args.thresholds:
            parser.error(f"--thresholds must lie in (0, 1), got {bad or args.thresholds}")
        result = threshold_sweep(thresholds=args.thresholds, epochs=args.epochs,
                                 seeds=args.seeds)
        print(format_sweep(result))
    write_json(result, args.out)
    print(f"{result['elapsed_s']:.0f} s; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
