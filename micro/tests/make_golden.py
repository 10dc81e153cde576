"""Generate golden test data for micro/tests/test_kernels.c from the NumPy reference.

The record (golden_types.h) and its writer, render(), also serve test_depthwise.c
(make_golden_depthwise.py).

    python micro/tests/make_golden.py OUT.h [--seed N] [--profile full|small]

Every case is computed by sbtf.converters.reference (the executable op spec), so the C kernels
are checked against the spec, not against themselves. Sweeps cover awkward channel counts
(1..65 around multiples of 8/32), kernels 1/3/5, strides, dilations, SAME/VALID, batches,
bias/no bias, every fused activation and random zero points, plus ResNet-8-sized layers.
"""
from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np

from sbtf import bitmask
from sbtf.converters import reference as ref
from sbtf.converters import tflite_math as tm

CHANNELS = [1, 7, 8, 9, 31, 32, 33, 63, 64, 65]


def _requant(rng, kind, c_out, k, act):
    """Random but sensible quantization: outputs spread over the int8 range."""
    zp_in = int(rng.integers(-128, 128))
    zp_out = int(rng.integers(-128, 128))
    s_in = float(rng.uniform(0.01, 0.1))
    s_out = float(rng.uniform(0.01, 0.1))
    # Typical |acc| ~ 127 * 60 * sqrt(0.35 K): scale so that maps to ~50 output steps.
    target = 50.0 / (127 * 60 * np.sqrt(0.35 * k + 1))
    real = target * rng.uniform(0.3, 3.0, size=c_out if kind == "conv" else 1)
    w_scales = real * s_out / s_in
    if kind == "conv":
        mult, shift = tm.conv_multipliers(s_in, w_scales, s_out)
    else:
        mult, shift = tm.fully_connected_multipliers(s_in, w_scales, s_out)
        mult, shift = np.repeat(mult, c_out), np.repeat(shift, c_out)
    act_min, act_max = tm.activation_range(act, s_out, zp_out)
    return ref.Requant(-zp_in, zp_out, mult, shift, act_min, act_max)


def _mask(rng, c_out, k, density=0.35):
    w = (rng.random((c_out, k)) < density).astype(np.int32)
    signs = rng.choice([-1, 1], size=c_out)
    w = (w * signs[:, None] * bitmask.MAGNITUDE).astype(np.int8)
    if c_out > 2:
        w[1] = 0  # an empty filter
    if c_out > 3:
        w[2, :] = bitmask.MAGNITUDE  # a full filter
    return bitmask.pack(w)


def conv_case(rng, name, n, h, w, c_in, c_out, kh, kw, stride, dilation, padding, act, bias):
    k = kh * kw * c_in
    rq = _requant(rng, "conv", c_out, k, act)
    x = rng.integers(-128, 128, size=(n, h, w, c_in), dtype=np.int64).astype(np.int8)
    mask, sign = _mask(rng, c_out, k)
    b = rng.integers(-20000, 20001, size=c_out).astype(np.int32) if bias else None
    y = ref.sbtf_conv2d(x, mask, sign, b, rq, filter_hw=(kh, kw), stride=stride,
                        dilation=dilation, padding=padding)
    pad_h = tm.conv_padding_before(h, kh, stride[0], dilation[0], padding)
    pad_w = tm.conv_padding_before(w, kw, stride[1], dilation[1], padding)
    return {"kind": "conv", "name": name, "x": x, "mask": mask, "sign": sign, "bias": b, "rq": rq, "y": y,
                "dims": {"n": n, "h": h, "w": w, "c_in": c_in, "c_out": c_out, "kh": kh, "kw": kw,
                          "oh": y.shape[1], "ow": y.shape[2]},
                "conv": {"stride": stride, "dilation": dilation, "pad": (pad_h, pad_w)}}


