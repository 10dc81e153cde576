"""sbtf.Interpreter: the TFLite delegate plugin built from sbtf's C kernels (docs/host.md).

Every sbtf model here comes from sbtf's converter (TensorFlow's int8 conversion, then the
re-encoding pass). Each sbtf op's output must equal the NumPy reference (docs/op_spec.md) on the
op's actual input, and the whole model must equal its plain int8 twin run by TFLite's reference
builtin kernels: bit for bit, no tolerance.
Options the Keras converter cannot produce (dilation inside the op, RELU_N1_TO_1, per-channel
fully-connected scales) are set by editing the int8 flatbuffer before re-encoding, so the twin
and the sbtf model still describe the same computation.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from flatbuffers import flexbuffers

import sbtf
from sbtf import interpreter as host
from sbtf.bitmask import row_bytes
from sbtf.converters import convert_with_report
from sbtf.converters import tflite_model as tfm
from sbtf.converters.host import run_sbtf_op, sbtf_operators
from sbtf.converters.reencode import reencode

REPO = Path(__file__).resolve().parents[1]
# docs/op_spec.md defines the sbtf ops by TF 2.21's builtin kernels under BUILTIN_REF. The
# optimized builtins (BUILTIN_WITHOUT_DEFAULT_DELEGATES) round some ties differently.
REF = tf.lite.experimental.OpResolverType.BUILTIN_REF
OPTIMIZED = tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
SBTF_OPS = (tfm.SBTF_CONV_2D, tfm.SBTF_FULLY_CONNECTED)


@pytest.fixture(scope="module", autouse=True)
def fresh_plugin():
    """Never test stale kernels: rebuild when micro/ changed since the last install."""
    library = host.build_in_place()
    assert not host.stale_sources(library)


# ------------------------------------------------------------------ model construction


def _signed_binary(shape, out_axis, rng, shared_alpha=False):
    """Float weights whose filters along out_axis are 0 or sign*alpha (~60% zeros)."""
    c_out = shape[out_axis]
    sign = rng.choice([-1.0, 1.0], c_out)
    alpha = np.full(c_out, 0.08) if shared_alpha else rng.uniform(0.03, 0.3, c_out)
    b = [1] * len(shape)
    b[out_axis] = c_out
    w = (rng.random(shape) > 0.6) * (sign * alpha).reshape(b)
    return w.astype(np.float32)


def _keras(input_shape, layers, seed):
    """A Keras model with signed-binary conv / dense kernels and random biases."""
    rng = np.random.default_rng(seed)
    inp = tf.keras.Input(input_shape, batch_size=1)
    x = inp
    for layer in layers:
        x = layer(x)
    model = tf.keras.Model(inp, x)
    for layer in model.layers:
        weights = layer.get_weights()
        if isinstance(layer, tf.keras.layers.Conv2D):
            weights[0] = _signed_binary(weights[0].shape, 3, rng)
        elif isinstance(layer, tf.keras.layers.Dense):
            # Per-tensor int8 quantization: one alpha keeps every non-zero at +-127.
            weights[0] = _signed_binary(weights[0].shape, 1, rng, shared_alpha=True)
        else:
            continue
        if len(weights) > 1:
            weights[1] = rng.normal(0, 0.2, weights[1].shape).astype(np.float32)
        layer.set_weights(weights)
    return model


def _convert(model, seed) -> tuple[bytes, bytes]:
    """(int8 twin, sbtf model) from sbtf's converter; every conv / FC must become an sbtf op."""
    rng = np.random.default_rng(seed)
    data = rng.normal(0, 1, (32, *model.input_shape[1:])).astype(np.float32)
    result = convert_with_report(model, representative_data=data, detect="weights", strict=True)
    assert all(r.op in SBTF_OPS for r in result.report.layers), result.report.layers
    return result.int8_tflite, result.tflite


def _reencoded(int8: bytes) -> bytes:
    """An edited int8 twin re-encoded by the converter's pass (for options Keras cannot make)."""
    tflite, rows, problems = reencode(int8)
    assert not problems, problems
    assert rows and all(r.op in SBTF_OPS for r in rows), rows
    return tflite


