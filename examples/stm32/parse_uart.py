"""Turn a captured UART log of sbtf's STM32 firmware into an outputs .npy and cycle figures.

    python examples/stm32/parse_uart.py uart.log --output board_out.npy [--mhz 16]

The firmware (`sbtf-micro build ... --board nucleo-*`) prints
    sbtf-info board=<name> arena=<bytes> inputs=<N>
    sbtf-info cycles=unavailable          (when the DWT cycle counter does not advance: QEMU)
    sbtf-out <i> <hex bytes of output i> <cycles, or ->
    sbtf-done
(or `sbtf-error op=<index> status=<code>`). This reads those lines (anything else in the log,
such as a terminal's noise from before the reset, is ignored), checks that all N outputs
arrived, saves them as int8 [N, output size], and prints the DWT cycles per inference (or that
they are unavailable).

Exit status: 0 done, 1 the firmware reported an error or the log is incomplete, 2 bad input.
"""
from __future__ import annotations

import argparse
import re
import sys

import numpy as np

from sbtf.micro.runtime import parse_output


def parse_log(text: str):
    """(board, outputs int8 [N, size], cycles [N], or [] when the board has no running cycle
    counter) from the firmware's UART lines."""
    info = re.search(r"sbtf-info board=(\S+) arena=\d+ inputs=(\d+)", text)
    if info is None:
        raise ValueError("no `sbtf-info board=... inputs=N` line: is this the firmware's output, "
                         "captured from before the reset (press the board's black RESET button "
                         "while capturing)?")
    board, n = info.group(1), int(info.group(2))
    first = re.search(r"^sbtf-out \d+ ([0-9a-f]+) (\d+|-)", text, re.MULTILINE)
    if first is None:
        error = re.search(r"^sbtf-error .*$", text, re.MULTILINE)
        raise RuntimeError(f"{board}: {error.group(0)}" if error else
                           f"{board}: no `sbtf-out` lines (the log stops early?)")
    size = len(first.group(1)) // 2
    outputs, cycles, _, _ = parse_output(text, n, (size,), board)
    if "sbtf-done" not in text:
        raise RuntimeError(f"{board}: all {n} outputs arrived but no `sbtf-done` line")
    return board, outputs, np.asarray(cycles)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("log", help="UART capture (text)")
    p.add_argument("--output", help="write the int8 outputs to this .npy")
    p.add_argument("--mhz", type=float, default=16.0,
                   help="core clock for the time figure (the firmware runs on the 16 MHz HSI)")
    args = p.parse_args(argv)
    try:
        with open(args.log, encoding="ascii", errors="replace") as f:
            text = f.read()
    except OSError as e:
        print(f"error: {args.log}: {e}", file=sys.stderr)
        return 2
    try:
        board, outputs, cycles = parse_log(text)
    except ValueError as e:
        print(f"error: {args.log}: {e}", file=sys.stderr)
        return 2
    except RuntimeError as e:  # includes sbtf.micro.runtime.RuntimeError_
        print(f"error: {args.log}: {e}", file=sys.stderr)
        return 1
    print(f"{board}: {len(outputs)} outputs of {outputs.shape[1]} int8 values")
    if len(cycles):
        print(f"cycles per inference: median {int(np.median(cycles))}, min {cycles.min()}, max "
              f"{cycles.max()} ({np.median(cycles) / args.mhz / 1000:.2f} ms at {args.mhz:g} MHz)")
    else:
        print("cycles per inference: unavailable (the board's DWT cycle counter does not advance;"
              " QEMU does not model it)")
    if args.output:
        np.save(args.output, outputs)
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
