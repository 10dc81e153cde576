"""Golden data for micro/tests/test_depthwise.c (SBTF_DEPTHWISE_CONV_2D) from the NumPy reference.

    python micro/tests/make_golden_depthwise.py OUT.h [--seed N]

Every expected output is sbtf.converters.reference.sbtf_depthwise_conv2d (the executable op
spec; tests/test_depthwise.py checks it against TFLite's DEPTHWISE_CONV_2D). The sweep covers
channel counts around multiples of 4, depth multipliers 1-3, kernels 1x1 to 5x5 and 3x1, strides,
dilations, SAME/VALID, batch 2, bias / no bias, every fused activation and random zero points,
plus a layer with more than 255 taps (the DSP path's 16-bit sums do not apply there).
"""
from __future__ import annotations

import argparse
import importlib.util
import itertools
from pathlib import Path

import numpy as np

from sbtf.converters import reference as ref
from sbtf.converters import tflite_math as tm

_spec = importlib.util.spec_from_file_location("make_golden", Path(__file__).with_name("make_golden.py"))
golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden)


def dw_case(rng, name, n, h, w, c_in, mult, kh, kw, stride, dilation, padding, act, bias):
    c_out = c_in * mult
    rq = golden._requant(rng, "conv", c_out, kh * kw, act)
    x = rng.integers(-128, 128, size=(n, h, w, c_in), dtype=np.int64).astype(np.int8)
    mask, sign = golden._mask(rng, c_out, kh * kw, density=0.5)
    b = rng.integers(-20000, 20001, size=c_out).astype(np.int32) if bias else None
    y = ref.sbtf_depthwise_conv2d(x, mask, sign, b, rq, filter_hw=(kh, kw), depth_multiplier=mult,
                                  stride=stride, dilation=dilation, padding=padding)
    pad = (tm.conv_padding_before(h, kh, stride[0], dilation[0], padding),
           tm.conv_padding_before(w, kw, stride[1], dilation[1], padding))
    return {"kind": "depthwise", "name": name, "x": x, "mask": mask, "sign": sign, "bias": b,
            "rq": rq, "y": y,
            "dims": {"input": (n, h, w, c_in), "filter": (1, kh, kw, c_out), "output": y.shape,
                     "depth_multiplier": mult, "stride": stride, "dilation": dilation, "pad": pad}}


def cases(seed: int):
    rng = np.random.default_rng(seed)
    out = []
    for c_in, mult in itertools.product([1, 3, 4, 5, 8, 13, 32, 33], [1, 2, 3]):
        kh = int(rng.choice([1, 3, 5]))
        kw = kh if rng.random() < 0.8 else int(rng.choice([1, 3]))
        stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        dilation = (int(rng.integers(1, 3)), int(rng.integers(1, 3))) if rng.random() < 0.3 else (1, 1)
        padding = int(rng.choice([tm.PADDING_SAME, tm.PADDING_VALID]))
        eff_h, eff_w = (kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1
        h, w = int(rng.integers(eff_h, eff_h + 5)), int(rng.integers(eff_w, eff_w + 5))
        n = 2 if rng.random() < 0.2 else 1
        act, bias = int(rng.integers(0, 4)), bool(rng.random() < 0.8)
        out.append(dw_case(rng, f"dw_ci{c_in}_m{mult}_k{kh}x{kw}_s{stride[0]}{stride[1]}"
                           f"_d{dilation[0]}{dilation[1]}_{'same' if padding == 0 else 'valid'}"
                           f"_n{n}_a{act}{'' if bias else '_nobias'}",
                           n, h, w, c_in, mult, kh, kw, stride, dilation, padding, act, bias))
    for stride, dilation, padding in itertools.product([(1, 1), (2, 2)], [(1, 1), (2, 2)],
                                                       [tm.PADDING_SAME, tm.PADDING_VALID]):
        out.append(dw_case(rng, f"dw_corner_s{stride[0]}_d{dilation[0]}_p{padding}", 2, 7, 8, 12,
                           1, 3, 3, stride, dilation, padding, int(rng.integers(0, 4)), True))
    out.append(dw_case(rng, "dw_16x16_taps", 1, 17, 16, 8, 1, 16, 16, (1, 1), (1, 1),
                       tm.PADDING_SAME, tm.ACT_NONE, True))
    out.append(dw_case(rng, "dw_mobilenet_16x16x64", 1, 16, 16, 64, 1, 3, 3, (1, 1), (1, 1),
                       tm.PADDING_SAME, tm.ACT_RELU6, True))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=4321)
    args = ap.parse_args(argv)
    return golden.write(args.out, cases(args.seed), "make_golden_depthwise.py")


if __name__ == "__main__":
    main()
