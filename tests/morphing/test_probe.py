"""pk.probe_bands: frozen single-band probes peak at the band a model looks at."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import pyramid_kernels as pk


class OneBand(nn.Module):
    """Logits (0, sum Im(conj(c0) * band)) of band (level, k) of the pyramid, c0 that band at
    the images ``x``: a detector of phase shifts in one band (it sees no other band)."""

    def __init__(self, pyramid: pk.SteerablePyramid, level: int, k: int, x: torch.Tensor):
        super().__init__()
        self.pyramid, self.level, self.k = pyramid, level, k
        self.register_buffer("weight", self.band(x).conj())

    def band(self, x: torch.Tensor) -> torch.Tensor:
        return self.pyramid.build(x).bands[self.level][:, 0, self.k]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight.repeat(x.shape[0] // len(self.weight), 1, 1)  # batches of copies
        score = (weight * self.band(x)).imag.sum((-2, -1))
        return torch.stack([torch.zeros_like(score), score], 1)


@pytest.mark.parametrize("level, k", [(0, 1), (1, 3), (2, 0)])
def test_the_probe_peaks_at_the_band_the_model_sees(level, k):
    pyramid = pk.SteerablePyramid(height=3, orientations=4)
    x = pk.data.photos(48)[0][:2].mean(1, keepdim=True)  # two grayscale photos
    model = OneBand(pyramid, level, k, x).eval()
    probe = pk.probe_bands(model, x, target=1, source=0, l2=0.05, pyramid=pyramid)
    assert probe.advantage.shape == (2, 3, 4)
    assert probe.peak() == [(level, k)] * 2, probe.advantage
    assert probe.random_change.shape == (2, 3, 4, 8)
    # every probed image sits at the requested distance
    torch.testing.assert_close(
        probe.distance, torch.full_like(probe.distance, 0.05), rtol=2e-2, atol=0
    )


def test_probe_of_an_embedded_model_saves_a_heat_map(tmp_path):
    model = pk.models.load("digits-driver")
    x, _ = pk.data.digits("test")
    probe = pk.probe_bands(model, x[:2], target=[3, 8], l2=0.5, n_random=2)
    assert probe.advantage.shape == (2, 3, 4) and torch.isfinite(probe.advantage).all()
    assert (probe.advantage.amax((1, 2)) > 0).all()
    probe.save(tmp_path / "probe.png")
    assert (tmp_path / "probe.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="must end in .png"):
        probe.save(tmp_path / "probe.gif")


def test_runner_up_is_a_target_of_the_probe_as_of_morph():
    """ "runner-up" means each image's second most likely class in pk.probe_bands, pk.morph,
    generate and the command line alike."""
    model = pk.models.load("mnist-driver")
    x, _ = pk.data.mnist("test")
    x = x[::250][:4]
    with torch.no_grad():
        second = model(x).topk(2, dim=1).indices[:, 1]
    probe = pk.probe_bands(model, x, target="runner-up", l2=0.5, n_random=1)
    assert torch.equal(probe.target, second)
    result = pk.morph(model, x, " runner-up", steps=1)
    assert torch.equal(result.target, second)
    assert torch.equal(result.frames, pk.morph(model, x, second, steps=1).frames)


def test_bad_probe_arguments_are_refused_by_name():
    model = pk.models.load("digits-driver")
    x, _ = pk.data.digits("test")
    for kwargs, message in [
        ({"l2": 0}, "l2 must be"),
        ({"l2": float("inf")}, "l2 must be"),
        ({"n_random": 0}, "n_random must be"),
        ({"target": 10}, "target must be in"),
        ({"target": 6}, "target equals the source"),
    ]:
        with pytest.raises(ValueError, match=message):
            pk.probe_bands(model, x[:1], **({"target": 1} | kwargs))
    with pytest.raises(ValueError, match="training mode"):
        pk.probe_bands(pk.models.load("digits-driver").train(), x[:1], 1)


def test_the_probe_command(tmp_path, capsys):
    from pyramid_kernels.apps.cli import main
    from pyramid_kernels.io.image_io import save_png

    x, _ = pk.data.digits("test")
    save_png(tmp_path / "d.png", x[0])
    args = ["probe", str(tmp_path / "d.png"), "--model", "digits-driver", "--target", "3"]
    assert main([*args, "--n-random", "2", "--out", str(tmp_path / "p.png")]) == 0
    out = capsys.readouterr().out
    assert "6 -> 3" in out and "largest at level" in out and (tmp_path / "p.png").exists()
    with pytest.raises(SystemExit):  # argparse: the heat map is a PNG
        main([*args, "--out", str(tmp_path / "p.gif")])
    assert main([*args, "--target", "6", "--out", str(tmp_path / "q.png")]) == 2
    assert "target equals the source" in capsys.readouterr().err
    assert not (tmp_path / "q.png").exists()
