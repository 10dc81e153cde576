"""`sbtf-micro`: compile a converted .tflite ahead of time and run it on (simulated) Cortex-M.

    sbtf-micro codegen model.tflite -o DIR
    sbtf-micro run model.tflite --board mps2-an386 [--input x.npy] [--output y.npy]
    sbtf-micro build model.tflite --board nucleo-f746zg -o firmware.elf   (also writes .bin)
    sbtf-micro run|build ... --runtime tflm    (TFLite Micro + CMSIS-NN + sbtf's ops instead)

A thin shell over sbtf.micro.codegen and sbtf.micro.runtime. Errors are one line on stderr:
exit code 2 for a bad model or input file and usage errors, 1 when building or running fails;
no partial output file is left behind.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from sbtf import _env  # noqa: F401
from sbtf.micro import boards

QEMU_BOARDS = tuple(boards.names())
RUNTIME_ARG = ("--runtime",)
RUNTIME_KW = {"choices": ("sbtf", "tflm"), "default": "sbtf",
              "help": "sbtf's ahead-of-time runtime (default) or TFLite Micro with CMSIS-NN and "
                      "sbtf's ops (micro/tflm/README.md)"}


def _read_model(path: str) -> bytes:
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{path}: no such file")
    return p.read_bytes()


def _load_inputs(path: str | None, gen, seed: int = 0) -> np.ndarray:
    """int8 [N, input_size] from a .npy of shape [N, *model_input_shape[1:]] (sbtf.batch): int8
    as is, float quantized with the model's input scale / zero point; none given: one random
    int8 input. BadInputError (exit code 2) for anything else."""
    from sbtf.batch import BadInputError, as_batch
    from sbtf.micro import runtime

    if path is None:
        rng = np.random.default_rng(seed)
        return rng.integers(-128, 128, size=(1, gen.input_size)).astype(np.int8)
    try:
        x = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise BadInputError(f"{path}: cannot read a .npy array: {exc}") from exc
    if not isinstance(x, np.ndarray) or not (x.dtype == np.int8
                                             or np.issubdtype(x.dtype, np.floating)):
        raise BadInputError(f"{path}: inputs must be int8 (quantized) or float, got "
                            f"{getattr(x, 'dtype', type(x).__name__)}")
    x = as_batch(x, gen.input_shape, f"{path}: inputs")
    if x.dtype != np.int8:
        x = runtime.quantize_inputs(x, gen.input_scale, gen.input_zero_point)
    return x.reshape(len(x), gen.input_size)


def _memory_lines(memory, board: str) -> list[str]:
    flash = (f"flash: {memory.flash} B" + (f" of {memory.flash_limit} B" if memory.flash_limit
                                           else "")
             + f" (text + rodata {memory.text} B, data init {memory.data} B) = model and runtime "
             f"{memory.model_flash} B + {memory.n_inputs} compiled-in input(s) {memory.inputs} B")
    limit = f" of {memory.ram_limit} B" if memory.ram_limit else ""
    if memory.ccm:
        ram = (f"RAM:   {memory.ram} B{limit} (.bss {memory.bss - memory.ccm} B + stack "
               f"{memory.stack} B + data {memory.data} B) + CCM {memory.ccm} B of "
               f"{memory.ccm_limit} B (the arena)")
    else:
        ram = (f"RAM:   {memory.ram} B{limit} (arena {memory.arena} B + rest of .bss "
               f"{memory.bss - memory.arena} B + stack {memory.stack} B + data {memory.data} B)")
    lines = [flash, ram]
    if memory.stack_used is not None:
        lines.append(f"stack used: {memory.stack_used} B")
    msg = memory.overflow_message(board)
    if msg:
        lines.append(f"DOES NOT FIT: {msg}")
    return lines


def _print_run(args, out: np.ndarray | None, instructions: int, via: str = "") -> None:
    """A run's outputs (saved with --output, else the first rows printed; None: a build's
    sizing run, no outputs to show) and its instruction count."""
    if out is not None:
        if args.output:
            np.save(args.output, out)
        print(f"{args.board}: {len(out)} inference(s){via}, outputs int8 {list(out.shape)}"
              + (f" -> {args.output}" if args.output else ""))
        if not args.output:
            for i, row in enumerate(out[:8]):
                print(f"  [{i}] {row.reshape(-1).tolist()}")
    print(f"instructions per inference: {instructions} (exact, -icount shift=0)")


def cmd_codegen(args) -> int:
    from sbtf.micro import codegen

    gen = codegen.generate(_read_model(args.model), source=args.model)
    c, h = gen.write(args.out)
    print(gen.summary())
    print(f"wrote {c} and {h}")
    return 0


def cmd_run(args) -> int:
    from sbtf.micro import codegen, runtime

    tflite = _read_model(args.model)
    gen = codegen.generate(tflite, source=args.model)
    x = _load_inputs(args.input, gen)
    if args.runtime == "tflm":
        return _tflm(args, tflite, gen, x)
    if args.board == "netduinoplus2":
        need = runtime.fit_report(tflite, args.board, source=args.model)
        msg = need.overflow_message(args.board)
        if msg:
            in_ccm = runtime.fit_report(tflite, args.board, source=args.model, arena_in_ccm=True)
            ccm = ("it would fit with the arena in the 64 KiB CCM "
                   "(-DSBTF_MODEL_ARENA_ATTR='__attribute__((section(\".ccm\")))'), which QEMU "
                   "does not simulate" if in_ccm.fits() else
                   f"with the arena in the 64 KiB CCM: {in_ccm.overflow_message(args.board)}")
            print("\n".join(_memory_lines(need, args.board)))
            raise ValueError(f"{args.model} does not fit the real STM32F405 ({msg}; {ccm})")
    res = runtime.run_model(tflite, args.board, x, timeout=args.timeout, source=args.model)
    _print_run(args, res.outputs, res.instructions_per_inference)
    print("\n".join(_memory_lines(res.memory, args.board)))
    return 0


def cmd_build(args) -> int:
    from sbtf.micro import codegen, runtime

    tflite = _read_model(args.model)
    gen = codegen.generate(tflite, source=args.model)
    x = _load_inputs(args.input, gen)
    out = Path(args.out)
    if args.runtime == "tflm":
        return _tflm(args, tflite, gen, x, out)
    board = boards.get(args.board, simulated=None)
    if not board.simulated:
        fw = runtime.build_real_firmware(tflite, args.board, x, out=out, source=args.model)
        print(f"wrote {fw.elf} and {fw.bin} for {args.board}; results on {board.uart}")
    else:
        fw = runtime.build_firmware(tflite, args.board, x, out_dir=out.parent / (out.stem + "_src"),
                                    source=args.model)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(fw.elf.read_bytes())
        print(f"wrote {out} for {args.board} (QEMU, semihosting)")
    print("\n".join(_memory_lines(fw.memory, args.board)))
    return 0


def _tflm(args, tflite: bytes, gen, x, elf_out: Path | None = None) -> int:
    """run / build through TFLite Micro + CMSIS-NN + sbtf's ops (sbtf.micro.tflm); a build
    runs once under QEMU to size the arena (TFLM's arena_used_bytes)."""
    from sbtf.micro import compare, tflm

    if args.board not in QEMU_BOARDS:
        raise ValueError(f"--runtime tflm builds for the QEMU boards ({', '.join(QEMU_BOARDS)})")
    res = tflm.run_model(tflite, args.board, x, timeout=getattr(args, "timeout", 600.0),
                         source=args.model, generated=gen)
    if elf_out is not None:
        elf_out.parent.mkdir(parents=True, exist_ok=True)
        elf_out.write_bytes(res.image.read_bytes())
        print(f"wrote {elf_out} for {args.board} (TFLite Micro, QEMU, semihosting)")
    _print_run(args, None if elf_out else res.outputs, res.instructions_per_inference,
               " through TFLite Micro")
    print("\n".join(_memory_lines(res.memory, args.board)))
    print(f"arena: {res.arena_used} B (TFLM arena_used_bytes)\ninstructions per operator "
          "(one Invoke):")
    print("\n".join(compare.op_lines(res.per_op)))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="sbtf-micro", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("codegen", help="write sbtf_model.c / sbtf_model.h for a .tflite")
    p.add_argument("model")
    p.add_argument("-o", "--out", required=True, help="output directory")
    p.set_defaults(fn=cmd_codegen)
    p = sub.add_parser("run", help="build firmware and run it under QEMU")
    p.add_argument("model")
    p.add_argument("--board", required=True, choices=QEMU_BOARDS)
    p.add_argument("--input", help=".npy batch of inputs [N, *model input shape[1:]] (int8, or "
                   "float to quantize)")
    p.add_argument("--output", help="write the int8 outputs to this .npy")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds (default 600)")
    p.add_argument(*RUNTIME_ARG, **RUNTIME_KW)
    p.set_defaults(fn=cmd_run)
    p = sub.add_parser("build", help="build firmware (ELF, and .bin for real boards)")
    p.add_argument("model")
    p.add_argument("--board", required=True, choices=list(boards.BOARDS))
    p.add_argument("-o", "--out", required=True, help="firmware .elf path")
    p.add_argument("--input", help=".npy batch of inputs [N, *model input shape[1:]] compiled "
                   "into the image")
    p.add_argument(*RUNTIME_ARG, **RUNTIME_KW)
    p.set_defaults(fn=cmd_build)
    args = parser.parse_args(argv)
    from sbtf.batch import BadInputError

    try:
        return args.fn(args)
    except BadInputError as exc:
        print(f"sbtf-micro {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, OSError, RuntimeError) as exc:
        # A refused model or input (UnsupportedModelError, the validator's InvalidModelError)
        # is a ValueError; BuildError / RunError / RuntimeError_ are RuntimeErrors.
        print(f"sbtf-micro {args.command}: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ValueError) else 1
    except MemoryError:  # e.g. inputs for a huge (but addressable) model input
        print(f"sbtf-micro {args.command}: error: {args.model}: out of memory", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
