"""What TFLite Micro's keyword_scrambled model needs (its benchmark's resolver: FULLY_CONNECTED,
QUANTIZE, SOFTMAX int8 -> int16, SVDF) in sbtf's runtime, bit for bit with TFLite's interpreter
(BUILTIN_REF). TensorFlow's converter does not emit SVDF from Keras, so the models are written
here as flatbuffers, keyword-shaped: int8 input -> SVDF -> FULLY_CONNECTED -> SVDF ->
FULLY_CONNECTED -> SOFTMAX int8 -> int16, run as one stream of inputs (the SVDF state carries
over from invoke to invoke), on the host under ASan + UBSan with the dead arena bytes poisoned
and on Cortex-M4; QUANTIZE between int8, int16 and int32 in a second model; hostile SVDF
options, shapes and quantization refused with one clear error."""
from __future__ import annotations

import re

import numpy as np
import pytest
from tensorflow.lite.python import schema_py_generated as s

import sbtf  # noqa: F401
from sbtf.converters import reference, tflite_math
from sbtf.converters import tflite_model as tfm
from sbtf.micro import build, codegen, hostref, qemu, runtime, source_dir

T, Op = s.TensorType, s.BuiltinOperator
N_STEPS = 12  # invokes per stream: twice the longest memory below


class _Model:
    """A one-subgraph TFLite model written tensor by tensor."""

    def __init__(self):
        self.buffers, self.tensors, self.ops, self.codes = [s.BufferT()], [], [], []

    def tensor(self, shape, ttype, scale, zp, data=None, variable=False) -> int:
        t = s.TensorT()
        t.name, t.type, t.shape, t.isVariable = f"t{len(self.tensors)}", ttype, list(shape), variable
        t.quantization = s.QuantizationParametersT()
        t.quantization.scale, t.quantization.zeroPoint = [float(scale)], [int(zp)]
        t.buffer = 0
        if data is not None:
            b = s.BufferT()
            b.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8)
            self.buffers.append(b)
            t.buffer = len(self.buffers) - 1
        self.tensors.append(t)
        return len(self.tensors) - 1

    def op(self, code, inputs, outputs, options_type=0, options=None):
        if code not in self.codes:
            self.codes.append(code)
        o = s.OperatorT()
        o.opcodeIndex, o.inputs, o.outputs = self.codes.index(code), list(inputs), list(outputs)
        o.builtinOptionsType, o.builtinOptions = options_type, options
        self.ops.append(o)

    def write(self, inputs, outputs) -> bytes:
        m = s.ModelT()
        m.version, m.buffers = 3, self.buffers
        m.operatorCodes = []
        for code in self.codes:
            oc = s.OperatorCodeT()
            oc.builtinCode, oc.deprecatedBuiltinCode, oc.version = code, min(code, 127), 1
            m.operatorCodes.append(oc)
        sg = s.SubGraphT()
        sg.tensors, sg.operators, sg.inputs, sg.outputs = self.tensors, self.ops, inputs, outputs
        m.subgraphs = [sg]
        return tfm.write(m)


def _svdf(mb: _Model, rng, x: int, xq: np.ndarray, *, units, rank, memory, bias, activation):
    """An SVDF on tensor x whose integer inputs over the stream are xq [steps, batch, n_in];
    weight scales chosen so the state and the output use most of their range. Returns the
    output tensor and its integer outputs (approximate, for the next layer's scales)."""
    steps, batch, n_in = xq.shape
    xt = mb.tensors[x]
    s_in, zp_in = xt.quantization.scale[0], xt.quantization.zeroPoint[0]
    n_filter = units * rank
    wf = rng.integers(-127, 128, size=(n_filter, n_in)).astype(np.int8)
    wt = rng.integers(-20000, 20001, size=(n_filter, memory)).astype(np.int16)
    feature = (xq.astype(np.int64) - zp_in) @ wf.T.astype(np.int64)  # [steps, batch, filter]
    m1 = 20000.0 / max(1, np.abs(feature).max())
    state = np.clip(np.round(feature * m1), -32768, 32767)
    padded = np.concatenate([np.zeros((memory - 1, batch, n_filter)), state])
    windows = np.stack([padded[t:t + memory] for t in range(steps)])  # [steps, M, batch, filter]
    acc = np.einsum("tmbf,fm->tbf", windows, wt.astype(np.float64))
    acc = acc.reshape(steps, batch, units, rank).sum(-1)
    b = rng.integers(-1, 2, size=units) * int(np.abs(acc).std()) if bias else None
    acc = acc + (0 if b is None else b)
    m2 = 110.0 / max(1, np.abs(acc).max())
    s_state, s_out, zp_out = 1e-3, 0.04, int(rng.integers(-20, 20))
    wf_t = mb.tensor(wf.shape, T.INT8, m1 * s_state / s_in, 0, wf)
    wt_t = mb.tensor(wt.shape, T.INT16, m2 * s_out / s_state, 0, wt)
    b_t = -1 if b is None else mb.tensor(b.shape, T.INT32, s_state * m2 * s_out / s_state,
                                         0, b.astype(np.int32))
    st = mb.tensor((batch, memory * n_filter), T.INT16, s_state, 0, variable=True)
    y = mb.tensor((batch, units), T.INT8, s_out, zp_out)
    opts = s.SVDFOptionsT()
    opts.rank, opts.fusedActivationFunction = rank, activation
    mb.op(Op.SVDF, [x, wf_t, wt_t, b_t, st], [y], s.BuiltinOptions.SVDFOptions, opts)
    return y, np.clip(np.round(acc * m2) + zp_out, -128, 127)