def _op_names(tflite: bytes) -> list[str]:
    model = tfm.read(tflite)
    return [tfm.opcode_name(model, op.opcodeIndex) for op in model.subgraphs[0].operators]


def _edit(tflite: bytes, edit) -> bytes:
    """Apply edit(model, subgraph) to a parsed flatbuffer and serialize it again."""
    model = tfm.read(tflite)
    edit(model, model.subgraphs[0])
    return tfm.write(model)


def _first_op(model, sg, names):
    for op in sg.operators:
        if tfm.opcode_name(model, op.opcodeIndex) in names:
            return op
    raise AssertionError(f"no {names} op in the model")


# ------------------------------------------------------------------ running


def _plain(tflite: bytes, resolver=REF) -> tf.lite.Interpreter:
    return tf.lite.Interpreter(model_content=tflite, experimental_op_resolver_type=resolver)


def _run(interp, inputs, batch, after_invoke=None):
    detail = interp.get_input_details()[0]
    if batch != detail["shape"][0]:
        interp.resize_tensor_input(detail["index"], [batch, *detail["shape"][1:]])
    interp.allocate_tensors()
    outputs = []
    for x in inputs:
        interp.set_tensor(detail["index"], x)
        interp.invoke()
        if after_invoke is not None:
            after_invoke()
        outputs.append(interp.get_tensor(interp.get_output_details()[0]["index"]).copy())
    return np.stack(outputs)


def _assert_equal(got, expected, what):
    assert got.shape == expected.shape, (got.shape, expected.shape)
    mismatch = np.argwhere(got != expected)
    assert mismatch.size == 0, (
        f"{what}: {len(mismatch)} of {got.size} values differ, first at {mismatch[0].tolist()}: "
        f"sbtf {got[tuple(mismatch[0])]} vs {expected[tuple(mismatch[0])]}"
    )


def _assert_bit_exact(int8, tflite, *, samples=40, batch=1, seed=0):
    """sbtf.Interpreter on `tflite` equals (a) the NumPy reference for every sbtf op, on the
    op's actual input, and (b) the int8 twin run by TFLite's reference kernels."""
    ours = sbtf.Interpreter(model_content=tflite, experimental_preserve_all_tensors=True)
    # Each sbtf op became its own delegate kernel; nothing else was delegated.
    ops = sbtf_operators(tflite)
    assert ops
    kinds = [d["op_name"] for d in ours._get_ops_details()]
    assert kinds.count("DELEGATE") == len(ops), kinds
    model = tfm.read(tflite)
    sg = model.subgraphs[0]
    seen = {i: set() for _, i, _ in ops}

    def check_ops():
        for _, i, name in ops:
            y = ours.get_tensor(int(sg.operators[i].outputs[0]))
            x = ours.get_tensor(int(sg.operators[i].inputs[0]))
            _assert_equal(y, run_sbtf_op(model, i, x), f"{name} (operator {i}) vs NumPy reference")
            seen[i].update(np.unique(y).tolist())

    rng = np.random.default_rng(seed)
    shape = (batch, *_plain(int8).get_input_details()[0]["shape"][1:])
    inputs = [rng.integers(-128, 128, shape, dtype=np.int8) for _ in range(samples)]
    got = _run(ours, inputs, batch, after_invoke=check_ops)
    # A test that only sees saturated sbtf outputs would prove little.
    assert all(len(v) > 8 for v in seen.values()), {i: len(v) for i, v in seen.items()}
    _assert_equal(got, _run(_plain(int8), inputs, batch), "model vs its int8 twin (BUILTIN_REF)")


# ------------------------------------------------------------------ bit-exactness

Conv = tf.keras.layers.Conv2D
Dense = tf.keras.layers.Dense

