"""sbtf.micro: build and run sbtf's C kernels and whole models for Cortex-M boards (and host)."""
from pathlib import Path

from sbtf import _env  # noqa: F401


def source_dir() -> Path:
    """The `micro/` C sources (kernels, runtime, boards) of this checkout."""
    path = Path(__file__).resolve().parents[2] / "micro"
    if not (path / "include" / "sbtf_nn.h").is_file():
        raise FileNotFoundError(
            f"sbtf's C sources were not found at {path}; sbtf.micro needs an editable install "
            "(pip install -e .) of the sbtf repository"
        )
    return path
