"""Board definitions: the ONE place that says how to compile for and run on each board.

Each `Board` gives the compiler flags for its core (cpu, FPU, float ABI), the linker script in
`micro/boards/` and the memory sizes that script enforces. A board QEMU simulates also gives its
qemu machine and how many instructions one SysTick tick stands for under `qemu-system-arm
-icount shift=0` (1 ns per instruction; SysTick runs from the CPU clock QEMU models for the
board); a physical board gives the sources of its UART firmware (startup, UART driver, main, in
`micro/boards/`) and the UART its results appear on.

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
    cpu: str  # human-readable core
    cflags: tuple[str, ...]  # core, FPU and float-ABI flags (compile and link)
    linker_script: str  # path under micro/boards/
    flash: tuple[int, int]  # (origin, bytes) where code and constants go
    ram: tuple[int, int]  # (origin, bytes) for stack, .data, .bss, heap
    isa: str  # kernel path the compiler picks: "dsp" (M4/M7) or "mve" (M55)
    machine: str | None = None  # qemu-system-arm -M; None for a physical board
    ticks: Fraction | None = None  # instructions per SysTick tick under -icount shift=0
    ccm: int = 0  # bytes of core-coupled RAM the linker script offers as section .ccm
    roomy_twin: str = ""  # a board with the same core and ample memory (sizes what does not fit)
    firmware: tuple[str, ...] = ()  # physical boards: main, startup, UART driver (micro/boards/)
    uart: str = ""  # physical boards: where the output appears
    notes: str = ""

    @property
    def simulated(self) -> bool:
        return self.machine is not None

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
_STM32_FIRMWARE = ("stm32/sbtf_main_uart.c", "stm32/stm32_startup.c")

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
            flash=(0x00000000, (512 << 10) + (2 << 20)),  # ITCM + FPGA SRAM for .sbtf_model
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
            ccm=64 << 10,
            roomy_twin="mps2-an386",
            notes="64 KiB CCM at 0x10000000 is declared in the linker script (section .ccm) but "
            "unused by default",
        ),
        Board(
            name="nucleo-f746zg",
            cpu="Cortex-M7 (STM32F746ZG)",
            cflags=("-mcpu=cortex-m7", "-mfpu=fpv5-sp-d16", "-mfloat-abi=hard", "-mthumb"),
            linker_script="stm32/nucleo-f746zg.ld",
            flash=(0x08000000, 1 << 20),
            ram=(0x20000000, 320 << 10),
            isa="dsp",
            firmware=(*_STM32_FIRMWARE, "stm32/nucleo_f746zg.c"),
            uart="USART3 (PD8/PD9) = ST-LINK virtual COM port, 115200 8N1",
        ),
        Board(
            name="nucleo-f411re",
            cpu="Cortex-M4F (STM32F411RE)",
            cflags=_M4F,
            linker_script="stm32/nucleo-f411re.ld",
            flash=(0x08000000, 512 << 10),
            ram=(0x20000000, 128 << 10),
            isa="dsp",
            firmware=(*_STM32_FIRMWARE, "stm32/nucleo_f411re.c"),
            uart="USART2 (PA2/PA3) = ST-LINK virtual COM port, 115200 8N1",
        ),
    )
}


def names(simulated: bool = True) -> list[str]:
    """The boards QEMU simulates (simulated=False: the physical boards sbtf builds UART
    firmware for)."""
    return [n for n, b in BOARDS.items() if b.simulated == simulated]


def get(name: str | Board, simulated: bool | None = True) -> Board:
    """The Board called `name` (a Board passes through). Raises ValueError for unknown names
    and for a board of the other kind (simulated=None: either kind)."""
    if isinstance(name, Board):
        return name
    board = BOARDS.get(name)
    if board is None or (simulated is not None and board.simulated != simulated):
        what, known = (("real board", "known") if simulated is False else ("board", "known boards"))
        choices = list(BOARDS) if simulated is None else names(simulated)
        raise ValueError(f"unknown {what} {name!r}; {known}: {', '.join(choices)}")
    return board
