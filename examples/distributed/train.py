"""Train the signed-binary digits CNN with `tf.distribute.MirroredStrategy`.

    python examples/distributed/train.py                 # GPUs if any, else 2 logical CPUs
    python examples/distributed/train.py --devices cpu --replicas 4

The model is built and compiled inside `strategy.scope()`, so every variable — including each
signed-binary quantizer's non-trainable `signs` vector — is a MirroredVariable with one copy
per replica. `fit` splits each global batch across the replicas and all-reduces the gradients.
After training the script checks that every replica holds the same weights and that the
fixed signs did not change, then writes `digits_mirrored.h5` and `calibration.npy` for
`sbtf-convert`.

On a machine without GPUs it splits the CPU into `--replicas` logical devices, which mirrors
for real (two model copies, gradients all-reduced) but gives no speed-up; it is how the code
path is tested here. On GPUs it uses all visible GPUs.

Exit status: 0 done, 1 the replicas disagree (a bug), 2 bad arguments.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

import sbtf  # before TensorFlow: selects Keras 2 (tf-keras), which larq needs

# isort: split
import tensorflow as tf

from sbtf.data import load_digits_split
from sbtf.quantizers import signed_binary_quantizer_of


def make_strategy(devices: str, replicas: int) -> tf.distribute.MirroredStrategy:
    """MirroredStrategy over all GPUs, or over `replicas` logical CPU devices.

    Logical devices must be configured before TensorFlow initialises its runtime, i.e.
    before the first op runs: call this first.
    """
    gpus = tf.config.list_physical_devices("GPU")
    if devices == "auto" and gpus:
        return tf.distribute.MirroredStrategy()
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(replicas)])
    names = [d.name for d in tf.config.list_logical_devices("CPU")]
    # NCCL all-reduce is GPU-only; on CPUs reduce on one device and broadcast.
    return tf.distribute.MirroredStrategy(
        names, cross_device_ops=tf.distribute.ReductionToOneDevice())


def replica_mismatches(model) -> list[str]:
    """Names of mirrored (ON_WRITE) variables whose per-replica copies differ.

    BatchNorm's moving statistics are ON_READ: each replica keeps its own, and reading or
    saving them averages the copies, so they may differ by design and are skipped.
    """
    bad = []
    for var in model.weights:
        if var.synchronization == tf.VariableSynchronization.ON_READ:
            continue
        copies = [np.asarray(v.numpy()) for v in getattr(var, "values", (var,))]
        if any(not np.array_equal(copies[0], c) for c in copies[1:]):
            bad.append(var.name)
    return bad


def sign_vectors(model) -> dict[str, np.ndarray]:
    return {
        layer.name: signed_binary_quantizer_of(layer).signs.numpy().copy()
        for layer in model.layers
        if signed_binary_quantizer_of(layer) is not None
    }


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--devices", choices=("auto", "cpu"), default="auto",
                   help="auto: all GPUs if any, else logical CPUs; cpu: logical CPUs")
    p.add_argument("--replicas", type=int, default=2,
                   help="logical CPU devices to mirror across (default 2)")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--batch-size", type=int, default=32, help="per replica (default 32)")
    p.add_argument("--learning-rate", type=float, default=5e-3)
    p.add_argument("--steps-per-epoch", type=int, default=None,
                   help="limit each epoch to this many global steps (quick runs)")
    p.add_argument("--signs", choices=("split", "alternate", "init"), default="split",
                   help="how the quantizer fixes each filter's sign (default split)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="build/distributed", help="output folder")
    args = p.parse_args(argv)
    if args.replicas < 1 or args.epochs < 1 or args.batch_size < 1:
        p.error("--replicas, --epochs and --batch-size must be >= 1")
    if args.steps_per_epoch is not None and args.steps_per_epoch < 1:
        p.error("--steps-per-epoch must be >= 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    strategy = make_strategy(args.devices, args.replicas)
    replicas = strategy.num_replicas_in_sync
    global_batch = args.batch_size * replicas
    print(f"MirroredStrategy: {replicas} replicas on "
          f"{', '.join(strategy.extended.worker_devices)}; global batch {global_batch}")

    (x_train, y_train), (x_test, y_test) = load_digits_split()
    tf.keras.utils.set_random_seed(args.seed)
    train_ds = (tf.data.Dataset.from_tensor_slices((x_train, y_train))
                .shuffle(len(x_train), seed=args.seed).batch(global_batch).repeat())
    steps = args.steps_per_epoch or -(-len(x_train) // global_batch)

    with strategy.scope():  # every variable created here is mirrored
        model = sbtf.models.digits_cnn(signs=args.signs)
        schedule = tf.keras.optimizers.schedules.CosineDecay(
            args.learning_rate, decay_steps=args.epochs * steps)
        model.compile(optimizer=tf.keras.optimizers.Adam(schedule),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    signs_before = sign_vectors(model)

    model.fit(train_ds, epochs=args.epochs, steps_per_epoch=steps, verbose=2)
    scores = model.evaluate(x_test, y_test, batch_size=256, verbose=0, return_dict=True)

    mismatched = replica_mismatches(model)
    changed = [name for name, s in sign_vectors(model).items()
               if not np.array_equal(s, signs_before[name])]
    signs = [v for v in model.weights if v.name.endswith("signs:0")]
    print(f"test accuracy {scores['accuracy']:.4f}; "
          f"{len(model.weights)} variables x {replicas} replicas, "
          f"{len(signs)} sign vectors ({type(signs[0]).__name__})")
    if mismatched or changed:
        print(f"error: replicas disagree on {mismatched}; signs changed in {changed}",
              file=sys.stderr)
        return 1
    print("mirrored variables identical on every replica; signed-binary signs unchanged by "
          "training")

    os.makedirs(args.out, exist_ok=True)
    h5 = os.path.join(args.out, "digits_mirrored.h5")
    calibration = os.path.join(args.out, "calibration.npy")
    model.save(h5)
    np.save(calibration, x_train[:200])
    print(f"wrote {h5}, {calibration}")
    print(f"next: sbtf-convert {h5} {args.out}/digits_mirrored.tflite --calibration {calibration}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
