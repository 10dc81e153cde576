"""sbtf.data: one loader for the digits and Fashion-MNIST (IDX files of `dataset-fashion-mnist`)."""
import gzip

import numpy as np
import pytest

from sbtf import data


def _write_idx(path, array, magic=None):
    array = np.asarray(array, np.uint8)
    header = magic if magic is not None else bytes([0, 0, 8, array.ndim])
    header += b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())


def _fake_fashion(folder, train=60000, test=10000):
    rng = np.random.default_rng(0)
    for split, count in (("train", train), ("t10k", test)):
        _write_idx(folder / f"{split}-images-idx3-ubyte.gz",
                   rng.integers(0, 256, (count, 28, 28)))
        _write_idx(folder / f"{split}-labels-idx1-ubyte.gz", np.arange(count) % 10)


def test_fashion_mnist_from_the_debian_package():
    (x_train, y_train), (x_test, y_test) = data.load("fashion-mnist")
    assert x_train.shape == (60000, 28, 28, 1) and x_test.shape == (10000, 28, 28, 1)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int32
    assert 0.0 == x_train.min() and x_train.max() == 1.0
    # Every class is in both splits in equal numbers (Fashion-MNIST is balanced).
    assert np.bincount(y_train).tolist() == [6000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
    (xs, _), (_, yt) = data.load("fashion-mnist", train_size=100, test_size=7)
    assert xs.shape == (100, 28, 28, 1) and yt.shape == (7,)
    np.testing.assert_array_equal(xs, x_train[:100])


def test_one_interface_for_both_data_sets():
    (x_train, _), (x_test, _) = data.load("digits", train_size=50)
    assert x_train.shape == (50, 8, 8, 1) and x_test.shape == (360, 8, 8, 1)
    np.testing.assert_array_equal(x_train, data.load_digits_split()[0][0][:50])
    with pytest.raises(ValueError, match="Unknown data set 'mnist'"):
        data.load("mnist")
    with pytest.raises(ValueError, match="train_size must be >= 1"):
        data.load("digits", train_size=0)


def test_missing_fashion_mnist_names_the_package(tmp_path, monkeypatch):
    monkeypatch.setenv("SBTF_FASHION_MNIST_DIR", str(tmp_path))
    with pytest.raises(data.DatasetMissing) as e:
        data.load("fashion-mnist")
    assert "dataset-fashion-mnist" in str(e.value) and "apt-get install" in str(e.value)
    assert str(tmp_path / "train-images-idx3-ubyte.gz") in str(e.value)


def test_idx_reader_checks_magic_shape_and_size(tmp_path, monkeypatch):
    _fake_fashion(tmp_path, train=20, test=10)
    monkeypatch.setenv("SBTF_FASHION_MNIST_DIR", str(tmp_path))
    with pytest.raises(data.DatasetCorrupt, match="train split should be 60000 28x28 images"):
        data.load("fashion-mnist")
    images = tmp_path / "train-images-idx3-ubyte.gz"
    assert data.read_idx(str(images), 3).shape == (20, 28, 28)
    _write_idx(images, np.zeros((2, 28, 28)), magic=bytes([0, 0, 9, 3]))  # not unsigned bytes
    with pytest.raises(data.DatasetCorrupt, match="not an IDX file of unsigned bytes"):
        data.read_idx(str(images), 3)
    with gzip.open(images, "wb") as f:  # header promises more bytes than the file holds
        f.write(bytes([0, 0, 8, 1]) + (1000).to_bytes(4, "big") + bytes(10))
    with pytest.raises(data.DatasetCorrupt, match=r"header says shape \(1000,\)"):
        data.read_idx(str(images), 1)
    images.write_bytes(b"not gzip")
    with pytest.raises(data.DatasetCorrupt, match="not a readable gzip file"):
        data.read_idx(str(images), 3)


def _shifted(image, dy, dx):
    """`image` [H, W, C] moved down by dy and right by dx, zeros where nothing moved in."""
    out = np.zeros_like(image)
    h, w = image.shape[:2]
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        image[max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    return out


def test_augment_shifts_and_flips_each_image_within_range():
    rng = np.random.default_rng(0)
    x = rng.random((64, 6, 5, 2)).astype(np.float32)
    got = data.augment(x, np.random.default_rng(1), shift=2, flip=True)
    assert got.shape == x.shape and got.dtype == x.dtype
    seen = set()
    for image, out in zip(x, got):
        matches = [(dy, dx, f) for dy in range(-2, 3) for dx in range(-2, 3) for f in (0, 1)
                   if np.array_equal(out, _shifted(image[:, ::-1] if f else image, dy, dx))]
        assert len(matches) == 1, matches  # exactly one shift/flip explains the output
        seen.add(matches[0])
    assert len(seen) > 20  # offsets and flips vary between images
    assert {f for _, _, f in seen} == {0, 1}
    # the same generator state gives the same batch; shift 0 without flips is the identity
    np.testing.assert_array_equal(data.augment(x, np.random.default_rng(1)), got)
    np.testing.assert_array_equal(data.augment(x, rng, shift=0, flip=False), x)
    with pytest.raises(ValueError, match="shift"):
        data.augment(x, rng, shift=-1)
