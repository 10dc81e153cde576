"""sbtf's Cortex-M support and C kernels: boards, runner, instruction counter, kernels.

Board images run under qemu-system-arm (micro/boards/, sbtf.micro.{boards,build,qemu}); the
kernels are checked bit for bit against sbtf.converters.reference on the host (plain, with
ASan/UBSan, and forced portable) and on all four QEMU boards.
"""
import re

import pytest

from sbtf.micro import boards, build, qemu, source_dir

BOARDS = boards.names()
SELFTEST = source_dir() / "tests" / "board_selftest.c"


def _selftest(board, tmp_path, loop=100_000, **defines):
    elf = build.build_elf(board, [SELFTEST], defines={"SELFTEST_LOOP": f"{loop}u", **defines},
                          out=tmp_path / f"{board}-selftest.elf")
    return elf


@pytest.mark.parametrize("board", BOARDS)
def test_board_runs_with_semihosting_and_exact_counter(board, tmp_path):
    res = qemu.run(board, _selftest(board, tmp_path), timeout=60, icount=True)
    # The self-test returns 42: the exit code must come through semihosting unchanged.
    assert res.exit_code == 42, res.error
    assert f"board {board}" in res.stdout
    m = re.search(r"measured=(\d+) expected=(\d+)", res.stdout)
    assert m, res.stdout
    measured, expected = int(m[1]), int(m[2])
    # Exact up to one SysTick tick (40 instructions on mps2, 31.25 on mps3, ~6 on netduino).
    assert abs(measured - expected) <= boards.get(board).instructions_per_tick + 1, res.stdout


@pytest.mark.slow
def test_counter_survives_systick_wraps(tmp_path):
    # 3e8 iterations = 9e8 instructions: more than one 2^24-tick SysTick period (6.7e8 on mps2).
    res = qemu.run("mps2-an386", _selftest("mps2-an386", tmp_path, loop=300_000_000),
                   timeout=120, icount=True)
    assert res.exit_code == 42, res.error
    m = re.search(r"measured=(\d+) expected=(\d+)", res.stdout)
    assert m and abs(int(m[1]) - int(m[2])) <= 41, res.stdout


@pytest.mark.parametrize("board", ["mps2-an386", "mps3-an547"])
def test_hardfault_is_reported(board, tmp_path):
    res = qemu.run(board, _selftest(board, tmp_path, SELFTEST_FAULT=None), timeout=30)
    assert not res.ok and res.exit_code == qemu.EXIT_FAULT
    assert "HardFault" in res.error and "pc=" in res.error


@pytest.mark.parametrize("board", ["mps2-an386", "mps3-an547", "netduinoplus2"])
def test_stack_overflow_is_caught(board, tmp_path):
    res = qemu.run(board, _selftest(board, tmp_path, SELFTEST_STACK_OVERFLOW=None), timeout=30)
    # mps2: canary (writes below RAM are ignored); M55: MSPLIM fault; STM32: stacking runs off
    # RAM and QEMU reports a lockup. All three must come back as a failure saying so.
    assert not res.ok
    assert res.exit_code in (qemu.EXIT_FAULT, qemu.EXIT_STACK_OVERFLOW) or "lockup" in res.error
    assert re.search("stack|HardFault|lockup", res.error), res.error


def test_timeout_kills_a_hung_board(tmp_path):
    res = qemu.run("mps2-an386", _selftest("mps2-an386", tmp_path, SELFTEST_HANG=None), timeout=3)
    assert res.timed_out and not res.ok and "timed out" in res.error
    with pytest.raises(qemu.RunError, match="timed out"):
        res.check()


def test_build_error_names_the_file(tmp_path):
    bad = tmp_path / "broken.c"
    bad.write_text("int main(void) { return undefined_symbol; }\n")
    with pytest.raises(build.BuildError, match="broken.c"):
        build.build_elf("mps2-an386", [bad], out=tmp_path / "broken.elf")
    with pytest.raises(ValueError, match="unknown board"):
        boards.get("mps2-an999")


# ---- kernels: bit-exact with the NumPy reference on host and boards ----

TESTS = source_dir() / "tests"


@pytest.fixture(scope="module")
def golden(tmp_path_factory):
    """Golden header generated from sbtf.converters.reference (micro/tests/make_golden.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_golden", TESTS / "make_golden.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path_factory.mktemp("golden") / "sbtf_golden.h"
    n_cases = mod.main([str(out)])
    assert n_cases > 150
    return out.parent, n_cases


def _kernel_test_sources():
    return [TESTS / "test_kernels.c", *build.kernel_sources()]


def _check_summary(res, n_cases, path):
    res.check()
    m = re.search(r"sbtf_kernel_tests: path=(\w+) cases=(\d+) max_scratch=(\d+) failures=(\d+)",
                  res.stdout)
    assert m, res.stdout[-2000:]
    assert m[1] == path and int(m[2]) == n_cases and int(m[4]) == 0, res.stdout[-2000:]
    # Scratch stays modest: the largest golden case is a 3x3x65 -> 65 conv.
    assert int(m[3]) <= 24 * 1024


@pytest.mark.parametrize("variant", ["plain", "sanitize", "portable"])
def test_kernels_host(variant, golden, tmp_path):
    inc, n_cases = golden
    exe = build.build_host(
        _kernel_test_sources(), include_dirs=[inc, TESTS],
        defines=["SBTF_FORCE_PORTABLE"] if variant == "portable" else None,
        opt="-O1" if variant == "sanitize" else "-O2", sanitize=variant == "sanitize",
        out=tmp_path / f"test_kernels_{variant}")
    _check_summary(qemu.run_host(exe, timeout=300), n_cases, "portable")


@pytest.mark.parametrize("board,forced", [(b, False) for b in BOARDS] + [("mps2-an386", True),
                                                                        ("mps3-an547", True)])
def test_kernels_board(board, forced, golden, tmp_path):
    inc, n_cases = golden
    elf = build.build_elf(board, _kernel_test_sources(), include_dirs=[inc, TESTS],
                          defines=["SBTF_FORCE_PORTABLE"] if forced else None,
                          out=tmp_path / f"test_kernels_{board}.elf")
    path = "portable" if forced else {"dsp": "dsp", "mve": "helium"}[boards.get(board).isa]
    _check_summary(qemu.run(board, elf, timeout=300), n_cases, path)
