"""Every .tflite in a folder through sbtf's runtime against TFLite's reference kernels.

    python scripts/check_models.py DIR [--target host --target mps2-an386] [-n 4] [--json out.json]

For each model: sbtf-micro's code generator (a refusal names every unsupported operator), then
random inputs (seeded) through the generated C on each target (host: gcc; boards: QEMU) and
through TFLite's interpreter with OpResolverType.BUILTIN_REF (sbtf.Interpreter for models with
sbtf's custom ops); outputs compared bit for bit. One table row per model, one column per target:
`bit-exact`, `DIFFERS (k of n values)`, `refused: ...` (the model, by the code generator),
`failed: ...` (build, run or reference). Exit code 1 when any output differs, 2 for usage errors.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from sbtf import _env  # noqa: F401

__all__ = ["ModelResult", "check_folder", "check_model", "compare", "main", "random_inputs", "table"]

EXACT = "bit-exact"


@dataclass
class ModelResult:
    model: str
    operators: list[str] = field(default_factory=list)  # distinct, in order of first use
    io: str = ""
    targets: dict[str, str] = field(default_factory=dict)  # target -> status
    instructions: dict[str, int] = field(default_factory=dict)  # board -> per inference

    @property
    def differs(self) -> bool:
        return any(s.startswith("DIFFERS") for s in self.targets.values())


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."


def random_inputs(gen, n: int, seed: int = 0) -> list[np.ndarray]:
    """One seeded batch [n, *shape[1:]] per model input, in its type: integers over the type's
    range (int32 within ±1000), float32 over what the model's first QUANTIZE represents."""
    rng = np.random.default_rng(seed)
    quantize_of = {op.inputs[0]: op for op in gen.graph.operators if op.name == "QUANTIZE"}
    xs = []
    for io in gen.inputs:
        shape = (n, *io.shape[1:])
        if io.dtype == np.float32:
            op = quantize_of.get(io.tensor)
            t = gen.graph.tensors[op.outputs[0]] if op is not None else None
            if t is not None and t.scale.size:
                lo = (np.iinfo(np.int8).min - int(t.zero_point[0])) * float(t.scale[0])
                hi = (np.iinfo(np.int8).max - int(t.zero_point[0])) * float(t.scale[0])
                xs.append(rng.uniform(lo, hi, size=shape).astype(np.float32))
            else:
                xs.append(rng.normal(size=shape).astype(np.float32))
        else:
            info = np.iinfo(io.dtype)
            lo, hi = (-1000, 1000) if io.dtype == np.int32 else (info.min, info.max)
            xs.append(rng.integers(lo, hi + 1, size=shape).astype(io.dtype))
    return xs


def _as_list(y) -> list[np.ndarray]:
    return list(y) if isinstance(y, list) else [y]


def compare(got, want) -> str:
    """EXACT, or what differs: output count, type, shape, or k of n values (bitwise)."""
    got, want = _as_list(got), _as_list(want)
    if len(got) != len(want):
        return f"DIFFERS: {len(got)} outputs, reference {len(want)}"
    bad = total = 0
    for k, (g, w) in enumerate(zip(got, want)):
        w = w.reshape(g.shape) if w.size == g.size else w
        if g.dtype != w.dtype or g.shape != w.shape:
            return f"DIFFERS: output {k} {g.dtype}{list(g.shape)}, reference {w.dtype}{list(w.shape)}"
        u = f"u{g.itemsize}"
        bad += int((g.view(u) != w.view(u)).sum())
        total += g.size
    return EXACT if bad == 0 else f"DIFFERS ({bad} of {total} values)"


def _reference(tflite: bytes, xs, operators):
    from sbtf.micro import hostref

    if any(name.startswith("SBTF_") for name in operators):
        return hostref.run_sbtf_interpreter(tflite, xs if len(xs) > 1 else xs[0])
    return hostref.run_reference(tflite, xs if len(xs) > 1 else xs[0])


