"""The natural-image driver/judge protocol: its inputs, its photo bootstrap, and the reduced
case end to end (the full run is committed under bench/results/eval-imagenet)."""

import numpy as np
import pytest
import torch
from PIL import Image

from pyramid_kernels.apps.cli import main
from pyramid_kernels.experiments.imagenet_protocol import (
    ANCHORED,
    photo_bootstrap,
    protocol_inputs,
    run_imagenet_eval,
)


def test_inputs_are_crops_and_mirrors_of_eight_photos():
    x, names, groups = protocol_inputs()
    assert x.shape == (64, 3, 224, 224) and len(set(names)) == 64
    assert torch.bincount(groups).tolist() == [8] * 8
    assert names[0] == ANCHORED.join(["cat/", ""]) and names[1] == "cat/centre/mirrored"
    assert torch.equal(x[1], x[0].flip(-1))  # the mirror image
    assert not torch.allclose(x[0], x[2])  # another crop
    assert 0 <= x.min() and x.max() <= 1


def test_photo_bootstrap_draws_whole_photos():
    groups = torch.tensor([0, 0, 1, 1, 2, 2])
    draws = photo_bootstrap(groups, resamples=50, seed=1)
    assert draws.shape == (50, 6)
    for row in draws:  # each draw is three photos, each with both of its inputs
        pairs = row.reshape(3, 2)
        assert (pairs[:, 0] // 2 == pairs[:, 1] // 2).all() and (pairs[:, 0] % 2 == 0).all()
    assert len({tuple(r) for r in draws}) > 5


@pytest.mark.slow
def test_quick_protocol_end_to_end(tmp_path, capsys):
    rows = run_imagenet_eval(out=None, quick=True, resamples=100, progress=False)
    assert [(r["regime"], r["method"]) for r in rows] == [
        ("frozen", "pixel"),
        ("frozen", "csp phase"),
    ]
    for r in rows:
        assert r["inputs"] == 4 and r["photos"] == 2 and r["attained"] == 4
        assert r["l2"].startswith("10 [")  # every morph ends at the budget
        point = float(r["driver"].split(" ")[0])
        assert 0 < point < 1
        assert 0 <= float(r["E warp"].split(" ")[0]) <= float(r["E warp+gain"].split(" ")[0])
    pixel, csp = (float(r["E warp+gain"].split(" ")[0]) for r in rows)
    assert csp > pixel + 0.1  # phase edits are warp-like, pixel edits are not
    # the CLI writes the three files
    assert main(["eval", "--protocol", "imagenet", "--quick", "--out", str(tmp_path)]) == 0
    table = (tmp_path / "eval.md").read_text()
    assert "| frozen | 10 | csp phase | 4 (2) | 4/4 |" in table
    assert "bootstrap over photos" in table
    assert np.asarray(Image.open(tmp_path / "eval.png")).std() > 0
    assert (tmp_path / "eval.csv").read_text().startswith("regime,budget_l2,method")
