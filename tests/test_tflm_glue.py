"""What CI can check of the TFLite Micro glue (micro/tflm/) without a TFLM tree.

The glue itself only builds inside TFLM (not installable here; micro/tflm/README.md records the
manual run). Its kernel tests (micro/tflm/sbtf_ops_test.cc) compare against golden data
embedded in micro/tflm/sbtf_ops_test_data.h; these tests keep that data honest: it must be
exactly what the NumPy reference computes today, and its options must be what the converter
writes and reads.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from sbtf.converters import host

GENERATOR = Path(__file__).resolve().parents[1] / "micro" / "tflm" / "gen_sbtf_ops_test_data.py"


@pytest.fixture(scope="module")
def gen():
    spec = importlib.util.spec_from_file_location("gen_sbtf_ops_test_data", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_golden_header_matches_reference(gen):
    # Regenerates every expected output with sbtf.converters.reference; a change in the
    # reference, the bitmask layout or the options format makes the committed goldens stale.
    committed = gen.HEADER.read_text()
    assert (
        gen.render() == committed
    ), f"{gen.HEADER.name} is stale: run .venv/bin/python {GENERATOR.relative_to(GENERATOR.parents[2])}"


def test_goldens_are_valid_converter_options(gen):
    for case in gen.CONV_CASES:
        opts = host.parse_options("SBTF_CONV_2D", bytes(_dumps(gen.conv_options(case))))
        assert opts["stride_h"] == case.stride[0] and opts["padding"] == case.padding
    for case in gen.FC_CASES:
        opts = host.parse_options("SBTF_FULLY_CONNECTED", bytes(_dumps(gen.fc_options(case))))
        assert opts["keep_num_dims"] == case.keep_num_dims


def _dumps(obj):
    from flatbuffers import flexbuffers

    return flexbuffers.Dumps(obj)
