"""PNG figures of sbtf models and experiments (matplotlib, Agg backend: no display needed).

```
python -m sbtf.plots layers    [--model digits|resnet8] [--h5 model.h5] [--out build/plots/]
python -m sbtf.plots threshold [--json build/results/threshold_sweep.json] [--out build/plots/]
python -m sbtf.plots compare   [--json build/results/compare.json] [--out build/plots/]
```

`layers` plots `sbtf.summary` of a model: per-layer sparsity and weight bytes, int8 vs
signed-binary (with `--model digits` and no `--h5` it first trains the digits CNN).
`threshold` and `compare` plot the JSON written by `python -m sbtf.experiments`; without
`--json` they run the experiment first.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")  # before pyplot: files only, no display

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["main", "plot_compare", "plot_layers", "plot_threshold_sweep"]

_INT8 = "#9e9e9e"
_SBTF = "#1f77b4"
_COLORS = {"float": "#7f7f7f", "binary": "#ff7f0e", "ternary": "#2ca02c",
           "signed-binary": "#1f77b4"}


def _save(fig, path: str) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_layers(model_summary, path: str, title: str | None = None) -> str:
    """Per-layer sparsity and flash bytes (int8 vs sbtf) of a `sbtf.ModelSummary`; write PNG."""
    rows = [r for r in model_summary.layers if r.c_out is not None]  # conv / dense layers
    if not rows:
        raise ValueError(f"Model {model_summary.name!r} has no conv or dense layers to plot.")
    names = [r.name for r in rows]
    x = np.arange(len(rows))
    fig, (ax_s, ax_b) = plt.subplots(1, 2, figsize=(12, 4.2))

    sparsity = [r.sparsity if r.sparsity is not None else 0.0 for r in rows]
    colors = [_SBTF if r.weight_format == "signed-binary" else _INT8 for r in rows]
    ax_s.bar(x, sparsity, color=colors)
    for i, r in enumerate(rows):
        label = f"{r.sparsity:.2f}" if r.sparsity is not None else "int8"
        ax_s.text(i, sparsity[i] + 0.02, label, ha="center", fontsize=8)
    ax_s.set_ylim(0, 1.05)
    ax_s.set_ylabel("fraction of zero weights")
    ax_s.set_title("Sparsity of the signed-binary layers")

    width = 0.4
    int8 = [r.int8_bytes for r in rows]
    sbtf = [r.sbtf_bytes for r in rows]
    ax_b.bar(x - width / 2, int8, width, label="int8", color=_INT8)
    ax_b.bar(x + width / 2, sbtf, width, label="sbtf (signed-binary where possible)", color=_SBTF)
    ax_b.set_yscale("log")
    ax_b.set_ylabel("flash bytes (weights + int32 bias)")
    ax_b.set_title(f"Weight bytes: int8 {model_summary.int8_bytes} B, sbtf "
                   f"{model_summary.sbtf_bytes} B ({model_summary.compression:.1f}x smaller)")
    ax_b.set_ylim(top=max(int8) * 4)  # headroom for the legend
    ax_b.legend(fontsize=8, loc="upper left")

    for ax in (ax_s, ax_b):
        ax.set_xticks(x)
        ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(title or f"{model_summary.name}: per-layer sparsity and weight bytes")
    return _save(fig, path)


def plot_threshold_sweep(result: dict, path: str) -> str:
    """Accuracy and sparsity against the signed-binary threshold (from `threshold_sweep`)."""
    points = result["points"]
    if not points:
        raise ValueError("The threshold sweep has no points to plot.")
    t = np.array([p["threshold"] for p in points])
    acc = np.array([p["accuracy_mean"] for p in points])
    err = np.array([p["accuracy_std"] for p in points])
    sparsity = np.array([p["sparsity"] for p in points])
    layers = np.array([p["layer_sparsity"] for p in points])

    fig, (ax_a, ax_s) = plt.subplots(1, 2, figsize=(12, 4.2))
    ax_a.errorbar(100 * sparsity, 100 * acc, yerr=100 * err, marker="o", capsize=3,
                  color=_SBTF)
    for ti, s, a in zip(t, sparsity, acc):
        ax_a.annotate(f"t={ti:g}", (100 * s, 100 * a), textcoords="offset points",
                      xytext=(4, -12), fontsize=8)
    ax_a.set_xlabel("zero weights in the signed-binary convs (%)")
    ax_a.set_ylabel("test accuracy (%)")
    ax_a.set_title("Accuracy vs sparsity (mean ± std over seeds)")
    low = min(100 * (acc - err).min(), 90.0)
    ax_a.set_ylim(low - 1, 100.5)

    for i in range(layers.shape[1]):
        ax_s.plot(t, 100 * layers[:, i], marker=".", label=f"conv {i + 1}", alpha=0.8)
    ax_s.plot(t, 100 * sparsity, marker="o", color="black", label="all convs")
    ax_s.set_xlabel("threshold (fraction of each filter's max |w|)")
    ax_s.set_ylabel("zero weights (%)")
    ax_s.set_ylim(0, 100)
    ax_s.set_title("Sparsity vs threshold")
    ax_s.legend(fontsize=8)
    for ax in (ax_a, ax_s):
        ax.grid(alpha=0.3)
    c = result["config"]
    fig.suptitle(f"Signed-binary digits CNN: threshold sweep ({c['epochs']} epochs, "
                 f"{len(c['seeds'])} seeds)")
    return _save(fig, path)


def _compare_results(result: dict) -> list:
    """The single-architecture results in `compare`'s JSON (one, or one per --arch)."""
    return result.get("architectures", [result])