CONV_CASES = {
    # name: (input HWC, layers)
    "3x3_s1_same_relu_bias": ((8, 8, 3), [Conv(8, 3, padding="same", activation="relu")]),
    "3x3_s2_valid_nobias": ((9, 9, 7), [Conv(5, 3, strides=2, use_bias=False)]),
    "1x1_relu6_cin33": ((5, 6, 33), [Conv(4, 1, activation="relu6")]),
    "5x3_s2x1_same_cin1": ((11, 7, 1), [Conv(16, (5, 3), strides=(2, 1), padding="same")]),
    "2x2_s3_same_k128": ((10, 10, 32), [Conv(3, 2, strides=3, padding="same")]),
    "7x7_same_cin9_k441": ((7, 9, 9), [Conv(6, 7, padding="same", activation="relu")]),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CONV_CASES))
def test_conv_configurations_match_tflite(name):
    shape, layers = CONV_CASES[name]
    int8, tflite = _convert(_keras(shape, layers, seed=len(name)), seed=1)
    _assert_bit_exact(int8, tflite, samples=30)


@pytest.fixture(scope="module")
def single_conv() -> bytes:
    """int8 model of one 3x3 conv (C_in 4 -> C_out 6) on 12x12 inputs."""
    return _convert(_keras((12, 12, 4), [Conv(6, 3, padding="same")], seed=7), seed=2)[0]


def _set_conv(tflite, *, dilation=(1, 1), stride=None, padding=None, activation=None):
    """Change the conv's builtin options (and its output shape) in an int8 model."""

    def edit(model, sg):
        op = _first_op(model, sg, ("CONV_2D",))
        o = op.builtinOptions
        o.dilationHFactor, o.dilationWFactor = dilation
        if stride is not None:
            o.strideH, o.strideW = stride
        if padding is not None:
            o.padding = padding
        if activation is not None:
            o.fusedActivationFunction = activation
        n, h, w, _ = sg.tensors[op.inputs[0]].shape
        c_out, kh, kw, _ = sg.tensors[op.inputs[1]].shape
        out = []
        for size, k, s, d in ((h, kh, o.strideH, dilation[0]), (w, kw, o.strideW, dilation[1])):
            eff = (k - 1) * d + 1
            out.append((size + s - 1) // s if o.padding == 0 else (size - eff + s) // s)
        t = sg.tensors[op.outputs[0]]
        t.shape = np.array([n, out[0], out[1], c_out], np.int32)
        t.shapeSignature = None

    return _edit(tflite, edit)


@pytest.mark.parametrize(
    "options",
    [
        {"dilation": (2, 2)},
        {"dilation": (2, 3), "padding": 1},
        {"dilation": (3, 1), "stride": (2, 2)},
        {"activation": 2},  # RELU_N1_TO_1: Keras has no layer for it
        {"activation": 3, "stride": (1, 2), "padding": 1},
    ],
    ids=lambda o: "-".join(f"{k}{v}" for k, v in o.items()),
)
def test_conv_options_keras_cannot_produce(single_conv, options):
    int8 = _set_conv(single_conv, **options)
    _assert_bit_exact(int8, _reencoded(int8), samples=20)


FC_CASES = {
    # name: (input shape without batch, layers, batch to run with)
    "relu_bias_batch1": ((20,), [Dense(10, activation="relu")], 1),
    "nobias_cin33_batch4": ((33,), [Dense(7, use_bias=False)], 4),
    "cin64_relu6_batch3": ((64,), [Dense(12, activation="relu6")], 3),
    "rank3_keep_num_dims": ((5, 12), [Dense(6)], 1),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FC_CASES))
def test_fully_connected_configurations_match_tflite(name):
    shape, layers, batch = FC_CASES[name]
    int8, tflite = _convert(_keras(shape, layers, seed=len(name)), seed=3)
    _assert_bit_exact(int8, tflite, samples=30, batch=batch)


