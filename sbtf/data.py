"""The scikit-learn digits data set (8x8 grayscale, 10 classes, 1797 samples) as NHWC arrays."""

from __future__ import annotations

import numpy as np

__all__ = ["load_digits_split"]


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