def _fc(mb: _Model, rng, x: int, xq: np.ndarray, units: int, s_out: float):
    xt = mb.tensors[x]
    s_in, zp_in = xt.quantization.scale[0], xt.quantization.zeroPoint[0]
    w = rng.integers(-127, 128, size=(units, xq.shape[-1])).astype(np.int8)
    acc = (xq - zp_in) @ w.T.astype(np.float64)
    m = 110.0 / max(1, np.abs(acc).max())
    w_t = mb.tensor(w.shape, T.INT8, m * s_out / s_in, 0, w)
    y = mb.tensor((xq.shape[1], units), T.INT8, s_out, 0)
    mb.op(Op.FULLY_CONNECTED, [x, w_t, -1], [y], s.BuiltinOptions.FullyConnectedOptions,
          s.FullyConnectedOptionsT())
    return y, np.clip(np.round(acc * m), -128, 127)


def _quantize(mb: _Model, x: int, ttype, scale, zp) -> int:
    y = mb.tensor(mb.tensors[x].shape, ttype, scale, zp)
    mb.op(Op.QUANTIZE, [x], [y])
    return y


def keyword_model(seed, batch, svdfs, *, activation=tflite_math.ACT_RELU, int16_io=False,
                  int8_to_int16=False):
    """int8 [1, batch * 24] (reshaped to [batch, 24] for batch > 1) -> (SVDF ->
    FULLY_CONNECTED) per entry of svdfs (units, rank, memory, bias) -> SOFTMAX int8 -> int16.
    Outputs: every SVDF's output, then the softmax. int16_io: as TFLM's keyword model, an int16
    input QUANTIZEd to int8 and the softmax QUANTIZEd to int32, plus the input requantized to
    int16 (outputs in that order). int8_to_int16: the int8 input QUANTIZEd to int16 and to
    int32 as two more outputs (TFLite's QUANTIZE refuses both). Returns the model and a stream
    of N_STEPS inputs [N_STEPS, batch * 24]."""
    rng = np.random.default_rng(seed)
    mb = _Model()
    xq = rng.integers(-128, 128, size=(N_STEPS, batch, 24))
    outputs = []
    if int16_io:
        x0 = mb.tensor((1, batch * 24), T.INT16, 1e-3, 0)
        x = _quantize(mb, x0, T.INT8, 0.05, 3)
    else:
        x0 = x = mb.tensor((1, batch * 24), T.INT8, 0.05, 3)
    first = x
    if batch > 1:  # a stream of [1, batch * 24] inputs, reshaped to the SVDF's [batch, 24]
        x = mb.tensor((batch, 24), T.INT8, 0.05, 3)
        shape = mb.tensor((2,), T.INT32, 1.0, 0, np.array([batch, 24], np.int32))
        opts = s.ReshapeOptionsT()
        opts.newShape = [batch, 24]
        mb.op(Op.RESHAPE, [first, shape], [x], s.BuiltinOptions.ReshapeOptions, opts)
    for i, (units, rank, memory, bias) in enumerate(svdfs):
        x, xq = _svdf(mb, rng, x, xq, units=units, rank=rank, memory=memory, bias=bias,
                      activation=activation)
        outputs.append(x)
        x, xq = _fc(mb, rng, x, xq, 6 if i == len(svdfs) - 1 else 10, 0.06)
    y = mb.tensor((batch, 6), T.INT16, 1 / 65536, -32768)
    opts = s.SoftmaxOptionsT()
    opts.beta = 1.0
    mb.op(Op.SOFTMAX, [x], [y], s.BuiltinOptions.SoftmaxOptions, opts)
    outputs.append(y)
    if int16_io:
        outputs += [_quantize(mb, y, T.INT32, 1 / 32768, 7),
                    _quantize(mb, x0, T.INT16, 2.5e-3, 0)]
    if int8_to_int16:
        outputs += [_quantize(mb, first, T.INT16, 1e-4, 0),
                    _quantize(mb, first, T.INT32, 3e-3, -1000)]
    dtype, lo, hi = (np.int16, -4000, 4000) if int16_io else (np.int8, -128, 128)
    return mb.write([x0], outputs), rng.integers(lo, hi, size=(N_STEPS, batch * 24), dtype=dtype)


