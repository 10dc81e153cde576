"""Data sets as NHWC float32 arrays in [0, 1] with int32 labels, behind one loader.

    (x_train, y_train), (x_test, y_test) = sbtf.data.load("fashion-mnist", train_size=10000)

- `digits`: scikit-learn's digits (8x8, 10 classes, 1797 images), a fixed stratified split
  (1437 train / 360 test);
- `fashion-mnist`: Zalando's Fashion-MNIST (28x28, 10 classes, 60,000 train / 10,000 test) from
  the IDX files of Debian's package `dataset-fashion-mnist` (/usr/share/datasets/fashion-mnist,
  or the folder in $SBTF_FASHION_MNIST_DIR).
"""

from __future__ import annotations

import gzip
import os

import numpy as np

__all__ = ["DATASETS", "FASHION_MNIST_PACKAGE", "DatasetCorrupt", "DatasetMissing", "augment",
           "fashion_mnist_dir", "load", "load_digits_split", "load_fashion_mnist", "read_idx"]

DATASETS = ("digits", "fashion-mnist")
FASHION_MNIST_PACKAGE = "dataset-fashion-mnist"
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 60000),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 10000),
}


class DatasetMissing(Exception):
    """A data set's files are not installed (the message says what to install)."""


class DatasetCorrupt(ValueError):
    """A data set file is not what its format says (the message names the file)."""


def load(name: str, *, seed: int = 0, train_size: int | None = None,
         test_size: int | None = None):
    """`(x_train, y_train), (x_test, y_test)` of data set `name` (one of `DATASETS`).

    `train_size` / `test_size` keep the first N images of each split (None: all); for
    Fashion-MNIST the first N of the files' order, which is class-balanced to within a few
    per cent. `seed` selects the digits split (Fashion-MNIST's split is fixed by its files).
    """
    if name == "digits":
        data = load_digits_split(seed=seed)
    elif name == "fashion-mnist":
        data = load_fashion_mnist()
    else:
        raise ValueError(f"Unknown data set {name!r}; expected one of {DATASETS}.")
    (x_train, y_train), (x_test, y_test) = data
    for label, size in (("train_size", train_size), ("test_size", test_size)):
        if size is not None and int(size) < 1:
            raise ValueError(f"{label} must be >= 1, got {size}.")
    return (x_train[:train_size], y_train[:train_size]), (x_test[:test_size], y_test[:test_size])


def load_digits_split(seed: int = 0, test_fraction: float = 0.2):
    """A fixed stratified split of `sklearn.datasets.load_digits`.

    Returns `(x_train, y_train), (x_test, y_test)`: x float32 `[N, 8, 8, 1]` scaled to [0, 1]
    (pixel / 16), y int32 class labels. Default: 80 % train / 20 % test (360 test images).
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}.")
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images.astype(np.float32) / 16.0)[..., None]
    y = digits.target.astype(np.int32)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=y
    )
    return (x_train, y_train), (x_test, y_test)


def fashion_mnist_dir() -> str:
    return os.environ.get("SBTF_FASHION_MNIST_DIR") or FASHION_MNIST_DIR


def read_idx(path: str, ndim: int) -> np.ndarray:
    """A gzip-compressed IDX file of unsigned bytes with `ndim` dimensions, checked."""
    with gzip.open(path, "rb") as f:
        try:
            raw = f.read()
        except (OSError, EOFError) as e:
            raise DatasetCorrupt(f"{path}: not a readable gzip file ({e}).") from None
    header = 4 + 4 * ndim
    if len(raw) < header or raw[:4] != bytes([0, 0, 0x08, ndim]):
        raise DatasetCorrupt(f"{path}: not an IDX file of unsigned bytes with {ndim} "
                             f"dimension(s) (magic {raw[:4].hex() or 'missing'}).")
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    if len(raw) != header + int(np.prod(shape, dtype=np.int64)):
        raise DatasetCorrupt(f"{path}: header says shape {shape} "
                             f"({int(np.prod(shape, dtype=np.int64))} bytes of data), "
                             f"the file has {len(raw) - header}.")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def load_fashion_mnist():
    """Fashion-MNIST: x float32 `[N, 28, 28, 1]` = pixel / 255, y int32 in 0..9."""
    folder = fashion_mnist_dir()
    missing = [os.path.join(folder, name) for images, labels, _ in FASHION_MNIST_FILES.values()
               for name in (images, labels) if not os.path.isfile(os.path.join(folder, name))]
    if missing:
        raise DatasetMissing(
            f"Fashion-MNIST is not installed: missing {', '.join(missing)}. Install Debian's "
            f"package {FASHION_MNIST_PACKAGE} (`sudo apt-get install {FASHION_MNIST_PACKAGE}`; "
            f"`make setup` does it), or set SBTF_FASHION_MNIST_DIR to a folder with those files.")
    splits = []
    for split, (images_name, labels_name, count) in FASHION_MNIST_FILES.items():
        images = read_idx(os.path.join(folder, images_name), 3)
        labels = read_idx(os.path.join(folder, labels_name), 1)
        if images.shape != (count, 28, 28) or labels.shape != (count,) or labels.max() > 9:
            raise DatasetCorrupt(
                f"{folder}: Fashion-MNIST {split} split should be {count} 28x28 images with "
                f"labels 0-9, got images {images.shape} and labels {labels.shape} "
                f"(max {labels.max()}).")
        splits.append(((images.astype(np.float32) / 255.0)[..., None], labels.astype(np.int32)))
    return tuple(splits)


def augment(x: np.ndarray, rng: np.random.Generator, *, shift: int = 2,
            flip: bool = True) -> np.ndarray:
    """Each image of the NHWC batch `x` moved by a random whole-pixel offset in
    [-shift, shift] along each axis (the vacated pixels 0, as the background) and, with `flip`,
    mirrored left-right with probability 1/2. Draws from `rng`; returns a new array."""
    if shift < 0:
        raise ValueError(f"shift must be >= 0, got {shift}.")
    n, h, w = x.shape[:3]
    padded = np.pad(x, ((0, 0), (shift, shift), (shift, shift), (0, 0)))
    rows = rng.integers(0, 2 * shift + 1, n)[:, None] + np.arange(h)
    cols = rng.integers(0, 2 * shift + 1, n)[:, None] + np.arange(w)
    if flip:
        cols = np.where((rng.random(n) < 0.5)[:, None], cols[:, ::-1], cols)
    return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
