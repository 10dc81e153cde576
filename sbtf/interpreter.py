"""Run converted sbtf models on the host: TFLite's interpreter plus sbtf's delegate plugin.

Builtin ops run on TensorFlow Lite's own kernels; SBTF_CONV_2D / SBTF_FULLY_CONNECTED run on
sbtf's C kernels (the same `micro/src` sources as the microcontroller builds), compiled into a
TFLite delegate plugin when sbtf is installed (`pip install -e .`). See docs/host.md.
"""
from __future__ import annotations

import importlib.machinery
import os
import subprocess
import sys
import warnings
from pathlib import Path

import tensorflow as tf  # after sbtf/__init__.py, which set TF_USE_LEGACY_KERAS first

from sbtf.converters import validate

_LIBRARY_STEM = "_delegate"  # setup.py's Extension "sbtf._delegate"

# The sbtf ops are defined as bit-exact with TF 2.21's reference builtin kernels (BUILTIN_REF,
# docs/op_spec.md), so that is the default: the whole model then equals its int8 twin bit for
# bit. BUILTIN_WITHOUT_DEFAULT_DELEGATES (optimized builtins) is faster and allowed; its
# builtin CONV_2D / FULLY_CONNECTED round some ties differently. TFLite's default XNNPACK
# delegate (AUTO / BUILTIN) rounds int8 differently too and is refused.
_RESOLVER = tf.lite.experimental.OpResolverType
_EXACT_RESOLVERS = (_RESOLVER.BUILTIN_REF, _RESOLVER.BUILTIN_WITHOUT_DEFAULT_DELEGATES)


def _sources() -> list[Path]:
    """The C sources the plugin is built from (setup.py), in a source checkout."""
    micro = Path(__file__).resolve().parents[1] / "micro"
    patterns = ("delegate/*.[ch]", "src/*.[ch]", "include/*.h")
    return [p for pattern in patterns for p in micro.glob(pattern)]


def stale_sources(library: Path) -> list[Path]:
    """Sources newer than the built plugin (edited since the last `pip install -e .`)."""
    built = library.stat().st_mtime
    return sorted(p for p in _sources() if p.stat().st_mtime > built)


def _built_library() -> Path | None:
    package = Path(__file__).resolve().parent
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = package / (_LIBRARY_STEM + suffix)
        if candidate.is_file():
            return candidate
    return None


def library_path() -> Path:
    """Path of the built delegate plugin; FileNotFoundError saying how to build it if absent.

    The environment variable SBTF_DELEGATE_LIBRARY names another build to load instead.

    Warns when a C source is newer than the library: the plugin would run old kernels.
    """
    override = os.environ.get("SBTF_DELEGATE_LIBRARY")  # e.g. a sanitizer build (tests)
    if override:
        return Path(override)
    package = Path(__file__).resolve().parent
    repo = package.parent
    library = _built_library()
    if library is None:
        raise FileNotFoundError(
            f"sbtf's TFLite delegate plugin is not built (no {_LIBRARY_STEM}*.so in {package}). "
            f"Build it with `pip install -e {repo}` (or `make setup`); it needs gcc and the C "
            "kernels in micro/src. If the install printed a warning about the 'sbtf._delegate' "
            "extension, the compiler error is above that warning."
        )
    newer = stale_sources(library)
    if newer:
        warnings.warn(
            f"sbtf's delegate plugin {library.name} is older than {newer[0]}; rebuild it with "
            f"`cd {repo} && python setup.py build_ext --inplace`",
            stacklevel=2,
        )
    return library


