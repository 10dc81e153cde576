"""sbtf.micro.build compiles the library's C (kernels, runtime, startup) once per compiler and
flag set into the user's build cache and links those objects: a second build reuses them, an
edited header or another define gives a fresh object, a corrupt object or an unwritable cache
falls back to compiling, the cache stays within its bound, and a firmware image built from the
cache equals the one compiled from scratch."""
from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from sbtf.micro import build, cache, hostref, runtime

MAIN = '#include <stdio.h>\nint main(void) { puts("linked"); return 0; }\n'


@pytest.fixture
def objects(monkeypatch, tmp_path) -> Path:
    monkeypatch.setenv("SBTF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("SBTF_NO_OBJECT_CACHE", raising=False)
    monkeypatch.delenv("SBTF_CACHE_MAX_MB", raising=False)
    return tmp_path / "cache" / "objects"


def _build(tmp_path: Path, name: str = "app", **kwargs) -> Path:
    main = tmp_path / "main.c"
    main.write_text(MAIN)
    exe = build.build_host([main, *build.kernel_sources()], opt="-O0", out=tmp_path / name,
                           **kwargs)
    run = subprocess.run([str(exe)], capture_output=True, text=True, check=True)
    assert run.stdout == "linked\n"
    return exe


def _stored(objects: Path) -> dict[str, tuple[int, int]]:
    """Every cached object: name -> (inode, mtime_ns)."""
    return {str(o.relative_to(objects)): (o.stat().st_ino, o.stat().st_mtime_ns)
            for o in objects.glob("*/*.o")}


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def test_a_second_build_links_the_same_objects(objects, tmp_path):
    _build(tmp_path, "first")
    first = _stored(objects)
    assert len(first) == len(build.kernel_sources())  # main.c is the caller's: never cached
    _build(tmp_path, "second")
    assert _stored(objects) == first  # not compiled again: same files, untouched



def test_builds_at_the_same_time_share_the_cache(objects, tmp_path):
    """Both compile every object and store it under the same name (os.replace: whole files)."""
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda name: _build(tmp_path, name), ["one", "two"]))
    assert len(_stored(objects)) == len(build.kernel_sources())
    _build(tmp_path, "three")

def test_an_edited_header_or_another_define_gives_a_fresh_object(objects, tmp_path):
    forced = tmp_path / "forced.h"  # read by every source (-include): in its dependency list
    forced.write_text("#define SBTF_TEST_FORCED 1\n")
    _build(tmp_path, extra_cflags=["-include", str(forced)])
    first = _stored(objects)
    forced.write_text("#define SBTF_TEST_FORCED 2\n")
    _build(tmp_path, extra_cflags=["-include", str(forced)])
    second = _stored(objects)
    assert len(second) == len(first) and not set(second) & set(first)  # old versions gone
    _build(tmp_path, extra_cflags=["-include", str(forced)], defines={"SBTF_TEST_DEFINE": 1})
    assert len(_stored(objects)) == 2 * len(first) and set(second) <= set(_stored(objects))


def test_a_header_that_a_build_dir_would_shadow_is_never_taken_from_the_cache(objects, tmp_path):
    _build(tmp_path)
    cached = _stored(objects)
    generated = tmp_path / "generated"  # a caller's include dir, not part of the objects' key
    generated.mkdir()
    (generated / "string.h").write_text('#error "this build sees its own string.h"\n')
    with pytest.raises(build.BuildError, match="this build sees its own string.h"):
        _build(tmp_path, include_dirs=[generated])
    assert _stored(objects) == cached


def test_a_header_read_from_a_deleted_build_dir_does_not_break_the_next_build(objects, tmp_path):
    """Like sbtf_main.c, which reads each model's generated sbtf_inputs.h."""
    wrapper = '#include_next <stdint.h>\n'  # read by the kernels in place of the system one
    for name in ("gone", "new"):
        generated = tmp_path / name
        generated.mkdir()
        (generated / "stdint.h").write_text(wrapper)
        _build(tmp_path, include_dirs=[generated])
        assert _stored(objects) == {}  # every kernel read a header of this build's own folder
        if name == "gone":
            (generated / "stdint.h").unlink()
            generated.rmdir()


@pytest.mark.parametrize("damage", ["truncated", "corrupt", "half-written"])
def test_a_damaged_object_is_compiled_again(objects, tmp_path, damage):
    _build(tmp_path)
    (victim,) = objects.glob("sbtf_nn_core-*/*.o")
    data = victim.read_bytes()
    if damage == "truncated":
        victim.write_bytes(data[:len(data) // 2])
    elif damage == "corrupt":  # same length, one byte flipped
        victim.write_bytes(data[:100] + bytes([data[100] ^ 0xFF]) + data[101:])
    else:  # a writer's temporary file beside a missing object
        victim.rename(victim.with_name(".tmp-1-dead.o"))
    _build(tmp_path)
    assert victim.read_bytes() == data


def test_an_unwritable_cache_still_builds(monkeypatch, tmp_path):
    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("a file where the cache folder would be")
    monkeypatch.setenv("SBTF_CACHE_DIR", str(not_a_folder))
    _build(tmp_path)
    assert not_a_folder.read_text() == "a file where the cache folder would be"


def test_the_object_cache_can_be_turned_off(objects, tmp_path, monkeypatch):
    monkeypatch.setenv("SBTF_NO_OBJECT_CACHE", "1")
    _build(tmp_path)
    assert not objects.exists()


def test_the_cache_with_objects_stays_within_its_bound(objects, tmp_path, monkeypatch):
    _build(tmp_path)
    one_set = _size(objects)
    for i in range(3):  # older firmware builds
        old = objects.parent / "runtime" / f"old{i}"
        old.mkdir(parents=True)
        (old / "firmware.elf").write_bytes(b"x" * (one_set // 2))
        os.utime(old, (1_000 + i, 1_000 + i))
    bound = int(1.5 * one_set)
    monkeypatch.setenv("SBTF_CACHE_MAX_MB", str(bound / 1e6))
    _build(tmp_path, defines={"SBTF_TEST_DEFINE": 1})  # a second set of objects: over the bound
    assert _size(objects.parent) <= bound
    assert not (objects.parent / "runtime" / "old0").exists()
    assert len(_stored(objects)) >= len(build.kernel_sources())  # this build's objects stay
    _build(tmp_path, defines={"SBTF_TEST_DEFINE": 1})


def test_firmware_from_cached_objects_equals_firmware_compiled_from_scratch(objects, tmp_path,
                                                                            monkeypatch):
    tf.keras.utils.set_random_seed(3)
    inp = tf.keras.Input((6,))
    model = tf.keras.Model(inp, tf.keras.layers.Dense(4)(inp))
    tflite = hostref.int8_tflite(model, np.random.default_rng(3).normal(size=(16, 6)))
    x = np.arange(12, dtype=np.int8).reshape(2, 6)

    def image(name):
        elf = runtime.build_firmware(tflite, "mps2-an386", x, out_dir=tmp_path / name).elf
        binary = elf.with_suffix(".bin")
        subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", str(elf), str(binary)], check=True)
        return binary.read_bytes()

    cold, warm = image("cold"), image("warm")
    stored = {p.parent.name.rsplit("-", 1)[0] for p in objects.glob("*/*.o")}
    assert stored == {p.stem for p in [*runtime.runtime_sources(), *build.kernel_sources(),
                                       build.board_dir() / "startup.c"]}  # not sbtf_main.c
    monkeypatch.setenv("SBTF_NO_OBJECT_CACHE", "1")
    assert cold == warm == image("scratch")
    assert cache.root() == objects.parent