def test_keep_num_dims_is_exercised():
    """The rank-3 case above really is one FULLY_CONNECTED with keep_num_dims."""
    shape, layers, _ = FC_CASES["rank3_keep_num_dims"]
    tflite = _convert(_keras(shape, layers, seed=1), seed=3)[1]
    model = tfm.read(tflite)
    sg = model.subgraphs[0]
    op = _first_op(model, sg, (tfm.SBTF_FULLY_CONNECTED,))
    assert tfm.flexbuffer_options(op)["keep_num_dims"] is True
    out = sbtf.Interpreter(model_content=tflite)
    out.allocate_tensors()
    assert list(out.get_output_details()[0]["shape"]) == [1, 5, 6]


def test_fully_connected_per_channel_scales():
    """Per-channel weight scales on FC (TFLite then computes multipliers like conv)."""
    int8 = _convert(_keras((24,), [Dense(9, activation="relu")], seed=5), seed=4)[0]

    def per_channel(model, sg):
        op = _first_op(model, sg, ("FULLY_CONNECTED",))
        w = sg.tensors[op.inputs[1]]
        base = float(tfm.scales(w)[0])
        c_out = int(w.shape[0])
        w.quantization.scale = (base * np.linspace(0.5, 2.0, c_out)).astype(np.float32)
        w.quantization.zeroPoint = np.zeros(c_out, np.int64)
        w.quantization.quantizedDimension = 0
        if op.inputs[2] >= 0:  # bias scale = s_in * s_w[c]
            b = sg.tensors[op.inputs[2]]
            s_in = float(tfm.scales(sg.tensors[op.inputs[0]])[0])
            b.quantization.scale = (s_in * w.quantization.scale).astype(np.float32)
            b.quantization.zeroPoint = np.zeros(c_out, np.int64)

    int8 = _edit(int8, per_channel)
    _assert_bit_exact(int8, _reencoded(int8), samples=30, batch=2)


@pytest.fixture(scope="module")
def network():
    """A small CNN: conv, strided conv, dilated conv (space-to-batch), pooling, 1x1 conv."""
    layers = [
        Conv(8, 3, padding="same", activation="relu"),
        Conv(12, 3, strides=2, padding="same", activation="relu"),
        Conv(6, 3, dilation_rate=2, padding="valid", activation="relu6"),
        tf.keras.layers.MaxPooling2D(2),
        Conv(10, 1),
    ]
    return _convert(_keras((17, 17, 3), layers, seed=11), seed=5)


def test_network_matches_tflite_over_many_inputs(network):
    int8, tflite = network
    assert _op_names(tflite).count(tfm.SBTF_CONV_2D) == 4
    _assert_bit_exact(int8, tflite, samples=120, seed=9)


@pytest.fixture(scope="module")
def mixed_network():
    """Convs then fully connected layers (the two ops round differently, docs/op_spec.md)."""
    layers = [
        Conv(8, 3, strides=2, padding="same", activation="relu"),
        Conv(6, 3, padding="valid", activation="relu"),
        tf.keras.layers.Flatten(),
        Dense(16, activation="relu"),
        Dense(5),
    ]
    return _convert(_keras((11, 11, 2), layers, seed=12), seed=6)


def test_mixed_network_matches_tflite(mixed_network):
    int8, tflite = mixed_network
    assert _op_names(tflite).count(tfm.SBTF_FULLY_CONNECTED) == 2
    _assert_bit_exact(int8, tflite, samples=60, seed=11)


def test_sbtf_layers_end_to_end():
    """sbtf's own signed-binary layers (digits CNN, BatchNorm folded) through sbtf.converters.convert:
    three sbtf convs, the float Dense stays a builtin FC, in both models the same kernel."""
    model = sbtf.models.digits_cnn(filters=(8, 8, 16))
    data = np.random.default_rng(1).normal(0, 1, (32, 8, 8, 1)).astype(np.float32)
    result = convert_with_report(model, representative_data=data, strict=True)
    assert _op_names(result.tflite).count(tfm.SBTF_CONV_2D) == 3
    assert "FULLY_CONNECTED" in _op_names(result.tflite)
    _assert_bit_exact(result.int8_tflite, result.tflite, samples=40, seed=4)


