"""The runtime's LOGISTIC, TANH, MUL, SUB, TRANSPOSE, CAST, float32 input/output (QUANTIZE /
DEQUANTIZE at the edges) and models with several inputs and outputs equal TFLite's interpreter
(BUILTIN_REF) bit for bit: small random models on the host (gcc, ASan + UBSan) and one model with
all of them on a board."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import sbtf  # noqa: F401
from sbtf.converters import tflite_math
from sbtf.micro import codegen, hostref, runtime

L = tf.keras.layers
N_INPUTS = 24


def _seeded(seed):
    tf.keras.utils.set_random_seed(seed)
    return np.random.default_rng(seed)


def _check_int8(shape, build, seed, tmp_path, board=None, n=N_INPUTS):
    rng = _seeded(seed)
    inp = tf.keras.Input(shape)
    tflite = hostref.int8_tflite(tf.keras.Model(inp, build(inp)), rng.normal(size=(64, *shape)))
    scale, zp = hostref.input_quantization(tflite)
    x = runtime.quantize_inputs(rng.normal(size=(n, *shape)) * 1.5, scale, zp)
    want = hostref.run_reference(tflite, x)
    assert len(np.unique(want)) > 8, "outputs too uniform to show bit-exactness"
    got = _run(tflite, x, tmp_path, board).reshape(want.shape)
    assert int((got != want).sum()) == 0, f"{int((got != want).sum())} of {want.size} differ"
    return tflite


def _run(tflite, x, tmp_path, board):
    if board is None:
        return runtime.run_model_host(tflite, x, out_dir=tmp_path, sanitize=True).outputs
    return runtime.run_model(tflite, board, x, out_dir=tmp_path, timeout=120).outputs


def _ops(tflite) -> set[str]:
    return {op.name for op in codegen.load_graph(tflite).operators}


def _squeeze_excite(x):
    """MobileNetV3's block: a per-channel gate, sigmoid(1x1 conv(GAP(x))), times x."""
    c = L.Conv2D(8, 3, padding="same")(x)
    s = L.GlobalAveragePooling2D(keepdims=True)(c)
    s = L.Conv2D(8, 1, activation="sigmoid")(s)
    return L.Multiply()([c, s])


CASES = [
    ("logistic_dense", (12,), lambda x: L.Activation("sigmoid")(L.Dense(16)(x)), "LOGISTIC"),
    ("logistic_wide_input", (5, 5, 3),
     lambda x: L.Activation("sigmoid")(L.Conv2D(6, 3, padding="same")(x) * 4.0), "LOGISTIC"),
    ("tanh_dense", (12,), lambda x: L.Activation("tanh")(L.Dense(16)(x)), "TANH"),
    ("tanh_wide_input", (5, 5, 3),
     lambda x: L.Activation("tanh")(L.Conv2D(6, 3, padding="same")(x) * 3.0), "TANH"),
    ("mul_same_shape", (6, 6, 4), lambda x: L.Multiply()([L.Conv2D(4, 1)(x), x]), "MUL"),
    ("mul_broadcast_channels", (6, 6, 3), _squeeze_excite, "MUL"),
    ("mul_constant", (4, 4, 7),
     lambda x: L.Lambda(lambda t: t * tf.constant(np.linspace(-2, 3, 7), tf.float32))(x),
     "MUL"),
    ("sub_same_shape", (6, 6, 4), lambda x: L.Subtract()([L.Conv2D(4, 1)(x), x]), "SUB"),
    ("sub_broadcast_mean", (4, 4, 6),
     lambda x: L.Lambda(lambda t: t - tf.reduce_mean(t, axis=-1, keepdims=True))(
         L.Conv2D(6, 1)(x)), "SUB"),
    ("transpose_hw", (5, 7, 3), lambda x: L.Permute((2, 1, 3))(L.Conv2D(3, 1)(x)), "TRANSPOSE"),
    ("transpose_channels_first", (4, 6, 5),
     lambda x: L.Flatten()(L.Permute((3, 1, 2))(L.Conv2D(5, 1)(x))), "TRANSPOSE"),
    ("transpose_2d", (4, 5), lambda x: L.Flatten()(L.Permute((2, 1))(x)), "TRANSPOSE"),
]


@pytest.mark.slow
@pytest.mark.parametrize("name,shape,build,op", CASES, ids=[c[0] for c in CASES])
def test_op_matches_tflite_on_host(name, shape, build, op, tmp_path):
    tflite = _check_int8(shape, build, seed=len(name), tmp_path=tmp_path)
    assert op in _ops(tflite), f"the model does not exercise {op}: {sorted(_ops(tflite))}"


