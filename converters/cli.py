"""`sbtf-convert model.h5 model.tflite`: a thin shell over `sbtf.converters.convert`.

The console script and `python -m sbtf.converters.cli` both enter through `sbtf_convert.main`,
which checks the arguments and paths (once) before TensorFlow is imported, then calls
`run_checked` here.

Exit codes: 0 success, 2 bad input (one line on stderr naming the problem), 1 internal error.
The output is written to a temporary file in the target folder and renamed into place, so a
failed conversion never leaves a partial file behind.
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings

import numpy as np
import tensorflow as tf

import sbtf_convert
from sbtf.converters.convert import check_calibration, convert_with_report
from sbtf.converters.errors import ConversionError, ConversionWarning
from sbtf.converters.loading import load_model, model_format
from sbtf_convert import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_OK, UsageError


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
    """The calibration array (sbtf_convert.check_paths has checked that the file exists)."""
    try:
        data = np.load(path, allow_pickle=False)  # never unpickle: the file is untrusted
    except ValueError as exc:
        raise UsageError(
            f"{path}: cannot read calibration data as a .npy array "
            f"(pickled objects are refused): {exc}"
        ) from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read calibration data: {exc}") from None
    if not isinstance(data, np.ndarray):
        raise UsageError(f"{path}: expected one .npy array (N x input shape), got an archive")
    return data


def _run(args) -> int:
    model_format(args.model)  # after the paths, a file that is not a Keras model comes first
    if args.calibration is None and not args.random_calibration:
        raise UsageError(
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
    if args.int8_twin:
        _write_atomic(args.int8_twin, result.int8_tflite)
    _write_atomic(args.output, result.tflite)
    print(f"sbtf-convert: wrote {args.output} ({len(result.tflite)} bytes)", file=sys.stderr)
    return EXIT_OK


def main(argv=None) -> int:
    return sbtf_convert.main(argv)


def run_checked(args) -> int:
    """Convert as `args` says; every error one line on stderr, with its exit code."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            code = _run(args)
        except (UsageError, ConversionError) as exc:
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