def plot_compare(result: dict, path: str) -> str:
    """Accuracy and non-zero compared-conv weights per weight format (from `compare`), one row
    of two panels per architecture."""
    results = _compare_results(result)
    if not results or not all(r["methods"] for r in results):
        raise ValueError("The comparison has no models to plot.")
    fig, axes = plt.subplots(len(results), 2, figsize=(12, 4.2 * len(results)), squeeze=False)
    for (ax_a, ax_n), res in zip(axes, results):
        r = res["methods"]
        methods = list(r)
        x = np.arange(len(methods))
        colors = [_COLORS.get(m.removesuffix("-eq"), _INT8) for m in methods]
        hatches = ["//" if m.endswith("-eq") else "" for m in methods]
        acc = np.array([r[m]["accuracy_mean"] for m in methods])
        err = np.array([r[m]["accuracy_std"] for m in methods])
        bars = ax_a.bar(x, 100 * acc, yerr=100 * err, capsize=4, color=colors)
        for bar, hatch in zip(bars, hatches):
            bar.set_hatch(hatch)
        for i, a in enumerate(acc):
            ax_a.text(i, 100 * (a + err[i]) + 0.2, f"{100 * a:.1f}", ha="center", fontsize=9)
        ax_a.set_ylim(max(0.0, 100 * (acc - err).min() - 5), 101)
        ax_a.set_ylabel("test accuracy (%)")
        ax_a.set_title("Accuracy (mean ± std over seeds)")

        nz = np.array([r[m].get("compared_nonzero_mean", r[m]["conv_nonzero"])
                       for m in methods])
        bars = ax_n.bar(x, nz, color=colors)
        for bar, hatch in zip(bars, hatches):
            bar.set_hatch(hatch)
        for i, m in enumerate(methods):
            widths = "/".join(str(w) for w in r[m].get("widths", ()))
            ax_n.text(i, nz[i] * 1.02, f"{nz[i]:.0f}\n{widths}\n"
                      f"{r[m]['conv_bits_per_weight']:.2f} bit/w", ha="center", fontsize=7)
        ax_n.set_ylim(0, nz.max() * 1.35)
        ax_n.set_ylabel("non-zero weights of the compared convs")
        ax_n.set_title("Non-zero weights, widths, storage bits per weight")
        for ax in (ax_a, ax_n):
            ax.set_xticks(x)
            ax.set_xticklabels(methods, rotation=20, fontsize=8)
            ax.grid(axis="y", alpha=0.3)
        c = res["config"]
        ax_a.text(0.0, 1.12, f"{c.get('arch', 'digits_cnn')} on {c.get('dataset', 'digits')} "
                  f"({c.get('train_images', '?')} train images, {c['epochs']} epochs, "
                  f"{len(c['seeds'])} seeds)", transform=ax_a.transAxes, fontsize=11,
                  fontweight="bold")
    fig.suptitle("Weight formats at the same architecture and at equal non-zero weights (-eq)")
    fig.tight_layout()
    return _save(fig, path)


def _load_json(path: str, experiment: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            result = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: cannot read the {experiment} results: {e}") from None
    if result.get("experiment") != experiment:
        raise ValueError(f"{path}: expected results of `python -m sbtf.experiments "
                         f"{experiment}`, got experiment={result.get('experiment')!r}.")
    return result


def _layers_model(args):
    import tensorflow as tf

    import sbtf

    if args.h5:
        if not os.path.isfile(args.h5):
            raise ValueError(f"{args.h5}: no such model file.")
        try:
            return tf.keras.models.load_model(args.h5, compile=False), None
        except (OSError, ValueError, TypeError) as e:
            raise ValueError(f"{args.h5}: cannot load the Keras model: {e}") from None
    if args.model == "resnet8":
        tf.keras.utils.set_random_seed(0)
        return sbtf.models.resnet8(), "resnet8 (untrained: sparsity at initialisation)"
    model, accuracy = sbtf.models.train_digits_cnn(epochs=args.epochs)
    return model, f"digits_cnn after {args.epochs} epochs (test accuracy {accuracy:.3f})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sbtf.plots", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("layers", help="per-layer sparsity and weight bytes of a model")
    p.add_argument("--model", choices=("digits", "resnet8"), default="digits")
    p.add_argument("--h5", help="plot this saved Keras model instead of training one")
    p.add_argument("--epochs", type=int, default=10, help="training epochs for --model digits")
    for name in ("threshold", "compare"):
        p = sub.add_parser(name, help=f"plot `python -m sbtf.experiments` {name} results")
        p.add_argument("--json", help="results JSON (default: run the experiment now)")
        p.add_argument("--epochs", type=int, default=None,
                       help="epochs when running the experiment (default: its default)")
    for p in sub.choices.values():
        p.add_argument("--out", default="build/plots", help="output folder (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs must be >= 1, got {args.epochs}")

    try:
        if args.command == "layers":
            from sbtf import summary

            model, title = _layers_model(args)
            stem = os.path.splitext(os.path.basename(args.h5))[0] if args.h5 else args.model
            written = plot_layers(summary(model, print_fn=None),
                                  os.path.join(args.out, f"layers_{stem}.png"), title=title)
        else:
            experiment = "threshold-sweep" if args.command == "threshold" else "compare"
            if args.json:
                result = _load_json(args.json, experiment)
            else:
                from sbtf import experiments

                kwargs = {} if args.epochs is None else {"epochs": args.epochs}
                run = experiments.threshold_sweep if experiment == "threshold-sweep" \
                    else experiments.compare
                result = run(**kwargs)
            plot = plot_threshold_sweep if experiment == "threshold-sweep" else plot_compare
            written = plot(result, os.path.join(args.out, f"{args.command}.png"))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