@pytest.mark.parametrize("activation,table_fn", [("sigmoid", tflite_math.logistic_table),
                                                 ("tanh", tflite_math.tanh_table)])
def test_lut_table_is_tflites_for_every_input(activation, table_fn):
    """All 256 inputs of LOGISTIC / TANH at three input scales and zero points, against the
    interpreter (the table is the whole operator)."""
    for seed, lo, hi in ((1, -0.4, 0.3), (2, -3.0, 6.0), (3, -30.0, 12.0)):
        rng = _seeded(seed)
        inp = tf.keras.Input((256,))
        tflite = hostref.int8_tflite(tf.keras.Model(inp, L.Activation(activation)(inp)),
                                     rng.uniform(lo, hi, size=(32, 256)))
        g = codegen.load_graph(tflite)
        x, y = g.tensors[g.inputs[0]], g.tensors[g.outputs[0]]
        table = table_fn(x.scale[0], int(x.zero_point[0]), y.scale[0], int(y.zero_point[0]))
        want = hostref.run_reference(tflite, np.arange(-128, 128, dtype=np.int8)[None])
        np.testing.assert_array_equal(table, want.reshape(-1))


def test_broadcast_strides():
    dims, s1, s2 = tflite_math.broadcast_strides((1, 5, 5, 8), (1, 1, 1, 8), (1, 5, 5, 8))
    assert dims == [1, 5, 5, 8] and s1 == [200, 40, 8, 1] and s2 == [8, 0, 0, 1]
    dims, s1, s2 = tflite_math.broadcast_strides((3, 1), (4,), (3, 4))
    assert dims == [1, 1, 3, 4] and s1 == [3, 3, 1, 0] and s2 == [4, 4, 0, 1]
    with pytest.raises(ValueError, match="does not broadcast"):
        tflite_math.broadcast_strides((3, 2), (3,), (3, 3))


# ---- float32 input / output, several inputs and outputs, CAST


def _convert(model, calibration: list, int8_io: bool) -> bytes:
    """TensorFlow's full-integer conversion; int8_io=False keeps float32 input and output
    (QUANTIZE / DEQUANTIZE at the edges, like TFLM's float examples and MLPerf Tiny's float
    ResNet-8). calibration: one array per model input."""
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: (  # by name: the converter orders inputs its own way
        {name: c[i:i + 1].astype(np.float32) for name, c in zip(model.input_names, calibration)}
        for i in range(len(calibration[0])))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if int8_io:
        conv.inference_input_type = conv.inference_output_type = tf.int8
    return conv.convert()


def _compare(tflite, xs, tmp_path, board=None):
    want = hostref.run_reference(tflite, xs)
    got = _run(tflite, xs, tmp_path, board)
    want = want if isinstance(want, list) else [want]
    got = got if isinstance(got, list) else [got]
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want)):
        assert g.dtype == w.dtype and g.shape == w.shape, (k, g.dtype, g.shape, w.dtype, w.shape)
        assert len(np.unique(w)) > 4, f"output {k} too uniform to show bit-exactness"
        # bitwise: float outputs must agree to the last bit
        assert np.array_equal(g.view(f"u{g.itemsize}"), w.view(f"u{w.itemsize}")), f"output {k}"
    return got


def _hello_world(seed):
    """TFLM's hello_world shape: sin(x) by a 16-16-1 MLP, float32 in and out."""
    _seeded(seed)
    inp = tf.keras.Input((1,))
    y = L.Dense(16, activation="relu")(inp)
    y = L.Dense(16, activation="relu")(y)
    return tf.keras.Model(inp, L.Dense(1)(y))


@pytest.mark.slow
def test_float_io_through_quantize_and_dequantize(tmp_path):
    rng = _seeded(3)
    model = _hello_world(3)
    tflite = _convert(model, [rng.uniform(0, 2 * np.pi, size=(64, 1))], int8_io=False)
    ops = [op.name for op in codegen.load_graph(tflite).operators]
    assert ops[0] == "QUANTIZE" and ops[-1] == "DEQUANTIZE", ops
    gen = codegen.generate(tflite)
    assert gen.inputs[0].dtype == np.float32 and gen.outputs[0].dtype == np.float32
    assert gen.inputs[0].scale is None  # the QUANTIZE operator holds the quantization
    s = float(codegen.load_graph(tflite).tensors[codegen.load_graph(tflite).operators[0].outputs[0]].scale[0])
    ties = (np.arange(-6, 6) + 0.5) * np.float32(s)  # x / scale at (or next to) .5
    x = np.concatenate([rng.uniform(-1, 7, size=40), ties, [1e6, -1e6, 0.0]])
    _compare(tflite, x.astype(np.float32).reshape(-1, 1), tmp_path)


