"""sbtf.converters: Keras -> int8 TFLite with signed-binary custom ops (docs/converter.md)."""

from sbtf import _env  # noqa: F401

from sbtf.converters.convert import ConversionResult, convert, convert_with_report  # noqa: E402
from sbtf.converters.errors import ConversionError, ConversionWarning  # noqa: E402
from sbtf.converters.host import run_sbtf_op, sbtf_operators  # noqa: E402
from sbtf.converters.loading import load_model  # noqa: E402
from sbtf.converters.report import ConversionReport, LayerReport  # noqa: E402

__all__ = [
    "convert",
    "convert_with_report",
    "ConversionResult",
    "ConversionError",
    "ConversionWarning",
    "ConversionReport",
    "LayerReport",
    "load_model",
    "run_sbtf_op",
    "sbtf_operators",
]
