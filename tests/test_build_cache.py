"""sbtf-micro's build cache lives in a per-user folder (SBTF_CACHE_DIR, XDG_CACHE_HOME/sbtf or
~/.cache/sbtf), not in the current folder, and stays within SBTF_CACHE_MAX_MB by dropping the
least recently used builds."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from sbtf.micro import cache, hostref, runtime


def test_cache_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("SBTF_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.root() == tmp_path / "home" / ".cache" / "sbtf"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")  # the XDG spec: absolute only
    assert cache.root() == tmp_path / "home" / ".cache" / "sbtf"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.root() == tmp_path / "xdg" / "sbtf"
    monkeypatch.setenv("SBTF_CACHE_DIR", str(tmp_path / "mine"))
    assert cache.root() == tmp_path / "mine"


def _entry(folder: Path, name: str, size: int, mtime: float) -> Path:
    p = folder / name
    (p / "sub").mkdir(parents=True)
    (p / "sub" / "firmware.elf").write_bytes(b"x" * size)
    os.utime(p, (mtime, mtime))
    return p


def test_prune_drops_least_recently_used_builds_first(tmp_path):
    old = _entry(tmp_path, "old", 1000, 1_000)
    mid = _entry(tmp_path, "mid", 1000, 2_000)
    new = _entry(tmp_path, "new", 1000, 3_000)
    assert cache.prune(tmp_path, 3000) == []
    assert cache.prune(tmp_path, 2500) == [old]
    assert mid.exists() and new.exists()
    assert cache.prune(tmp_path, 0, keep=mid) == [new]  # never the build in use
    assert mid.exists()


def test_build_dir_keeps_the_cache_within_its_bound(monkeypatch, tmp_path):
    monkeypatch.setenv("SBTF_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("SBTF_CACHE_MAX_MB", "0.0015")  # 1500 bytes
    a = _entry(tmp_path / "runtime", "a", 1000, 1_000)
    b = _entry(tmp_path / "runtime", "b", 1000, 2_000)
    c = cache.build_dir("c")
    assert c == tmp_path / "runtime" / "c" and c.is_dir()
    assert not a.exists() and b.exists()
    monkeypatch.setenv("SBTF_CACHE_MAX_MB", "lots")
    with pytest.raises(ValueError, match="SBTF_CACHE_MAX_MB='lots' is not a number"):
        cache.build_dir("d")


def test_runtime_builds_go_to_the_cache_not_the_current_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("SBTF_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    tf.keras.utils.set_random_seed(8)
    inp = tf.keras.Input((4,))
    model = tf.keras.Model(inp, tf.keras.layers.Dense(3)(inp))
    tflite = hostref.int8_tflite(model, np.random.default_rng(8).normal(size=(16, 4)))
    fw = runtime.build_firmware(tflite, "mps2-an386", np.zeros((1, 4), np.int8))
    assert fw.elf.is_file()
    assert fw.elf.parent.parent == tmp_path / "xdg" / "sbtf" / "runtime"
    assert fw.elf.parent.name.endswith("-mps2-an386")
    assert list(work.iterdir()) == []