def test_network_after_batch_resize(network, mixed_network):
    """Prepare re-runs after resize_tensor_input: sbtf kernels resize their outputs."""
    _assert_bit_exact(*network, samples=8, batch=3, seed=10)
    _assert_bit_exact(*mixed_network, samples=8, batch=4, seed=10)


def test_model_file_and_plain_model(network, tmp_path):
    """From a file; a model without sbtf ops runs unchanged (nothing delegated)."""
    int8, tflite = network
    path = tmp_path / "net.tflite"
    path.write_bytes(tflite)
    x = np.random.default_rng(3).integers(-128, 128, (1, 17, 17, 3), dtype=np.int8)
    a = _run(sbtf.Interpreter(model_path=str(path)), [x], 1)
    plain = sbtf.Interpreter(model_content=int8)
    assert "DELEGATE" not in [d["op_name"] for d in plain._get_ops_details()]
    b = _run(plain, [x], 1)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(b, _run(_plain(int8), [x], 1))


def test_optimized_builtins_leave_sbtf_ops_unchanged(conv_model):
    """Faster builtin kernels on request; a model of one sbtf op gives identical outputs."""
    xs = list(np.random.default_rng(4).integers(-128, 128, (10, 1, 12, 12, 4), dtype=np.int8))
    fast = sbtf.Interpreter(model_content=conv_model, experimental_op_resolver_type=OPTIMIZED)
    np.testing.assert_array_equal(_run(fast, xs, 1), _run(sbtf.Interpreter(model_content=conv_model), xs, 1))


def test_plain_tflite_refuses_sbtf_ops(network):
    """Without the delegate the custom ops are unresolved: why sbtf.Interpreter exists."""
    _, tflite = network
    with pytest.raises(RuntimeError, match="SBTF_CONV_2D"):
        _plain(tflite).allocate_tensors()


def test_xnnpack_resolver_is_refused(network):
    with pytest.raises(ValueError, match="XNNPACK"):
        sbtf.Interpreter(
            model_content=network[1],
            experimental_op_resolver_type=tf.lite.experimental.OpResolverType.AUTO,
        )


# ------------------------------------------------------------------ malformed models


def _flex(entries) -> bytes:
    """FlexBuffer map from [(key, kind, value)], kind in int/uint/bool/float/str."""
    fbb = flexbuffers.Builder()
    with fbb.Map():
        for key, kind, value in sorted(entries):
            fbb.Key(key)
            {"int": fbb.Int, "uint": fbb.UInt, "bool": fbb.Bool, "float": fbb.Float,
             "str": fbb.String, "iint": fbb.IndirectInt}[kind](value)
    return bytes(fbb.Finish())


CONV_OPTIONS = [
    ("version", "int", 1),
    ("input_channels", "int", 4),
    ("filter_height", "int", 3),
    ("filter_width", "int", 3),
    ("padding", "int", 0),
    ("stride_h", "int", 1),
    ("stride_w", "int", 1),
    ("dilation_h_factor", "int", 1),
    ("dilation_w_factor", "int", 1),
    ("fused_activation_function", "int", 0),
]


def _replace(entries, key, kind=None, value=None):
    kept = [e for e in entries if e[0] != key]
    return kept if kind is None else kept + [(key, kind, value)]


@pytest.fixture(scope="module")
def conv_model(single_conv) -> bytes:
    return _reencoded(single_conv)


def _with_options(tflite: bytes, raw: bytes) -> bytes:
    def edit(model, sg):
        _first_op(model, sg, SBTF_OPS).customOptions = np.frombuffer(raw, np.uint8)

    return _edit(tflite, edit)


def test_own_flexbuffer_helper_matches_converter(conv_model):
    """_flex(CONV_OPTIONS) is a valid option set: the malformed cases below differ only there."""
    model = tfm.read(conv_model)
    op = _first_op(model, model.subgraphs[0], SBTF_OPS)
    assert tfm.flexbuffer_options(op) == {k: v for k, _, v in CONV_OPTIONS}
    ok = sbtf.Interpreter(model_content=_with_options(conv_model, _flex(CONV_OPTIONS)))
    ok.allocate_tensors()
    # Integers may also be stored unsigned or indirectly.
    alt = _replace(_replace(CONV_OPTIONS, "stride_h", "uint", 1), "padding", "iint", 0)
    sbtf.Interpreter(model_content=_with_options(conv_model, _flex(alt))).allocate_tensors()


