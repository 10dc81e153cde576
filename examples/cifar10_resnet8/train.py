"""Train the MLPerf Tiny ResNet-8 on CIFAR-10 with signed-binary 3x3 convolutions.

    python examples/cifar10_resnet8/train.py --epochs 200 --teacher train --out build/resnet8

Recipe: Adam, cosine (default) or step learning-rate decay, random crop + horizontal flip,
optional knowledge distillation from a float ResNet-8 teacher (`--teacher train` trains one
first, `--teacher FILE.h5` loads one): loss = (1 - w) * CE(y, student) + w * T² *
KL(teacher_T || student_T) with temperature T (Hinton et al. 2015).

Writes to --out: `resnet8_sb.h5` (the student, ready for `sbtf-convert`), `calibration.npy`
(500 training images, float32 [N, 32, 32, 3] in [0, 1], for `sbtf-convert --calibration`),
`history.json`, and `teacher_float.h5` when it trains a teacher.

CIFAR-10 comes from `tf.keras.datasets.cifar10.load_data()`'s cache
(`~/.keras/datasets/cifar-10-batches-py`, or under $KERAS_HOME, or --data-dir). When it is
missing the script says what to fetch and exits with status 2; `--download` lets Keras fetch it
(needs network access). `--smoke` trains a few steps on random images instead (for tests).

Exit status: 0 done, 2 bad arguments or missing data.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys

import numpy as np

import sbtf  # before TensorFlow: selects Keras 2 (tf-keras), which larq needs

# isort: split
import tensorflow as tf

CIFAR_DIR = "cifar-10-batches-py"
CIFAR_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
CALIBRATION_SAMPLES = 500


class DatasetMissing(Exception):
    pass


def keras_cache_dir(data_dir: str | None = None) -> str:
    """The folder whose `datasets/` subfolder holds Keras's downloads."""
    if data_dir:
        return os.path.abspath(os.path.expanduser(data_dir))
    if os.environ.get("KERAS_HOME"):
        return os.path.abspath(os.path.expanduser(os.environ["KERAS_HOME"]))
    return os.path.join(os.path.expanduser("~"), ".keras")


def find_cifar10(cache_dir: str) -> str | None:
    """Where CIFAR-10 is (extracted folder or Keras's .tar.gz), or None."""
    folder = os.path.join(cache_dir, "datasets", CIFAR_DIR)
    if all(os.path.isfile(os.path.join(folder, f)) for f in CIFAR_FILES):
        return folder
    tarball = folder + ".tar.gz"  # Keras extracts it on load
    return tarball if os.path.isfile(tarball) else None


def missing_message(cache_dir: str) -> str:
    folder = os.path.join(cache_dir, "datasets", CIFAR_DIR)
    return (
        f"CIFAR-10 is not in the Keras cache: expected {folder}/ with "
        f"{', '.join(CIFAR_FILES)} (or {folder}.tar.gz).\n"
        f"This script does not download by default. Either\n"
        f"  - rerun with --download on a machine with network access (Keras fetches "
        f"{CIFAR_URL}, 163 MB), or\n"
        f"  - fetch that file elsewhere (sha256 {CIFAR_SHA256}) and run\n"
        f"      mkdir -p {cache_dir}/datasets && "
        f"tar xzf cifar-10-python.tar.gz -C {cache_dir}/datasets\n"
        f"    (or point --data-dir / $KERAS_HOME at a folder whose datasets/ holds it), or\n"
        f"  - try the pipeline without the data: --smoke."
    )


def _scale(images):
    return images.astype(np.float32) / 255.0


def load_cifar10(data_dir: str | None, download: bool):
    """(x_train, y_train), (x_test, y_test): float32 NHWC in [0, 1], int32 labels."""
    cache_dir = keras_cache_dir(data_dir)
    if find_cifar10(cache_dir) is None and not download:
        raise DatasetMissing(missing_message(cache_dir))
    try:
        (x_train, y_train), (x_test, y_test) = tf.keras.datasets.cifar10.load_data(
            cache_dir=cache_dir
        )
    except Exception as e:  # noqa: BLE001  (download/archive errors: say why, no traceback)
        raise DatasetMissing(f"Keras could not load CIFAR-10 into {cache_dir}: {e}\n"
                             + missing_message(cache_dir)) from None
    return (_scale(x_train), y_train.reshape(-1).astype(np.int32)), (
        _scale(x_test), y_test.reshape(-1).astype(np.int32))


