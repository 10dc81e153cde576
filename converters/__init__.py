"""sbtf.converters: Keras -> int8 TFLite with signed-binary custom ops (docs/converter.md).

(Importing `sbtf.converters` imports `sbtf` first, which sets up TensorFlow's environment.)
"""

from sbtf.converters.convert import ConversionResult, convert, convert_with_report
from sbtf.converters.errors import ConversionError, ConversionWarning
from sbtf.converters.host import run_sbtf_op, sbtf_operators
from sbtf.converters.loading import load_model
from sbtf.converters.report import ConversionReport, LayerReport

__all__ = [
    "ConversionError",
    "ConversionReport",
    "ConversionResult",
    "ConversionWarning",
    "LayerReport",
    "convert",
    "convert_with_report",
    "load_model",
    "run_sbtf_op",
    "sbtf_operators",
]
