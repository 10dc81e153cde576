"""sbtf.op_format is the one owner of the sbtf ops' format (docs/op_spec.md): the committed C
header is what it generates, the C readers spell no name, key or bound of their own, and the
Python writer and reader agree with it."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from flatbuffers import flexbuffers

from sbtf import op_format
from sbtf.converters.errors import ConversionError
from sbtf.converters.host import parse_options

REPO = Path(__file__).resolve().parents[1]


def test_committed_header_is_generated_from_the_spec():
    assert op_format.HEADER == REPO / "micro" / "include" / "sbtf_op_format.h"
    assert op_format.HEADER.read_text() == op_format.c_header(), (
        "micro/include/sbtf_op_format.h is stale: run `python -m sbtf.op_format --write-header`")


def test_spec_module_runs_without_tensorflow():
    """The bottom layer: the generator runs from the file alone and imports no TensorFlow."""
    code = ("import runpy, sys; sys.argv = ['op_format']; "
            "runpy.run_path('sbtf/op_format.py', run_name='__main__')")
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", code], cwd=REPO,
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout == op_format.c_header()
    assert "tensorflow" not in out.stderr and "numpy" not in out.stderr


C_READERS = [*(REPO / "micro" / "delegate").glob("*.[ch]"),
             *(REPO / "micro" / "tflm").glob("sbtf_*.[ch]*")]


@pytest.mark.parametrize("path", [p for p in C_READERS if "_test" not in p.name],
                         ids=lambda p: p.name)
def test_c_readers_take_names_keys_and_bounds_from_the_header(path):
    text = re.sub(r"/\*.*?\*/|//[^\n]*", "", path.read_text(), flags=re.DOTALL)  # code, not comments
    literals = set(re.findall(r'"([A-Za-z_0-9]+)"', text))
    keys = {o.key for op in op_format.OPS.values() for o in op.options}
    assert not literals & (keys | set(op_format.OPS)), f"{path.name} spells its own names"
    assert "INT32_MAX, &" not in text and "65536" not in text


def _typed(options: dict) -> dict:
    return {k: ("bool" if isinstance(v, bool) else "int", v) for k, v in options.items()}


CONV = {"input_channels": 4, "filter_height": 3, "filter_width": 3, "padding": 0,
        "stride_h": 1, "stride_w": 2, "dilation_h_factor": 1, "dilation_w_factor": 1,
        "fused_activation_function": 3}


def test_writer_and_reader_round_trip():
    written = op_format.write_options(op_format.CONV_2D.name, **CONV)
    assert written == {"version": op_format.FORMAT_VERSION, **CONV}
    assert list(written) == list(op_format.CONV_2D.keys)
    raw = bytes(flexbuffers.Dumps(written))
    assert parse_options(op_format.CONV_2D.name, raw) == written
    fc = op_format.write_options(op_format.FULLY_CONNECTED.name, input_channels=16,
                                 fused_activation_function=0, keep_num_dims=True)
    assert parse_options(op_format.FULLY_CONNECTED.name, bytes(flexbuffers.Dumps(fc))) == fc


@pytest.mark.parametrize("change, message", [
    ({"filter_height": 0}, "filter_height must be >= 1, got 0"),
    ({"padding": 2}, r"'padding' = 2 is out of range \(0..1\)"),
    ({"input_channels": op_format.MAX_FILTER_SIZE + 1}, "'input_channels' = 65537 is out of range"),
    ({"input_channels": 8192}, "filter size K = 73728 exceeds the kernels' limit 65536"),
    ({"stride_w": True}, "'stride_w' must be int, got bool"),
    ({"keep_num_dims": False}, r"options \['keep_num_dims'\] are not in the op format"),
])
def test_writer_refuses_what_readers_refuse(change, message):
    with pytest.raises(ValueError, match=message):
        op_format.write_options(op_format.CONV_2D.name, **{**CONV, **change})
    op_format.write_options(op_format.CONV_2D.name, **{**CONV, "input_channels": 4096,
                                                      "filter_height": 5})  # K = 61440 fits


def test_reader_bounds_are_the_specs():
    """One bound everywhere: the filter size options are capped at MAX_FILTER_SIZE."""
    for key in ("input_channels", "filter_height", "filter_width"):
        good = op_format.write_options(op_format.CONV_2D.name, **{**CONV, key: 1})
        bad = {**good, key: op_format.MAX_FILTER_SIZE + 1}
        with pytest.raises(ValueError, match=f"'{key}' = 65537 is out of range"):
            op_format.read_options(op_format.CONV_2D.name, _typed(bad))
    with pytest.raises(ConversionError, match="'SBTF_FOO' is not an sbtf op"):
        parse_options("SBTF_FOO", b"")


def test_docs_table_lists_every_option():
    doc = (REPO / "docs" / "op_spec.md").read_text()
    for op in op_format.OPS.values():
        assert f"`{op.name}`" in doc
        for key in op.keys:
            assert f"`{key}`" in doc, key
