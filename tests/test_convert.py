"""sbtf-convert on random signed-binary layer configurations: bit-exact ops, sizes, the report.

Every configuration is one sbtf signed-binary layer (conv: kernel 1/3/5, stride 1/2, same/valid,
dilation 1/2; dense), C_in and C_out over awkward sizes, optional bias, fused ReLU/ReLU6 and
BatchNorm with gammas of both signs folded in. The layers sit side by side in a few models so a
handful of TFLite conversions cover ~36 configurations.

Bit-exactness: each sbtf op, executed by the NumPy reference on the tensors and options of the
re-encoded file, equals the plain int8 model's builtin op (same TFLite conversion, same
calibration, run by TFLite's reference kernels) on the same op input, for many random inputs.
"""

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.lite.python import schema_py_generated as schema

import sbtf
from sbtf import bitmask
from sbtf.converters import (
    ConversionError,
    ConversionWarning,
    convert,
    convert_with_report,
)
from sbtf.converters import tflite_model as tfm
from sbtf.converters.host import parse_options, run_sbtf_op, sbtf_operators
from sbtf.converters.testing import operator_io

SIZES = (1, 3, 8, 31, 32, 33, 64)
H, W = 11, 10
SAMPLES = 8
N_CONV, N_DENSE = 28, 8


def _configs():
    rng = np.random.default_rng(20240611)
    configs = {}
    for i in range(N_CONV):
        dilation = int(rng.choice([1, 2]))
        configs[f"conv{i}"] = {
            "kind": "conv",
            "kernel": int(rng.choice([1, 3, 5])),
            "stride": 1 if dilation > 1 else int(rng.choice([1, 2])),  # Keras: not both > 1
            "dilation": dilation,
            "padding": str(rng.choice(["same", "valid"])),
            "c_in": int(rng.choice(SIZES)),
            "c_out": int(rng.choice(SIZES)),
            "activation": [None, "relu", "relu6"][int(rng.integers(3))],
            "use_bias": bool(rng.integers(2)),
            "batch_norm": bool(rng.integers(2)),
            "alpha": str(rng.choice(["none", "mean"])),
            "threshold": float(rng.choice([0.05, 0.3, 0.6])),
        }
    for i in range(N_DENSE):
        configs[f"dense{i}"] = {
            "kind": "dense",
            "c_in": int(rng.choice(SIZES + (300,))),
            "c_out": int(rng.choice(SIZES)),
            "activation": [None, "relu", "relu6"][int(rng.integers(3))],
            "use_bias": bool(rng.integers(2)),
            "batch_norm": bool(rng.integers(2)),
            "alpha": str(rng.choice(["none", "mean"])),
            "threshold": float(rng.choice([0.05, 0.3, 0.6])),
        }
    return configs


CONFIGS = _configs()


def _activation(name):
    return {"relu": tf.keras.layers.ReLU(), "relu6": tf.keras.layers.ReLU(max_value=6.0)}[name]


def _branch(x, name, cfg, rng):
    common = {
        "use_bias": cfg["use_bias"],
        "alpha": cfg["alpha"],
        "threshold": cfg["threshold"],
        "signs": float(rng.uniform(0.2, 0.8)),
        "name": name,
        "kernel_initializer": tf.keras.initializers.RandomNormal(seed=int(rng.integers(1 << 30))),
    }
    act_in_layer = None if cfg["batch_norm"] else cfg["activation"]
    if cfg["kind"] == "conv":
        layer = sbtf.layers.SignedBinaryConv2D(
            cfg["c_out"],
            cfg["kernel"],
            strides=cfg["stride"],
            padding=cfg["padding"],
            dilation_rate=cfg["dilation"],
            activation=act_in_layer,
            **common,
        )
    else:
        layer = sbtf.layers.SignedBinaryDense(cfg["c_out"], activation=act_in_layer, **common)
    y = layer(x)
    if cfg["batch_norm"]:
        bn = tf.keras.layers.BatchNormalization(name=f"{name}_bn")
        y = bn(y)
        c = cfg["c_out"]
        gamma = rng.uniform(0.5, 2.0, c) * np.where(rng.random(c) < 0.5, -1.0, 1.0)
        bn.set_weights(
            [gamma, rng.normal(0, 0.5, c), rng.normal(0, 0.1, c), rng.uniform(0.5, 2.0, c)]
        )
        if cfg["activation"]:
            y = _activation(cfg["activation"])(y)
    return y


