"""Hostile model files (issue 10): no code injection, no crash, no over-read, one clear error.

Per class: names in generated C, sparse / oversized constants, self-wired nodes, out-of-range
indices, malformed flatbuffers, refusals shared by the host and sbtf-micro; then a seeded fuzz
run of every reader over byte and structured mutations, once more under ASan/UBSan.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from flatbuffers import flexbuffers
from tensorflow.lite.python import schema_py_generated as schema

import sbtf
from sbtf.converters import tflite_model as tfm
from sbtf.converters.validate import InvalidModelError, read_model
from sbtf.micro import cli as micro_cli
from sbtf.micro import codegen

sys.path.insert(0, str(Path(__file__).parent))
from fuzz_driver import run_corpus
from hostile_corpus import HOSTILE_NAMES, mutants

REPO = Path(__file__).resolve().parents[1]
FUZZ_CASES, FUZZ_SEED = 300, 10


@pytest.fixture(scope="module")
def model() -> bytes:
    """A converted model with SBTF_CONV_2D, SBTF_FULLY_CONNECTED and builtin ops."""
    from sbtf.converters import convert

    tf.keras.utils.set_random_seed(4)
    keras = sbtf.models.digits_cnn(filters=(4, 4, 8))
    calib = np.random.default_rng(4).uniform(0, 1, size=(16, 8, 8, 1)).astype(np.float32)
    return convert(keras, representative_data=calib)


def _edit(tflite: bytes, edit) -> bytes:
    m = tfm.read(tflite)
    edit(m, m.subgraphs[0])
    return tfm.write(m)


def _op_named(m, sg, name="SBTF_CONV_2D"):
    return next(op for op in sg.operators if tfm.opcode_name(m, op.opcodeIndex) == name)


def _refusals(data: bytes) -> tuple[str, str]:
    """The error of sbtf.Interpreter and of sbtf-micro's codegen (both must refuse)."""
    with pytest.raises(ValueError) as host:
        sbtf.Interpreter(model_content=data)
    with pytest.raises(ValueError) as micro:
        codegen.generate(data, source="<model_content>")
    return str(host.value), str(micro.value)


# ---------------------------------------------------------------- 1. names in generated C


def _preprocessed(tflite: bytes, out: Path, source: str) -> str:
    gen = codegen.generate(tflite, source=source)
    gen.write(out)
    text = ""
    for name in ("sbtf_model.c", "sbtf_model.h"):
        text += subprocess.run(
            ["gcc", "-E", "-P", "-trigraphs", f"-I{out}", f"-I{REPO / 'micro' / 'include'}",
             f"-I{REPO / 'micro' / 'runtime'}", str(out / name)],
            capture_output=True, text=True, check=True).stdout
    return text


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=lambda n: repr(n[:12]))
def test_hostile_names_preprocess_like_a_plain_name(model, name, tmp_path):
    """Every tensor and op name (and the source path) reaches the C only inside a comment: the
    preprocessed code is token for token the same as with plain names."""
    def rename(to):
        def edit(m, sg):
            for t in sg.tensors:
                t.name = to
        return edit

    plain = _preprocessed(_edit(model, rename(b"plain")), tmp_path / "plain", "model.tflite")
    path = name.decode("utf-8", "surrogateescape")  # as a file name from the command line
    try:
        name.decode("utf-8")
    except UnicodeDecodeError:  # refused as a tensor name (TFLite's Python API would raise)
        with pytest.raises(codegen.UnsupportedModelError, match=r"tensor 0 .*name is not UTF-8"):
            codegen.generate(_edit(model, rename(name)))
        hostile = _preprocessed(_edit(model, rename(b"plain")), tmp_path / "hostile", path)
    else:
        hostile = _preprocessed(_edit(model, rename(name)), tmp_path / "hostile", path)
    assert hostile == plain
    assert "sbtf_injected" not in hostile


