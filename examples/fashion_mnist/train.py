"""Train the signed-binary ResNet-8 on Fashion-MNIST and save what `sbtf-convert` and
`sbtf-micro` need.

    python examples/fashion_mnist/train.py --out build/fashion

The MLPerf Tiny ResNet-8 structure at 28x28x1 (`sbtf.models.resnet8((28, 28, 1))`): the six
3x3 block convs signed-binary, the first conv, the 1x1 shortcuts and the classifier float (int8
after conversion); signed-binary threshold Δ = 0.7·mean|w| per filter. Recipe
(`sbtf.models.train`): Adam, learning rate 1e-2 cosine-decayed to 0; `--distill` first trains a
float ResNet-8 of the same structure with the same recipe for `--teacher-epochs` and distils
from it (the largest gain in docs/results.md's ResNet-8 ablation, F6, for the teacher's
training time on top, so it is an option).

Writes to --out: `resnet8_fashion.h5` (the student), `calibration.npy` (500 training images,
float32 [500, 28, 28, 1] in [0, 1]), `test_images.npy` / `test_labels.npy` (the first
--test-images of the test split, for the host and the board), `train.json` (options,
accuracies, the train and test accuracy after each epoch, seconds).

Fashion-MNIST comes from Debian's package `dataset-fashion-mnist` (`sbtf.data`); when it is
missing the script says so and exits with status 2.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

import sbtf  # before TensorFlow: selects Keras 2 (tf-keras), which larq needs
from sbtf.data import DatasetMissing, load
from sbtf.experiments import build_model
from sbtf.models import DEFAULT_LEARNING_RATE, train
from sbtf.quantizers import THRESHOLD_MODES

CALIBRATION_SAMPLES = 500


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=10, help="student epochs (default 10)")
    p.add_argument("--teacher-epochs", type=int, default=None,
                   help="float teacher epochs (default: --epochs)")
    p.add_argument("--train-size", type=int, default=None,
                   help="train on the first N of the 60,000 training images (default: all)")
    p.add_argument("--test-images", type=int, default=1000,
                   help="test images written for the host / board run (default 1000)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=DEFAULT_LEARNING_RATE,
                   help="Adam learning rate, cosine-decayed (default: %(default)s)")
    p.add_argument("--threshold", type=float, default=0.7,
                   help="signed-binary threshold: a multiple of each filter's mean |w| (default "
                        "0.7: more accurate and sparser than 0.05 of max |w| in docs/results.md's "
                        "ResNet-8 ablation) or, with --threshold-mode max, a fraction of its "
                        "max |w|")
    p.add_argument("--threshold-mode", choices=THRESHOLD_MODES, default="mean",
                   help="statistic of each filter's |w| that the threshold scales "
                        "(default: %(default)s)")
    p.add_argument("--augment", action="store_true",
                   help="random shifts (<= 2 px) and left-right flips every epoch")
    p.add_argument("--distill", action="store_true",
                   help="distil from a float ResNet-8 trained first (--teacher-epochs)")
    p.add_argument("--resume", metavar="H5", default=None,
                   help="continue training this saved student (a model this script wrote) "
                        "instead of a new one: a second stage, e.g. --epochs 4 --lr 1e-3 after "
                        "the distilled run (the threshold options are then the saved model's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="build/fashion", help="output folder (default: %(default)s)")
    args = p.parse_args(argv)
    if args.teacher_epochs is None:
        args.teacher_epochs = args.epochs
    for name in ("epochs", "teacher_epochs", "test_images", "batch_size"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.resume is not None and not os.path.isfile(args.resume):
        p.error(f"--resume {args.resume}: no such file")
    if args.train_size is not None and args.train_size < 1:
        p.error(f"--train-size must be >= 1, got {args.train_size}")
    if not args.lr > 0:
        p.error(f"--lr must be positive, got {args.lr}")
    if not (0.0 < args.threshold < 1.0 or (args.threshold_mode == "mean"
                                           and 0.0 < args.threshold < float("inf"))):
        p.error(f"--threshold must lie in (0, 1) with --threshold-mode max, be > 0 with mean; "
                f"got {args.threshold}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        data = load("fashion-mnist", train_size=args.train_size)
    except DatasetMissing as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    (x_train, _), (x_test, y_test) = data
    started = time.time()
    recipe = {"batch_size": args.batch_size, "learning_rate": args.lr, "augment": args.augment,
              "seed": args.seed}
    teacher, record = None, {"args": vars(args)}
    if args.distill:
        import tensorflow as tf

        tf.keras.utils.set_random_seed(args.seed)
        teacher = build_model("resnet8", "float", input_shape=x_train.shape[1:])
        print(f"Training the float teacher: {args.teacher_epochs} epochs on {len(x_train)} images")
        record["teacher_accuracy"] = train(teacher, data, epochs=args.teacher_epochs, verbose=2,
                                           **recipe)
        print(f"teacher test accuracy {record['teacher_accuracy']:.4f}")

    import tensorflow as tf

    tf.keras.utils.set_random_seed(args.seed)
    if args.resume:
        from sbtf.converters import ConversionError, load_model

        try:
            student = load_model(args.resume)
        except ConversionError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        print(f"Continuing the student saved in {args.resume}")
    else:
        student = sbtf.models.resnet8(x_train.shape[1:], threshold=args.threshold,
                                      threshold_mode=args.threshold_mode, name="resnet8_fashion")
    print(f"Training the signed-binary ResNet-8: {args.epochs} epochs on {len(x_train)} images")
    record["curve"] = []
    accuracy = train(student, data, epochs=args.epochs, teacher=teacher, verbose=2,
                     curve=record["curve"], **recipe)
    record["test_accuracy"] = accuracy
    record["seconds"] = round(time.time() - started, 1)
    print(f"student test accuracy {accuracy:.4f} ({len(x_test)} test images)")
    report = sbtf.summary(student)
    record["flash_bytes"] = {"int8": report.int8_bytes, "sbtf": report.sbtf_bytes}

    os.makedirs(args.out, exist_ok=True)
    student.save(os.path.join(args.out, "resnet8_fashion.h5"))
    rng = np.random.default_rng(args.seed)
    pick = np.sort(rng.choice(len(x_train), min(CALIBRATION_SAMPLES, len(x_train)), replace=False))
    arrays = {"calibration.npy": x_train[pick], "test_images.npy": x_test[:args.test_images],
              "test_labels.npy": y_test[:args.test_images]}
    for name, array in arrays.items():
        np.save(os.path.join(args.out, name), array)
    with open(os.path.join(args.out, "train.json"), "w", encoding="utf-8") as f:
        json.dump(record, f, indent=2)
    print(f"wrote resnet8_fashion.h5, {', '.join(arrays)}, train.json to {args.out}/ "
          f"({record['seconds']} s)")
    print(f"next: sbtf-convert {args.out}/resnet8_fashion.h5 {args.out}/resnet8_fashion.tflite "
          f"--calibration {args.out}/calibration.npy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
