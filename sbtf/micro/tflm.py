"""TensorFlow Lite Micro beside sbtf's runtime: build TFLM and sbtf's TFLM glue, run models.

    libs = build_libs("mps2-an386")             # cached under build/tflm/<target>/
    res = run_model(tflite, "mps2-an386", x)    # MicroInterpreter with sbtf's ops (and CMSIS-NN)
    res.outputs, res.instructions_per_inference, res.per_op, res.arena_used, res.memory

TFLM, CMSIS-NN, CMSIS-Core, flatbuffers, gemmlowp and ruy come from a directory of source trees
(SBTF_THIRD_PARTY, default ../shared/third_party beside the repository), compiled by
micro/tflm/tflm.mk: TFLM's core and the kernels sbtf's models use, with TFLM's CMSIS-NN kernels
on the boards (as TFLM's OPTIMIZED_KERNEL_DIR=cmsis_nn) and its reference kernels on the host.
The runner is micro/tflm/tflm_main.cc; the model, its inputs and the arena are a generated C
file, so a new model costs one small compile and a link.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sbtf.micro import boards as _boards
from sbtf.micro import build as _build
from sbtf.micro import codegen as _codegen
from sbtf.micro import qemu as _qemu
from sbtf.micro import runtime as _runtime
from sbtf.micro import source_dir

__all__ = [
    "ENV",
    "PINS",
    "TflmRun",
    "TflmUnavailable",
    "build_image",
    "build_kernel_tests",
    "build_libs",
    "missing",
    "run_model",
    "third_party_dir",
]

ENV = "SBTF_THIRD_PARTY"
# The commits the third-party trees must be at (micro/tflm/README.md).
PINS = {
    "tflite-micro": "90b983c2b3f1480642e040bbd2ddb37b998f3424",
    "cmsis-nn": "4ab83cc3cc98fb85ed6dafb55e8ca02f1628dcae",
}
_NEEDED = ("tflite-micro/tensorflow/lite/micro/micro_interpreter.h",
           "cmsis-nn/Include/arm_nnfunctions.h", "cmsis/CMSIS/Core/Include/cmsis_gcc.h",
           "flatbuffers/include/flatbuffers/flexbuffers.h", "gemmlowp/fixedpoint/fixedpoint.h",
           "ruy/ruy/profiler/instrumentation.h")
# Arena of the first run, which measures what the model needs (arena_used_bytes); the image
# whose flash and RAM are reported is relinked with exactly that.
SIZING_ARENA = 256 << 10
JOBS = 2


class TflmUnavailable(RuntimeError):
    """The third-party sources TFLM needs are not there."""


def third_party_dir() -> Path:
    env = os.environ.get(ENV)
    return Path(env) if env else source_dir().parents[1] / "shared" / "third_party"


def missing() -> str | None:
    """Why TFLM cannot be built here (None when it can)."""
    root = third_party_dir()
    absent = [p for p in _NEEDED if not (root / p).is_file()]
    if absent:
        return (f"TFLite Micro sources not found in {root} (missing {absent[0]}); set {ENV} to a "
                "directory with tflite-micro, cmsis-nn, cmsis, flatbuffers, gemmlowp and ruy "
                "(micro/tflm/README.md)")
    return None


@dataclass(frozen=True)
class Libs:
    target: str
    tflm: Path  # libtflm.a
    glue: Path  # libsbtf_tflm.a
    objects: dict  # stem -> object: tflm_main, sbtf_ops_test, board_cxx (boards)


def _target_flags(target: str) -> tuple[str, list[str], bool]:
    """(cross prefix, arch flags, CMSIS-NN) of a target."""
    if target == "host":
        return "", [], False
    return "arm-none-eabi-", list(_boards.get(target).cflags), True


def build_libs(target: str) -> Libs:
    """Build (or bring up to date) TFLM and the glue for "host" or a QEMU board."""
    why = missing()
    if why:
        raise TflmUnavailable(why)
    if shutil.which("make") is None:
        raise _build.BuildError("make not found (run `make setup`)")
    cross, arch, cmsis_nn = _target_flags(target)
    out = (Path("build") / "tflm" / target).resolve()
    cmd = ["make", "-f", str(source_dir() / "tflm" / "tflm.mk"), f"-j{JOBS}", "--no-print-directory",
           f"OUT={out}", f"THIRD_PARTY={third_party_dir().resolve()}",
           f"SBTF={source_dir().parent}", f"CROSS={cross}", f"ARCH_FLAGS={' '.join(arch)}",
           f"CMSIS_NN={int(cmsis_nn)}", "all"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise _build.BuildError(f"building TFLM for {target} failed\n$ {' '.join(cmd)}\n"
                                f"{(proc.stdout + proc.stderr)[-4000:]}")
    objects = {Path(p).name.split(".")[0]: Path(p)
               for p in (out / "programs.txt").read_text().split()}
    return Libs(target, out / "libtflm.a", out / "libsbtf_tflm.a", objects)


def _c_bytes(data: bytes) -> str:
    return ",\n".join(",".join(str(b) for b in data[i:i + 32]) for i in range(0, len(data), 32))


def model_data_source(tflite: bytes, x_int8: np.ndarray, arena: int) -> str:
    """The generated C file tflm_main.cc links against (numbers only, nothing from the model
    file reaches the C source as text). `arena`: bytes, a multiple of 16."""
    x = np.ascontiguousarray(x_int8, np.int8)
    return (
        "/* Generated by sbtf.micro.tflm: model, inputs and arena for micro/tflm/tflm_main.cc. */\n"
        "#include <stddef.h>\n#include <stdint.h>\n"
        f"const size_t sbtf_tflm_model_size = {len(tflite)}u;\n"
        f"__attribute__((aligned(16))) const uint8_t sbtf_tflm_model[{len(tflite)}] = {{\n"
        f"{_c_bytes(tflite)}}};\n"
        f"const int32_t sbtf_tflm_num_inputs = {x.shape[0]};\n"
        f"const size_t sbtf_tflm_input_size = {x.shape[1]}u;\n"
        f"const int8_t sbtf_tflm_inputs[{x.size}] = {{\n"
        f"{_c_bytes(x.reshape(-1).view(np.uint8).tobytes())}}};\n"
        f"const size_t sbtf_tflm_arena_size = {arena}u;\n"
        f"__attribute__((aligned(16))) uint8_t sbtf_tflm_arena[{arena}];\n"
    )


def _link(libs: Libs, objects: list[Path], out: Path) -> Path:
    group = ["-Wl,--start-group", str(libs.glue), str(libs.tflm), "-Wl,--end-group", "-lm"]
    if libs.target == "host":
        cmd = ["g++", *map(str, objects), *group, "-Wl,--gc-sections", "-o", str(out)]
    else:
        b = _boards.get(libs.target)
        startup = _build.compile_object(b, _build.board_dir() / "startup.c",
                                        out=out.parent / "startup.o")
        cmd = ["arm-none-eabi-g++", *b.cflags, *map(str, objects), str(libs.objects["board_cxx"]),
               str(startup), *group, "-nostartfiles", "--specs=rdimon.specs",
               f"-L{_build.board_dir()}", f"-T{_build.board_dir() / b.linker_script}",
               "-Wl,--gc-sections", f"-Wl,-Map={out}.map", "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise _build.BuildError(f"linking {out.name} for {libs.target} failed\n$ {' '.join(cmd)}\n"
                                f"{proc.stdout}{proc.stderr}")
    return out


def _compile_c(target: str, source: Path) -> Path:
    if target == "host":
        return _build.compile_object("host", source, out=source.with_suffix(".o"))
    return _build.compile_object(target, source, out=source.with_suffix(".o"))


@dataclass
class Image:
    target: str
    path: Path  # ELF (board) or executable (host)
    arena: int
    memory: _runtime.Memory | None  # boards only


def build_image(tflite: bytes, target: str, x_int8: np.ndarray, out_dir, arena: int = SIZING_ARENA,
                libs: Libs | None = None) -> Image:
    """Link the runner for `target` with the model, the int8 inputs [N, input_size] and an
    arena of `arena` bytes."""
    libs = libs or build_libs(target)
    arena = max(16, (int(arena) + 15) // 16 * 16)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = out_dir / f"model_data_{arena}.c"
    data.write_text(model_data_source(tflite, x_int8, arena))
    obj = _compile_c(target, data)
    path = _link(libs, [libs.objects["tflm_main"], obj],
                 out_dir / ("tflm_runner" if target == "host" else f"tflm_{arena}.elf"))
    memory = None
    if target != "host":
        b = _boards.get(target)
        memory = _runtime.elf_memory(path, _build.board_dir() / b.linker_script, b.flash[1],
                                     b.ram[1], arena)
    return Image(target, path, arena, memory)


def build_kernel_tests(target: str, out_dir=None) -> Path:
    """Link the glue's kernel tests (micro/tflm/sbtf_ops_test.cc) for "host" or a board."""
    libs = build_libs(target)
    out_dir = Path(out_dir) if out_dir is not None else Path("build") / "tflm" / target
    out_dir.mkdir(parents=True, exist_ok=True)
    return _link(libs, [libs.objects["sbtf_ops_test"]],
                 out_dir / ("sbtf_ops_test" if target == "host" else "sbtf_ops_test.elf"))


