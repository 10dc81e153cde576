"""The static memory plan never lets two live tensors share arena bytes: checked from the graph
in Python, and by a debug build that poisons every dead arena byte after each operator. The
kernels' scratch is the largest SBTF_SCRATCH_BYTES term (the built image is checked in
test_runtime_failures.py)."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import sbtf  # noqa: F401
from sbtf.micro import codegen, hostref, qemu, runtime

L = tf.keras.layers


@pytest.fixture(scope="module")
def branchy():
    """Residual branches, a reshape alias and long-lived tensors: a plan with real reuse."""
    tf.keras.utils.set_random_seed(3)
    inp = tf.keras.Input((12, 12, 4))
    a = L.Conv2D(8, 3, padding="same", activation="relu")(inp)
    b = L.Conv2D(8, 3, padding="same")(a)
    c = L.Add()([a, b])
    d = L.DepthwiseConv2D(3, padding="same")(c)
    e = L.Add()([d, a])  # `a` lives across four operators
    f = L.MaxPooling2D(2)(e)
    g = L.Conv2D(4, 1)(f)
    out = L.Softmax()(L.Dense(10)(L.Flatten()(g)))
    model = tf.keras.Model(inp, out)
    rng = np.random.default_rng(3)
    return hostref.int8_tflite(model, rng.normal(size=(32, 12, 12, 4)))


def _live_tensors(graph, step):
    """Activation tensors whose value is needed across the boundary after `step`, from the graph
    alone (independent of the plan's own Buffer bookkeeping)."""
    produced = {t: -1 for t in graph.inputs}
    consumers: dict[int, int] = {}
    for i, op in enumerate(graph.operators):
        for t in op.outputs:
            produced.setdefault(t, i)
        for t in op.inputs:
            if t >= 0 and graph.tensors[t].data is None:
                consumers[t] = max(consumers.get(t, -1), i)
    for t in graph.outputs:
        consumers[t] = len(graph.operators)
    return [t for t, p in produced.items() if p <= step < consumers.get(t, p)]


def test_plan_never_overlaps_live_tensors(branchy):
    graph = codegen.load_graph(branchy)
    plan = codegen.plan_memory(graph)
    aliases = {op.outputs[0]: op.inputs[0] for op in graph.operators if op.name == "RESHAPE"}
    for step in range(-1, len(graph.operators)):
        live = _live_tensors(graph, step)
        spans = []
        for t in live:
            off = plan.offset(t)
            spans.append((off, off + graph.tensors[t].nbytes, t))
        for i, (a0, a1, ta) in enumerate(spans):
            for b0, b1, tb in spans[i + 1:]:
                same_bytes = aliases.get(ta) == tb or aliases.get(tb) == ta
                assert same_bytes or a1 <= b0 or b1 <= a0, (
                    f"after operator {step}: tensors {ta} [{a0}, {a1}) and {tb} [{b0}, {b1}) overlap")
    assert plan.arena_bytes < plan.naive_bytes
    assert all(b.offset % codegen.ARENA_ALIGNMENT == 0 for b in plan.buffers)


def test_check_plan_rejects_an_overlap(branchy):
    plan = codegen.plan_memory(codegen.load_graph(branchy))
    a, b = next((a, b) for a in plan.buffers for b in plan.buffers
                if a.id < b.id and a.overlaps_in_time(b))
    b.offset = a.offset
    with pytest.raises(AssertionError, match="overlap"):
        codegen.check_plan(plan)


def test_poisoned_arena_leaves_outputs_unchanged(branchy, tmp_path):
    scale, zp = hostref.input_quantization(branchy)
    x = runtime.quantize_inputs(np.random.default_rng(4).normal(size=(6, 12, 12, 4)), scale, zp)
    want = hostref.run_reference(branchy, x)
    res = runtime.run_model_host(branchy, x, poison=True, sanitize=True, out_dir=tmp_path)
    np.testing.assert_array_equal(res.outputs, want)
    source = (tmp_path / "sbtf_model.c").read_text()
    assert source.count("SBTF_MODEL_POISON_RANGE(") > len(codegen.load_graph(branchy).operators)


def test_poison_catches_a_lifetime_error(branchy, tmp_path, monkeypatch):
    """The poison build is a real check: a plan that believes the longest-lived tensor dies after
    its first reader (same offsets, so a normal build is unaffected) gives wrong outputs."""
    real_plan = codegen.plan_memory

    def short_lived_plan(graph):
        plan = real_plan(graph)
        victim = max(plan.buffers, key=lambda b: (b.last - b.first, -b.id))
        assert victim.last - victim.first >= 2
        victim.last = victim.first + 1
        return plan

    scale, zp = hostref.input_quantization(branchy)
    x = runtime.quantize_inputs(np.random.default_rng(5).normal(size=(4, 12, 12, 4)), scale, zp)
    want = hostref.run_reference(branchy, x)
    monkeypatch.setattr(codegen, "plan_memory", short_lived_plan)
    plain = runtime.run_model_host(branchy, x, out_dir=tmp_path / "plain")
    np.testing.assert_array_equal(plain.outputs, want)
    poisoned = runtime.run_model_host(branchy, x, poison=True, out_dir=tmp_path / "poison")
    assert not np.array_equal(poisoned.outputs, want)


@pytest.mark.slow
def test_poisoned_arena_on_a_board(branchy, tmp_path):
    scale, zp = hostref.input_quantization(branchy)
    x = runtime.quantize_inputs(np.random.default_rng(6).normal(size=(3, 12, 12, 4)), scale, zp)
    res = runtime.run_model(branchy, "mps3-an547", x, poison=True, out_dir=tmp_path, timeout=120)
    np.testing.assert_array_equal(res.outputs, hostref.run_reference(branchy, x))


def test_generated_header_reports_arena_next_to_the_sum(branchy, tmp_path):
    gen = codegen.generate(branchy)
    assert f"#define SBTF_MODEL_ARENA_SIZE {gen.plan.arena_bytes}" in gen.header
    assert f"({gen.plan.naive_bytes} bytes if each had its own)" in gen.header
    assert "arena" in gen.summary() and str(gen.plan.naive_bytes) in gen.summary()


def test_builtin_scratch_is_sized_by_the_runtime_macros(branchy, tmp_path):
    """Without sbtf ops the scratch is the largest SBTF_RT_*_SCRATCH_BYTES term: here the ADD
    tables (12 * 12 * 8 >= SBTF_RT_ADD_TABLE_MIN elements, 2 x 256 int32), which the image
    reports at boot and allocates statically."""
    x = np.zeros((1, 12 * 12 * 4), np.int8)
    exe, gen, _ = runtime.build_host_runner(branchy, x, out_dir=tmp_path)
    assert "SBTF_SCRATCH_BYTES(" not in gen.header
    for term in ("SBTF_RT_CONV_SCRATCH_BYTES(36)", "SBTF_RT_DEPTHWISE_SCRATCH_BYTES(8, 3, 112)",
                 "SBTF_RT_ADD_SCRATCH_BYTES(1152)"):
        assert term in gen.header
    out = qemu.run_host(exe, timeout=60)
    assert out.exit_code == 0, out.stdout
    assert "sbtf-info scratch=2048 " in out.stdout


def test_scratch_expression_is_a_balanced_max():
    """One term per distinct (k, c_out) in a balanced SBTF_MAX tree: SBTF_MAX expands its
    arguments twice, so a chain would grow as 2^n in the preprocessor."""
    shapes = [(k, 8) for k in range(16, 16 * 17, 16)] + [(16, 8)]
    expr = codegen.scratch_expr(shapes)
    assert expr.count("SBTF_SCRATCH_BYTES(") == 16 and expr.count("SBTF_MAX(") == 15
    assert codegen.scratch_expr([(9, 4)]) == "SBTF_SCRATCH_BYTES(9, 4)"
    assert codegen.scratch_expr([]) == "0"
