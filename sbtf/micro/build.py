"""Compile and link C for sbtf's boards (arm-none-eabi-gcc) and for the host (gcc).

Used by the kernel tests and benchmarks, and by the ahead-of-time runtime to build whole-model
firmware. Each board image gets micro/boards/startup.c (reset, vectors, faults, SysTick counter),
the board's linker script, semihosting (printf/exit reach the host) and the include dirs
micro/include and micro/boards.

    elf = build_elf("mps2-an386", ["app.c", *kernel_sources()], out="build/app.elf")
    exe = build_host(["app.c", *kernel_sources()], out="build/app", sanitize=True)

The library's own C (micro/src, micro/runtime, micro/boards: kernels, runtime, startup), which
every model build links, is compiled once per compiler and flag set and kept as objects in the
user's build cache (sbtf.micro.cache, `objects/`); `SBTF_NO_OBJECT_CACHE=1` compiles everything
every time.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sbtf.micro import boards as _boards
from sbtf.micro import cache as _cache
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
    link = ["-nostartfiles", "--specs=rdimon.specs", f"-L{board_dir()}",
            f"-T{board_dir() / b.linker_script}", "-Wl,--gc-sections", f"-Wl,-Map={out}.map",
            *ldflags]
    _compile_and_link(CROSS_CC, [*cflags, *extra_cflags, *_defines(defines)], include_dirs,
                      [*sources, board_dir() / "startup.c"], link, out,
                      f"building {out.name} for {b.name}")
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
    _compile_and_link(HOST_CC, [opt, *WARNING_FLAGS, *san, *extra_cflags, *_defines(defines)],
                      include_dirs, sources, ["-lm"], out, f"building {out.name} for the host")
    return out


# ---- the object cache of the library's C ----
# An entry per compiler, flag set and source (objects/<stem>-<key>/) holds `deps`, the files the
# last compile read (the compiler's own -MD list: the source, project and system headers), and
# the object as <digest of those files' paths and bytes>-<hash of the object>.o: a hit is an
# object whose name matches the files as they are now and whose bytes match its name, so an
# edited header, a truncated or corrupt object, or a half-finished concurrent write (objects
# appear by os.replace) never reaches the linker.


def _object_cache_on() -> bool:
    return os.environ.get("SBTF_NO_OBJECT_CACHE", "") in ("", "0")


def _is_library_source(source: Path) -> bool:
    d = source_dir()
    return source.suffix == ".c" and source.resolve().parent in (d / "src", d / "runtime",
                                                                 d / "boards")


@functools.cache
def _compiler_version(path: str, mtime_ns: int) -> str:
    proc = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)
    return proc.stdout


def _compiler_id(cc: str) -> list[str]:
    path = shutil.which(cc)
    if path is None:
        raise BuildError(f"compiler {cc!r} not found (run `make setup`)")
    path = os.path.realpath(path)
    return [path, _compiler_version(path, os.stat(path).st_mtime_ns)]


def _dependencies(dep_file: Path) -> list[str]:
    """The prerequisites of a gcc -MD file (make syntax: `\\ ` is a space, `$$` a dollar), as
    absolute paths (gcc wrote them relative to this process's working folder)."""
    text = dep_file.read_text().replace("\\\n", " ")
    words = [re.sub(r"\\(.)", r"\1", w).replace("$$", "$")
             for w in re.findall(r"(?:\\.|[^\s\\])+", text)]
    target_end = next(i for i, w in enumerate(words) if w.endswith(":"))
    return [os.path.join(os.getcwd(), w) for w in words[target_end + 1:]]


def _digest(deps: list[str], since_ns: int | None = None) -> str | None:
    """A hash of the files' paths and bytes; None when one is missing or (since_ns) was written
    after the compile that read it began."""
    h = hashlib.sha256()
    for path in deps:
        try:
            data = Path(path).read_bytes()
            if since_ns is not None and os.stat(path).st_mtime_ns >= since_ns:
                return None
        except OSError:
            return None
        h.update(path.encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()[:32]


def _depends_on_the_build(deps: list[str], search_dirs: list[Path], private_dirs) -> bool:
    """Whether the object could differ between builds with these flags: it read a file of a
    private include dir (a model's generated folder, not in the key), or an include dir holds a
    different file under a name it read a header by (the -MD list names the files found, not
    those that a new file could now shadow). Such sources are compiled for this build only."""
    private = tuple(os.path.join(os.path.abspath(d), "") for d in private_dirs)
    for path in deps:
        if path.startswith(private):
            return True
        parts = path.split(os.sep)
        names = [os.sep.join(parts[i:]) for i in range(1, len(parts))]
        for d in search_dirs:
            for name in names:
                other = os.path.join(d, name)
                if os.path.exists(other) and not _same_file(other, path):
                    return True
    return False


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # b was read by an earlier build and is gone (its generated folder)
        return False


def _stored_object(entry: Path, digest: str | None) -> Path | None:
    if digest is None:
        return None
    for obj in entry.glob(f"{digest}-*.o"):
        if hashlib.sha256(obj.read_bytes()).hexdigest()[:32] == obj.stem.split("-")[1]:
            return obj
        obj.unlink(missing_ok=True)  # corrupt: objects are only ever written whole
    return None


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".tmp-{os.getpid()}-{secrets.token_hex(4)}")
    tmp.write_text(text)
    os.replace(tmp, path)


def _library_object(cc: str, flags: list[str], private_dirs: list[Path], source: Path,
                    scratch: list[Path]) -> tuple[Path, bool] | None:
    """The object of library source `source`: (path, whether it was added to the cache). None
    when the cache folder is not writable (compile the source in the link command instead).
    Objects compiled for this build only are listed in `scratch` (removed after the link)."""
    key = hashlib.sha256(json.dumps([*_compiler_id(cc), *flags, str(source.resolve())])
                         .encode()).hexdigest()[:24]
    entry = _cache.root() / "objects" / f"{source.stem}-{key}"
    search_dirs = [source.parent, *(Path(f[2:]) for f in flags if f.startswith("-I")),
                   *private_dirs]
    try:
        deps = (entry / "deps").read_text().splitlines()
    except OSError:
        deps = None
    if deps and not _depends_on_the_build(deps, search_dirs, private_dirs):
        obj = _stored_object(entry, _digest(deps))
        if obj is not None:
            try:
                os.utime(entry)  # just used: pruned last
            except OSError:
                pass
            return obj, False
    tmp = entry / f".tmp-{os.getpid()}-{secrets.token_hex(4)}"
    obj, dep_file = tmp.with_suffix(".o"), tmp.with_suffix(".d")
    try:
        entry.mkdir(parents=True, exist_ok=True)
        obj.touch(exist_ok=False)
    except OSError:
        return None
    scratch.append(obj)
    start = time.time_ns()
    try:
        _run([cc, *flags, *(f"-I{d}" for d in private_dirs), "-c", str(source),
              "-MD", "-MF", str(dep_file), "-o", str(obj)], f"compiling {source.name}")
        deps = _dependencies(dep_file)
    finally:
        dep_file.unlink(missing_ok=True)
    try:
        _write_atomic(entry / "deps", "\n".join(deps))
    except OSError:
        return obj, False
    digest = _digest(deps, since_ns=start)
    if digest is None or _depends_on_the_build(deps, search_dirs, private_dirs):
        return obj, False
    stored = entry / f"{digest}-{hashlib.sha256(obj.read_bytes()).hexdigest()[:32]}.o"
    os.replace(obj, stored)
    scratch.remove(obj)
    for old in entry.glob("*.o"):  # objects of earlier versions of the files: never a hit again
        if not old.name.startswith((f"{digest}-", ".tmp-")):  # (others' objects may be in use)
            old.unlink(missing_ok=True)
    return stored, True


def _compile_and_link(cc: str, flags: list[str], include_dirs: Sequence, sources: Sequence,
                      link_flags: list[str], out: Path, what: str) -> None:
    """`cc flags -I... sources link_flags -o out`, with the library's sources linked as cached
    objects. Include dirs inside the project are part of the objects' key; the others (a model's
    generated folder, different in every build) are not, and must not change the objects."""
    project = source_dir().resolve()
    include_dirs = [Path(d) for d in include_dirs]
    shared = [f"-I{include_dir()}", f"-I{board_dir()}",
              *(f"-I{d}" for d in include_dirs if Path(d).resolve().is_relative_to(project))]
    private = [d for d in include_dirs if not d.resolve().is_relative_to(project)]
    inputs, scratch, used, added = [], [], [], False
    try:
        for source in map(Path, sources):
            got = None
            if _object_cache_on() and _is_library_source(source):
                got = _library_object(cc, [*flags, *shared], private, source, scratch)
            if got is None:
                inputs.append(str(source))
                continue
            inputs.append(str(got[0]))
            used.append(got[0].parent)
            added |= got[1]
        _run([cc, *flags, f"-I{include_dir()}", f"-I{board_dir()}",
              *(f"-I{d}" for d in include_dirs), *inputs, *link_flags, "-o", str(out)], what)
    finally:
        for obj in scratch:
            obj.unlink(missing_ok=True)
    if added:  # the cache grew: keep it within its bound (never this build's own files)
        _cache.prune_cache(keep=[*used, out.parent])


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

