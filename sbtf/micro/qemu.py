"""Run a board ELF under qemu-system-arm with semihosting, or a host executable, with a timeout.

    res = run("mps2-an386", elf, timeout=60)            # RunResult
    res.check()                                          # raises RunError unless exit code 0
    res = run("mps2-an386", elf, icount=True)            # exact instruction counting (SysTick)

Never hangs: a run that exceeds `timeout` seconds is killed and reported (timed_out=True).
A HardFault (reported by micro/boards/startup.c) or stack overflow gives a failed RunResult
whose `error` says what happened.
"""
from __future__ import annotations

import os
import re
import selectors
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sbtf.micro import boards as _boards

__all__ = ["RunError", "RunResult", "qemu_command", "run", "run_host", "run_uart"]

QEMU = "qemu-system-arm"
EXIT_FAULT = 70  # micro/boards/sbtf_board.h SBTF_EXIT_FAULT
EXIT_STACK_OVERFLOW = 71  # SBTF_EXIT_STACK_OVERFLOW


class RunError(RuntimeError):
    """A board or host run failed (non-zero exit, fault, timeout)."""


@dataclass
class RunResult:
    target: str  # board name or "host"
    exit_code: int | None  # None when killed on timeout
    stdout: str
    stderr: str
    timed_out: bool
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.timed_out and self.exit_code == 0

    @property
    def error(self) -> str | None:
        """What went wrong, in one line (None when ok)."""
        if self.timed_out:
            return f"{self.target}: timed out after {self.seconds:.0f} s (killed)"
        if self.exit_code == 0:
            return None
        output = self.stdout + self.stderr
        if self.exit_code == EXIT_FAULT or "sbtf-board: HardFault" in output:
            line = next((ln for ln in output.splitlines() if "HardFault" in ln), "")
            return f"{self.target}: HardFault: {line.strip()}"
        if "Lockup" in self.stderr:
            # QEMU aborts when a fault cannot be stacked (e.g. the stack ran off mapped RAM).
            return f"{self.target}: CPU lockup (fault during fault entry; stack overflow?)"
        if self.exit_code == EXIT_STACK_OVERFLOW:
            return f"{self.target}: stack overflow (canary overwritten)"
        if self.exit_code is not None and self.exit_code < 0:
            return f"{self.target}: killed by signal {-self.exit_code}"
        return f"{self.target}: exit code {self.exit_code}"

    def check(self) -> RunResult:
        """Return self when the run succeeded, else raise RunError with the output tail."""
        if not self.ok:
            tail = (self.stdout + self.stderr)[-3000:]
            raise RunError(f"{self.error}\n--- output (tail) ---\n{tail}")
        return self


def qemu_command(board, elf, icount: bool = False) -> list[str]:
    b = _boards.get(board)
    cmd = [QEMU, "-M", b.machine, "-nographic", "-monitor", "none", "-serial", "none",
           "-semihosting-config", "enable=on,target=native", "-kernel", str(elf)]
    if icount:
        # 1 ns of virtual time per instruction: SysTick counts instructions exactly.
        cmd += ["-icount", "shift=0"]
    return cmd


def _run(cmd: list[str], target: str, timeout: float, env=None) -> RunResult:
    start = time.monotonic()
    # Own process group so a timeout kills QEMU and anything it started, and only those.
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, errors="replace",
                            start_new_session=True, env=env)
    try:
        out, err = proc.communicate(timeout=timeout)
        return RunResult(target, proc.returncode, out, err, False, time.monotonic() - start)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return RunResult(target, None, out, err, True, time.monotonic() - start)


def run(board, elf, timeout: float = 120.0, icount: bool = False) -> RunResult:
    """Run `elf` on `board` under QEMU; stdout is the guest's semihosting output."""
    b = _boards.get(board)
    elf = Path(elf)
    if not elf.is_file():
        raise FileNotFoundError(f"no ELF at {elf}")
    if shutil.which(QEMU) is None:
        raise RunError(f"{QEMU} not found (run `make setup`)")
    return _run(qemu_command(b, elf, icount), b.name, timeout)


# Lines after which sbtf's real-board firmware (micro/boards/stm32/sbtf_main_uart.c) prints
# nothing more.
UART_LAST_LINES = ("sbtf-done", "sbtf-error", "sbtf-board: fault")


def run_uart(machine: str, elf, uart: int, timeout: float = 120.0) -> RunResult:
    """Boot a real board's UART firmware unchanged on the QEMU `machine` (e.g. the NUCLEO-F411RE's
    image on netduinoplus2, the same USART2) and capture UART number `uart` (1-based: QEMU's
    `-serial` options in order). The firmware never exits: the run stops at its last line
    (UART_LAST_LINES; exit code 0 then) or after `timeout` seconds."""
    elf = Path(elf)
    if not elf.is_file():
        raise FileNotFoundError(f"no ELF at {elf}")
    if shutil.which(QEMU) is None:
        raise RunError(f"{QEMU} not found (run `make setup`)")
    serials = [arg for i in range(1, uart + 1)
               for arg in ("-serial", "stdio" if i == uart else "null")]
    cmd = [QEMU, "-M", machine, "-nographic", "-monitor", "none", *serials, "-kernel", str(elf)]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    last_line = re.compile(rb"^(?:" + b"|".join(re.escape(x.encode()) for x in UART_LAST_LINES)
                           + rb")[^\n]*\n", re.MULTILINE)
    out, finished, exited = b"", None, False
    fd = proc.stdout.fileno()
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while not finished and time.monotonic() - start < timeout:
            if not sel.select(timeout=0.5):
                continue
            chunk = os.read(fd, 1 << 16)
            exited = not chunk
            if exited:
                break
            out += chunk
            finished = last_line.search(out)
    os.killpg(proc.pid, signal.SIGKILL)
    _, err = proc.communicate()
    if finished:  # an sbtf-error line is reported by whoever parses the output
        exit_code = EXIT_FAULT if finished.group(0).startswith(b"sbtf-board: fault") else 0
    else:
        exit_code = (proc.returncode or 1) if exited else None
    return RunResult(machine, exit_code, out.decode("ascii", "replace"),
                     err.decode("utf-8", "replace"), exit_code is None,
                     time.monotonic() - start)


def run_host(exe, args: Sequence[str] = (), timeout: float = 120.0) -> RunResult:
    """Run a host executable (e.g. from build.build_host) with a timeout."""
    exe = Path(exe)
    if not exe.is_file():
        raise FileNotFoundError(f"no executable at {exe}")
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    return _run([str(exe.resolve()), *args], "host", timeout, env=env)