def synthetic_cifar10(seed: int):
    """Random images and labels in CIFAR-10's shapes, for --smoke."""
    rng = np.random.default_rng(seed)
    x = rng.random((96, 32, 32, 3), dtype=np.float32)
    y = rng.integers(0, 10, 96).astype(np.int32)
    return (x[:64], y[:64]), (x[64:], y[64:])


def augment(x, y):
    """MLPerf-Tiny-style light augmentation: pad-4 random crop and horizontal flip."""
    x = tf.image.random_flip_left_right(x)
    x = tf.image.pad_to_bounding_box(x, 4, 4, 40, 40)
    x = tf.image.random_crop(x, tf.shape(x) - tf.constant([0, 8, 8, 0]))
    return x, y


def dataset(x, y, batch_size, seed, training):
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if training:
        ds = ds.shuffle(len(x), seed=seed).batch(batch_size).map(
            augment, num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.batch(batch_size)
    return ds.prefetch(tf.data.AUTOTUNE)


def learning_rate(schedule: str, base: float, steps: int):
    if schedule == "cosine":
        return tf.keras.optimizers.schedules.CosineDecay(base, decay_steps=max(steps, 1))
    # step: x0.1 at 50 % and 75 % of training
    boundaries = [max(1, steps // 2), max(2, 3 * steps // 4)]
    return tf.keras.optimizers.schedules.PiecewiseConstantDecay(
        boundaries, [base, base * 0.1, base * 0.01])


def float_resnet8() -> tf.keras.Model:
    """The float teacher: the same ResNet-8 with plain Conv2D (with bias) in the blocks."""
    reg = tf.keras.regularizers.l2(1e-4)
    return sbtf.models.resnet8(
        conv_factory=lambda filters, k, strides: tf.keras.layers.Conv2D(
            filters, k, strides=strides, padding="same", kernel_initializer="he_normal",
            kernel_regularizer=reg),
        name="resnet8_float",
    )


def fit(model, train_ds, test_ds, *, epochs, steps_per_epoch, args, verbose):
    model.compile(
        optimizer=tf.keras.optimizers.Adam(
            learning_rate(args.schedule, args.lr, epochs * steps_per_epoch)),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(train_ds, validation_data=test_ds, epochs=epochs, verbose=verbose)
    return {k: [float(v) for v in vals] for k, vals in history.history.items()}


def teacher_model(args, train_ds, test_ds, steps_per_epoch, verbose):
    if args.teacher == "train":
        tf.keras.utils.set_random_seed(args.seed + 1)
        teacher = float_resnet8()
        print(f"Training the float teacher for {args.teacher_epochs} epochs")
        fit(teacher, train_ds, test_ds, epochs=args.teacher_epochs,
            steps_per_epoch=steps_per_epoch, args=args, verbose=verbose)
        path = os.path.join(args.out, "teacher_float.h5")
        teacher.save(path)
        print(f"wrote {path}")
        return teacher
    try:
        teacher = tf.keras.models.load_model(args.teacher, compile=False)
    except (OSError, ValueError) as e:
        raise SystemExit(_error(f"{args.teacher}: cannot load the teacher model: {e}"))
    if teacher.output_shape != (None, 10) or teacher.input_shape != (None, 32, 32, 3):
        raise SystemExit(_error(
            f"{args.teacher}: the teacher must map [N, 32, 32, 3] images to 10 softmax "
            f"probabilities; it has input {teacher.input_shape}, output {teacher.output_shape}"))
    return teacher


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=None,
                   help="student epochs (default 200; 1 with --smoke)")
    p.add_argument("--batch-size", type=int, default=32, help="as MLPerf Tiny (default 32)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    p.add_argument("--schedule", choices=("cosine", "step"), default="cosine",
                   help="cosine decay to 0, or x0.1 at 50%% and 75%% of training")
    p.add_argument("--threshold", type=float, default=0.05,
                   help="signed-binary threshold, fraction of each filter's max |w|")
    p.add_argument("--teacher", metavar="train|FILE.h5",
                   help="distil from a float ResNet-8: `train` one first, or load FILE.h5")
    p.add_argument("--teacher-epochs", type=int, default=None,
                   help="epochs for --teacher train (default: --epochs)")
    p.add_argument("--distill-weight", type=float, default=0.5,
                   help="weight w of the KL term (default 0.5)")
    p.add_argument("--temperature", type=float, default=4.0, help="distillation T (default 4)")
    p.add_argument("--data-dir", help="Keras cache folder holding datasets/cifar-10-batches-py "
                                      "(default: $KERAS_HOME or ~/.keras)")
    p.add_argument("--download", action="store_true",
                   help="let Keras download CIFAR-10 when it is missing (needs network)")
    p.add_argument("--smoke", action="store_true",
                   help="a few steps on random images, no dataset needed (for tests)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="build/resnet8", help="output folder (default: %(default)s)")
    args = p.parse_args(argv)
    if args.epochs is None:
        args.epochs = 1 if args.smoke else 200
    if args.teacher_epochs is None:
        args.teacher_epochs = args.epochs
    if args.epochs < 1 or args.teacher_epochs < 1:
        p.error("--epochs and --teacher-epochs must be >= 1")
    if args.batch_size < 1 or not args.lr > 0 or not args.temperature > 0:
        p.error("--batch-size, --lr and --temperature must be positive")
    if not 0.0 < args.threshold < 1.0:
        p.error(f"--threshold must lie in (0, 1), got {args.threshold}")
    if not 0.0 <= args.distill_weight <= 1.0:
        p.error(f"--distill-weight must lie in [0, 1], got {args.distill_weight}")
    if args.teacher not in (None, "train") and not os.path.isfile(args.teacher):
        p.error(f"--teacher {args.teacher}: no such file (pass `train` to train a teacher)")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.smoke:
        data = synthetic_cifar10(args.seed)
    else:
        try:
            data = load_cifar10(args.data_dir, args.download)
        except DatasetMissing as e:
            return _error(str(e))
    (x_train, y_train), (x_test, y_test) = data
    os.makedirs(args.out, exist_ok=True)
    verbose = 0 if args.smoke else 2
    tf.keras.utils.set_random_seed(args.seed)
    train_ds = dataset(x_train, y_train, args.batch_size, args.seed, training=True)
    test_ds = dataset(x_test, y_test, 256, args.seed, training=False)
    steps_per_epoch = math.ceil(len(x_train) / args.batch_size)

    teacher = None
    if args.teacher:
        teacher = teacher_model(args, train_ds, test_ds, steps_per_epoch, verbose)
        teacher.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        scores = teacher.evaluate(test_ds, verbose=0, return_dict=True)
        print(f"teacher test accuracy {scores['accuracy']:.4f}")

    tf.keras.utils.set_random_seed(args.seed)
    student = sbtf.models.resnet8(threshold=args.threshold, name="resnet8_sb")
    trainer = student if teacher is None else sbtf.models.Distiller(
        student, teacher, args.distill_weight, args.temperature)
    history = fit(trainer, train_ds, test_ds, epochs=args.epochs,
                  steps_per_epoch=steps_per_epoch, args=args, verbose=verbose)

    student.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    scores = student.evaluate(test_ds, verbose=0, return_dict=True)
    report = sbtf.summary(student)
    paths = {"model": os.path.join(args.out, "resnet8_sb.h5"),
             "calibration": os.path.join(args.out, "calibration.npy"),
             "history": os.path.join(args.out, "history.json")}
    student.save(paths["model"])
    rng = np.random.default_rng(args.seed)
    pick = rng.choice(len(x_train), min(CALIBRATION_SAMPLES, len(x_train)), replace=False)
    np.save(paths["calibration"], x_train[np.sort(pick)])
    with open(paths["history"], "w", encoding="utf-8") as f:
        json.dump({"args": vars(args), "test_accuracy": float(scores["accuracy"]),
                   "flash_bytes": {"int8": report.int8_bytes, "sbtf": report.sbtf_bytes},
                   "history": history}, f, indent=2)
    print(f"student test accuracy {scores['accuracy']:.4f}"
          + (" (random data: --smoke)" if args.smoke else ""))
    print("wrote " + ", ".join(paths.values()))
    print(f"next: sbtf-convert {paths['model']} {args.out}/resnet8_sb.tflite "
          f"--calibration {paths['calibration']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