MALFORMED_OPTIONS = {
    "empty map": (_flex([]), "'version' is missing"),
    "version 2": (_flex(_replace(CONV_OPTIONS, "version", "int", 2)), "version 2 is not supported"),
    "missing stride_w": (_flex(_replace(CONV_OPTIONS, "stride_w")), "'stride_w' is missing"),
    "stride 0": (_flex(_replace(CONV_OPTIONS, "stride_h", "int", 0)), "'stride_h' = 0 is out of range"),
    "dilation -1": (
        _flex(_replace(CONV_OPTIONS, "dilation_w_factor", "int", -1)),
        "'dilation_w_factor' = -1 is out of range",
    ),
    "padding 7": (_flex(_replace(CONV_OPTIONS, "padding", "int", 7)), "'padding' = 7 is out of range"),
    "activation 4": (
        _flex(_replace(CONV_OPTIONS, "fused_activation_function", "int", 4)),
        "'fused_activation_function' = 4",
    ),
    "float padding": (
        _flex(_replace(CONV_OPTIONS, "padding", "float", 1.0)),
        "'padding' has the wrong type",
    ),
    "bool stride": (_flex(_replace(CONV_OPTIONS, "stride_w", "bool", True)), "'stride_w' has the wrong type"),
    "string version": (_flex(_replace(CONV_OPTIONS, "version", "str", "1")), "'version' has the wrong type"),
    "huge uint": (
        _flex(_replace(CONV_OPTIONS, "filter_width", "uint", 2**63 + 5)),
        "'filter_width' is out of range",
    ),
    "wrong input_channels": (
        _flex(_replace(CONV_OPTIONS, "input_channels", "int", 5)),
        "does not match|input has 4 channels",
    ),
    "wrong filter size": (
        _flex(_replace(CONV_OPTIONS, "filter_height", "int", 9)),
        (rf"bitmask shape \[6, {row_bytes(36)}\] does not match \[C_out, row_bytes\] = "
         rf"\[6, {row_bytes(108)}\] for K = 108"),
    ),
    "huge dilation": (
        _flex(_replace(CONV_OPTIONS, "dilation_h_factor", "int", 2**31 - 1)),
        "too small for a 3x3 filter with dilation 2147483647x1",
    ),
    "huge input_channels": (
        _flex(_replace(CONV_OPTIONS, "input_channels", "int", 2**40)),
        r"'input_channels' = 1099511627776 is out of range \(expected 1\.\.65536\)",
    ),
    "not flexbuffers": (b"\x01\x02\x03\x04\x05", "not a FlexBuffer map"),
    "no options": (b"", "not a FlexBuffer map"),
    "vector root": (bytes(flexbuffers.Dumps([1, 2, 3])), "not a FlexBuffer map"),
    "int root": (bytes(flexbuffers.Dumps(7)), "not a FlexBuffer map"),
}


def _delegate_only(**model):
    """tf.lite.Interpreter with sbtf's delegate, without sbtf.Interpreter's validator: the
    delegate's own checks, for callers that bypass sbtf.Interpreter (docs/host.md)."""
    return tf.lite.Interpreter(**model, experimental_delegates=[sbtf.load_delegate()],
                               experimental_op_resolver_type=REF)


@pytest.mark.parametrize("case", sorted(MALFORMED_OPTIONS))
def test_malformed_options_fail_cleanly_at_allocate(conv_model, tmp_path, case):
    raw, message = MALFORMED_OPTIONS[case]
    path = tmp_path / "bad.tflite"
    path.write_bytes(_with_options(conv_model, raw))
    with pytest.raises(ValueError) as err:  # sbtf's validator, before TFLite
        sbtf.Interpreter(model_path=str(path))
    text = str(err.value)
    assert text.startswith(f"{path}: operator 0 (SBTF_CONV_2D): "), text
    interp = _delegate_only(model_path=str(path))  # construction succeeds
    with pytest.raises(RuntimeError, match=message) as err:
        interp.allocate_tensors()
    assert "SBTF_CONV_2D (node 0" in str(err.value)


