import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest


@pytest.fixture(scope="session", autouse=True)
def fresh_delegate_plugin():
    """Tests that use sbtf.Interpreter must run the current C kernels, not a stale build."""
    from sbtf.interpreter import build_in_place

    build_in_place()
