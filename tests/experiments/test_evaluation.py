"""Evaluation protocol: metric helpers on hand-made inputs, and a small end-to-end run."""

import numpy as np
import pytest
import torch

from pyramid_kernels.apps.cli import main
from pyramid_kernels.experiments import evaluation as ev
from pyramid_kernels.experiments.protocol import PROTOCOLS


def test_attainment_and_common_attainment():
    distance = torch.tensor([1.0, 1.0009, 0.9992, 1.002, 0.5])
    assert ev.attained(distance, 1.0).tolist() == [True, True, True, False, False]
    a = torch.tensor([True, True, False, True])
    b = torch.tensor([True, False, False, True])
    assert ev.common([a, b]).tolist() == [True, False, False, True]


def test_judge_success():
    target = torch.tensor([0, 1, 2])
    resnet = torch.tensor([[5.0, 0, 0], [0, 5.0, 0], [5.0, 0, 0]])  # right, right, wrong
    mlp = torch.tensor([[5.0, 0, 0], [5.0, 0, 0], [0, 0, 5.0]])  # right, wrong, right
    each, both = ev.judge_success([resnet, mlp], target)
    assert each[0].tolist() == [True, True, False]
    assert each[1].tolist() == [True, False, True]
    assert both.tolist() == [True, False, False]


def test_bootstrap_interval_known_answer():
    values = np.array([0.0, 1.0])
    indices = np.array([[0, 0], [1, 1], [0, 1], [1, 0]])  # means 0, 1, 0.5, 0.5
    low, high = ev.bootstrap_ci(values, np.mean, indices)
    assert np.isclose(low, np.percentile([0, 1, 0.5, 0.5], 2.5))
    assert np.isclose(high, np.percentile([0, 1, 0.5, 0.5], 97.5))
    # conditional: only source 1 kept; the all-zero draw [0, 0] has nothing kept and is skipped
    keep = np.array([False, True])
    assert ev.bootstrap_ci(values, np.mean, indices, keep) == (1.0, 1.0)
    assert ev.summary_cell(values, np.array([False, False]), np.mean, indices) == "n/a"
    constant = ev.bootstrap_ci(np.full(10, 3.0), np.median, ev.bootstrap_indices(10, 100))
    assert constant == (3.0, 3.0)


def test_bootstrap_indices_are_reproducible():
    a, b = ev.bootstrap_indices(20, 50), ev.bootstrap_indices(20, 50)
    assert a.shape == (50, 20) and np.array_equal(a, b) and a.max() < 20


def test_paired_differences_use_the_same_draws():
    first, second = np.array([1.0, 2.0, 3.0]), np.array([0.0, 0.0, 3.0])
    indices = np.array([[0, 1, 2], [0, 0, 0], [2, 2, 2]])  # differences 1, 1 and 0 in the mean
    keep = np.ones(3, dtype=bool)
    assert ev.paired_cell(first, second, keep, np.mean, indices) == "+1 [+0.05, +1]"
    # unpaired draws would give [-1.95, +3]; conditional keep and nothing kept
    keep = np.array([False, True, True])
    assert ev.paired_cell(first, second, keep, np.mean, indices).startswith("+1 [")
    assert ev.paired_cell(first, second, np.zeros(3, dtype=bool), np.mean, indices) == "n/a"


def test_mnist_sources_and_targets():
    spec = PROTOCOLS["mnist"]
    x, labels = ev.protocol_sources(spec, 20)
    assert x.shape == (20, 1, 28, 28) and labels.bincount().tolist() == [2] * 10
    for bad in (25, 0, 1010):
        with pytest.raises(ValueError, match="count must be"):
            ev.protocol_sources(spec, bad)
    logits = torch.tensor([[9.0, 5, 7, 1], [2.0, 9, 1, 8], [0.0, 1, 2, 3]])
    labels = torch.tensor([0, 3, 3])  # correct, misclassified (top-1 1, label 3), correct
    assert PROTOCOLS["digits"].targets(logits, labels).tolist() == [2, 3, 2]
    assert spec.targets(logits, labels).tolist() == [2, 0, 2]  # never the label nor the top-1


@pytest.mark.slow
def test_eval_command_on_a_handful_of_digits(tmp_path):
    command = ["eval", "--protocol", "digits", "--count", "6", "--steps", "3"]
    assert main(command + ["--out", str(tmp_path)]) == 0
    table = (tmp_path / "eval.md").read_text()
    # per regime: 2 budgets x 4 methods, then 2 budgets x 3 paired differences
    assert table.count("\n| frozen |") == 8 + 6 and table.count("\n| anchored |") == 8 + 6
    lines = (tmp_path / "eval.csv").read_text().strip().splitlines()
    assert len(lines) == 17 and lines[0].startswith("driver,regime,mnist_budget")
    assert "E warp,E warp+gain" in lines[0]
    assert (tmp_path / "eval.png").stat().st_size > 1000


@pytest.mark.slow
def test_eval_command_on_mnist(tmp_path):
    """The MNIST protocol end to end on one digit per class: anchored only, budgets 1 and 2
    at 28x28, the paired differences, the picture."""
    command = ["eval", "--protocol", "mnist", "--count", "10", "--steps", "2"]
    assert main(command + ["--out", str(tmp_path)]) == 0
    table = (tmp_path / "eval.md").read_text()
    assert "10 real MNIST test digits" in table and "height 2, orientations 4" in table
    assert table.count("\n| anchored | 1.0 | 1.0 |") == 4
    assert table.count("\n| anchored | 2.0 | 2.0 |") == 4
    assert table.count("\n| anchored | 2.0 | csp phase - pixel |") == 1
    assert "frozen" not in table
    rows = (tmp_path / "eval.csv").read_text().strip().splitlines()
    assert len(rows) == 9 and all(r.startswith("mnist-driver,anchored,") for r in rows[1:])
    assert (tmp_path / "eval.png").stat().st_size > 10000


def test_eval_driver_must_belong_to_the_protocol(capsys):
    assert main(["eval", "--protocol", "mnist", "--driver", "digits-robust"]) == 2
    assert "driver must be one of ['mnist-driver', 'mnist-robust']" in capsys.readouterr().err


def test_coherence_measures_only_what_is_asked():
    x = torch.rand(4, 1, 16, 16)
    edited = x.roll(1, -1)
    edited[2] = x[2]  # an edit of zero energy
    edited[3] = float("nan")  # frames that are not finite
    measured = torch.tensor([True, False, True, True])
    e = ev.coherence(x, edited, measured)
    for values in e.values():
        assert values[0].isfinite() and values[1:].isnan().all()
        assert 0 <= values[0] <= 1
