"""The sbtf custom operators' format: the one source of truth (docs/op_spec.md).

Each op is one `Op` entry in `OPS`: its custom code, the tensors it reads (in order, with
dtypes), its FlexBuffer option keys with types and bounds, and which options multiply up to
its filter size K. Everything that writes or reads the ops takes them from here: the converter
(`converters/reencode.py` writes, `converters/host.py` reads, `converters/validate.py` checks)
and, through the generated C header `micro/include/sbtf_op_format.h`, the host delegate
(`micro/delegate/`), the TFLite Micro glue (`micro/tflm/`) and the kernels' `sbtf_nn.h`.

    python -m sbtf.op_format --write-header    # regenerate the C header after editing this file

tests/test_op_format.py fails when the committed header differs from what this file generates.
The bit format of the weights (pack, unpack, row bytes) is `sbtf.bitmask`.
No TensorFlow here: this is the bottom layer, imported by the converter and the runtime alike.
"""
from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

FORMAT_VERSION = 1  # custom option "version"; readers reject every other value
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
# Largest K (weights per filter): the kernels accumulate 127 * 255 * K in an int32.
MAX_FILTER_SIZE = 65536


@dataclass(frozen=True)
class Option:
    """One custom option key: FlexBuffer kind ("int" or "bool") and, for ints, the accepted
    range. `values` names the enum values lo, lo + 1, ... (C macros SBTF_<enum>_<value>)."""

    key: str
    kind: str
    lo: int = INT32_MIN
    hi: int = INT32_MAX
    enum: str = ""
    values: tuple[str, ...] = ()
    doc: str = ""


@dataclass(frozen=True)
class Tensor:
    name: str
    dtype: str  # "int8", "uint8", "int32"
    optional: bool = False  # may be absent (index -1, or left off the end of the inputs)
    constant: bool = False  # must be a constant tensor of the model


@dataclass(frozen=True)
class Op:
    name: str  # custom code in the model's operator codes
    builtin: str  # the TFLite builtin op the converter replaces with it
    inputs: tuple[Tensor, ...]
    options: tuple[Option, ...]
    filter_keys: tuple[str, ...]  # options whose product is K, the weights per filter (mask row)
    doc: str = ""

    @property
    def keys(self) -> dict[str, str]:
        """{option key: kind}, in the order readers check them."""
        return {o.key: o.kind for o in self.options}

    @property
    def optional_inputs(self) -> set[int]:
        return {i for i, t in enumerate(self.inputs) if t.optional}

    def filter_size(self, options: dict) -> int:
        """K = the product of the filter options (mask bits per output channel)."""
        return math.prod(int(options[k]) for k in self.filter_keys)


# ------------------------------------------------------------------ options (one meaning per key)

VERSION = Option("version", "int", doc="format version; readers reject other values")
INPUT_CHANNELS = Option("input_channels", "int", 1, MAX_FILTER_SIZE, doc="C_in of the filter")
FILTER_HEIGHT = Option("filter_height", "int", 1, MAX_FILTER_SIZE, doc="kernel rows")
FILTER_WIDTH = Option("filter_width", "int", 1, MAX_FILTER_SIZE, doc="kernel columns")
PADDING = Option("padding", "int", 0, 1, enum="PADDING", values=("SAME", "VALID"),
                 doc="TFLite Padding")
STRIDE_H = Option("stride_h", "int", 1, INT32_MAX)
STRIDE_W = Option("stride_w", "int", 1, INT32_MAX)
DILATION_H = Option("dilation_h_factor", "int", 1, INT32_MAX)
DILATION_W = Option("dilation_w_factor", "int", 1, INT32_MAX)
ACTIVATION = Option("fused_activation_function", "int", 0, 3, enum="ACTIVATION",
                    values=("NONE", "RELU", "RELU_N1_TO_1", "RELU6"),
                    doc="TFLite ActivationFunctionType")
KEEP_NUM_DIMS = Option("keep_num_dims", "bool", 0, 1, doc="as TFLite's FullyConnectedOptions")
DEPTH_MULTIPLIER = Option("depth_multiplier", "int", 1, MAX_FILTER_SIZE,
                          doc="M: C_out = input_channels * M")