def _build(names, rng):
    """One model: an input per (kind, C_in), every configuration a branch on it."""
    inputs, outputs, calib = {}, [], {}
    for name in names:
        cfg = CONFIGS[name]
        shape = (H, W, cfg["c_in"]) if cfg["kind"] == "conv" else (cfg["c_in"],)
        key = f"{cfg['kind']}_in{cfg['c_in']}"
        if key not in inputs:
            inputs[key] = tf.keras.Input(shape=shape, name=key)
            calib[key] = rng.standard_normal((16, *shape)).astype(np.float32)
        outputs.append(_branch(inputs[key], name, cfg, rng))
    model = tf.keras.Model(list(inputs.values()), outputs)
    return model, [calib[k] for k in inputs]


@pytest.fixture(scope="module")
def converted():
    """{config name: (result, op index, int8 op input/output samples)} over a few models."""
    rng = np.random.default_rng(7)
    names = list(CONFIGS)
    groups = [names[i : i + 12] for i in range(0, len(names), 12)]
    found = {}
    for group in groups:
        model, calib = _build(group, rng)
        result = convert_with_report(model, representative_data=calib, strict=True)
        details = tf.lite.Interpreter(model_content=result.int8_tflite).get_input_details()
        samples = [
            rng.integers(-128, 128, (SAMPLES, *d["shape"][1:]), dtype=np.int8) for d in details
        ]
        io = operator_io(result.int8_tflite, samples)
        for row in result.report.layers:
            found[row.layer] = (result, row, io[row.operator])
    return found


@pytest.mark.parametrize("name", list(CONFIGS))
def test_sbtf_op_equals_int8_tflite(converted, name):
    assert name in converted, f"layer {name} has no operator in the report"
    result, row, samples = converted[name]
    assert row.signed_binary and row.op.startswith("SBTF_"), row
    ops = {i: op_name for _, i, op_name in sbtf_operators(result.tflite)}
    assert ops[row.operator] == row.op
    for x, y in samples:
        out = run_sbtf_op(result.tflite, row.operator, x)
        np.testing.assert_array_equal(out.reshape(y.shape), y)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_layer_bytes_follow_the_formula(converted, name):
    """Report bytes = C_out*row_bytes + C_out (+ bias), as sbtf.signed_binary_bytes says, and
    the file's bitmask/sign tensors have exactly those shapes."""
    result, row, _ = converted[name]
    cfg = CONFIGS[name]
    k = cfg["c_in"] * (cfg["kernel"] ** 2 if cfg["kind"] == "conv" else 1)
    assert (row.c_out, row.k) == (cfg["c_out"], k)
    assert row.bytes_after == sbtf.signed_binary_bytes(row.c_out, row.k, bias=row.bias)
    assert row.bytes_before == sbtf.int8_bytes(row.c_out, row.k, bias=row.bias)
    assert (
        row.bytes_after == row.c_out * bitmask.row_bytes(k) + row.c_out + 4 * row.c_out * row.bias
    )
    model = tfm.read(result.tflite)
    sg = model.subgraphs[0]
    op = sg.operators[row.operator]
    mask_t, sign_t = sg.tensors[int(op.inputs[1])], sg.tensors[int(op.inputs[2])]
    assert list(mask_t.shape) == [row.c_out, bitmask.row_bytes(k)] and mask_t.type == tfm.TYPE_UINT8
    assert list(sign_t.shape) == [row.c_out] and sign_t.type == tfm.TYPE_INT8
    assert tfm.scales(sign_t).size in (1, row.c_out) and not tfm.zero_points(sign_t).any()
    assert (int(op.inputs[3]) >= 0) == row.bias
    assert 0.0 <= row.sparsity <= 1.0