def _check(got, want):
    for k, (g, w) in enumerate(zip(got, want)):
        g = np.asarray(g).reshape(w.shape)
        assert g.dtype == w.dtype, f"output {k}: {g.dtype} != {w.dtype}"
        assert len(np.unique(w)) > 8, f"output {k} too uniform to show bit-exactness"
        assert int((g != w).sum()) == 0, f"output {k}: {int((g != w).sum())} of {w.size} differ"


def _run(tflite, x, tmp_path, board=None):
    if board is None:
        return runtime.run_model_host(tflite, x, out_dir=tmp_path, sanitize=True,
                                      poison=True).outputs
    return runtime.run_model(tflite, board, x, out_dir=tmp_path, timeout=300).outputs


KEYWORD = [(8, 2, 6, True), (12, 1, 4, False)]  # (units, rank, memory, bias) per SVDF


@pytest.mark.slow
@pytest.mark.parametrize("board", [None, "mps2-an386"])
def test_keyword_stream_matches_tflite(board, tmp_path):
    """Shaped as TFLM's keyword model, batch 1: int16 input -> QUANTIZE int16 -> int8, SVDF
    rank 2 with bias, SVDF rank 1 without, RELU, SOFTMAX int8 -> int16 -> QUANTIZE int16 (zero
    point -32768) -> int32, and QUANTIZE int16 -> int16; host (ASan + UBSan, poisoned arena)
    and Cortex-M4."""
    tflite, x = keyword_model(1, 1, KEYWORD, int16_io=True)
    names = [op.name for op in codegen.load_graph(tflite).operators]
    assert names.count("SVDF") == 2 and names.count("QUANTIZE") == 3
    _check(_run(tflite, x, tmp_path, board), hostref.run_reference(tflite, x, stream=True))


@pytest.mark.slow
def test_svdf_batch_2_without_activation_and_int8_to_int16(tmp_path):
    """Batch 2, rank 1 without bias then rank 3 with bias, activation NONE, and QUANTIZE int8
    -> int16 / int32. TFLite's integer SVDF refuses NONE ("Currently supports only ReLU")
    though its arithmetic applies no activation either way (TFLite Micro runs NONE), and its
    QUANTIZE refuses int8 -> int16: the reference is the same model with RELU and without those
    QUANTIZEs, and TFLite's Requantize arithmetic in NumPy for them."""
    svdfs = [(6, 1, 5, False), (4, 3, 3, True)]
    model, x = keyword_model(2, 2, svdfs, activation=tflite_math.ACT_NONE, int8_to_int16=True)
    twin, _ = keyword_model(2, 2, svdfs)
    with pytest.raises(RuntimeError, match="only ReLU|kTfLiteActRelu|activation"):
        hostref.run_reference(keyword_model(2, 2, svdfs, activation=tflite_math.ACT_NONE)[0],
                              x, stream=True)
    with pytest.raises(RuntimeError, match="QUANTIZE"):
        hostref.run_reference(model, x, stream=True)
    got = _run(model, x, tmp_path)
    _check(got[:3], hostref.run_reference(twin, x, stream=True))
    for (dtype, scale, zp), g in zip([(np.int16, 1e-4, 0), (np.int32, 3e-3, -1000)], got[3:]):
        m, sh = tflite_math.requantize_multiplier(0.05, scale)
        v = reference.multiply_by_quantized_multiplier(x.astype(np.int64) - 3, m, sh) + zp
        want = np.clip(v, np.iinfo(dtype).min, np.iinfo(dtype).max).astype(dtype)
        assert np.array_equal(np.asarray(g).reshape(want.shape), want)


def test_state_is_kept_out_of_the_arena_and_reset():
    tflite, _ = keyword_model(1, 1, KEYWORD)
    gen = codegen.generate(tflite)
    states = [op.inputs[4] for op in gen.graph.operators if op.name == "SVDF"]
    assert all(t not in gen.plan.tensor_buffer for t in states)
    for t in states:
        size = gen.graph.tensors[t].size
        assert f"static int16_t sbtf_state{t}[{size}]" in gen.source
        assert f"memset(sbtf_state{t}, 0, sizeof sbtf_state{t});" in gen.source
    assert "void sbtf_model_reset(void);" in gen.header


def _quantize_model(spec, n=8):
    """int16 [1, n] (scale 1/1000) -> QUANTIZE to spec (type, scale, zero point)."""
    mb = _Model()
    x0 = mb.tensor((1, n), T.INT16, 1e-3, 0)
    return mb.write([x0], [_quantize(mb, x0, *spec)])