# ------------------------------------------------------------------ tensors and ops

# Every sbtf op reads (input, bitmask, sign[, bias]); the sign carries the weight scales.
WEIGHT_OP_INPUTS = (
    Tensor("input", "int8"),
    Tensor("bitmask", "uint8", constant=True),
    Tensor("sign", "int8", constant=True),
    Tensor("bias", "int32", optional=True, constant=True),
)
# Read first by every reader, in this order, before the op's own keys.
COMMON_OPTIONS = (VERSION, INPUT_CHANNELS, ACTIVATION)

CONV_2D = Op(
    "SBTF_CONV_2D", "CONV_2D", WEIGHT_OP_INPUTS,
    COMMON_OPTIONS + (FILTER_HEIGHT, FILTER_WIDTH, PADDING, STRIDE_H, STRIDE_W, DILATION_H,
                      DILATION_W),
    filter_keys=("filter_height", "filter_width", "input_channels"),
    doc="TFLite's int8 CONV_2D (double rounding)",
)
FULLY_CONNECTED = Op(
    "SBTF_FULLY_CONNECTED", "FULLY_CONNECTED", WEIGHT_OP_INPUTS,
    COMMON_OPTIONS + (KEEP_NUM_DIMS,),
    filter_keys=("input_channels",),
    doc="TFLite's int8 FULLY_CONNECTED (single rounding)",
)
DEPTHWISE_CONV_2D = Op(
    "SBTF_DEPTHWISE_CONV_2D", "DEPTHWISE_CONV_2D", WEIGHT_OP_INPUTS,
    COMMON_OPTIONS + (FILTER_HEIGHT, FILTER_WIDTH, PADDING, STRIDE_H, STRIDE_W, DILATION_H,
                      DILATION_W, DEPTH_MULTIPLIER),
    filter_keys=("filter_height", "filter_width"),
    doc="TFLite's int8 DEPTHWISE_CONV_2D (double rounding)",
)
OPS = {op.name: op for op in (CONV_2D, FULLY_CONNECTED, DEPTHWISE_CONV_2D)}


# ------------------------------------------------------------------ reading and writing options


def read_options(op_name: str, typed: dict) -> dict:
    """Validated options from {key: (kind, value)} (a decoded FlexBuffer map): every key of
    the op present with its kind, version FORMAT_VERSION, ints in range. Raises ValueError."""
    op = OPS.get(op_name)
    if op is None:
        raise ValueError(f"{op_name!r} is not an sbtf op (expected one of {tuple(OPS)})")
    options = {}
    for key, kind in op.keys.items():
        if key not in typed:
            raise ValueError(f"custom option {key!r} is missing")
        got_kind, value = typed[key]
        if got_kind != kind:
            raise ValueError(f"custom option {key!r} must be {kind}, got {got_kind}")
        options[key] = value
    if options[VERSION.key] != FORMAT_VERSION:
        raise ValueError(f"format version {options[VERSION.key]} is not supported "
                         f"(this reader knows version {FORMAT_VERSION})")
    for o in op.options:
        value = options[o.key]
        if o.kind != "int" or o is VERSION:
            continue
        if value < o.lo:
            raise ValueError(f"{o.key} must be >= {o.lo}, got {value}")
        if value > o.hi:
            raise ValueError(f"custom option {o.key!r} = {value} is out of range ({o.lo}..{o.hi})")
    return options


def write_options(op_name: str, **values) -> dict:
    """The option map a writer stores for `op_name`: version added, every key checked as a
    reader will check it (a converter bug fails here, not on the device)."""
    options = {VERSION.key: FORMAT_VERSION, **values}
    kinds = {bool: "bool", int: "int"}
    read_options(op_name, {k: (kinds.get(type(v), "other"), v) for k, v in options.items()})
    unknown = set(options) - set(OPS[op_name].keys)
    if unknown:
        raise ValueError(f"options {sorted(unknown)} are not in the op format")
    k = OPS[op_name].filter_size(options)
    if k > MAX_FILTER_SIZE:
        raise ValueError(f"filter size K = {k} exceeds the kernels' limit {MAX_FILTER_SIZE}")
    return {key: options[key] for key in OPS[op_name].keys}


