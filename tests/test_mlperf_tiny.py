"""sbtf.mlperf_tiny: the four MLPerf Tiny-shaped builders have the benchmark's shapes and make
exactly the intended layers signed-binary."""
import pytest

import sbtf
from sbtf import mlperf_tiny
from sbtf.layers import SignedBinaryConv2D, SignedBinaryDense

# name: (output shape, number of signed-binary layers)
EXPECTED = {
    "kws_ds_cnn": ((12,), 4),
    "vww_mobilenet_v1": ((2,), 13),
    "ad_autoencoder": ((640,), 6),
    "ic_resnet8": ((10,), 6),
}


@pytest.mark.parametrize("name", list(mlperf_tiny.MODELS))
def test_builder_shapes_and_signed_binary_layers(name):
    out_shape, n_binary = EXPECTED[name]
    model = mlperf_tiny.MODELS[name]()
    assert tuple(model.input_shape[1:]) == mlperf_tiny.INPUT_SHAPES[name]
    assert tuple(model.output_shape[1:]) == out_shape
    binary = [layer for layer in model.layers
              if isinstance(layer, (SignedBinaryConv2D, SignedBinaryDense))]
    assert len(binary) == n_binary
    plain = mlperf_tiny.MODELS[name](signed_binary=False)
    assert not any(isinstance(layer, (SignedBinaryConv2D, SignedBinaryDense))
                   for layer in plain.layers)
    assert [layer.output_shape for layer in plain.layers] == [layer.output_shape for layer in model.layers]
    x = mlperf_tiny.calibration(name, 2)
    assert x.shape == (2, *mlperf_tiny.INPUT_SHAPES[name]) and 0 <= x.min() and x.max() < 1
    assert model(x).shape == (2, *out_shape)


def test_ic_resnet8_is_the_project_resnet8():
    a, b = mlperf_tiny.ic_resnet8(), sbtf.models.resnet8()
    assert [type(layer) for layer in a.layers] == [type(layer) for layer in b.layers]
    assert [layer.output_shape for layer in a.layers] == [layer.output_shape for layer in b.layers]
