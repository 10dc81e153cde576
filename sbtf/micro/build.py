"""Compile and link C for sbtf's boards (arm-none-eabi-gcc) and for the host (gcc).

Used by the kernel tests and benchmarks, and by the ahead-of-time runtime to build whole-model
firmware. Each board image gets micro/boards/startup.c (reset, vectors, faults, SysTick counter),
the board's linker script, semihosting (printf/exit reach the host) and the include dirs
micro/include and micro/boards.

    elf = build_elf("mps2-an386", ["app.c", *kernel_sources()], out="build/app.elf")
    exe = build_host(["app.c", *kernel_sources()], out="build/app", sanitize=True)
"""
from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sbtf.micro import boards as _boards
from sbtf.micro import source_dir

__all__ = [
    "WARNING_FLAGS",
    "BuildError",
    "Size",
    "board_dir",
    "build_elf",
    "build_host",
    "compile_object",
    "include_dir",
    "kernel_sources",
    "size",
]

CROSS_CC = "arm-none-eabi-gcc"
HOST_CC = "gcc"
WARNING_FLAGS = ("-std=c99", "-Wall", "-Wextra", "-Werror")


class BuildError(RuntimeError):
    """A compile or link failed; the message carries the command and the compiler's output."""


def board_dir() -> Path:
    return source_dir() / "boards"


def include_dir() -> Path:
    return source_dir() / "include"


def kernel_sources() -> list[Path]:
    """The kernel library's C files (micro/src/*.c)."""
    return sorted((source_dir() / "src").glob("*.c"))


def _defines(defines: Iterable[str] | dict | None) -> list[str]:
    if defines is None:
        return []
    if isinstance(defines, dict):
        return [f"-D{k}" if v is None else f"-D{k}={v}" for k, v in defines.items()]
    return [f"-D{d}" for d in defines]


def _run(cmd: list[str], what: str) -> None:
    if shutil.which(cmd[0]) is None:
        raise BuildError(f"{what}: compiler {cmd[0]!r} not found (run `make setup`)")
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BuildError(
            f"{what} failed (exit {proc.returncode})\n$ {' '.join(map(str, cmd))}\n"
            f"{proc.stdout}{proc.stderr}"
        )


def _out_path(out, default_name: str) -> Path:
    path = Path(out) if out is not None else Path("build") / "micro" / default_name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _cross_cflags(board: _boards.Board, opt: str) -> list[str]:
    return [
        *board.cflags, opt, *WARNING_FLAGS, "-g", "-ffunction-sections", "-fdata-sections",
        *_defines(board.defines()),
    ]


def build_elf(board, sources: Sequence, include_dirs: Sequence = (), defines=None, opt: str = "-O2",
              out=None, extra_cflags: Sequence[str] = (), ldflags: Sequence[str] = (),
              warnings: bool = True) -> Path:
    """Compile `sources` with the board's startup code and link a semihosting ELF.

    board: a name from sbtf.micro.boards or a Board. defines: ["NAME", "NAME=value"] or a dict.
    Returns the ELF path (default build/micro/<board>/<first source stem>.elf).
    Raises BuildError with the compiler output on failure.
    """
    b = _boards.get(board)
    if not sources:
        raise ValueError("build_elf: no sources given")
    out = _out_path(out, f"{b.name}/{Path(sources[0]).stem}.elf")
    cflags = _cross_cflags(b, opt)
    if not warnings:
        cflags = [f for f in cflags if f != "-Werror"]
    cmd = [
        CROSS_CC, *cflags, *extra_cflags, *_defines(defines),
        f"-I{include_dir()}", f"-I{board_dir()}", *(f"-I{d}" for d in include_dirs),
        *map(str, sources), str(board_dir() / "startup.c"),
        "-nostartfiles", "--specs=rdimon.specs", f"-L{board_dir()}",
        f"-T{board_dir() / b.linker_script}", "-Wl,--gc-sections", f"-Wl,-Map={out}.map",
        *ldflags, "-o", str(out),
    ]
    _run(cmd, f"building {out.name} for {b.name}")
    return out


def compile_object(board, source, include_dirs: Sequence = (), defines=None, opt: str = "-O2",
                   out=None, extra_cflags: Sequence[str] = ()) -> Path:
    """Compile one C file to an object for `board` ("host" for the host compiler)."""
    source = Path(source)
    if board == "host":
        out = _out_path(out, f"host/{source.stem}.o")
        cmd = [HOST_CC, opt, *WARNING_FLAGS, *extra_cflags]
    else:
        b = _boards.get(board)
        out = _out_path(out, f"{b.name}/{source.stem}.o")
        cmd = [CROSS_CC, *_cross_cflags(b, opt), *extra_cflags]
    cmd += [*_defines(defines), f"-I{include_dir()}", f"-I{board_dir()}",
            *(f"-I{d}" for d in include_dirs), "-c", str(source), "-o", str(out)]
    _run(cmd, f"compiling {source.name}")
    return out


def build_host(sources: Sequence, include_dirs: Sequence = (), defines=None, opt: str = "-O2",
               out=None, sanitize: bool = False, extra_cflags: Sequence[str] = ()) -> Path:
    """Build a host executable with gcc (-std=c99 -Wall -Wextra -Werror).

    sanitize=True adds AddressSanitizer + UndefinedBehaviorSanitizer, aborting on the first
    report (-fno-sanitize-recover=all).
    """
    if not sources:
        raise ValueError("build_host: no sources given")
    out = _out_path(out, f"host/{Path(sources[0]).stem}")
    san = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer",
           "-g"] if sanitize else []
    cmd = [
        HOST_CC, opt, *WARNING_FLAGS, *san, *extra_cflags, *_defines(defines),
        f"-I{include_dir()}", f"-I{board_dir()}", *(f"-I{d}" for d in include_dirs),
        *map(str, sources), "-o", str(out), "-lm",
    ]
    _run(cmd, f"building {out.name} for the host")
    return out


@dataclass(frozen=True)
class Size:
    text: int
    data: int
    bss: int


def size(path) -> Size:
    """arm-none-eabi-size (Berkeley format) of an object or ELF."""
    tool = "arm-none-eabi-size"
    proc = subprocess.run([tool, str(path)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BuildError(f"{tool} {path} failed: {proc.stderr}")
    fields = proc.stdout.splitlines()[1].split()
    return Size(int(fields[0]), int(fields[1]), int(fields[2]))