# ------------------------------------------------------------------ the C header

HEADER = Path(__file__).resolve().parents[1] / "micro" / "include" / "sbtf_op_format.h"


def _c_int(value: int) -> str:
    return {INT32_MIN: "INT32_MIN", INT32_MAX: "INT32_MAX"}.get(value, str(value))


def _macro(name: str) -> str:
    return name.upper()


def c_header() -> str:
    """Text of micro/include/sbtf_op_format.h."""
    options: dict[str, Option] = {}
    for op in OPS.values():
        if op.inputs != WEIGHT_OP_INPUTS:
            raise ValueError(f"{op.name}: the header names one tensor layout for every op")
        for o in op.options:
            if options.setdefault(o.key, o) is not o:
                raise ValueError(f"option {o.key!r} is declared twice with different meanings")
    lines = [
        "/*",
        " * sbtf_op_format.h - the sbtf custom operators' format (docs/op_spec.md) for C and C++:",
        " * op names, format version, tensor positions, option keys and their bounds.",
        " *",
        " * GENERATED from sbtf/op_format.py by `python -m sbtf.op_format --write-header`; do not",
        " * edit (tests/test_op_format.py fails when this file is stale).",
        " */",
        "#ifndef SBTF_OP_FORMAT_H",
        "#define SBTF_OP_FORMAT_H",
        "",
        "#include <stdint.h>",
        "",
        "/** Format version of the ops (custom option `version`); readers reject other values. */",
        f"#define SBTF_OP_FORMAT_VERSION {FORMAT_VERSION}",
        "",
        "/** Largest K = weights per filter (mask bits per row): 127 * 255 * K fits an int32. */",
        f"#define SBTF_MAX_FILTER_SIZE {MAX_FILTER_SIZE}",
        "",
        "/* Op names: the custom codes in a model's operator codes. */",
    ]
    for op in OPS.values():
        lines.append(f'#define SBTF_OP_{_macro(op.name.removeprefix("SBTF_"))} "{op.name}"'
                     f"  /* {op.doc} */")
    names = ", ".join(f'SBTF_OP_{_macro(op.name.removeprefix("SBTF_"))}' for op in OPS.values())
    lines += [f"#define SBTF_OP_COUNT {len(OPS)}", f"#define SBTF_OP_NAMES {{{names}}}", "",
              "/* Input tensor positions (the same for every op). */"]
    for i, t in enumerate(WEIGHT_OP_INPUTS):
        notes = ", ".join(n for n, on in (("constant", t.constant), ("optional", t.optional)) if on)
        lines.append(f"#define SBTF_TENSOR_{_macro(t.name)} {i}  /* {t.dtype}"
                     f"{', ' + notes if notes else ''} */")
    required = sum(not t.optional for t in WEIGHT_OP_INPUTS)
    lines += [f"#define SBTF_MIN_INPUTS {required}",
              f"#define SBTF_MAX_INPUTS {len(WEIGHT_OP_INPUTS)}", "",
              "/* Option keys; ints are valid in [_MIN, _MAX]. */"]
    for o in options.values():
        base = f"SBTF_OPTION_{_macro(o.key)}"
        doc = f"{o.kind}{': ' + o.doc if o.doc else ''}"
        lines.append(f'#define {base} "{o.key}"  /* {doc} */')
        if o.kind == "int":
            lines += [f"#define {base}_MIN {_c_int(o.lo)}", f"#define {base}_MAX {_c_int(o.hi)}"]
        for v, value_name in enumerate(o.values, start=o.lo):
            lines.append(f"#define SBTF_{o.enum}_{value_name} {v}")
    lines += ["", "#endif /* SBTF_OP_FORMAT_H */", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sbtf.op_format", description=__doc__.split("\n")[0])
    parser.add_argument("--write-header", action="store_true", help=f"write {HEADER.name}")
    args = parser.parse_args(argv)
    if not args.write_header:
        sys.stdout.write(c_header())
        return 0
    HEADER.write_text(c_header())
    print(f"wrote {HEADER}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