def test_fully_connected_options_are_checked():
    tflite = _convert(_keras((16,), [Dense(4)], seed=2), seed=2)[1]
    good = [("version", "int", 1), ("input_channels", "int", 16),
            ("fused_activation_function", "int", 0), ("keep_num_dims", "bool", False)]
    sbtf.Interpreter(model_content=_with_options(tflite, _flex(good))).allocate_tensors()
    for entries, message in [
        (_replace(good, "keep_num_dims", "int", 0), "'keep_num_dims' has the wrong type"),
        (_replace(good, "keep_num_dims"), "'keep_num_dims' is missing"),
        (_replace(good, "input_channels", "int", 40),
         rf"bitmask shape \[4, {row_bytes(16)}\] does not match"),
    ]:
        interp = _delegate_only(model_content=_with_options(tflite, _flex(entries)))
        with pytest.raises(RuntimeError, match=message):
            interp.allocate_tensors()
    # An input that is not whole rows of input_channels.
    interp = sbtf.Interpreter(model_content=tflite)
    interp.resize_tensor_input(interp.get_input_details()[0]["index"], [1, 10])
    with pytest.raises(RuntimeError, match="input of 10 elements is not a whole number of rows"):
        interp.allocate_tensors()


def test_truncated_and_corrupted_options_never_crash(conv_model):
    """Every prefix and many byte corruptions of a valid blob: an error or a valid parse."""
    raw = _flex(CONV_OPTIONS)
    rng = np.random.default_rng(0)
    blobs = [raw[:n] for n in range(len(raw))]
    for _ in range(120):
        b = bytearray(raw)
        for i in rng.integers(0, len(b), rng.integers(1, 4)):
            b[i] = int(rng.integers(0, 256))
        blobs.append(bytes(b))
    rejected = []
    for blob in blobs:
        interp = _delegate_only(model_content=_with_options(conv_model, blob))
        try:
            interp.allocate_tensors()
            rejected.append(False)
        except RuntimeError as exc:
            assert "SBTF_CONV_2D" in str(exc)
            rejected.append(True)
    assert all(rejected[: len(raw)]), "a truncated options blob was accepted"


def _edit_sbtf_tensor(tflite, input_position, change):
    def edit(model, sg):
        op = _first_op(model, sg, SBTF_OPS)
        t = sg.tensors[op.inputs[input_position]]
        data = tfm.constant_data(model, t).copy()
        data = change(t, data)
        model.buffers[t.buffer].data = np.frombuffer(data.tobytes(), np.uint8)

    return _edit(tflite, edit)


