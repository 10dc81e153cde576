"""Train the signed-binary digits CNN and save what `sbtf-convert` and `sbtf-micro` need.

    python examples/digits/train.py --out build/digits [--dataset fashion-mnist --train-size N]

Writes to --out:
- `digits.h5`: the trained Keras model (`sbtf.models.digits_cnn`, three signed-binary convs);
- `calibration.npy`: 200 training images, float32 [200, 8, 8, 1] in [0, 1] (28x28 for
  `--dataset fashion-mnist`), for
  `sbtf-convert --calibration` (int8 calibration must see inputs preprocessed as in training);
- `test_images.npy` / `test_labels.npy`: the held-out images and labels (the digits' 360; the
  first --test-size of Fashion-MNIST's 10,000), to check the converted model on the host and on
  a board.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

import sbtf  # before TensorFlow: selects Keras 2 (tf-keras), which larq needs
from sbtf.data import DATASETS, DatasetMissing, load

CALIBRATION_SAMPLES = 200


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--threshold", type=float, default=0.05,
                   help="signed-binary threshold, fraction of each filter's max |w|")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dataset", choices=DATASETS, default="digits")
    p.add_argument("--train-size", type=int, default=None,
                   help="train on the first N training images (default: all)")
    p.add_argument("--test-size", type=int, default=1000,
                   help="test images written for fashion-mnist (default: %(default)s)")
    p.add_argument("--out", default="build/digits", help="output folder (default: %(default)s)")
    args = p.parse_args(argv)
    if args.epochs < 1:
        p.error(f"--epochs must be >= 1, got {args.epochs}")
    if not 0.0 < args.threshold < 1.0:
        p.error(f"--threshold must lie in (0, 1), got {args.threshold}")

    for name in ("train_size", "test_size"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    test_size = args.test_size if args.dataset == "fashion-mnist" else None
    try:
        (x_train, _), (x_test, y_test) = load(args.dataset, seed=args.seed,
                                              train_size=args.train_size, test_size=test_size)
    except DatasetMissing as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    model, accuracy = sbtf.models.train_digits_cnn(
        epochs=args.epochs, seed=args.seed, threshold=args.threshold, dataset=args.dataset,
        train_size=args.train_size)
    print(f"test accuracy {accuracy:.4f} after {args.epochs} epochs")
    sbtf.summary(model)

    os.makedirs(args.out, exist_ok=True)
    files = {
        "digits.h5": None,
        "calibration.npy": x_train[:CALIBRATION_SAMPLES],
        "test_images.npy": x_test,
        "test_labels.npy": y_test,
    }
    model.save(os.path.join(args.out, "digits.h5"))
    for name, array in files.items():
        if array is not None:
            np.save(os.path.join(args.out, name), array)
    print("wrote " + ", ".join(os.path.join(args.out, name) for name in files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