def build_in_place() -> Path:
    """Build the plugin in this source checkout if it is missing or stale; return its path.

    Runs `python setup.py build_ext --inplace` (seconds), e.g. after editing a kernel in
    micro/src without re-running `pip install -e .`. RuntimeError with the compiler's output if
    the build fails.
    """
    library = _built_library()
    if library is not None and not stale_sources(library):
        return library
    repo = Path(__file__).resolve().parents[1]
    build = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_ext", "--inplace", "--force"],
        cwd=repo, capture_output=True, text=True, check=False,
    )
    if build.returncode != 0:
        raise RuntimeError(f"building sbtf's delegate plugin failed:\n{build.stdout}{build.stderr}")
    library = _built_library()
    if library is None:
        raise RuntimeError(f"building sbtf's delegate plugin produced no library:\n{build.stderr}")
    os.utime(library)  # setuptools copies it with a whole-second mtime, possibly before a source's
    return library


def load_delegate():
    """A new sbtf delegate: `tf.lite.experimental.load_delegate(<built plugin>)`.

    Pass it in `experimental_delegates` of a `tf.lite.Interpreter` created with
    `experimental_op_resolver_type=OpResolverType.BUILTIN_REF` (or
    BUILTIN_WITHOUT_DEFAULT_DELEGATES; never the XNNPACK default), or use `sbtf.Interpreter`,
    which does both.
    """
    return tf.lite.experimental.load_delegate(str(library_path()))


class Interpreter(tf.lite.Interpreter):
    """`tf.lite.Interpreter` that runs sbtf's custom ops with sbtf's C kernels.

    Same arguments as `tf.lite.Interpreter`. The sbtf delegate comes first in
    `experimental_delegates`. The op resolver defaults to BUILTIN_REF, TFLite's reference
    builtin kernels, with which outputs equal the plain int8 model's bit for bit;
    BUILTIN_WITHOUT_DEFAULT_DELEGATES runs builtin ops faster but not bit-exactly.
    The model is checked first by sbtf's validator (`sbtf.converters.validate`, docs/host.md):
    a malformed or refused file raises ValueError naming the file, operator and tensor.
    Errors from `allocate_tensors()` / `invoke()` are RuntimeErrors naming the model file.
    """

    def __init__(
        self,
        model_path=None,
        model_content=None,
        experimental_delegates=None,
        num_threads=None,
        experimental_op_resolver_type=_RESOLVER.BUILTIN_REF,
        **kwargs,
    ):
        if experimental_op_resolver_type not in _EXACT_RESOLVERS:
            raise ValueError(
                f"sbtf.Interpreter needs an op resolver without TFLite's default XNNPACK "
                f"delegate (BUILTIN_REF, the default, or BUILTIN_WITHOUT_DEFAULT_DELEGATES), got "
                f"{experimental_op_resolver_type}: XNNPACK rounds int8 differently from the "
                "builtin kernels the sbtf ops are specified against (docs/op_spec.md)"
            )
        self._sbtf_source = str(model_path) if model_path is not None else "<model_content>"
        # TFLite reads flatbuffers unverified: hand it only bytes sbtf's validator accepted.
        if model_path is not None:
            with open(model_path, "rb") as f:
                model_content = f.read()
        if model_content is not None:
            model_content = bytes(model_content)
            validate.read_model(model_content, self._sbtf_source)
        delegates = [load_delegate(), *(experimental_delegates or [])]
        try:
            super().__init__(
                model_content=model_content,
                experimental_delegates=delegates,
                num_threads=num_threads,
                experimental_op_resolver_type=experimental_op_resolver_type,
                **kwargs,
            )
        except ValueError as exc:  # TFLite's own refusals (e.g. an unknown weights format)
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            raise validate.InvalidModelError(
                f"{self._sbtf_source}: TFLite refuses the model: {'; '.join(lines)}") from None

    def _with_source(self, exc: RuntimeError) -> RuntimeError:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        return RuntimeError(f"{self._sbtf_source}: {'; '.join(lines)}")

    def allocate_tensors(self):
        try:
            return super().allocate_tensors()
        except RuntimeError as exc:
            raise self._with_source(exc) from exc

    def invoke(self):
        try:
            return super().invoke()
        except RuntimeError as exc:
            raise self._with_source(exc) from exc