def test_options_are_the_spec_keys(converted):
    for result, row, _ in converted.values():
        model = tfm.read(result.tflite)
        op = model.subgraphs[0].operators[row.operator]
        assert op.customOptionsFormat == tfm.FLEXBUFFERS
        assert op.builtinOptions is None
        options = parse_options(row.op, bytes(np.asarray(op.customOptions, np.uint8)))
        assert options["version"] == 1
        oc = model.operatorCodes[op.opcodeIndex]
        assert oc.builtinCode == tfm.OP_CUSTOM and oc.deprecatedBuiltinCode == tfm.OP_CUSTOM
        assert tfm.opcode_name(model, op.opcodeIndex) == row.op


def test_file_shrinks_by_the_predicted_amount(converted):
    """The int8 weight tensors and their buffers are gone: the constant data in the file shrinks
    by exactly the weight bytes saved; the file by that minus bookkeeping per re-encoded op
    (its FlexBuffer options, two tensor names and tables, 16-byte alignment padding)."""
    results = {id(r): r for r, _, _ in converted.values()}.values()
    for result in results:
        old, new = tfm.read(result.int8_tflite), tfm.read(result.tflite)

        def data_bytes(model):
            return sum(len(b.data) for b in model.buffers if b.data is not None)

        saved = result.report.bytes_before - result.report.bytes_after
        assert data_bytes(old) - data_bytes(new) == saved
        sg = new.subgraphs[0]
        ops = [sg.operators[r.operator] for r in result.report.reencoded]
        bookkeeping = sum(
            len(op.customOptions) + sum(len(sg.tensors[int(i)].name) for i in op.inputs[1:3]) + 160
            for op in ops
        )
        shrink = len(result.int8_tflite) - len(result.tflite)
        assert saved - bookkeeping <= shrink <= saved + 64, (shrink, saved, bookkeeping)
        n = len(ops)
        assert len(sg.tensors) == len(old.subgraphs[0].tensors) + n
        assert len(new.buffers) == len(old.buffers) + n
        assert new.buffers[0].data is None or len(new.buffers[0].data) == 0
        # No builtin CONV_2D / FULLY_CONNECTED opcodes left unused.
        used = {op.opcodeIndex for op in sg.operators}
        assert used == set(range(len(new.operatorCodes)))


def test_renumbered_model_is_consistent(converted):
    """Every tensor index, buffer index and signature entry points at the right thing: the
    re-encoded model runs the same non-sbtf ops on the same tensors as the int8 model."""
    result = next(iter(converted.values()))[0]
    old, new = tfm.read(result.int8_tflite), tfm.read(result.tflite)
    sg_old, sg_new = old.subgraphs[0], new.subgraphs[0]
    assert len(sg_old.operators) == len(sg_new.operators)
    name = tfm.tensor_name
    for a, b in zip(sg_old.operators, sg_new.operators):
        assert [name(sg_old.tensors[i]) for i in a.outputs] == [
            name(sg_new.tensors[i]) for i in b.outputs
        ]
        assert name(sg_old.tensors[a.inputs[0]]) == name(sg_new.tensors[b.inputs[0]])
    for t_old_i, t_new_i in zip(sg_old.inputs, sg_new.inputs):
        assert name(sg_old.tensors[t_old_i]) == name(sg_new.tensors[t_new_i])
    for sd_old, sd_new in zip(old.signatureDefs, new.signatureDefs):
        for a, b in zip(sd_old.outputs, sd_new.outputs):
            assert name(sg_old.tensors[a.tensorIndex]) == name(sg_new.tensors[b.tensorIndex])
    for t in sg_new.tensors:
        assert 0 <= t.buffer < len(new.buffers)
    for m in new.metadata:
        old_buffer = next(x.buffer for x in old.metadata if x.name == m.name)
        assert bytes(np.asarray(new.buffers[m.buffer].data, np.uint8)) == bytes(
            np.asarray(old.buffers[old_buffer].data, np.uint8)
        )
    # Constant data (masks, signs, biases) starts 16-byte aligned in the file, so kernels can
    # read words straight from flash.
    raw = schema.Model.GetRootAs(bytearray(result.tflite), 0)
    for i in range(raw.BuffersLength()):
        buf = raw.Buffers(i)
        if buf.DataLength():
            assert buf._tab.Vector(buf._tab.Offset(4)) % 16 == 0