def check_model(path: Path, targets: list[str], n: int = 2, seed: int = 0,
                timeout: float = 600.0) -> ModelResult:
    """One model through every target; never raises for a bad or unsupported model."""
    from sbtf.micro import codegen, runtime

    res = ModelResult(path.name)
    try:
        tflite = path.read_bytes()
        graph = codegen.load_graph(tflite, str(path))
        res.operators = list(dict.fromkeys(op.name for op in graph.operators))
        gen = codegen.generate(tflite, source=str(path))
    except (ValueError, OSError, RecursionError, MemoryError) as exc:
        msg = _one_line(exc).removeprefix(f"{path}: ")
        res.targets = {t: f"refused: {msg}" for t in targets}
        return res
    res.io = " ".join(io.describe() for io in gen.inputs) + " -> " + " ".join(
        io.describe() for io in gen.outputs)
    xs = random_inputs(gen, n, seed)
    try:
        want = _reference(tflite, xs, res.operators)
    except Exception as exc:  # noqa: BLE001 - the oracle's own failure is a result too
        res.targets = {t: f"failed: reference: {_one_line(exc)}" for t in targets}
        return res
    batch = xs if len(xs) > 1 else xs[0]
    for target in targets:
        try:
            if target == "host":
                run = runtime.run_model_host(tflite, batch, timeout=timeout)
            else:
                run = runtime.run_model(tflite, target, batch, timeout=timeout, source=str(path))
                if run.instructions_per_inference is not None:
                    res.instructions[target] = run.instructions_per_inference
            res.targets[target] = compare(run.outputs, want)
        except (ValueError, RuntimeError, OSError) as exc:
            res.targets[target] = f"failed: {_one_line(exc)}"
    return res


def check_folder(folder: Path, targets: list[str], n: int = 2, seed: int = 0,
                 timeout: float = 600.0, progress=None) -> list[ModelResult]:
    results = []
    for path in sorted(Path(folder).glob("*.tflite")):
        results.append(check_model(path, targets, n, seed, timeout))
        if progress:
            progress(results[-1])
    return results


def table(results: list[ModelResult], targets: list[str]) -> str:
    """A Markdown table: model, operators, I/O, one status column per target."""
    rows = ["| model | operators | inputs -> outputs | " + " | ".join(targets) + " |",
            "|---" * (3 + len(targets)) + "|"]
    for r in results:
        cells = [r.model, ", ".join(r.operators), r.io]
        for t in targets:
            s = r.targets.get(t, "")
            if t in r.instructions:
                s += f" ({r.instructions[t]:,} instr.)".replace(",", " ")
            cells.append(s)
        rows.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(rows)


def main(argv=None) -> int:
    from sbtf.micro import boards

    p = argparse.ArgumentParser(prog="check_models", description=__doc__.splitlines()[0])
    p.add_argument("folder", help="folder of .tflite files")
    p.add_argument("--target", action="append", choices=("host", *boards.names()),
                   help="host (gcc) or a QEMU board; repeat for several (default: host)")
    p.add_argument("-n", type=int, default=2, help="random inputs per model (default 2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per run (default 600)")
    p.add_argument("--json", help="also write the results to this JSON file")
    args = p.parse_args(argv)
    folder = Path(args.folder)
    if not folder.is_dir() or not any(folder.glob("*.tflite")):
        print(f"check_models: error: {folder}: no .tflite files", file=sys.stderr)
        return 2
    if args.n < 1:
        print("check_models: error: -n must be at least 1", file=sys.stderr)
        return 2
    targets = args.target or ["host"]
    results = check_folder(folder, targets, args.n, args.seed, args.timeout,
                           progress=lambda r: print(f"{r.model}: {r.targets}", file=sys.stderr,
                                                    flush=True))
    print(table(results, targets))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=1))
    return 1 if any(r.differs for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