def _edit(tflite, edit) -> bytes:
    m = tfm.read(tflite)
    sg = m.subgraphs[0]
    op = next(o for o in sg.operators if tfm.opcode_name(m, o.opcodeIndex) == "SVDF")
    edit(op, sg.tensors, sg)
    return tfm.write(m)


@pytest.fixture(scope="module")
def small_keyword():
    return keyword_model(5, 1, [(4, 2, 3, True)])[0]


def _set(obj, **kw):
    for k, v in kw.items():
        setattr(obj, k, v)


@pytest.mark.parametrize("what,edit,message", [
    ("rank 0", lambda op, ts, sg: _set(op.builtinOptions, rank=0), "rank 0 must be >= 1"),
    ("rank 3", lambda op, ts, sg: _set(op.builtinOptions, rank=3), "rank 3 must be >= 1 and divide"),
    ("relu6", lambda op, ts, sg: _set(op.builtinOptions, fusedActivationFunction=3),
     "fused activation must be NONE or RELU"),
    ("no options", lambda op, ts, sg: _set(op, builtinOptions=None, builtinOptionsType=0),
     "rank 0 must be >= 1"),
    ("4 inputs", lambda op, ts, sg: _set(op, inputs=op.inputs[:4]), "expected 5 inputs"),
    ("int8 state", lambda op, ts, sg: _set(ts[op.inputs[4]], type=T.INT8),
     "state tensor .* has type INT8, expected INT16"),
    ("int8 weights_time", lambda op, ts, sg: _set(ts[op.inputs[2]], type=T.INT8, shape=[8, 6]),
     "weights_time .* has type INT8, expected INT16"),
    ("state not variable", lambda op, ts, sg: _set(ts[op.inputs[4]], isVariable=False),
     "must be a variable tensor"),
    ("state zero point", lambda op, ts, sg: ts[op.inputs[4]].quantization.zeroPoint.__setitem__(0, 3),
     "state .* must have one scale and zero point 0"),
    ("state shape", lambda op, ts, sg: _set(ts[op.inputs[4]], shape=[1, 5]),
     r"state .* must have shape \[1, 24\]"),
    ("bias shape", lambda op, ts, sg: _set(ts[op.inputs[3]], shape=[2, 2]),
     r"bias .* must have shape \[4\]"),
    ("bias type", lambda op, ts, sg: _set(ts[op.inputs[3]], type=T.FLOAT32),
     "bias .* must be a constant INT32 with 4 values"),
    ("output shape", lambda op, ts, sg: _set(ts[op.outputs[0]], shape=[1, 8]),
     r"output .* must have shape \[1, 4\]"),
    ("input 3-D", lambda op, ts, sg: _set(ts[op.inputs[0]], shape=[1, 1, 24]),
     "must be a 2-D activation"),
    ("state is the output", lambda op, ts, sg: sg.outputs.__setitem__(0, op.inputs[4]),
     "state tensor .* must be used by this operator alone"),
    ("huge multiplier", lambda op, ts, sg: ts[op.inputs[4]].quantization.scale.__setitem__(0, 1e-30),
     "too large"),
])
def test_hostile_svdf_is_refused(small_keyword, what, edit, message):
    bad = _edit(small_keyword, edit)
    with pytest.raises(codegen.UnsupportedModelError,
                       match=r"k\.tflite: (operator 0 \(SVDF\): )?.*" + message):
        codegen.generate(bad, source="k.tflite")


@pytest.mark.parametrize("spec,message", [
    ((T.INT16, 1e-3, 5), "int16 -> int16 QUANTIZE must have zero points 0"),
    ((T.FLOAT32, 1.0, 0), "QUANTIZE takes float32, int8 or int16 to int8, int16 or int32"),
    ((T.INT8, 1e-15, 0), "too large"),
])
def test_hostile_quantize_is_refused(spec, message):
    with pytest.raises(codegen.UnsupportedModelError, match=re.escape(message)):
        codegen.generate(_quantize_model(spec))


def test_c_kernels_check_their_arguments(tmp_path):
    """micro/tests/test_keyword_args.c: NULLs, shapes and parameters out of range (ASan + UBSan)."""
    exe = build.build_host(
        [source_dir() / "tests" / "test_keyword_args.c", runtime.runtime_dir() / "sbtf_rt_keyword.c"],
        include_dirs=[runtime.runtime_dir(), source_dir() / "tests"], opt="-O1", sanitize=True,
        out=tmp_path / "test_keyword_args")
    res = qemu.run_host(exe, timeout=60)
    res.check()
    assert "sbtf_keyword_args failures=0" in res.stdout, res.stdout[-2000:]
