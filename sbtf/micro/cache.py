"""The per-user build cache: `runtime/` holds the firmware of `sbtf-micro run` and the Python
runtime API (built when no output folder is given), one folder per model, board and variant,
reused while it exists; `objects/` holds the library's compiled C (sbtf.micro.build), one
folder per compiler, flag set and source.

Location: `$SBTF_CACHE_DIR`, else `$XDG_CACHE_HOME/sbtf`, else `~/.cache/sbtf`. Size bound:
`$SBTF_CACHE_MAX_MB` megabytes (default 256) for both together; whenever the cache grows, the
least recently used folders of either are removed until the rest fits in the bound.
"""
from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

__all__ = ["DEFAULT_MAX_MB", "SECTIONS", "build_dir", "max_bytes", "prune", "prune_cache", "root"]

DEFAULT_MAX_MB = 256
SECTIONS = ("runtime", "objects")


def root() -> Path:
    """The cache folder (not created)."""
    if os.environ.get("SBTF_CACHE_DIR"):
        return Path(os.environ["SBTF_CACHE_DIR"])
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "sbtf"


def max_bytes() -> int:
    text = os.environ.get("SBTF_CACHE_MAX_MB", "")
    try:
        mb = float(text) if text else DEFAULT_MAX_MB
    except ValueError:
        raise ValueError(f"SBTF_CACHE_MAX_MB={text!r} is not a number of megabytes") from None
    return int(mb * 1e6)


def _size(folder: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:  # removed meanwhile by another process
                pass
    return total


def prune(folders: Path | Iterable[Path], limit: int, keep: Path | Iterable[Path] = ()) -> list[Path]:
    """Remove the least recently used entries (subfolders) of `folders` (by mtime; never those
    in `keep`) until the entries together take at most `limit` bytes. Returns what was removed."""
    folders = [folders] if isinstance(folders, Path) else list(folders)
    keep = {keep} if isinstance(keep, Path) else set(keep)
    entries = [p for f in folders if f.is_dir() for p in f.iterdir() if p.is_dir()]
    sizes = {p: _size(p) for p in entries}
    total = sum(sizes.values())
    entries = [p for p in entries if p not in keep]
    removed = []
    for p in sorted(entries, key=lambda p: p.stat().st_mtime):
        if total <= limit:
            break
        shutil.rmtree(p, ignore_errors=True)
        total -= sizes[p]
        removed.append(p)
    return removed


def prune_cache(keep: Iterable[Path] = ()) -> list[Path]:
    """Keep the whole cache within max_bytes() (never removing `keep`)."""
    return prune([root() / s for s in SECTIONS], max_bytes(), keep)


def build_dir(name: str) -> Path:
    """The cache folder for build `name` (created, marked as just used); older builds are
    pruned to keep the cache within max_bytes()."""
    folder = root() / "runtime"
    entry = folder / name
    entry.mkdir(parents=True, exist_ok=True)
    now = time.time()
    os.utime(entry, (now, now))
    prune_cache(keep=[entry])
    return entry
