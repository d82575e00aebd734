"""Embedded digits data and models."""

import pytest
import torch

from pyramid_kernels import data, models


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


@pytest.mark.parametrize("name", sorted(models.ARCHITECTURES))
def test_models_load_and_classify_held_out_digits(name):
    model = models.load(name)
    assert not model.training
    x, y = data.digits("test")
    with torch.no_grad():
        logits = model(x)
    assert logits.shape == (597, 10)
    accuracy = (logits.argmax(1) == y).float().mean().item()
    assert accuracy >= (0.95 if name == "digits-driver" else 0.9), accuracy


def test_weights_are_small():
    total = sum(p.stat().st_size for p in models.WEIGHTS.glob("*.pt"))
    assert len(list(models.WEIGHTS.glob("*.pt"))) == 3 and total <= 2 * 2**20


def test_unknown_model():
    with pytest.raises(ValueError, match="name must be one of"):
        models.load("mnist")
