"""Seconds per training step: ResNet-8 with signed-binary weights vs larq's ste_sign weights.

Same network (sbtf.models.resnet8), the six 3x3 block convs either `SignedBinaryConv2D`
(default quantizer, WeightClip(1), sparsity metric on), the same without the sparsity metric,
larq `QuantConv2D(kernel_quantizer="ste_sign", kernel_constraint=WeightClip(1))`, or a plain
float `Conv2D`. Random CIFAR-sized data, batch 32, Adam. Each variant is warmed up, then the
variants take turns timing `--steps` steps, `--repeats` times. The headline figure is the best
(minimum) repeat, the least disturbed by other processes on shared cores; medians are printed
and saved too.
Prints a table and writes build/bench/training.json. A figure, not an assertion.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import sbtf  # isort: skip  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)
import larq as lq
import numpy as np
import tensorflow as tf

from sbtf.quantizers import SignedBinaryQuantizer


def _factory(kind):
    def conv(filters, kernel_size, strides):
        common = {
            "strides": strides,
            "padding": "same",
            "use_bias": False,
            "kernel_initializer": "he_normal",
        }
        if kind == "signed_binary":
            return sbtf.SignedBinaryConv2D(filters, kernel_size, **common)
        if kind == "signed_binary_no_metric":
            return sbtf.SignedBinaryConv2D(
                filters, kernel_size, kernel_quantizer=SignedBinaryQuantizer(metrics=[]), **common
            )
        if kind == "ste_sign":
            return lq.layers.QuantConv2D(
                filters,
                kernel_size,
                kernel_quantizer="ste_sign",
                kernel_constraint=lq.constraints.WeightClip(1.0),
                **common,
            )
        if kind == "float":
            return tf.keras.layers.Conv2D(filters, kernel_size, **common)
        raise ValueError(kind)

    return conv


VARIANTS = {
    "signed_binary": "SignedBinaryConv2D (sparsity metric on)",
    "signed_binary_no_metric": "SignedBinaryConv2D, metrics=[]",
    "ste_sign": "larq QuantConv2D ste_sign + WeightClip",
    "float": "float Conv2D (reference)",
}


RESNET8_KERNELS = [
    (3, 3, 16, 16),
    (3, 3, 16, 16),
    (3, 3, 16, 32),
    (3, 3, 32, 32),
    (3, 3, 32, 64),
    (3, 3, 64, 64),
]


def time_quantizers_only(iterations, repeats):
    """Forward + backward of the quantizers alone on ResNet-8's six block kernels (no convs).

    Isolates what the quantizer adds to a step, which the step times above hide in noise.
    """
    kernels = [
        tf.Variable(np.random.default_rng(i).normal(0, 0.1, s).astype(np.float32))
        for i, s in enumerate(RESNET8_KERNELS)
    ]
    quantizers = {
        "signed_binary": [SignedBinaryQuantizer(metrics=[]) for _ in kernels],
        "ste_sign": [lq.quantizers.SteSign() for _ in kernels],
    }
    steps = {}
    for kind, qs in quantizers.items():

        @tf.function
        def step(qs=qs):
            with tf.GradientTape() as tape:
                loss = tf.add_n([tf.reduce_sum(q(k)) for q, k in zip(qs, kernels)])
            return tape.gradient(loss, kernels)

        step()
        steps[kind] = step
    result = {kind: float("inf") for kind in steps}
    for _ in range(repeats):
        for kind, step in steps.items():  # take turns
            start = time.perf_counter()
            for _ in range(iterations):
                step()
            result[kind] = min(result[kind], (time.perf_counter() - start) / iterations)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--out", default="build/bench/training.json")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    x = rng.uniform(size=(args.batch, 32, 32, 3)).astype(np.float32)
    y = rng.integers(0, 10, size=(args.batch,))
    x, y = tf.constant(x), tf.constant(y)

    models = {}
    for kind in VARIANTS:
        tf.keras.utils.set_random_seed(0)
        model = sbtf.models.resnet8(conv_factory=_factory(kind), name=f"resnet8_{kind}")
        model.compile(tf.keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
        for _ in range(args.warmup):
            model.train_on_batch(x, y)
        models[kind] = model

    times = {kind: [] for kind in VARIANTS}
    for _ in range(args.repeats):
        for kind, model in models.items():  # take turns, so load changes hit every variant
            start = time.perf_counter()
            for _ in range(args.steps):
                model.train_on_batch(x, y)
            times[kind].append((time.perf_counter() - start) / args.steps)

    per_step = {kind: min(t) for kind, t in times.items()}
    median = {kind: statistics.median(t) for kind, t in times.items()}
    base, base_median = per_step["ste_sign"], median["ste_sign"]
    print(
        f"ResNet-8 training step, batch {args.batch}, {args.repeats} x {args.steps} steps, "
        f"{os.cpu_count()} CPUs (best repeat; median in brackets)"
    )
    print(f"{'variant':42s} {'s/step':>8s} {'vs ste_sign':>12s} {'(median s/step, ratio)':>24s}")
    for kind, label in VARIANTS.items():
        print(
            f"{label:42s} {per_step[kind]:8.4f} {per_step[kind] / base:11.2f}x"
            f"   ({median[kind]:.4f}, {median[kind] / base_median:.2f}x)"
        )
    ratio = per_step["signed_binary"] / base
    print(f"signed-binary / ste_sign = {ratio:.3f} (target <= 1.20)")
    q_only = time_quantizers_only(iterations=200, repeats=args.repeats)
    print(
        f"quantizers alone (fwd+bwd, 6 kernels): signed-binary {q_only['signed_binary'] * 1e3:.3f}"
        f" ms, ste_sign {q_only['ste_sign'] * 1e3:.3f} ms per step "
        f"({q_only['signed_binary'] / base * 100:.1f} % vs {q_only['ste_sign'] / base * 100:.1f} %"
        f" of an ste_sign training step)"
    )

    result = {
        "benchmark": "training_step_resnet8",
        "batch_size": args.batch,
        "steps": args.steps,
        "repeats": args.repeats,
        "seconds_per_step": per_step,
        "seconds_per_step_statistic": "min over repeats",
        "median_seconds_per_step": median,
        "all_seconds_per_step": times,
        "ratio_signed_binary_vs_ste_sign": ratio,
        "ratio_signed_binary_no_metric_vs_ste_sign": per_step["signed_binary_no_metric"] / base,
        "median_ratio_signed_binary_vs_ste_sign": median["signed_binary"] / base_median,
        "quantizers_only_seconds_per_step": q_only,
        "tensorflow": tf.__version__,
        "larq": lq.__version__ if hasattr(lq, "__version__") else None,
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
