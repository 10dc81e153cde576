"""TensorFlow imported before sbtf without TF_USE_LEGACY_KERAS=1 (so on Keras 3, which larq cannot
use) is one clear ImportError saying what to do, not an AttributeError from inside larq.
(TensorFlow imported first *with* TF_USE_LEGACY_KERAS=1 is how most test modules start, after
conftest.py sets it.)"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest


def _run(code: str, legacy: str | None):
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    if legacy is not None:
        env["TF_USE_LEGACY_KERAS"] = legacy
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=300, check=False)


@pytest.mark.slow
def test_tensorflow_imported_first_without_legacy_keras_is_one_clear_error():
    proc = _run("import tensorflow\nimport sbtf", None)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: sbtf needs Keras 2 (tf-keras), but TensorFlow was "
                           "imported before sbtf without TF_USE_LEGACY_KERAS=1"), proc.stderr
    assert "import sbtf before tensorflow" in last
    assert "LegacyOptimizerWarning" not in proc.stderr
