"""`sbtf-convert model.h5 model.tflite`: a thin shell over `sbtf.converters.convert`.

Exit codes: 0 success, 2 bad input (one line on stderr naming the problem), 1 internal error.
The output is written to a temporary file in the target folder and renamed into place, so a
failed conversion never leaves a partial file behind.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings

import numpy as np
import tensorflow as tf

from sbtf.converters.convert import check_calibration, convert_with_report
from sbtf.converters.errors import ConversionError, ConversionWarning
from sbtf.converters.loading import load_model, model_format

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
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
        "--unsafe",
        action="store_true",
        help="allow Lambda layers (runs Python code stored in the model file)",
    )
    return p


class _UsageError(Exception):
    pass


def _check_output_path(path: str, what: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise _UsageError(f"{path}: folder {folder} for the {what} does not exist")
    if os.path.isdir(path):
        raise _UsageError(f"{path}: the {what} path is a folder")
    if not os.access(folder, os.W_OK):
        raise _UsageError(f"{path}: folder {folder} is not writable")


def _write_atomic(path: str, data: bytes) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".sbtf-convert-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _load_calibration(path: str):
    if not os.path.isfile(path):
        raise _UsageError(f"{path}: calibration file does not exist")
    try:
        data = np.load(path, allow_pickle=False)  # never unpickle: the file is untrusted
    except ValueError as exc:
        raise _UsageError(
            f"{path}: cannot read calibration data as a .npy array "
            f"(pickled objects are refused): {exc}"
        ) from None
    except OSError as exc:
        raise _UsageError(f"{path}: cannot read calibration data: {exc}") from None
    if not isinstance(data, np.ndarray):
        raise _UsageError(f"{path}: expected one .npy array (N x input shape), got an archive")
    return data


def _run(args) -> int:
    model_format(args.model)  # a missing or non-model file is the first thing to say
    _check_output_path(args.output, "output")
    if args.report:
        _check_output_path(args.report, "report")
    if args.calibration is None and not args.random_calibration:
        raise _UsageError(
            "int8 conversion needs calibration data: pass --calibration FILE.npy "
            "(N x input shape, float) or --random-calibration (accuracy will suffer)"
        )
    calibration = _load_calibration(args.calibration) if args.calibration else None
    model = load_model(args.model, unsafe=args.unsafe)
    if calibration is not None:  # checked here too, so the message names the file
        check_calibration(model, calibration, f"{args.calibration}: calibration data")
    result = convert_with_report(
        model,
        representative_data=calibration,
        random_calibration=args.random_calibration,
        inference_input_type=tf.int8 if args.input_type == "int8" else tf.float32,
        inference_output_type=tf.int8 if args.output_type == "int8" else tf.float32,
        detect=args.detect,
        strict=args.strict,
    )
    print(str(result.report), file=sys.stderr)
    if args.report:
        _write_atomic(args.report, result.report.to_json().encode())
    _write_atomic(args.output, result.tflite)
    print(f"sbtf-convert: wrote {args.output} ({len(result.tflite)} bytes)", file=sys.stderr)
    return EXIT_OK


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            code = _run(args)
        except (_UsageError, ConversionError) as exc:
            code = EXIT_BAD_INPUT
            message = f"sbtf-convert: error: {exc}"
        # A bug in sbtf, not in the input: say so, still in one line.
        except Exception as exc:  # noqa: BLE001
            code = EXIT_INTERNAL
            message = f"sbtf-convert: internal error: {type(exc).__name__}: {exc}"
    for w in caught:
        if issubclass(w.category, ConversionWarning):
            print(f"sbtf-convert: warning: {w.message}", file=sys.stderr)
    if code != EXIT_OK:
        print(message.splitlines()[0], file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
