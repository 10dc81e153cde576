"""Fuzz worker: reads .tflite paths from stdin, one a line, and gives each to every sbtf reader.

For each path it runs `sbtf.Interpreter` (construct, allocate, invoke on zeros) and
`sbtf-micro`'s code generation, then prints `done <path> <outcome>` and flushes. The expected
refusals are the validator's InvalidModelError or a RuntimeError from TFLite's allocate /
invoke (naming the file) for the host, a ValueError for codegen (sbtf-micro's one-line refusal,
exit code 2) except a UnicodeError; any other exception
prints `traceback <path> ...`. A signal or a hang shows
as a missing `done` line to the parent (tests/test_hostile_models.py), which restarts the worker
from the next case. One process serves many cases: starting TensorFlow costs seconds.
"""
from __future__ import annotations

import os
import sys
import traceback

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

import sbtf
from sbtf.converters.validate import InvalidModelError
from sbtf.micro import codegen


def run_interpreter(data: bytes) -> str:
    try:
        interp = sbtf.Interpreter(model_content=data)
        interp.allocate_tensors()
        for d in interp.get_input_details():
            interp.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
        interp.invoke()
        return "ran"
    except (InvalidModelError, RuntimeError) as exc:
        return "refused:" + type(exc).__name__


def run_codegen(data: bytes) -> str:
    try:
        codegen.generate(data, source="fuzz.tflite")
        return "generated"
    except UnicodeError:
        raise
    except ValueError as exc:  # what sbtf-micro reports in one line with exit code 2
        return "refused:" + type(exc).__name__


def main() -> int:
    from sbtf.interpreter import library_path

    print(f"ready {library_path()}", flush=True)  # which delegate build this worker runs
    for line in sys.stdin:
        path = line.strip()
        if not path:
            continue
        with open(path, "rb") as f:
            data = f.read()
        try:
            outcome = f"{run_interpreter(data)},{run_codegen(data)}"
        except Exception:  # noqa: BLE001 (reported to the parent as a failure)
            message = traceback.format_exc().replace("\n", " | ")
            print(f"traceback {path} {message}", flush=True)
            continue
        print(f"done {path} {outcome}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
