"""sbtf: signed-binary weight networks, from `model.fit` to Cortex-M."""

# `_env` must be imported before anything imports TensorFlow.
# isort: skip_file
from sbtf import _env

with _env.native_stderr_captured():  # TensorFlow's import-time C++ INFO lines
    from sbtf import layers, models, quantizers  # registers the Keras objects
from sbtf._summary import (
    LayerSummary,
    ModelSummary,
    int8_bytes,
    signed_binary_bytes,
    summary,
)
from sbtf.layers import (
    SignedBinaryConv2D,
    SignedBinaryDense,
    SignedBinaryDepthwiseConv2D,
)
from sbtf.quantizers import SignedBinaryQuantizer, quantized_kernel

__version__ = "0.1.0"

_LAZY = {"Interpreter": "sbtf.interpreter", "load_delegate": "sbtf.interpreter"}


def __getattr__(name):
    # Host execution (docs/host.md) imports TFLite's interpreter: only on first use.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sbtf' has no attribute {name!r}")


__all__ = [
    "Interpreter",
    "LayerSummary",
    "ModelSummary",
    "SignedBinaryConv2D",
    "SignedBinaryDense",
    "SignedBinaryDepthwiseConv2D",
    "SignedBinaryQuantizer",
    "int8_bytes",
    "layers",
    "load_delegate",
    "models",
    "quantized_kernel",
    "quantizers",
    "signed_binary_bytes",
    "summary",
]