@dataclass
class TflmRun:
    target: str
    outputs: np.ndarray  # int8 [N, *output_shape]
    instructions: list[int]  # per Invoke (0 on the host)
    per_op: list[tuple[str, int]]  # (op name, instructions) of one profiled Invoke
    arena_used: int
    memory: _runtime.Memory | None  # of the image relinked with arena = arena_used (boards)
    image: Path | None = None  # that image
    stdout: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def instructions_per_inference(self) -> int | None:
        return int(np.median(self.instructions)) if self.instructions else None


def _parse(stdout: str, n: int, output_shape, target: str):
    outputs, instructions, _, _ = _runtime.parse_output(stdout, n, output_shape, target)
    m = re.search(r"^tflm-info arena=\d+ arena_used=(\d+)", stdout, re.MULTILINE)
    if not m:
        raise _runtime.RuntimeError_(f"{target}: no tflm-info line\n{stdout[-2000:]}")
    per_op = [(name, int(count)) for name, count in
              re.findall(r"^tflm-op \d+ (\S+) (\d+)$", stdout, re.MULTILINE)]
    return outputs, instructions, per_op, int(m.group(1))


def _execute(image: Image, timeout: float) -> str:
    if image.target == "host":
        res = _qemu.run_host(image.path, timeout=timeout)
    else:
        res = _qemu.run(image.target, image.path, timeout=timeout, icount=True)
    if not res.ok:
        raise _runtime.RuntimeError_(f"TFLM: {res.error}\n{(res.stdout + res.stderr)[-2000:]}")
    return res.stdout


