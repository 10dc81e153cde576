"""sbtf: signed-binary weight networks, from `model.fit` to Cortex-M."""
from sbtf import _env  # noqa: F401  (must run before TensorFlow is imported)

__version__ = "0.1.0"
