"""sbtf.summary figures on a tiny model, computed by hand."""

import math

import numpy as np
import pytest
import tensorflow as tf

import sbtf
from sbtf import _summary


def tiny_model():
    inputs = tf.keras.Input((4, 4, 3))
    x = sbtf.SignedBinaryConv2D(5, 3, padding="same", use_bias=False, name="sb_conv")(inputs)
    x = tf.keras.layers.BatchNormalization(name="bn")(x)
    x = tf.keras.layers.Flatten(name="flatten")(x)
    x = tf.keras.layers.Dense(33, name="fc")(x)
    outputs = sbtf.SignedBinaryDense(7, name="sb_fc")(x)
    model = tf.keras.Model(inputs, outputs, name="tiny")
    # split signs: filters 0, 1 positive, 2, 3, 4 negative. All-ones kernel: the positive
    # filters keep all 27 weights, the negative ones none -> sparsity 3/5.
    model.get_layer("sb_conv").kernel.assign(np.ones((3, 3, 3, 5), np.float32))
    return model


# Hand-computed (K = weights per filter, row_bytes = 2 * ceil(K / 16), bias 4 * C_out always):
#   sb_conv: C_out 5, K 27, row 4:  sbtf 5*4 + 5 + 20 = 45;  int8 5*27 + 20 = 155; params 135
#   bn:      params 4*5 = 20, folded: 0 bytes
#   fc:      C_out 33, K 80:        int8 33*80 + 132 = 2772 (both);          params 2673
#   sb_fc:   C_out 7, K 33, row 6:  sbtf 7*6 + 7 + 28 = 77;  int8 7*33 + 28 = 259; params 238
EXPECTED = {
    "sb_conv": ("signed-binary", 135, 5, 27, 155, 45),
    "bn": ("folded", 20, None, None, 0, 0),
    "fc": ("int8", 2673, 33, 80, 2772, 2772),
    "sb_fc": ("signed-binary", 238, 7, 33, 259, 77),
}


def test_rows_and_totals():
    lines = []
    result = sbtf.summary(tiny_model(), print_fn=lines.append)
    assert [r.name for r in result.layers] == list(EXPECTED)
    for row in result.layers:
        fmt, params, c_out, k, int8_b, sbtf_b = EXPECTED[row.name]
        assert (row.weight_format, row.params, row.c_out, row.k) == (fmt, params, c_out, k)
        assert (row.int8_bytes, row.sbtf_bytes) == (int8_b, sbtf_b), row.name
    assert result.layer("sb_conv").sparsity == pytest.approx(3 / 5)
    assert 0.0 <= result.layer("sb_fc").sparsity <= 1.0
    assert result.layer("fc").sparsity is None
    assert result.params == 135 + 20 + 2673 + 238
    assert result.int8_bytes == 155 + 2772 + 259
    assert result.sbtf_bytes == 45 + 2772 + 77
    assert result.compression == pytest.approx(3186 / 2894)
    table = lines[0]
    assert "sb_conv" in table and "signed-binary" in table and "3186" in table and "2894" in table


def test_depthwise_row_deploys_as_int8():
    inputs = tf.keras.Input((5, 5, 3))
    outputs = sbtf.SignedBinaryDepthwiseConv2D(3, depth_multiplier=2, name="dw")(inputs)
    row = sbtf.summary(tf.keras.Model(inputs, outputs), print_fn=None).layer("dw")
    # C_out = 3 * 2 = 6, K = 3 * 3 = 9; params 54 + 6 bias; no signed-binary depthwise op in v1
    assert (row.weight_format, row.params, row.c_out, row.k) == ("signed-binary", 60, 6, 9)
    assert row.int8_bytes == row.sbtf_bytes == 6 * 9 + 24


def test_quantizer_state_not_counted_as_params():
    inputs = tf.keras.Input((3,))
    outputs = sbtf.SignedBinaryDense(4, alpha="learned", use_bias=False, name="d")(inputs)
    row = sbtf.summary(tf.keras.Model(inputs, outputs), print_fn=None).layer("d")
    assert row.params == 12


def test_unbuilt_model_raises():
    model = tf.keras.Sequential([sbtf.SignedBinaryDense(3)])
    with pytest.raises(ValueError, match="not built"):
        sbtf.summary(model)


SIZES = [1, 7, 8, 9, 31, 32, 33, 63, 64, 65, 576]


@pytest.mark.parametrize("k", SIZES)
@pytest.mark.parametrize("c_out", [1, 3, 64])
def test_byte_formulas(c_out, k):
    row = math.ceil(k / 16) * 2
    assert sbtf.signed_binary_bytes(c_out, k) == c_out * row + c_out + 4 * c_out
    assert sbtf.signed_binary_bytes(c_out, k, bias=False) == c_out * row + c_out
    assert sbtf.int8_bytes(c_out, k) == c_out * k + 4 * c_out
    assert sbtf.int8_bytes(c_out, k, bias=False) == c_out * k


@pytest.mark.parametrize("k", SIZES)
def test_row_bytes_matches_converter_encoding(k):
    from sbtf import bitmask

    assert _summary.row_bytes(k) == bitmask.row_bytes(k)


@pytest.mark.parametrize("c_out, k", [(0, 3), (3, 0), (-1, 2)])
def test_byte_formulas_reject_bad_dims(c_out, k):
    with pytest.raises(ValueError, match="positive"):
        sbtf.signed_binary_bytes(c_out, k)


def test_resnet8_totals():
    result = sbtf.summary(sbtf.models.resnet8(), print_fn=None)
    assert len([r for r in result.layers if r.weight_format == "signed-binary"]) == 6
    # 3x3 signed-binary convs: (16,16,144) x2, (32,16*9), (32,288), (64,288), (64,576)
    sb = [(16, 144), (16, 144), (32, 144), (32, 288), (64, 288), (64, 576)]
    int8_layers = [(16, 27), (32, 16), (64, 32), (10, 64)]  # first conv, 2 shortcuts, dense
    assert result.sbtf_bytes == sum(sbtf.signed_binary_bytes(c, k) for c, k in sb) + sum(
        sbtf.int8_bytes(c, k) for c, k in int8_layers
    )
    assert result.int8_bytes == sum(sbtf.int8_bytes(c, k) for c, k in sb + int8_layers)
