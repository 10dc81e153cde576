"""The runtime's Helium CONV_2D and ADD (micro/runtime/sbtf_rt_conv.c, sbtf_rt_ops.c) equal
TFLite's reference kernels bit for bit on the Cortex-M55 board, through every loop they choose
between; the same model on the host (portable C, ASan + UBSan) and on Cortex-M4 (DSP)."""
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