def test_bad_sign_and_mask_tensors_fail_cleanly(conv_model):
    def bad_sign(t, data):
        data[2] = 3
        return data

    last_bit = row_bytes(36) * 8 - 1  # K = 36 bits; the row is padded with zeros beyond

    def padding_bit(t, data):
        data[1, -1] |= 0x80
        return data

    def wrong_mask_shape(t, data):
        t.shape = np.array([data.shape[0] * 2, data.shape[1] // 2], np.int32)
        return data

    cases = [
        (2, bad_sign, r"sign\[2\] = 3, expected -1 or \+1"),
        (1, padding_bit, f"bitmask row 1 has padding bit {last_bit} set"),
        (1, wrong_mask_shape, "bitmask shape|sign must be"),
    ]
    for position, change, message in cases:
        bad = _edit_sbtf_tensor(conv_model, position, change)
        with pytest.raises(ValueError, match=r"operator 0 \(SBTF_CONV_2D\)"):
            sbtf.Interpreter(model_content=bad)
        interp = _delegate_only(model_content=bad)
        with pytest.raises(RuntimeError, match=message):
            interp.allocate_tensors()


# ------------------------------------------------------------------ build and packaging


def test_missing_build_gives_clear_error(monkeypatch):
    monkeypatch.setattr(host.importlib.machinery, "EXTENSION_SUFFIXES", [".not-built.so"])
    with pytest.raises(FileNotFoundError, match=r"not built.*pip install -e"):
        sbtf.load_delegate()


def test_plugin_exports_only_the_entry_points():
    out = subprocess.run(
        ["nm", "-D", "--defined-only", str(host.library_path())],
        capture_output=True, text=True, check=True,
    ).stdout
    names = {line.split()[-1] for line in out.splitlines() if line.strip()}
    names = {n for n in names if not n.startswith("_")}
    assert names == {"tflite_plugin_create_delegate", "tflite_plugin_destroy_delegate"}


def test_delegate_rejects_options():
    with pytest.raises(ValueError, match="takes no options"):
        tf.lite.experimental.load_delegate(str(host.library_path()), {"threads": 2})


def test_delegate_sources_are_warning_clean_c99():
    sources = sorted(str(p) for p in (REPO / "micro" / "delegate").glob("*.c"))
    subprocess.run(
        ["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only",
         f"-I{REPO / 'micro' / 'include'}", *sources],
        check=True,
    )


def test_flexbuffer_reader_under_sanitizers(tmp_path):
    """The C reader on a valid blob, every truncation and 20,000 corruptions, with ASan and
    UBSan aborting on any out-of-bounds read; the intact blob reads back what Python wrote."""
    entries = _replace(CONV_OPTIONS, "stride_w", "uint", 300) + [("keep_num_dims", "bool", True)]
    blob = tmp_path / "options.bin"
    blob.write_bytes(_flex(entries))
    delegate = REPO / "micro" / "delegate"
    exe = tmp_path / "fuzz_flexbuffers"
    subprocess.run(
        ["gcc", "-std=c99", "-g", "-O1", "-fsanitize=address,undefined",
         "-fno-sanitize-recover=all", f"-I{delegate}", str(delegate / "tests" / "fuzz_flexbuffers.c"),
         str(delegate / "sbtf_flexbuffers.c"), "-o", str(exe)],
        check=True,
    )
    out = subprocess.run([str(exe), str(blob), "20000", "7"], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    expected = {f"{k}={str(v).lower() if kind == 'bool' else v}" for k, kind, v in entries}
    assert set(out[:-1]) == expected
    assert out[-1].startswith("ok ")


# ------------------------------------------------------------------ the op table


def test_op_table_claims_exactly_the_specs_ops(tmp_path):
    """micro/delegate/tests/test_op_table.c: every op of sbtf.op_format is in
    the delegate's table with the spec's version; near-miss names are not."""
    from sbtf import op_format
    from sbtf.micro import build

    delegate = REPO / "micro" / "delegate"
    exe = build.build_host([delegate / "tests" / "test_op_table.c", *delegate.glob("*.c"),
                            *build.kernel_sources()], include_dirs=[delegate], opt="-O0",
                           out=tmp_path / "test_op_table")
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.split("\n")[:-1] == [f"claims {name}" for name in op_format.OPS]


@pytest.mark.parametrize("name", ["SBTF_CONV_2D_V2", "sbtf_conv_2d", "SBTF_CONV"])
def test_unknown_custom_op_is_not_claimed(conv_model, name):
    """A custom op whose name is not in the table stays TFLite's (unresolved), even with the
    tensors and options of an sbtf conv: the delegate never runs it as one."""
    def rename(model, sg):
        for oc in model.operatorCodes:
            if oc.customCode in (tfm.SBTF_CONV_2D, tfm.SBTF_CONV_2D.encode()):
                oc.customCode = name.encode()

    interp = _delegate_only(model_content=_edit(conv_model, rename))
    with pytest.raises(RuntimeError, match=f"unresolved custom op: {name}") as err:
        interp.allocate_tensors()
    assert "(node" not in str(err.value)
