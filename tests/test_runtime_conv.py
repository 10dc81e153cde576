"""The runtime's Helium CONV_2D and ADD (micro/runtime/sbtf_rt_conv.c, sbtf_rt_ops.c) equal
TFLite's reference kernels bit for bit on the Cortex-M55 board, through every loop they choose
between; the same model on the host (portable C, ASan + UBSan) and on Cortex-M4 (DSP). Likewise
FULLY_CONNECTED through each SBTF_RT_FC_BLOCK layout's whole blocks and tails."""
from __future__ import annotations

import pytest
import tensorflow as tf
from test_runtime_ops import _check

from sbtf.micro import codegen

L = tf.keras.layers


def _convs(x):
    """1x1 read in place with K = 12 (1 channel), K = 5 (filters held in registers, 20
    channels: five groups of four) and K = 20 (a predicated tail; stride 2, 21 channels: a
    partial last group, ReLU); gathered rows with K = 3, 189 and 42 (zero padding up to a
    multiple of 16 where the filters after a group are that long, else the predicated tail);
    ADD of 5 * 5 * 7 elements (a partial last vector)."""
    y = L.Conv2D(5, (1, 3), padding="same")(L.Conv2D(1, 1)(x))
    y = L.Conv2D(20, 1)(y)
    y = L.Conv2D(21, 1, strides=2, activation="relu")(y)
    y = L.Conv2D(7, 3, padding="same")(y)
    y = L.Add()([L.Conv2D(7, 1)(y), y])
    return L.Conv2D(8, (2, 3), strides=2)(y)


@pytest.mark.slow
@pytest.mark.parametrize("board", ["host", "mps2-an386", "mps3-an547"])
def test_conv_and_add_paths_match_tflite(board, tmp_path):
    tflite = _check((9, 9, 12), _convs, seed=3, tmp_path=tmp_path,
                    board=None if board == "host" else board, n=6)
    ops = [op.name for op in codegen.load_graph(tflite).operators]
    assert ops == ["CONV_2D"] * 6 + ["ADD", "CONV_2D"], ops


def _fcs(x):
    """Three rows (batches: the model's 66 inputs as [3, 22]) of K = 22 into 6 filters (a 2-byte
    tail of words, 6 of vectors; a partial group of four), K = 6 into 16 (ReLU), K = 16 into 5
    (whole blocks), then one row of K = 15 into 9 (a 3-byte tail) and K = 9 into 7 (1 byte)."""
    y = L.Lambda(lambda t: tf.reshape(t, (3, 22)))(x)
    y = L.Dense(5)(L.Dense(16, activation="relu")(L.Dense(6)(y)))
    y = L.Lambda(lambda t: tf.reshape(t, (1, 15)))(y)
    return L.Dense(7)(L.Dense(9)(y))


@pytest.mark.parametrize("board", ["host", "mps2-an386", "mps3-an547"])
def test_fully_connected_paths_match_tflite(board, tmp_path):
    tflite = _check((66,), _fcs, seed=5, tmp_path=tmp_path,
                    board=None if board == "host" else board, n=6)
    ops = [op.name for op in codegen.load_graph(tflite).operators]
    assert ops.count("FULLY_CONNECTED") == 5, ops
