"""The import layering docs/architecture.md states, checked on the source (every import
statement, including those inside functions)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Layer of each first-party module, bottom first; a module may import only its own layer or
# lower ones. The packaging maps converters/ to sbtf.converters (setup.py).
FORMAT = ("sbtf.bitmask", "sbtf.op_format")
TRAINING = ("sbtf", "sbtf._env", "sbtf._summary", "sbtf.quantizers", "sbtf.layers",
            "sbtf.models", "sbtf.mlperf_tiny", "sbtf.data", "sbtf.batch")
LAYERS = [
    ("format", FORMAT),
    ("training", TRAINING),
    ("converters", ("sbtf.converters", "sbtf_convert")),
    ("host", ("sbtf.interpreter",)),
    ("micro", ("sbtf.micro",)),
    ("applications", ("sbtf.demo", "sbtf.experiments", "sbtf.plots")),
]


def _layer(module: str) -> int | None:
    best = None
    for rank, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            exact = prefix in FORMAT + TRAINING
            matches = module == prefix or (not exact and module.startswith(prefix + "."))
            if matches and (best is None or len(prefix) > best[1]):
                best = (rank, len(prefix))
    return None if best is None else best[0]


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[0] == "converters":
        parts = ["sbtf", *parts]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path, module: str):
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module
            yield node.lineno, name
            for alias in node.names:  # `from sbtf import micro` imports sbtf.micro
                yield node.lineno, f"{name}.{alias.name}"


def _sources():
    files = sorted((ROOT / "sbtf").rglob("*.py")) + sorted((ROOT / "converters").rglob("*.py"))
    return files + [ROOT / "sbtf_convert.py"]


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_go_down_the_layers(path):
    module = _module_name(path)
    own = _layer(module)
    assert own is not None, f"{module} belongs to no layer: add it to LAYERS and the docs"
    wrong = []
    for line, name in _imports(path, module):
        theirs = _layer(name)
        if theirs is not None and theirs > own:
            wrong.append(f"line {line}: {name} ({LAYERS[theirs][0]})")
    assert not wrong, f"{module} ({LAYERS[own][0]}) imports a higher layer: {wrong}"


def test_format_layer_imports_no_tensorflow():
    for name in FORMAT:
        path = ROOT / (name.replace(".", "/") + ".py")
        mods = {m for _, m in _imports(path, name)}
        assert not {m for m in mods if m.split(".")[0] in ("tensorflow", "larq", "tf_keras")}, name
