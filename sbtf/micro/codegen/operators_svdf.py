"""SVDF, full integer (what TFLite Micro's keyword_scrambled model runs): TFLite's svdf.cc
Prepare checks and multipliers (sbtf.converters.tflite_math.svdf_multipliers) and the call into
micro/runtime/sbtf_rt_keyword.c. Registered in operators.EMITTERS like every other operator.

The state tensor (input 4) is TFLite's variable tensor: a static array of its own that keeps the
memory of the last `memory` inputs from one invoke to the next (planner.PERSISTENT_INPUTS,
Emitter.state); sbtf_model_reset() clears it.
"""
from __future__ import annotations

import numpy as np

from sbtf.converters import tflite_math
from sbtf.micro.codegen.emitter import Emitter
from sbtf.micro.codegen.graph import Operator, T, Tensor
from sbtf.micro.codegen.operators import emits

# The fused activations TFLite's integer SVDF accepts (RELU) or TFLite Micro's runs (any); in
# both the integer arithmetic applies none beyond the int8 clamp.
SVDF_ACTIVATIONS = (tflite_math.ACT_NONE, tflite_math.ACT_RELU)
MAX_INPUTS = 65536  # int32 feature sums of int8 * (int8 - zp) cannot overflow up to here


def _symmetric(em: Emitter, op: Operator, t: Tensor, role: str, dtype: int, shape):
    if t.type != dtype:
        em.fail(op, f"{role} {t.describe()} has type {t.type_name}, expected "
                    f"{'INT16' if dtype == T.INT16 else 'INT8'}")
    if tuple(t.shape) != tuple(shape):
        em.fail(op, f"{role} {t.describe()} must have shape {list(shape)}")
    if t.scale.size != 1 or t.zero_point.size != 1 or em.zp(t) != 0:
        em.fail(op, f"{role} {t.describe()} must have one scale and zero point 0")


@emits("SVDF")
def emit_svdf(em: Emitter, op: Operator):
    o = op.options
    if len(op.inputs) != 5 or len(op.outputs) != 1:
        em.fail(op, f"expected 5 inputs and 1 output, got {len(op.inputs)} and {len(op.outputs)}")
    x, wf, wt = (em.tensor(op, i) for i in range(3))
    state, y = em.tensor(op, 4), em.tensor(op, 0, kind="output")
    em.expect_int8(op, x, "input")
    em.expect_int8(op, y, "output")
    if x.data is not None or len(x.shape) != 2:
        em.fail(op, f"input {x.describe()} must be a 2-D activation [batch, inputs]")
    if wf.data is None or wt.data is None or len(wf.shape) != 2 or len(wt.shape) != 2:
        em.fail(op, "weights_feature and weights_time must be constant 2-D tensors")
    batch, n_input = x.shape
    n_filter, n_memory = wt.shape
    rank = o.rank if o is not None else 0
    if rank < 1 or n_filter % rank:
        em.fail(op, f"rank {rank} must be >= 1 and divide the {n_filter} filters")
    n_unit = n_filter // rank
    if not 1 <= n_input <= MAX_INPUTS or n_memory < 1 or batch < 1:
        em.fail(op, f"{n_input} inputs, memory {n_memory}, batch {batch}: the runtime takes "
                    f"1..{MAX_INPUTS} inputs and a memory and batch of at least 1")
    _symmetric(em, op, wf, "weights_feature", T.INT8, (n_filter, n_input))
    _symmetric(em, op, wt, "weights_time", T.INT16, (n_filter, n_memory))
    _symmetric(em, op, state, "state", T.INT16, (batch, n_memory * n_filter))
    if not state.is_variable or state.data is not None:
        em.fail(op, f"state {state.describe()} must be a variable tensor without data")
    if tuple(y.shape) != (batch, n_unit):
        em.fail(op, f"output {y.describe()} must have shape {[batch, n_unit]}")
    if o is None or o.fusedActivationFunction not in SVDF_ACTIVATIONS:
        em.fail(op, "fused activation must be NONE or RELU (TFLite's integer SVDF applies none "
                    "but the int8 clamp)")
    try:
        (m1, s1), (m2, s2) = tflite_math.svdf_multipliers(
            em.sc(x), em.sc(wf), em.sc(wt), em.sc(state), em.sc(y))
    except ValueError as exc:
        em.fail(op, str(exc))
    b = em.bias_tensor(op, 3, n_unit)
    if b is not None and tuple(b.shape) != (n_unit,):
        em.fail(op, f"bias {b.describe()} must have shape {[n_unit]}")
    bias = "NULL" if b is None else em.const(op, b, "int32_t", np.int32, "bias")
    name = f"op{op.index}_params"
    em.decls.append(
        f"static const sbtf_rt_svdf_params {name} = {{"
        f"{em.const(op, wf, 'int8_t', np.int8, 'weights_feature')}, "
        f"{em.const(op, wt, 'int16_t', np.int16, 'weights_time')}, {bias}, {batch}, {n_input}, "
        f"{n_filter}, {n_memory}, {rank}, {em.zp(x)}, {em.zp(y)}, {m1}, {s1}, {m2}, {s2}}};\n")
    em.call(op, f"sbtf_rt_svdf_s8(&{name}, {em.act(x)}, {em.state(state, 'int16_t')}, "
                f"{em.act(y)})")
