"""Process set-up that must happen before TensorFlow is imported.

larq needs Keras 2, so TensorFlow must use tf-keras (TF_USE_LEGACY_KERAS=1); TensorFlow reads
that variable when it is imported, so a TensorFlow imported earlier without it is an ImportError.
"""
import contextlib
import os
import sys
import tempfile

_LEGACY = ("1", "true", "True")  # what TensorFlow's __init__ accepts


def _check_tensorflow_not_imported_with_keras3() -> None:
    """TensorFlow decides between Keras 2 and 3 when it is imported. Imported first without
    TF_USE_LEGACY_KERAS=1, it serves Keras 3 and larq fails deep inside with an AttributeError;
    say what to do instead."""
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return
    legacy = getattr(tf, "_tf_uses_legacy_keras", None)  # set by tensorflow/__init__.py
    if legacy is None:
        legacy = os.environ.get("TF_USE_LEGACY_KERAS") in _LEGACY
    if not legacy:
        raise ImportError(
            "sbtf needs Keras 2 (tf-keras), but TensorFlow was imported before sbtf without "
            "TF_USE_LEGACY_KERAS=1 and so uses Keras 3: import sbtf before tensorflow, or set "
            "TF_USE_LEGACY_KERAS=1 in the environment (or os.environ) before `import tensorflow`"
        )


_check_tensorflow_not_imported_with_keras3()
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextlib.contextmanager
def native_stderr_captured():
    """Capture what native code writes to file descriptor 2 inside the block.

    TensorFlow's C++ prints INFO lines at import and during conversion (oneDNN, CUDA probes,
    "fully_quantize: ...") that TF_CPP_MIN_LOG_LEVEL does not silence; they would bury sbtf's
    one-line messages. The captured text is written back to stderr when the block raises, so a
    failure keeps its root cause. SBTF_VERBOSE=1 turns capturing off.
    """
    if os.environ.get("SBTF_VERBOSE") or not _has_fd2():
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            sys.stderr.flush()
            os.dup2(saved, 2)
            sink.seek(0)
            os.write(2, sink.read())
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def _has_fd2() -> bool:
    try:
        os.fstat(2)
        return True
    except OSError:
        return False
