"""The per-user build cache of `sbtf-micro run` and the Python runtime API (firmware built when
no output folder is given): one folder per model, board and variant, reused while it exists.

Location: `$SBTF_CACHE_DIR`, else `$XDG_CACHE_HOME/sbtf`, else `~/.cache/sbtf`; builds go in
its `runtime/` folder. Size bound: `$SBTF_CACHE_MAX_MB` megabytes (default 256); each new build
first removes the least recently used builds until the rest fits in the bound.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

__all__ = ["DEFAULT_MAX_MB", "build_dir", "max_bytes", "prune", "root"]

DEFAULT_MAX_MB = 256


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


def prune(folder: Path, limit: int, keep: Path | None = None) -> list[Path]:
    """Remove the least recently used entries of `folder` (by mtime; never `keep`) until the
    entries together take at most `limit` bytes. Returns what was removed."""
    if not folder.is_dir():
        return []
    entries = [p for p in folder.iterdir() if p.is_dir() and p != keep]
    sizes = {p: _size(p) for p in entries}
    total = sum(sizes.values()) + (_size(keep) if keep is not None and keep.is_dir() else 0)
    removed = []
    for p in sorted(entries, key=lambda p: p.stat().st_mtime):
        if total <= limit:
            break
        shutil.rmtree(p, ignore_errors=True)
        total -= sizes[p]
        removed.append(p)
    return removed


def build_dir(name: str) -> Path:
    """The cache folder for build `name` (created, marked as just used); older builds are
    pruned to keep the cache within max_bytes()."""
    folder = root() / "runtime"
    entry = folder / name
    entry.mkdir(parents=True, exist_ok=True)
    now = time.time()
    os.utime(entry, (now, now))
    prune(folder, max_bytes(), keep=entry)
    return entry