def test_c_comment_escapes_everything_that_could_end_or_splice_a_comment():
    for text in ("*/", "a\\", "??/", "x\ny", "\0", "é", "n" * 70000):
        out = codegen.c_comment(text)
        assert re.fullmatch(r"[A-Za-z0-9 _\-+=.,:;/()\[\]<>\\]*(\.\.\.)?", out), out
        assert "*/" not in out and "\n" not in out and "?" not in out and len(out) <= 96
    assert codegen.c_comment("conv2d/Relu;bn") == "conv2d/Relu;bn"


# ---------------------------------------------------------------- 2, 3. delegate over-reads, wiring


def _sparse_bitmask(m, sg):
    """Issue 10's over-read: a [1000000, 64] bitmask over a 1-byte buffer, declared sparse so
    that TFLite skips its own size check."""
    t = sg.tensors[_op_named(m, sg).inputs[1]]
    t.shape = np.array([1000000, 64], np.int32)
    m.buffers[t.buffer].data = np.array([1], np.uint8)
    sp = schema.SparsityParametersT()
    sp.traversalOrder, sp.blockMap, sp.dimMetadata = [0, 1], [], []
    for n in (1000000, 64):
        d = schema.DimensionMetadataT()
        d.format, d.denseSize = schema.DimensionType.DENSE, n
        sp.dimMetadata.append(d)
    t.sparsity = sp


def _self_wired(m, sg):
    op = _op_named(m, sg)
    op.outputs = [op.inputs[0]]


