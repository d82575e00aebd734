"""Embedded digits data and models."""

import json

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
    assert accuracy >= (0.95 if name in ("digits-driver", "digits-robust") else 0.9), accuracy


def test_weights_are_small():
    total = sum(p.stat().st_size for p in models.WEIGHTS.glob("*.pt"))
    assert len(list(models.WEIGHTS.glob("*.pt"))) == 4 and total <= 2 * 2**20


def test_the_robust_driver_keeps_half_its_accuracy_under_attack():
    """20-step L2 PGD at eps 2: digits-robust keeps at least half its clean accuracy, the
    plainly trained driver (the same network) far less; the recorded metrics are these."""
    from pyramid_kernels.models.attack import pgd_l2, robust_accuracy

    x, y = data.digits("test")
    recorded = json.loads((models.WEIGHTS / "metrics.json").read_text())
    for name in ("digits-robust", "digits-driver"):
        model = models.load(name)
        with torch.no_grad():
            clean = (model(x).argmax(1) == y).float().mean().item()
        robust = robust_accuracy(model, x, y, eps=2.0, steps=20)
        assert recorded[name]["pgd_l2_2_accuracy"] == pytest.approx(robust, abs=1e-4)
        if name == "digits-robust":
            assert clean >= 0.95 and robust >= 0.5 * clean, (clean, robust)
        else:
            assert robust < 0.25, robust
    adversarial = pgd_l2(model, x[:32], y[:32], eps=2.0, steps=5)
    assert (adversarial - x[:32]).flatten(1).norm(dim=1).max() <= 2.0 + 1e-5
    assert adversarial.min() >= 0 and adversarial.max() <= 1


def test_unknown_model():
    with pytest.raises(ValueError, match="name must be one of"):
        models.load("mnist")
