"""The sign + bitmask encoding of signed-binary int8 weights (docs/op_spec.md).

A signed-binary filter's int8 weights are all 0 or all sign*127. It is stored as one sign byte
and one bit per weight; each row is padded to a multiple of 16 bits, so kernels can read
halfwords (one Helium predicate covers 16 bits) without spending more than a byte of padding.
"""
from __future__ import annotations

import numpy as np

MAGNITUDE = 127  # |int8 weight| of every non-zero: TFLite's symmetric scale is max|w| / 127


def row_bytes(k: int) -> int:
    """Bytes of one mask row of k bits, padded to a multiple of 16 bits."""
    return 2 * ((int(k) + 15) // 16)


def signed_binary_violation(weights: np.ndarray) -> str | None:
    """Why int8 weights [C_out, ...] are not signed-binary, or None when they are."""
    w = np.asarray(weights).reshape(len(weights), -1).astype(np.int32)
    for c, row in enumerate(w):
        nz = row[row != 0]
        if nz.size and not (np.all(nz == MAGNITUDE) or np.all(nz == -MAGNITUDE)):
            values = ", ".join(str(v) for v in np.unique(nz)[:6])
            return f"filter {c} has non-zero weights {{{values}}}, expected all +{MAGNITUDE} or all -{MAGNITUDE}"
    return None


def pack(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Encode int8 weights [C_out, ...] (TFLite order) as (mask uint8 [C_out, row_bytes], sign int8 [C_out]).

    Raises ValueError when the weights are not signed-binary.
    """
    w = np.asarray(weights)
    reason = signed_binary_violation(w)
    if reason is not None:
        raise ValueError(f"weights are not signed-binary: {reason}")
    flat = w.reshape(len(w), -1).astype(np.int32)
    c_out, k = flat.shape
    bits = np.zeros((c_out, row_bytes(k) * 8), dtype=np.uint8)
    bits[:, :k] = flat != 0
    mask = np.packbits(bits, axis=1, bitorder="little")
    sign = np.where((flat < 0).any(axis=1), -1, 1).astype(np.int8)
    return mask, sign


def unpack(mask: np.ndarray, sign: np.ndarray, k: int) -> np.ndarray:
    """Decode (mask, sign) to int8 weights [C_out, k]: sign*127 at set bits, 0 elsewhere.

    Raises ValueError when the mask's shape or padding bits break the format.
    """
    mask = np.asarray(mask, dtype=np.uint8)
    sign = np.asarray(sign, dtype=np.int8).reshape(-1)
    expected = (sign.size, row_bytes(k))
    if mask.shape != expected:
        raise ValueError(f"bitmask shape {mask.shape} does not match [C_out, row_bytes] = {expected}")
    if not np.all(np.isin(sign, (-1, 1))):
        raise ValueError("sign values must be -1 or +1")
    bits = np.unpackbits(mask, axis=1, bitorder="little")
    if bits[:, k:].any():
        raise ValueError("bitmask padding bits must be zero")
    return (bits[:, :k].astype(np.int32) * sign[:, None].astype(np.int32) * MAGNITUDE).astype(np.int8)
