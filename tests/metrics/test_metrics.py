"""E (pk.metrics.warp_explained) against edits whose answer is known, on real photos."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import pyramid_kernels as pk
from pyramid_kernels.metrics import fit_warp, warp_explained

SIZE = 96


@pytest.fixture(scope="module")
def photos() -> torch.Tensor:
    return pk.data.photos(SIZE)[0][:4].double()


def smooth(batch: int, channels: int, scale: float, seed: int, grid: int = 8) -> torch.Tensor:
    """A random field on a grid x grid control grid, interpolated as E's family is."""
    generator = torch.Generator().manual_seed(seed)
    control = torch.randn(batch, channels, grid, grid, generator=generator, dtype=torch.float64)
    return F.interpolate(scale * control, size=(SIZE, SIZE), mode="bicubic", align_corners=True)


def warp(images: torch.Tensor, displacement: torch.Tensor) -> torch.Tensor:
    """images sampled bilinearly at p + displacement (x, y), borders replicated."""
    h, w = images.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    grid = torch.stack(
        [(xs + displacement[:, 0]) / (w - 1) * 2 - 1, (ys + displacement[:, 1]) / (h - 1) * 2 - 1],
        -1,
    )
    return F.grid_sample(images, grid, padding_mode="border", align_corners=True)


@pytest.mark.parametrize("gain", [False, True])
def test_a_smooth_warp_is_explained(photos, gain):
    moved = warp(photos, smooth(len(photos), 2, 1.5, seed=1))  # ~1.5 px, up to ~4 px
    fit = fit_warp(photos, moved, gain=gain)
    assert (fit.explained >= 0.95).all(), fit.explained
    assert fit.displacement.shape == (len(photos), 2, SIZE, SIZE)
    assert (fit.gain is not None) == gain


def test_noise_is_not_explained(photos):
    noisy = photos + 0.05 * torch.randn(photos.shape, dtype=photos.dtype)
    for gain in (False, True):
        assert (warp_explained(photos, noisy, gain=gain) <= 0.1).all()


def test_a_gain_change_needs_the_gain_family(photos):
    brighter = photos * (1 + smooth(len(photos), 1, 0.15, seed=2))
    warp_only = warp_explained(photos, brighter)
    with_gain = warp_explained(photos, brighter, gain=True)
    assert (warp_only <= 0.5).all() and (with_gain >= 0.95).all(), (warp_only, with_gain)


def test_each_image_is_fitted_on_its_own(photos):
    """E of an image does not depend on the batch around it, and runs repeat exactly."""
    moved = warp(photos, smooth(len(photos), 2, 1.0, seed=3)) + 0.02 * torch.randn(photos.shape)
    together = warp_explained(photos, moved)
    alone = torch.cat([warp_explained(photos[i : i + 1], moved[i : i + 1]) for i in range(4)])
    torch.testing.assert_close(together, alone, rtol=1e-9, atol=1e-9)
    assert torch.equal(warp_explained(photos, moved), together)
    reordered = warp_explained(photos.flip(0), moved.flip(0)).flip(0)
    torch.testing.assert_close(reordered, together, rtol=1e-9, atol=1e-9)


def test_float32_agrees_with_float64(photos):
    moved = warp(photos, smooth(len(photos), 2, 1.0, seed=4)) + 0.02 * torch.randn(photos.shape)
    e64 = warp_explained(photos, moved, gain=True)
    e32 = warp_explained(photos.float(), moved.float(), gain=True)
    assert e32.dtype == torch.float32
    torch.testing.assert_close(e32.double(), e64, atol=2e-3, rtol=0)


def test_bad_input_is_refused_by_name(photos):
    x = photos[:2]
    cases = [
        ((x, x), {}, ValueError, "zero energy"),
        ((x, x[:1]), {}, ValueError, "one shape"),
        ((x[0], x[0]), {}, ValueError, "must be \\(B, C, H, W\\)"),
        ((x, x.int()), {}, TypeError, "float32 or float64"),
        ((x, x + float("nan")), {}, ValueError, "NaN"),
        ((x, x + 0.1), {"grid": 1}, ValueError, "grid must be"),
        ((x, x + 0.1), {"grid": True}, ValueError, "grid must be"),
        ((x.to("meta"), x.to("meta")), {}, ValueError, "meta"),
    ]
    for args, kwargs, error, message in cases:
        with pytest.raises(error, match=message):
            warp_explained(*args, **kwargs)
    edit = x.clone()
    edit[1] += 0.1  # only image 1 changed: image 0 is named
    with pytest.raises(ValueError, match=r"images \[0\]"):
        warp_explained(x, edit)


def test_a_fit_resumes_from_its_controls_and_a_longer_schedule_is_no_worse(photos):
    """``initial`` and ``stages`` (the slow fit of bench/mnist_e_fit.py): zero iterations from
    a fit's controls give that fit again; more iterations from them never lower E."""
    moved = warp(photos, smooth(len(photos), 2, 2.5, seed=3))
    moved = moved + 0.01 * torch.randn(moved.shape, dtype=moved.dtype)
    first = fit_warp(photos, moved, gain=True)
    assert first.controls.shape == (len(photos), 3, 8, 8)
    again = fit_warp(photos, moved, gain=True, stages=((0.0, 0),), initial=first.controls)
    assert torch.equal(again.explained, first.explained)
    longer = fit_warp(photos, moved, gain=True, stages=((0.0, 200),), initial=first.controls)
    assert (longer.explained >= first.explained).all()
    with pytest.raises(ValueError, match="initial must be a tensor of shape"):
        fit_warp(photos, moved, initial=first.controls)  # gain's 3 fields for a warp-only fit
    with pytest.raises(ValueError, match="stages must be"):
        fit_warp(photos, moved, stages=((1.0, 10),))  # not ending unblurred
