"""sbtf: signed-binary weight networks, from `model.fit` to Cortex-M."""
from sbtf import _env  # noqa: F401  (must run before TensorFlow is imported)

from sbtf import layers, models, quantizers  # noqa: E402  (registers the Keras objects)
from sbtf._summary import (  # noqa: E402
    LayerSummary,
    ModelSummary,
    int8_bytes,
    signed_binary_bytes,
    summary,
)
from sbtf.layers import (  # noqa: E402
    SignedBinaryConv2D,
    SignedBinaryDense,
    SignedBinaryDepthwiseConv2D,
)
from sbtf.quantizers import SignedBinaryQuantizer, quantized_kernel  # noqa: E402

__version__ = "0.1.0"

_LAZY = {"Interpreter": "sbtf.interpreter", "load_delegate": "sbtf.interpreter"}


def __getattr__(name):
    # Host execution (docs/host.md) imports TFLite's interpreter: only on first use.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sbtf' has no attribute {name!r}")


__all__ = [
    "layers",
    "models",
    "quantizers",
    "summary",
    "LayerSummary",
    "ModelSummary",
    "signed_binary_bytes",
    "int8_bytes",
    "quantized_kernel",
    "SignedBinaryQuantizer",
    "SignedBinaryConv2D",
    "SignedBinaryDense",
    "SignedBinaryDepthwiseConv2D",
    "Interpreter",
    "load_delegate",
]
