"""sbtf.converters: Keras -> int8 TFLite with signed-binary custom ops."""
from sbtf import _env  # noqa: F401