def run_model(tflite: bytes, target: str, x_int8, *, out_dir=None, timeout: float = 600.0,
              source: str = "model") -> TflmRun:
    """Run `tflite` through TFLM's MicroInterpreter on "host" or a QEMU board over the batch
    x_int8 ([N, *input_shape] int8): outputs, instructions per Invoke and per operator, the arena
    TFLM used, and flash / RAM of the image with exactly that arena."""
    gen = _codegen.generate(tflite, source=source)  # validates the model and gives the shapes
    x = np.asarray(x_int8)
    if x.dtype != np.int8 or x.size == 0 or x.size % gen.input_size:
        raise ValueError(f"{source}: inputs must be an int8 batch of model inputs "
                         f"{list(gen.input_shape)}, got {x.dtype} {list(x.shape)}")
    x = x.reshape(-1, gen.input_size)
    out_dir = Path(out_dir) if out_dir is not None else _runtime._default_dir(tflite, target, "-tflm")
    libs = build_libs(target)
    shape = _runtime._batch_shape(gen)
    image = build_image(tflite, target, x, out_dir, SIZING_ARENA, libs)
    stdout = _execute(image, timeout)
    outputs, instructions, per_op, used = _parse(stdout, len(x), shape, target)
    trimmed = build_image(tflite, target, x, out_dir, used, libs)
    return TflmRun(target, outputs, instructions, per_op, used, trimmed.memory, trimmed.path,
                   stdout)


def run_image(image: Image, n: int, output_shape, timeout: float = 600.0):
    """Run an image built by build_image: (outputs, instructions, per_op, arena_used)."""
    return _parse(_execute(image, timeout), n, output_shape, image.target)
