"""Embedded digit models: each loads and classifies held-out digits, the robust ones resist
attack, and the docstring quotes their recorded accuracies."""

import json

import pytest
import torch

from pyramid_kernels import data, models
from pyramid_kernels.models.train import split

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