def _plain_tflite_with_delegate(data: bytes):
    interp = tf.lite.Interpreter(
        model_content=data, experimental_delegates=[sbtf.load_delegate()],
        experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()


@pytest.mark.parametrize("edit,host_message,delegate_message", [
    (_sparse_bitmask, r"tensor 13 '[^']*/sbtf_bitmask': has sparsity parameters",
     "sparse tensors are not supported"),
    (_self_wired, r"operator 0 \(SBTF_CONV_2D\): tensor 0 .* is both an input and an output",
     r"tensor 0 is both an input and an output"),
], ids=["sparse-bitmask", "self-wired"])
def test_delegate_and_validator_refuse_over_reads_and_self_wiring(model, edit, host_message,
                                                                  delegate_message):
    data = _edit(model, edit)
    host, micro = _refusals(data)
    assert re.search(host_message, host) and re.search(host_message, micro)
    # The delegate refuses by itself too, when a plain tf.lite.Interpreter bypasses sbtf's checks.
    with pytest.raises((RuntimeError, ValueError), match=delegate_message):
        _plain_tflite_with_delegate(data)


# ---------------------------------------------------------------- 5, 7. the one validator


def _set(index_of, field, value):
    def edit(m, sg):
        setattr(sg.tensors[index_of(m, sg)], field, value)
    return edit


def _quant(which, scale=None, zero_point=None):
    def edit(m, sg):
        op = _op_named(m, sg)
        t = sg.tensors[op.outputs[0] if which == "output" else op.inputs[0]]
        if scale is not None:
            t.quantization.scale = [scale]
        if zero_point is not None:
            t.quantization.zeroPoint = [zero_point]
    return edit


def _options(**changes):
    def edit(m, sg):
        op = _op_named(m, sg)
        options = dict(tfm.flexbuffer_options(op))
        options.update(changes)
        op.customOptions = list(flexbuffers.Dumps(options))
    return edit


def _input_shape(shape):
    def edit(m, sg):
        sg.tensors[sg.inputs[0]].shape = np.array(shape, np.int32)
    return edit


def _op_field(field, value):
    def edit(m, sg):
        setattr(sg.operators[0], field, value)
    return edit


def _extra_input(m, sg):
    op = _op_named(m, sg)
    op.inputs = [*op.inputs, op.inputs[0]]


def _short_buffer(m, sg):
    b = m.buffers[sg.tensors[_op_named(m, sg).inputs[2]].buffer]
    b.data = np.asarray(b.data, np.uint8)[:1]


def _custom_code(code):
    def edit(m, sg):
        m.operatorCodes[sg.operators[0].opcodeIndex].customCode = code
    return edit


def _pool_options(**changes):
    def edit(m, sg):
        op = _op_named(m, sg, "MAX_POOL_2D")
        if not changes:
            op.builtinOptionsType, op.builtinOptions = 0, None
        for key, value in changes.items():
            setattr(op.builtinOptions, key, value)
    return edit


def _two_subgraphs(m, sg):
    import copy

    m.subgraphs.append(copy.deepcopy(sg))


@pytest.mark.parametrize("edit,message", [
    (_quant("output", scale=0.0), r"tensor \d+ .*activation quantization scale is 0"),
    (_quant("output", scale=float("inf")), r"scales must be finite"),
    (_quant("input", scale=-1.0), r"scales must be finite and >= 0"),
    (_quant("output", zero_point=200), r"zero point \[200\] is outside \[-128, 127\]"),
    (_options(input_channels=0), r"operator 0 \(SBTF_CONV_2D\): input_channels must be >= 1"),
    (_options(dilation_h_factor=100, padding=1), r"operator 0 \(SBTF_CONV_2D\): input 8x8 is too small"),
    (_options(stride_w=2**31), r"stride_w' = 2147483648 is out of range"),
    (_input_shape([2**31 - 1, 8, 8, 1]), r"needs 137438953408 bytes"),
    (_input_shape([0, 8, 8, 1]), r"operator 0 \(SBTF_CONV_2D\): input shape \[0, 8, 8, 1\]"),
    (_extra_input, r"operator 0 \(SBTF_CONV_2D\): expected inputs \(input, bitmask, sign"),
    (_op_field("inputs", [99, 1, 2]), r"operator 0 \(SBTF_CONV_2D\): input tensor index 99 is"),
    (_op_field("opcodeIndex", 7), r"operator 0: opcode index 7 is out of range"),
    (_short_buffer, r"tensor \d+ '.*sbtf_sign': constant buffer \d+ holds 1 bytes"),
    (_set(lambda m, sg: 0, "buffer", 999), r"tensor 0 .*buffer index 999 is out of range"),
    (_custom_code(b"CONV_2D"), r"operator 0: custom code 'CONV_2D' is a builtin's name"),
    (_pool_options(strideH=0), r"operator \d+ \(MAX_POOL_2D\): builtin option strideH = 0"),
    (_pool_options(), r"operator \d+ \(MAX_POOL_2D\): builtin options are missing"),
])
def test_host_and_micro_refuse_with_the_same_message(model, edit, message):
    host, micro = _refusals(_edit(model, edit))
    assert host == micro
    assert host.startswith("<model_content>: ") and "\n" not in host
    assert re.search(message, host), host


def test_one_subgraph_for_codegen(model):
    data = _edit(model, _two_subgraphs)
    read_model(data)  # the host runs models with several subgraphs
    with pytest.raises(codegen.UnsupportedModelError, match="expected exactly one subgraph, found 2"):
        codegen.generate(data)


def test_non_utf8_names_are_refused_by_every_reader(model, tmp_path):
    def rename(m, sg):
        sg.tensors[3].name = b"\xff\xfe\x00"

    host, micro = _refusals(_edit(model, rename))
    assert host == micro and host.endswith("tensor 3 '\ufffd\ufffd?': name is not UTF-8")


@pytest.mark.parametrize("length", [0, 7, 100, 1000, 3000])
def test_truncated_files_name_the_problem(model, length):
    with pytest.raises(InvalidModelError, match=r"^m\.tflite: (malformed flatbuffer|not a TFLite)"):
        read_model(model[:length], "m.tflite")


def test_model_file_is_read_once_and_validated(model, tmp_path):
    path = tmp_path / "bad.tflite"
    path.write_bytes(_edit(model, _self_wired))
    with pytest.raises(ValueError, match=r"^.*bad\.tflite: operator 0 \(SBTF_CONV_2D\)"):
        sbtf.Interpreter(model_path=str(path))


def test_cli_errors_are_one_line_and_write_nothing(model, tmp_path, capsys):
    path = tmp_path / "bad.tflite"
    path.write_bytes(_edit(model, _quant("output", scale=0.0)))
    out = tmp_path / "gen"
    assert micro_cli.main(["codegen", str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "activation quantization scale is 0" in err
    assert not out.exists()


def test_unsupported_operators_are_all_named_at_once():
    layers = tf.keras.layers
    tf.keras.utils.set_random_seed(2)
    inp = tf.keras.Input((8,))
    x = layers.LeakyReLU(0.2)(layers.Dense(4)(inp))
    x = layers.LeakyReLU(0.2)(layers.Dense(4)(x))
    from sbtf.micro import hostref

    tflite = hostref.int8_tflite(tf.keras.Model(inp, x), np.random.default_rng(2).normal(size=(16, 8)))
    with pytest.raises(codegen.UnsupportedModelError,
                       match=r"m\.tflite: 2 operator\(s\) not supported by sbtf's runtime: "
                             r"operator 1 \(LEAKY_RELU\), 3 \(LEAKY_RELU\)"):
        codegen.generate(tflite, source="m.tflite")


# ---------------------------------------------------------------- fuzz


def _corpus(model: bytes, folder: Path) -> tuple[list[Path], dict[str, str]]:
    folder.mkdir(exist_ok=True)
    paths, what = [], {}
    for i, (kind, data) in enumerate(mutants(model, FUZZ_CASES, FUZZ_SEED)):
        path = folder / f"{i:03d}.tflite"
        path.write_bytes(data)
        paths.append(path)
        what[str(path)] = kind
    return paths, what


def _failures(results: dict[str, str], what: dict[str, str]) -> list[str]:
    bad = ("signal", "exit", "hang", "traceback")
    return [f"{what[p]} ({p}): {r[:500]}" for p, r in results.items() if r.startswith(bad)]


@pytest.fixture(scope="module")
def corpus(model, tmp_path_factory):
    return _corpus(model, tmp_path_factory.mktemp("hostile"))


def test_fuzz_every_reader_survives_hostile_models(corpus):
    """300 seeded mutants through sbtf.Interpreter (allocate + invoke) and sbtf-micro's codegen,
    one worker process for all, restarted after a crash: no signal, hang or traceback."""
    paths, what = corpus
    _, results = run_corpus(paths)
    assert len(results) == len(paths)
    assert _failures(results, what) == []
    outcomes = {r.split(" ")[0] for r in results.values()}
    assert any(o.startswith("ran,") for o in outcomes)  # the corpus also holds runnable models
    assert any("refused:InvalidModelError" in o for o in outcomes)


def test_fuzz_corpus_under_sanitizers(corpus, tmp_path):
    """The same corpus with the delegate built with ASan + UBSan (aborting on the first error),
    preloaded into the worker's Python."""
    from sbtf.micro import build

    sources = sorted([*(REPO / "micro" / "delegate").glob("*.c"), *build.kernel_sources()])
    lib = build.build_host(sources, include_dirs=[REPO / "micro" / "delegate"], opt="-O1",
                           sanitize=True, extra_cflags=["-shared", "-fPIC", "-fvisibility=hidden"],
                           out=tmp_path / "_delegate_sanitized.so")
    asan = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True,
                          check=True).stdout.strip()
    ubsan = subprocess.run(["gcc", "-print-file-name=libubsan.so"], capture_output=True,
                           text=True, check=True).stdout.strip()
    env = dict(os.environ, LD_PRELOAD=f"{asan} {ubsan}", SBTF_DELEGATE_LIBRARY=str(lib),
               ASAN_OPTIONS="detect_leaks=0:abort_on_error=1",
               UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
    paths, what = corpus
    ready, results = run_corpus(paths, env=env, timeout=60)
    assert ready == f"ready {lib}"
    assert _failures(results, what) == []
    assert any(r.startswith("ran,") for r in results.values())
