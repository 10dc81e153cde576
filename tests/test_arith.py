"""micro/include/sbtf_arith.h, TFLite's int8 arithmetic written once in C for the kernels, the
runtime, the tests and the host delegate (micro/tests/test_arith.c drives it).

Its fast requantization forms (scalar, DSP and Helium builds) equal gemmlowp's literal form over
edge values and a random sweep; its requantization and prepare math (QuantizeMultiplier,
activation range, conv output size and padding) equal the Python reference
(sbtf.converters.reference) case by case.
"""
import re

import numpy as np
import pytest

from sbtf.converters import reference as ref
from sbtf.converters import tflite_math as tm
from sbtf.micro import build, qemu, source_dir

SOURCE = source_dir() / "tests" / "test_arith.c"


def _check_summary(res, path):
    res.check()
    m = re.search(r"sbtf_arith_tests: path=(\w+) cases=(\d+) failures=(\d+)", res.stdout)
    assert m, res.stdout[-2000:]
    assert m[1] == path and int(m[2]) > 200_000 and int(m[3]) == 0, res.stdout[-2000:]


@pytest.fixture(scope="module")
def host_exe(tmp_path_factory):
    return build.build_host([SOURCE], opt="-O1", sanitize=True,
                            out=tmp_path_factory.mktemp("arith") / "test_arith")


def test_fast_forms_equal_gemmlowp_on_host(host_exe):
    _check_summary(qemu.run_host(host_exe, timeout=120), "portable")


@pytest.mark.parametrize("board,path", [("mps2-an386", "dsp"), ("mps3-an547", "helium")])
def test_fast_forms_equal_gemmlowp_on_boards(board, path, tmp_path):
    elf = build.build_elf(board, [SOURCE], ldflags=["-lm"], out=tmp_path / f"test_arith_{board}.elf")
    _check_summary(qemu.run(board, elf, timeout=300), path)


def _wrap32(v):
    return ((np.asarray(v, np.int64) + (1 << 31)) % (1 << 32)) - (1 << 31)


def _cases(rng):
    """(line for test_arith.c, expected answer) pairs from the Python reference."""
    n = 3000
    xs = np.concatenate([rng.integers(-2**31, 2**31, n), [0, 1, -1, -2**31, 2**31 - 1] * 2])
    ms = np.concatenate([rng.integers(0, 2**31, n), [2**30, 2**31 - 1, 0, -2**31, -2**31,
                                                      2**30, 2**31 - 1, 1, -2**31, 12345]])
    ms[: n // 10] = rng.integers(-2**31, 0, n // 10)  # any sign: sbtf_mbqm's general form
    ss = np.concatenate([rng.integers(-31, 31, n), [-31, 30, -1, 0, 1, -5, 0, 30, -31, 3]])
    double = ref.multiply_by_quantized_multiplier(xs, ms, ss)
    single = _wrap32(ref.multiply_by_quantized_multiplier_single_rounding(xs, ms, ss))
    for x, m, s, d, r in zip(xs, ms, ss, double, single):
        yield f"mbqm {x} {m} {s}", f"{d} {r}"

    reals = [0.0, 2.0**-40, 2.0**-32, 0.5, 1.0, 2.0**30, 2.0**31, 1e10, 0.999999999999,
             (2**30 + 0.5) / 2**31, (2**31 - 0.5) / 2**31 * 4.0]
    reals += list(2.0 ** rng.uniform(-45, 33, 500))
    for real in reals:
        try:
            m, s = tm.quantize_multiplier(real)
            want = f"1 {m} {s}"
        except ValueError:
            want = "0 0 0"
        yield f"qm {real!r}", want

    for _ in range(400):
        act = int(rng.integers(0, 4))
        scale = np.float32(2.0 ** rng.uniform(-10, 0))
        zp = int(rng.integers(-128, 128))
        lo, hi = tm.activation_range(act, float(scale), zp)
        yield f"act {act} {scale} {zp}", f"{lo} {hi}"

    for _ in range(400):
        k, stride, dil = (int(v) for v in rng.integers(1, [8, 5, 4]))
        size = int(rng.integers((k - 1) * dil + 1, 65))
        pad = int(rng.integers(0, 2))
        out = tm.conv_output_size(size, k, stride, dil, pad)
        before = tm.conv_padding_before(size, k, stride, dil, pad)
        yield f"conv {size} {k} {stride} {dil} {pad}", f"{out} {before}"


def test_matches_the_python_reference(host_exe, tmp_path):
    cases = list(_cases(np.random.default_rng(13)))
    (tmp_path / "cases.txt").write_text("".join(c + "\n" for c, _ in cases))
    res = qemu.run_host(host_exe, [str(tmp_path / "cases.txt")], timeout=120)
    res.check()
    got = res.stdout.splitlines()
    assert len(got) == len(cases), res.stdout[-2000:]
    bad = [(c, w, g) for (c, w), g in zip(cases, got) if w != g]
    assert not bad, bad[:10]
