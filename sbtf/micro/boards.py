"""Board definitions: the ONE place that says how to compile for and run on each QEMU board.

Each `Board` gives the qemu machine, the compiler flags for its core (cpu, FPU, float ABI), the
linker script in `micro/boards/`, the memory sizes that script enforces, and how many
instructions one SysTick tick stands for under `qemu-system-arm -icount shift=0` (1 ns per
instruction; SysTick runs from the CPU clock QEMU models for the board).

    >>> from sbtf.micro import boards
    >>> b = boards.get("mps2-an386")
    >>> b.machine, b.cflags[:1], b.instructions_per_tick
    ('mps2-an386', ('-mcpu=cortex-m4',), 40.0)
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

__all__ = ["BOARDS", "Board", "get", "names"]


@dataclass(frozen=True)
class Board:
    name: str  # sbtf's name (= QEMU machine name for the QEMU boards)
    machine: str  # qemu-system-arm -M
    cpu: str  # human-readable core
    cflags: tuple[str, ...]  # core, FPU and float-ABI flags (compile and link)
    linker_script: str  # file in micro/boards/
    flash: tuple[int, int]  # (origin, bytes) where code and constants go
    ram: tuple[int, int]  # (origin, bytes) for stack, .data, .bss, heap
    ticks: Fraction  # instructions per SysTick tick under -icount shift=0
    isa: str  # kernel path the compiler picks: "dsp" (M4/M7) or "mve" (M55)
    notes: str = ""

    @property
    def instructions_per_tick(self) -> float:
        return float(self.ticks)

    def defines(self) -> tuple[str, ...]:
        """Macros micro/boards/startup.c and sbtf_board.h read."""
        return (
            f'SBTF_BOARD_NAME="{self.name}"',
            f"SBTF_INSTR_PER_TICK_NUM={self.ticks.numerator}u",
            f"SBTF_INSTR_PER_TICK_DEN={self.ticks.denominator}u",
        )


_M4F = ("-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard", "-mthumb")

BOARDS: dict[str, Board] = {
    b.name: b
    for b in (
        Board(
            name="mps2-an386",
            machine="mps2-an386",
            cpu="Cortex-M4F",
            cflags=_M4F,
            linker_script="mps2-an386.ld",
            flash=(0x00000000, 4 << 20),
            ram=(0x20000000, 4 << 20),
            ticks=Fraction(40),  # 25 MHz SYSCLK
            isa="dsp",
        ),
        Board(
            name="mps2-an500",
            machine="mps2-an500",
            cpu="Cortex-M7",
            cflags=("-mcpu=cortex-m7", "-mfpu=fpv5-d16", "-mfloat-abi=hard", "-mthumb"),
            linker_script="mps2-an500.ld",
            flash=(0x00000000, 4 << 20),
            ram=(0x20000000, 4 << 20),
            ticks=Fraction(40),  # 25 MHz SYSCLK
            isa="dsp",
        ),
        Board(
            name="mps3-an547",
            machine="mps3-an547",
            cpu="Cortex-M55 (Helium)",
            cflags=("-mcpu=cortex-m55", "-mfloat-abi=hard", "-mthumb"),
            linker_script="mps3-an547.ld",
            flash=(0x00000000, 512 << 10),  # ITCM
            ram=(0x20000000, 512 << 10),  # DTCM
            ticks=Fraction(125, 4),  # 32 MHz: 31.25 instructions per tick
            isa="mve",
        ),
        Board(
            name="netduinoplus2",
            machine="netduinoplus2",
            cpu="Cortex-M4F (STM32F405RG)",
            cflags=_M4F,
            linker_script="netduinoplus2.ld",
            flash=(0x08000000, 1 << 20),
            ram=(0x20000000, 128 << 10),  # the real chip's SRAM (QEMU maps 192 KiB)
            ticks=Fraction(1000, 168),  # 168 MHz SYSCLK (checked by tests/test_micro_kernels.py)
            isa="dsp",
            notes="64 KiB CCM at 0x10000000 is declared in the linker script (section .ccm) but "
            "unused by default",
        ),
    )
}


def names() -> list[str]:
    return list(BOARDS)


def get(name: str | Board) -> Board:
    """The Board called `name` (a Board passes through). Raises ValueError for unknown names."""
    if isinstance(name, Board):
        return name
    try:
        return BOARDS[name]
    except KeyError:
        raise ValueError(f"unknown board {name!r}; known boards: {', '.join(BOARDS)}") from None