@pytest.mark.slow
def test_several_inputs_and_outputs(tmp_path):
    """TFLM's simple_add_model generalised: two inputs, three outputs (ADD, MUL with
    broadcasting, a conv branch); int8 and float32 I/O."""
    rng = _seeded(5)
    a, b = tf.keras.Input((6, 6, 3)), tf.keras.Input((1, 1, 3))
    added = L.Add()([a, L.Conv2D(3, 1)(a)])
    gated = L.Multiply()([L.Conv2D(3, 3, padding="same")(a), b])
    logits = L.Dense(5)(L.Flatten()(L.Subtract()([added, gated])))
    model = tf.keras.Model([a, b], [added, gated, logits])
    calib = [rng.normal(size=(32, 6, 6, 3)), rng.uniform(-1, 2, size=(32, 1, 1, 3))]
    xs_float = [rng.normal(size=(12, 6, 6, 3)) * 1.3, rng.uniform(-1, 2, size=(12, 1, 1, 3))]
    for int8_io in (True, False):
        tflite = _convert(model, calib, int8_io)
        gen = codegen.generate(tflite)
        assert len(gen.inputs) == 2 and len(gen.outputs) == 3
        by_shape = {x.shape[1:]: x for x in xs_float}  # the converter orders inputs its own way
        xs = [by_shape[io.shape[1:]] for io in gen.inputs]
        xs = ([runtime.quantize_inputs(x, io.scale, io.zero_point) for x, io in zip(xs, gen.inputs)]
              if int8_io else [x.astype(np.float32) for x in xs])
        _compare(tflite, xs, tmp_path / str(int8_io))


def _append_cast(tflite: bytes, source: int, to_type: int, name: bytes) -> bytes:
    """A CAST of tensor `source` (-1: the model's first input) to `to_type`, as a new model
    output: TensorFlow's converter folds casts of quantized tensors, so build it directly."""
    from tensorflow.lite.python import schema_py_generated as schema

    from sbtf.converters import tflite_model as tfm

    model = tfm.read(tflite)
    sg = model.subgraphs[0]
    src = sg.inputs[0] if source < 0 else source
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.CAST
    code.version = 1
    model.operatorCodes.append(code)
    new = schema.TensorT()
    new.shape, new.type, new.name, new.buffer = list(sg.tensors[src].shape), to_type, name, 0
    sg.tensors.append(new)
    op = schema.OperatorT()
    op.opcodeIndex = len(model.operatorCodes) - 1
    op.inputs, op.outputs = [src], [len(sg.tensors) - 1]
    sg.operators.append(op)
    sg.outputs = list(sg.outputs) + [len(sg.tensors) - 1]
    return tfm.write(model)


@pytest.mark.slow
def test_cast_between_types(tmp_path):
    """CAST int8 -> float32 / int16 / int32 / uint8 and float32 -> int32 / int8 (truncation,
    wrapping) against TFLite."""
    from tensorflow.lite.python import schema_py_generated as schema

    T = schema.TensorType
    rng = _seeded(8)
    inp = tf.keras.Input((10,))
    model = tf.keras.Model(inp, L.Dense(12)(inp))
    tflite = _convert(model, [rng.normal(size=(32, 10))], int8_io=False)
    g = codegen.load_graph(tflite)
    quantized = g.operators[0].outputs[0]  # the QUANTIZE's int8 output
    for to, name in ((T.FLOAT32, b"f32"), (T.INT16, b"i16"), (T.INT32, b"i32"), (T.UINT8, b"u8")):
        tflite = _append_cast(tflite, quantized, to, b"int8_to_" + name)
    for to, name in ((T.INT32, b"i32"), (T.INT8, b"i8")):
        tflite = _append_cast(tflite, -1, to, b"float_to_" + name)
    x = np.concatenate([rng.normal(size=(8, 10)) * 3, rng.uniform(-300, 300, size=(8, 10)),
                        np.full((1, 10), -0.5), np.full((1, 10), 127.99)]).astype(np.float32)
    outs = _compare(tflite, x, tmp_path)
    assert [o.dtype for o in outs] == [np.float32, np.float32, np.int16, np.int32, np.uint8,
                                       np.int32, np.int8]