def _small_model(seed=0, **conv_options):
    rng = np.random.default_rng(seed)
    inputs = tf.keras.Input((6, 6, 4))
    x = sbtf.layers.SignedBinaryConv2D(
        8, 3, padding="same", use_bias=False, name="sb", **conv_options
    )(inputs)
    x = tf.keras.layers.BatchNormalization(name="bn")(x)
    x = tf.keras.layers.ReLU()(x)
    x = tf.keras.layers.Conv2D(5, 3, name="plain")(x)
    model = tf.keras.Model(inputs, x)
    return model, rng.standard_normal((8, 6, 6, 4)).astype(np.float32)


def test_grouped_signed_binary_conv_stays_int8_with_a_warning():
    inputs = tf.keras.Input((6, 6, 4))
    x = sbtf.layers.SignedBinaryConv2D(8, 3, padding="same", groups=2, name="grp")(inputs)
    model = tf.keras.Model(inputs, x)
    calib = np.random.default_rng(0).standard_normal((8, 6, 6, 4)).astype(np.float32)
    with pytest.warns(ConversionWarning, match=r"grp .*grouped convolution"):
        result = convert_with_report(model, representative_data=calib)
    (row,) = result.report.layers
    assert row.op == "CONV_2D" and row.reason and row.layer == "grp"
    # The printed table stays narrow: a footnote mark in the op column, the reason below.
    text = str(result.report).splitlines()
    table = [line for line in text if line.startswith(("|", "+"))]
    assert any("| CONV_2D [1] |" in line for line in table), text
    assert max(map(len, table)) < 100 and not any(row.reason in line for line in table)
    assert f"[1] grp (operator {row.operator}) kept as CONV_2D: {row.reason}" in text
    with pytest.raises(ConversionError, match="strict mode: layer grp"):
        convert(model, representative_data=calib, strict=True)


def test_detect_quantizer_leaves_plain_layers_alone_detect_weights_does_not():
    inputs = tf.keras.Input((6, 6, 4))
    plain = tf.keras.layers.Conv2D(8, 3, name="plain_sb")
    x = plain(inputs)
    model = tf.keras.Model(inputs, x)
    w = np.random.default_rng(0).random((3, 3, 4, 8)) < 0.3
    plain.set_weights(
        [(w * np.where(np.arange(8) % 2, -0.4, 0.4)).astype(np.float32), np.ones(8, np.float32)]
    )
    calib = np.random.default_rng(1).standard_normal((8, 6, 6, 4)).astype(np.float32)
    by_quantizer = convert_with_report(model, representative_data=calib)
    assert [r.op for r in by_quantizer.report.layers] == ["CONV_2D"]
    assert (
        by_quantizer.tflite == by_quantizer.int8_tflite
        or len(by_quantizer.tflite) >= len(by_quantizer.int8_tflite) - 16
    )
    by_weights = convert_with_report(model, representative_data=calib, detect="weights")
    assert [r.op for r in by_weights.report.layers] == ["SBTF_CONV_2D"]
    assert by_weights.report.layers[0].layer == "plain_sb"


