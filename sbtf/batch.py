"""The one rule for a batch of model inputs, shared by `sbtf-micro`, the host helpers and the
examples: a batch for a model whose input shape is [1, *rest] is exactly [N, *rest]; a model
whose first dimension is not 1 takes only its own shape. Anything else (an NCHW image for an
NHWC model, a missing batch dimension, flattened rows) is refused instead of being reshaped
into wrong inputs.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["BadInputError", "as_batch"]


class BadInputError(ValueError):
    """The inputs do not fit the model (shape or dtype): the user's data, not the model, is
    wrong (CLIs exit with code 2)."""


def as_batch(x, model_shape: Sequence[int], what: str = "inputs") -> np.ndarray:
    """`x` as N model inputs, [N, *model_shape]; BadInputError naming both shapes otherwise."""
    x = np.asarray(x)
    shape = tuple(int(d) for d in model_shape)
    if x.shape == shape:
        return x.reshape(1, *shape)
    if shape and shape[0] == 1 and x.ndim == len(shape) and x.shape[1:] == shape[1:] and len(x):
        return x.reshape(len(x), *shape)
    expected = f"[N, {', '.join(map(str, shape[1:]))}]" if shape and shape[0] == 1 else list(shape)
    raise BadInputError(f"{what} have shape {list(x.shape)}, the model's input shape is "
                        f"{list(shape)}: expected {expected}")