@pytest.mark.slow
@pytest.mark.parametrize("board", ["mps2-an386", "mps3-an547"])
def test_every_new_op_on_a_board(board, tmp_path):
    """Float32 in and out, two inputs, three outputs, LOGISTIC, MUL (broadcast), SUB
    (broadcast), TRANSPOSE, CAST, QUANTIZE and DEQUANTIZE on Cortex-M4 and Cortex-M55."""
    from tensorflow.lite.python import schema_py_generated as schema

    rng = _seeded(12)
    a, b = tf.keras.Input((6, 6, 3)), tf.keras.Input((1, 1, 4))
    c = L.Conv2D(4, 3, padding="same")(a)
    gate = L.Conv2D(4, 1, activation="sigmoid")(L.GlobalAveragePooling2D(keepdims=True)(c))
    y = L.Subtract()([L.Multiply()([c, gate]), b])
    logits = L.Dense(6)(L.Flatten()(L.Permute((3, 1, 2))(y)))
    model = tf.keras.Model([a, b], [logits, L.Flatten()(gate)])
    calib = [rng.normal(size=(32, 6, 6, 3)), rng.normal(size=(32, 1, 1, 4))]
    tflite = _convert(model, calib, int8_io=False)
    g = codegen.load_graph(tflite)
    image = next(i for i in g.inputs if g.tensors[i].shape == (1, 6, 6, 3))
    tflite = _append_cast(tflite, image, schema.TensorType.INT32, b"float_to_i32")
    assert {"LOGISTIC", "MUL", "SUB", "TRANSPOSE", "CAST", "QUANTIZE", "DEQUANTIZE"} <= _ops(tflite)
    gen = codegen.generate(tflite)
    xs = {(6, 6, 3): rng.normal(size=(4, 6, 6, 3)) * 3, (1, 1, 4): rng.normal(size=(4, 1, 1, 4))}
    _compare(tflite, [xs[io.shape[1:]].astype(np.float32) for io in gen.inputs], tmp_path, board)


@pytest.mark.slow
def test_cli_runs_several_inputs_and_outputs(tmp_path, capsys):
    """`sbtf-micro run --input a.npy --input b.npy --output y.npz`: one --input per model input in
    the model's order, outputs saved as output0, output1; a wrong count or type: exit 2."""
    from sbtf.micro import cli

    rng = _seeded(4)
    a, b = tf.keras.Input((4, 4, 3)), tf.keras.Input((4, 4, 3))
    s = L.Add()([a, b])
    model = tf.keras.Model([a, b], [s, L.Dense(3)(L.Flatten()(L.Multiply()([s, a])))])
    tflite = _convert(model, [rng.normal(size=(32, 4, 4, 3))] * 2, int8_io=False)
    path = tmp_path / "m.tflite"
    path.write_bytes(tflite)
    xs = [rng.normal(size=(3, 4, 4, 3)).astype(np.float32) for _ in range(2)]
    paths = [tmp_path / "a.npy", tmp_path / "b.npy"]
    for p, x in zip(paths, xs):
        np.save(p, x)
    out = tmp_path / "y.npz"
    argv = ["run", str(path), "--board", "mps2-an386", "--input", str(paths[0]), "--input",
            str(paths[1]), "--output", str(out)]
    assert cli.main(argv) == 0, capsys.readouterr().err
    got = np.load(out)
    want = hostref.run_reference(tflite, xs)
    assert sorted(got.files) == ["output0", "output1"]
    for k, w in enumerate(want):
        np.testing.assert_array_equal(got[f"output{k}"], w)
    assert cli.main(argv[:6] + ["--output", str(tmp_path / "z.npz")]) == 2
    assert "1 array(s) given, the model has 2 input(s)" in capsys.readouterr().err
    np.save(paths[1], np.zeros((3, 4, 4, 3), np.int8))
    assert cli.main(argv[:-2] + ["--output", str(tmp_path / "z.npz")]) == 2
    assert "(model input 1) must be float, got int8" in capsys.readouterr().err
    assert not (tmp_path / "z.npz").exists()


def test_mis_shaped_new_ops_are_refused():
    """A model file whose LOGISTIC / TRANSPOSE output does not hold what the operator writes is
    refused before any C is generated (it would overrun the arena)."""
    from sbtf.converters import tflite_model as tfm

    rng = _seeded(6)
    inp = tf.keras.Input((4, 6, 3))
    y = L.Permute((3, 1, 2))(L.Activation("sigmoid")(L.Conv2D(3, 1)(inp)))
    tflite = hostref.int8_tflite(tf.keras.Model(inp, y), rng.normal(size=(16, 4, 6, 3)))
    g = codegen.load_graph(tflite)
    for name, expected in (("LOGISTIC", "size differs from input"),
                           ("TRANSPOSE", "is not input .* permuted by")):
        op = next(o for o in g.operators if o.name == name)
        model = tfm.read(tflite)
        model.subgraphs[0].tensors[op.outputs[0]].shape[1] -= 1
        with pytest.raises(codegen.UnsupportedModelError, match=rf"operator {op.index} \({name}\).*{expected}"):
            codegen.generate(tfm.write(model), source="bad.tflite")