def test_float_io_keeps_sbtf_ops():
    model, calib = _small_model()
    result = convert_with_report(
        model,
        representative_data=calib,
        inference_input_type=tf.float32,
        inference_output_type=tf.float32,
    )
    interp = tf.lite.Interpreter(model_content=result.int8_tflite)
    assert interp.get_input_details()[0]["dtype"] == np.float32
    assert interp.get_output_details()[0]["dtype"] == np.float32
    assert [r.op for r in result.report.layers] == ["SBTF_CONV_2D", "CONV_2D"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({}, "needs calibration data"),
        (
            {"representative_data": np.zeros((4, 6, 6, 3), np.float32)},
            r"shape \(4, 6, 6, 3\).*N x 6 x 6 x 4",
        ),
        ({"representative_data": np.zeros((4, 6, 6, 4), np.uint8)}, "dtype uint8"),
        ({"representative_data": np.full((4, 6, 6, 4), np.nan, np.float32)}, "NaN"),
        ({"representative_data": np.zeros((0, 6, 6, 4), np.float32)}, "no samples"),
        (
            {"representative_data": np.zeros((4, 6, 6, 4), np.float32), "random_calibration": True},
            "not both",
        ),
        ({"random_calibration": True, "detect": "everything"}, "detect must be one of"),
        ({"random_calibration": True, "inference_input_type": tf.int16}, "inference_input_type"),
        ({"random_calibration": True, "strict": "yes"}, "strict must be True or False"),
    ],
)
def test_bad_options_raise_specific_errors(kwargs, match):
    model, _ = _small_model()
    with pytest.raises(ConversionError, match=match):
        convert(model, **kwargs)


def test_input_quantizer_is_refused_with_the_layer_name():
    import larq as lq

    inputs = tf.keras.Input((6, 6, 4))
    x = lq.layers.QuantConv2D(
        4, 3, input_quantizer="ste_sign", kernel_quantizer="ste_sign", name="binary_acts"
    )(inputs)
    model = tf.keras.Model(inputs, x)
    with pytest.raises(ConversionError, match="binary_acts.*input_quantizer"):
        convert(model, random_calibration=True)


def test_larq_layer_kernels_are_quantized_once():
    """A larq QuantConv2D with ste_sign is converted with its ±1 kernel (an ordinary int8 op:
    ste_sign filters hold both signs), not with its latent float kernel."""
    import larq as lq

    inputs = tf.keras.Input((6, 6, 4))
    layer = lq.layers.QuantConv2D(4, 3, kernel_quantizer="ste_sign", name="ste")
    model = tf.keras.Model(inputs, layer(inputs))
    calib = np.random.default_rng(0).standard_normal((8, 6, 6, 4)).astype(np.float32)
    result = convert_with_report(model, representative_data=calib)
    tfl = tfm.read(result.tflite)
    sg = tfl.subgraphs[0]
    w = tfm.constant_data(tfl, sg.tensors[int(sg.operators[0].inputs[1])])
    assert set(np.unique(w).tolist()) <= {-127, 127}
    assert result.report.layers[0].op == "CONV_2D" and not result.report.layers[0].signed_binary


def test_weights_that_are_not_signed_binary_stay_int8():
    """A signed-binary layer whose int8 weights are not {0, ±127} per filter (here: one weight
    edited in the file) keeps its builtin op, with a warning that names layer and filter."""
    from sbtf.converters.reencode import reencode

    model, calib = _small_model()
    result = convert_with_report(model, representative_data=calib)
    tfl = tfm.read(result.int8_tflite)
    sg = tfl.subgraphs[0]
    op = sg.operators[0]
    w_tensor = sg.tensors[int(op.inputs[1])]
    data = np.asarray(tfl.buffers[w_tensor.buffer].data, np.uint8).copy()
    data[0] = np.uint8(np.int8(50).view(np.uint8))
    tfl.buffers[w_tensor.buffer].data = data
    edited = tfm.write(tfl)
    with pytest.warns(ConversionWarning, match=r"layer sb .*not signed-binary: filter 0 .*50"):
        _, rows, problems = reencode(
            edited, signed_binary_layers={"sb"}, layer_names={"sb", "plain"}
        )
    assert [r.op for r in rows] == ["CONV_2D", "CONV_2D"] and len(problems) == 1
    with pytest.raises(ConversionError, match="strict mode"):
        reencode(edited, signed_binary_layers={"sb"}, layer_names={"sb", "plain"}, strict=True)


