"""The `sbtf-convert` console script: its arguments and paths are checked here, before
TensorFlow is imported (that takes seconds), then `sbtf.converters.cli` converts.

A top-level module because importing anything inside the `sbtf` package imports TensorFlow.
Standard library only.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT = 0, 1, 2


class UsageError(Exception):
    """A bad argument or path; the message names it."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sbtf-convert",
        description="Convert a Keras model (.h5, .keras or SavedModel folder) to an int8 TFLite "
        "file whose signed-binary layers are SBTF_CONV_2D / SBTF_FULLY_CONNECTED ops.",
    )
    p.add_argument("model", help="Keras model: .h5 file, .keras file or SavedModel folder")
    p.add_argument("output", help="output .tflite file")
    cal = p.add_mutually_exclusive_group()
    cal.add_argument(
        "--calibration",
        metavar="FILE.npy",
        help="float calibration inputs, N x input shape, preprocessed as in training",
    )
    cal.add_argument(
        "--random-calibration",
        action="store_true",
        help="calibrate on random data (accuracy will suffer)",
    )
    p.add_argument(
        "--input-type",
        choices=("int8", "float32"),
        default="int8",
        help="type of the model input (default int8)",
    )
    p.add_argument(
        "--output-type",
        choices=("int8", "float32"),
        default="int8",
        help="type of the model output (default int8)",
    )
    p.add_argument(
        "--detect",
        choices=("quantizer", "weights"),
        default="quantizer",
        help="re-encode layers with a SignedBinaryQuantizer (default), or every "
        "conv/dense whose int8 weights are signed-binary",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="fail if a signed-binary layer cannot become an sbtf op",
    )
    p.add_argument("--report", metavar="FILE.json", help="also write the report as JSON")
    p.add_argument(
        "--int8-twin",
        metavar="FILE.tflite",
        help="also write TensorFlow's plain int8 model (the same model without sbtf ops), "
        "to check sbtf's outputs against TFLite's reference kernels",
    )
    p.add_argument(
        "--unsafe",
        action="store_true",
        help="allow Lambda layers (runs Python code stored in the model file)",
    )
    return p


def _same_file(a: str, b: str) -> bool:
    if os.path.exists(a) and os.path.exists(b):
        return os.path.samefile(a, b)
    return os.path.realpath(a) == os.path.realpath(b)


def _check_output(path: str, what: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"{path}: folder {folder} for the {what} does not exist")
    if os.path.isdir(path):
        raise UsageError(f"{path}: the {what} path is a folder")
    try:  # os.access says yes to root, also in /proc: try it
        fd, probe = tempfile.mkstemp(prefix=".sbtf-convert-", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise UsageError(f"{path}: cannot write the {what} in {folder}: {exc.strerror}") from None
    os.close(fd)
    os.unlink(probe)


def check_paths(args) -> None:
    """Input readable, every output writable and distinct from the input and each other."""
    if not os.path.exists(args.model):
        raise UsageError(f"{args.model}: no such file or folder")
    if not os.access(args.model, os.R_OK):
        raise UsageError(f"{args.model}: not readable")
    outputs = [(args.output, "output")]
    outputs += [(p, w) for p, w in ((args.report, "report"), (args.int8_twin, "int8 twin")) if p]
    for i, (path, what) in enumerate(outputs):
        if _same_file(path, args.model):
            raise UsageError(f"{path}: the {what} is the input model; refusing to overwrite it")
        for other, other_what in outputs[:i]:
            if _same_file(path, other):
                raise UsageError(f"{path}: the {what} and the {other_what} are the same file")
        _check_output(path, what)
    if args.calibration is not None and not os.path.isfile(args.calibration):
        raise UsageError(f"{args.calibration}: calibration file does not exist")


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        check_paths(args)
    except UsageError as exc:
        print(f"sbtf-convert: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    from sbtf.converters import cli

    return cli.run_checked(args)


if __name__ == "__main__":
    sys.exit(main())