def fc_case(rng, name, batches, c_in, c_out, act, bias):
    rq = _requant(rng, "fc", c_out, c_in, act)
    x = rng.integers(-128, 128, size=(batches, c_in), dtype=np.int64).astype(np.int8)
    mask, sign = _mask(rng, c_out, c_in)
    b = rng.integers(-20000, 20001, size=c_out).astype(np.int32) if bias else None
    y = ref.sbtf_fully_connected(x, mask, sign, b, rq)
    return {"kind": "fc", "name": name, "x": x, "mask": mask, "sign": sign, "bias": b, "rq": rq, "y": y,
                "dims": {"n": batches, "c_in": c_in, "c_out": c_out}}


def cases(seed: int, profile: str):
    rng = np.random.default_rng(seed)
    out = []
    # Every (C_in, C_out) pair once, with the other parameters drawn at random.
    for c_in, c_out in itertools.product(CHANNELS, CHANNELS):
        kh = int(rng.choice([1, 3, 5] if c_in <= 33 else [1, 3]))
        kw = kh if rng.random() < 0.8 else int(rng.choice([1, 3]))
        stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        dilation = (int(rng.integers(1, 3)), 1) if rng.random() < 0.3 else (1, 1)
        padding = int(rng.choice([tm.PADDING_SAME, tm.PADDING_VALID]))
        eff = max((kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1)
        h = int(rng.integers(eff, eff + 4))
        w = int(rng.integers(eff, eff + 4))
        if c_in * c_out > 2000:  # keep the golden data small enough for the STM32's flash
            h, w = min(h, eff + 1), min(w, eff + 1)
        n = 2 if rng.random() < 0.15 else 1
        act = int(rng.integers(0, 4))
        bias = rng.random() < 0.8
        out.append(conv_case(rng, f"conv_ci{c_in}_co{c_out}_k{kh}x{kw}_s{stride[0]}{stride[1]}"
                             f"_d{dilation[0]}{dilation[1]}_{'same' if padding == 0 else 'valid'}"
                             f"_n{n}_a{act}{'' if bias else '_nobias'}",
                             n, h, w, c_in, c_out, kh, kw, stride, dilation, padding, act, bias))
    # Targeted corners: all stride/dilation/padding combinations on one shape, batch 2.
    for stride, dilation, padding in itertools.product([(1, 1), (2, 2), (1, 2)], [(1, 1), (2, 2)],
                                                       [tm.PADDING_SAME, tm.PADDING_VALID]):
        out.append(conv_case(rng, f"conv_corner_s{stride}_d{dilation}_p{padding}", 2, 7, 6, 9, 9,
                             3, 3, stride, dilation, padding, int(rng.integers(0, 4)), True))
    # Kernel rows used in place (K % 16 == 0, whole groups per row) next to copied border rows,
    # with dilation, strides and batch 2.
    for c_in, (kh, kw), stride, dilation in [(16, (3, 3), (1, 2), (2, 2)), (16, (5, 3), (2, 1), (1, 2)),
                                             (4, (4, 4), (1, 1), (1, 1)), (32, (1, 3), (1, 1), (1, 1))]:
        out.append(conv_case(rng, f"conv_runs_ci{c_in}_k{kh}x{kw}_s{stride}_d{dilation}", 2, 9, 8,
                             c_in, 12, kh, kw, stride, dilation, tm.PADDING_SAME,
                             int(rng.integers(0, 4)), True))
    # Helium's pixel-vectorized path (>= 8 output pixels, C_in a multiple of 4): channels not
    # a multiple of 16, stride 3 and 2 (phase-major strips), dilation, rows not a multiple of 8
    # pixels, batch 2, K > 256 (int16 sums widened every 64 groups).
    out.append(conv_case(rng, "conv_px_ci12_s13_d21", 2, 10, 13, 12, 10, 3, 2, (1, 3), (2, 1),
                         tm.PADDING_SAME, tm.ACT_RELU, True))
    out.append(conv_case(rng, "conv_px_ci36_k324", 1, 6, 9, 36, 9, 3, 3, (1, 1), (1, 1),
                         tm.PADDING_VALID, tm.ACT_NONE, False))
    out.append(conv_case(rng, "conv_px_ci16_s22_d12", 1, 5, 17, 16, 5, 1, 3, (2, 2), (1, 2),
                         tm.PADDING_SAME, tm.ACT_RELU6, True))
    out.append(conv_case(rng, "conv_5x5_c3_edge", 1, 5, 5, 3, 8, 5, 5, (1, 1), (1, 1),
                         tm.PADDING_SAME, tm.ACT_RELU6, True))
    out.append(conv_case(rng, "conv_1x1_pixel", 1, 1, 1, 65, 33, 3, 3, (2, 2), (2, 2),
                         tm.PADDING_SAME, tm.ACT_NONE, False))
    # Helium's row tables (3x3 kernels, stride_h == dilation_h, output rows a multiple of 4):
    # batch 2 with a part-filled 8-pixel vector, stride = dilation = 2 down the rows, and one
    # chunk only (3x1 kernel, 8 channels).
    out.append(conv_case(rng, "conv_pr_n2_w13", 2, 8, 13, 8, 7, 3, 3, (1, 1), (1, 1),
                         tm.PADDING_SAME, tm.ACT_RELU, True))
    out.append(conv_case(rng, "conv_pr_s21_d22", 1, 8, 10, 16, 5, 3, 3, (2, 1), (2, 2),
                         tm.PADDING_SAME, tm.ACT_NONE, True))
    out.append(conv_case(rng, "conv_pr_k3x1", 1, 4, 9, 8, 6, 3, 1, (1, 1), (1, 1),
                         tm.PADDING_SAME, tm.ACT_RELU6, False))
    for c_in in CHANNELS:
        for c_out in (1, 9, 64, 65):
            out.append(fc_case(rng, f"fc_ci{c_in}_co{c_out}", int(rng.integers(1, 4)), c_in, c_out,
                               int(rng.integers(0, 4)), rng.random() < 0.8))
    out.append(fc_case(rng, "fc_k1100_multichunk", 3, 1100, 7, tm.ACT_NONE, True))
    out.append(fc_case(rng, "fc_256_64_resnet8", 2, 256, 64, tm.ACT_NONE, True))
    # Few input channels (kernel rows under 16 bytes: copied inline; Helium runs K <= 32 one
    # pixel at a time): RGB-like 3x3 with stride 1 and 2, batch 2, 2 and 1 channels, dilation.
    for name, n, h, w, c_in, c_out, stride, dilation, padding in [
            ("c3_s11", 1, 9, 12, 3, 16, (1, 1), (1, 1), tm.PADDING_SAME),
            ("c3_s22_n2", 2, 9, 11, 3, 8, (2, 2), (1, 1), tm.PADDING_SAME),
            ("c3_s12_valid", 1, 7, 10, 3, 5, (1, 2), (1, 1), tm.PADDING_VALID),
            ("c2_d12", 1, 8, 9, 2, 5, (1, 1), (1, 2), tm.PADDING_SAME),
            ("c1_s11", 1, 6, 7, 1, 4, (1, 1), (1, 1), tm.PADDING_SAME)]:
        out.append(conv_case(rng, f"conv_small_{name}", n, h, w, c_in, c_out, 3, 3, stride,
                             dilation, padding, int(rng.integers(0, 4)), True))
    # K <= 32 as one kernel row used in place (1x1 on 16 and 32 channels, fewer than 8 output
    # pixels: Helium's pixel path declines, its short-filter path takes them).
    for c_in, h, w in [(16, 2, 3), (32, 1, 5)]:
        out.append(conv_case(rng, f"conv_short_1x1_ci{c_in}", 1, h, w, c_in, 6, 1, 1, (1, 1),
                             (1, 1), tm.PADDING_VALID, int(rng.integers(0, 4)), True))
    if profile == "full":
        # ResNet-8-sized layers (MLPerf Tiny): L1, L4 and L5 shapes.
        out.append(conv_case(rng, "resnet8_L1", 1, 32, 32, 16, 16, 3, 3, (1, 1), (1, 1),
                             tm.PADDING_SAME, tm.ACT_RELU, True))
        out.append(conv_case(rng, "resnet8_L4", 1, 16, 16, 32, 64, 3, 3, (2, 2), (1, 1),
                             tm.PADDING_SAME, tm.ACT_RELU, True))
        out.append(conv_case(rng, "resnet8_L5", 1, 8, 8, 64, 64, 3, 3, (1, 1), (1, 1),
                             tm.PADDING_SAME, tm.ACT_NONE, True))
    return out


def _array(name, ctype, values, per_line=24):
    values = [int(v) for v in np.asarray(values).reshape(-1)]
    lines = [", ".join(str(v) for v in values[i:i + per_line]) for i in range(0, len(values), per_line)]
    body = ",\n  ".join(lines) if values else "0"
    return f"static const {ctype} {name}[] = {{\n  {body}\n}};\n"


def _dims(d) -> str:
    return "{" + ", ".join(str(int(v)) for v in d) + "}"


def render(all_cases, generator: str = "make_golden.py") -> str:
    parts = [f"/* Generated by micro/tests/{generator} from sbtf.converters.reference. */\n",
             "#include \"golden_types.h\"\n\n"]
    entries = []
    max_out = 0
    for i, c in enumerate(all_cases):
        p = f"g{i}_"
        rq = c["rq"]
        parts.append(_array(p + "x", "int8_t", c["x"]))
        parts.append(_array(p + "mask", "uint8_t", c["mask"]))
        parts.append(_array(p + "sign", "int8_t", c["sign"]))
        parts.append(_array(p + "mult", "int32_t", rq.multiplier))
        parts.append(_array(p + "shift", "int32_t", rq.shift))
        parts.append(_array(p + "y", "int8_t", c["y"]))
        bias = "NULL"
        if c["bias"] is not None:
            parts.append(_array(p + "bias", "int32_t", c["bias"]))
            bias = p + "bias"
        d = c["dims"]
        max_out = max(max_out, c["y"].size)
        if c["kind"] == "depthwise":
            geometry = (f"{_dims(d['input'])}, {_dims(d['filter'])}, {_dims(d['output'])}, "
                        f"{d['stride'][0]}, {d['stride'][1]}, {d['dilation'][0]}, "
                        f"{d['dilation'][1]}, {d['pad'][0]}, {d['pad'][1]}")
        elif c["kind"] == "conv":
            cv = c["conv"]
            geometry = (f"{{{d['n']}, {d['h']}, {d['w']}, {d['c_in']}}}, "
                        f"{{{d['c_out']}, {d['kh']}, {d['kw']}, {d['c_in']}}}, "
                        f"{{{d['n']}, {d['oh']}, {d['ow']}, {d['c_out']}}}, "
                        f"{cv['stride'][0]}, {cv['stride'][1]}, {cv['dilation'][0]}, "
                        f"{cv['dilation'][1]}, {cv['pad'][0]}, {cv['pad'][1]}")
        else:
            geometry = (f"{{{d['n']}, 1, 1, {d['c_in']}}}, {{{d['c_out']}, 1, 1, {d['c_in']}}}, "
                        f"{{{d['n']}, 1, 1, {d['c_out']}}}, 1, 1, 1, 1, 0, 0")
        entries.append(
            f"  {{\"{c['name']}\", {1 if c['kind'] == 'fc' else 0}, {geometry}, "
            f"{rq.input_offset}, {rq.output_offset}, {rq.act_min}, {rq.act_max}, "
            f"{p}x, {p}mask, {p}sign, {bias}, {p}mult, {p}shift, {p}y, "
            f"{d.get('depth_multiplier', 0)}}},\n")
    parts.append("static const golden_case golden_cases[] = {\n" + "".join(entries) + "};\n")
    parts.append(f"#define GOLDEN_CASES {len(all_cases)}\n#define GOLDEN_MAX_OUTPUT {max_out}\n")
    return "".join(parts)


def write(out: Path, all_cases, generator: str = "make_golden.py") -> int:
    """Writes the header OUT; returns the number of cases."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(all_cases, generator))
    print(f"{out}: {len(all_cases)} cases")
    return len(all_cases)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--profile", choices=["full", "small"], default="full")
    args = ap.parse_args(argv)
    return write(args.out, cases(args.seed, args.profile))


if __name__ == "__main__":
    main()