def test_dead_batchnorm_channel_keeps_the_layer_signed_binary():
    """A channel whose BatchNorm scale trained to ~0 folds its filter to ~1e-7, which TensorFlow's
    weight quantizer does not map to ±127 (the whole layer would stay int8): the converter zeroes
    that filter, says so, and the sbtf op still equals the int8 twin."""
    model, calib = _small_model(seed=3)
    bn = model.get_layer("bn")
    gamma, beta, mean, variance = bn.get_weights()
    gamma[3], variance[3] = 1e-7, 50.0
    bn.set_weights([gamma, beta, mean, variance])
    with pytest.warns(ConversionWarning, match=r"layer sb: filter\(s\) \[3\] zeroed"):
        result = convert_with_report(model, representative_data=calib)
    row = next(r for r in result.report.layers if r.layer == "sb")
    assert row.op == "SBTF_CONV_2D" and not row.reason, row
    assert model.get_layer("bn").get_weights()[0][3] == np.float32(1e-7)  # the user's model is kept
    samples = np.random.default_rng(1).integers(-128, 128, (4, 6, 6, 4), dtype=np.int8)
    for x, y in operator_io(result.int8_tflite, [samples])[row.operator]:
        out = run_sbtf_op(result.tflite, row.operator, x)
        np.testing.assert_array_equal(out.reshape(y.shape), y)


def test_shared_layer_weights_are_encoded_once():
    """A Keras layer applied twice: two sbtf ops share one bitmask/sign pair, the int8 filter
    goes once no op uses it, and both ops stay bit-exact."""
    conv = sbtf.layers.SignedBinaryConv2D(16, 3, padding="same", name="shared")
    a, b = tf.keras.Input((6, 6, 8), name="a"), tf.keras.Input((6, 6, 8), name="b")
    model = tf.keras.Model([a, b], [conv(a), conv(b)])
    rng = np.random.default_rng(3)
    calib = [rng.standard_normal((8, 6, 6, 8)).astype(np.float32) for _ in range(2)]
    result = convert_with_report(model, representative_data=calib, strict=True)
    rows = result.report.layers
    assert [r.op for r in rows] == ["SBTF_CONV_2D"] * 2 and {r.layer for r in rows} == {"shared"}
    new = tfm.read(result.tflite)
    ops = new.subgraphs[0].operators
    if int(tfm.read(result.int8_tflite).subgraphs[0].operators[0].inputs[1]) == int(
        tfm.read(result.int8_tflite).subgraphs[0].operators[1].inputs[1]
    ):
        assert list(ops[0].inputs[1:3]) == list(ops[1].inputs[1:3])
    samples = [rng.integers(-128, 128, (3, 6, 6, 8), dtype=np.int8) for _ in range(2)]
    io = operator_io(result.int8_tflite, samples)
    for row in rows:
        for x, y in io[row.operator]:
            np.testing.assert_array_equal(run_sbtf_op(result.tflite, row.operator, x), y)


@pytest.mark.parametrize("kind", ["sequential", "nested"])
def test_sequential_and_nested_models(kind):
    def block():
        return [
            sbtf.layers.SignedBinaryConv2D(8, 3, padding="same", use_bias=False, name=f"{kind}_sb"),
            tf.keras.layers.BatchNormalization(name=f"{kind}_bn"),
            tf.keras.layers.ReLU(),
        ]

    if kind == "sequential":
        model = tf.keras.Sequential(
            [
                tf.keras.Input((6, 6, 4)),
                *block(),
                tf.keras.layers.Flatten(),
                tf.keras.layers.Dense(3),
            ]
        )
    else:
        inner = tf.keras.Sequential([tf.keras.Input((6, 6, 4)), *block()], name="inner")
        inputs = tf.keras.Input((6, 6, 4))
        model = tf.keras.Model(
            inputs, tf.keras.layers.Dense(3)(tf.keras.layers.Flatten()(inner(inputs)))
        )
    calib = np.random.default_rng(0).standard_normal((8, 6, 6, 4)).astype(np.float32)
    result = convert_with_report(model, representative_data=calib, strict=True)
    sb_rows = [r for r in result.report.layers if r.signed_binary]
    assert [(r.layer, r.op) for r in sb_rows] == [(f"{kind}_sb", "SBTF_CONV_2D")]


def test_configurations_cover_every_option():
    """The seeded sample really spans the sweep (a seed change cannot silently drop a case)."""
    conv = [c for c in CONFIGS.values() if c["kind"] == "conv"]
    dense = [c for c in CONFIGS.values() if c["kind"] == "dense"]
    assert {c["kernel"] for c in conv} == {1, 3, 5}
    assert {c["stride"] for c in conv} == {1, 2}
    assert {c["dilation"] for c in conv} == {1, 2}
    assert {c["padding"] for c in conv} == {"same", "valid"}
    for group in (conv, dense):
        assert {c["activation"] for c in group} == {None, "relu", "relu6"}
        assert {c["use_bias"] for c in group} == {False, True}
        assert {c["batch_norm"] for c in group} == {False, True}
    assert {c["c_in"] for c in conv} | {c["c_in"] for c in dense} >= set(SIZES)
    assert {c["c_out"] for c in conv} | {c["c_out"] for c in dense} >= set(SIZES)


def _options_bytes(**changes):
    from flatbuffers import flexbuffers

    options = {
        "version": 1,
        "input_channels": 3,
        "fused_activation_function": 0,
        "keep_num_dims": False,
    }
    options.update(changes)
    return bytes(flexbuffers.Dumps({k: v for k, v in options.items() if v is not None}))


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"version": 2}, "version 2 is not supported"),
        ({"input_channels": None}, "'input_channels' is missing"),
        ({"keep_num_dims": 1}, "'keep_num_dims' must be bool"),
        ({"fused_activation_function": True}, "must be int, got bool"),
    ],
)
def test_option_readers_reject_malformed_options(changes, match):
    assert parse_options("SBTF_FULLY_CONNECTED", _options_bytes())["input_channels"] == 3
    with pytest.raises(ConversionError, match=match):
        parse_options("SBTF_FULLY_CONNECTED", _options_bytes(**changes))


@pytest.mark.parametrize("kind", ["dense_3d", "conv1d"])
def test_other_shapes_of_conv_and_dense(kind):
    """Dense on a [N, T, C] input (TFLite's keep_num_dims) and Conv1D (a CONV_2D with a 1xK
    filter) also become sbtf ops, bit-exact."""
    rng = np.random.default_rng(11)
    if kind == "dense_3d":
        inputs = tf.keras.Input((5, 16))
        y = sbtf.layers.SignedBinaryDense(8, name="sb")(inputs)
    else:
        import larq as lq

        inputs = tf.keras.Input((12, 16))
        y = lq.layers.QuantConv1D(
            8, 3, padding="same", name="sb", kernel_quantizer=sbtf.SignedBinaryQuantizer()
        )(inputs)
    model = tf.keras.Model(inputs, y)
    calib = rng.standard_normal((8, *inputs.shape[1:])).astype(np.float32)
    result = convert_with_report(model, representative_data=calib, strict=True)
    (row,) = [r for r in result.report.layers if r.layer == "sb"]
    assert row.op.startswith("SBTF_")
    samples = [rng.integers(-128, 128, (4, *inputs.shape[1:]), dtype=np.int8)]
    for x, y in operator_io(result.int8_tflite, samples)[row.operator]:
        out = run_sbtf_op(result.tflite, row.operator, x)
        assert out.shape == y.shape
        np.testing.assert_array_equal(out, y)
