"""The ideal filter in two passes (magnifying/ideal.py): the same frames as the whole-clip FFT,
state that does not grow with the bands of every frame, and the command's memory check and
progress."""

from __future__ import annotations

import contextlib
import io

import pytest
import torch

import pyramid_kernels as pk
from pyramid_kernels.magnifying import MagnifyOptions, synthetic
from pyramid_kernels.magnifying import ideal as ideal_module
from pyramid_kernels.magnifying.filters import IdealBandpass
from pyramid_kernels.magnifying.ideal import IdealMagnification, whole_clip

FPS = 30.0


@pytest.mark.parametrize("count", [40, 41])
def test_the_basis_projects_as_the_fft_filter_does(count):
    ideal = IdealBandpass((1.0, 4.0), FPS)
    signal = torch.randn(count, 5, dtype=torch.float64)
    basis = ideal.basis(count, torch.float64)
    assert basis.shape == (count, 2 * int(ideal.kept(count).sum()))
    torch.testing.assert_close(basis @ (basis.T @ signal), ideal(signal), rtol=0, atol=1e-12)
    assert ideal.basis(count).dtype == torch.float32


@pytest.fixture(scope="module")
def clip() -> torch.Tensor:
    """(40, 3, 48, 40) float64: a photo crop moving 0.2 px at 2 Hz, with a little noise."""
    photo = pk.data.photos(48, names=["cat"])[0][0, :, :, 4:44].double()
    truth = synthetic.oscillation(0.2, 2.0, FPS, 40)
    moving = torch.stack([synthetic.fourier_shift(c[None], truth)[:, 0] for c in photo], 1)
    return moving + 0.01 * torch.rand(moving.shape, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("color", [None, "rgb"])
@pytest.mark.parametrize("extra", [{}, {"attenuate": True}, {"sigma": 1.0}])
def test_two_passes_give_the_whole_clip_frames(clip, color, extra, monkeypatch):
    """Several chunks per pass (a small chunk budget), every backend of the CPU."""
    monkeypatch.setattr(ideal_module, "CHUNK_BYTES", 2**21)
    spec = pk.PyramidSpec(orientations=4)
    options = MagnifyOptions(alpha=20, band=(1.0, 4.0), fps=FPS, color=color, pyramid=spec, **extra)
    magnifier = IdealMagnification(options, clip.shape[0])
    magnifier._check(clip)
    assert 1 < magnifier.chunk_frames(clip) < clip.shape[0]  # two chunks or more
    reference = whole_clip(clip, options)
    assert (reference - clip).abs().max() > 1e-3  # it does magnify
    torch.testing.assert_close(pk.magnify(clip, options=options), reference, rtol=0, atol=1e-12)
    single = pk.magnify(clip.float(), options=options)
    assert single.dtype == torch.float32
    assert (single.double() - reference).abs().max() < 1e-5


def test_the_state_is_2p_values_per_coefficient(clip):
    """The accumulators hold 2 P values per coefficient of one frame (P kept bins), not the
    bands of every frame."""
    spec = pk.PyramidSpec(orientations=4)
    options = MagnifyOptions(alpha=10, band=(1.0, 4.0), fps=FPS, pyramid=spec)
    magnifier = IdealMagnification(options, clip.shape[0])
    magnifier.accumulate(clip[:7])
    magnifier.accumulate(clip[7:])
    bins = int(IdealBandpass((1.0, 4.0), FPS).kept(clip.shape[0]).sum())
    coefficients = sum(r.numel() for r in magnifier.reference)  # one frame's bands (luminance)
    assert sum(s.numel() for s in magnifier.sums) == coefficients * 2 * bins
    assert 2 * bins < clip.shape[0] / 3
    with pytest.raises(ValueError, match="more than the clip's 40 frames"):
        magnifier.accumulate(clip[:1])
    early = IdealMagnification(options, clip.shape[0])
    early.accumulate(clip[:10])
    with pytest.raises(ValueError, match="every frame accumulated first: 10 of 40"):
        early.render(clip[:10])


def test_the_command_refuses_a_clip_that_cannot_fit_and_shows_progress(tmp_path, monkeypatch):
    from pyramid_kernels.apps import magnify_video
    from pyramid_kernels.apps.cli import main
    from pyramid_kernels.io.video import write_video

    write_video(tmp_path / "in.gif", iter(torch.rand(12, 3, 32, 32)), FPS)
    args = ["magnify", str(tmp_path / "in.gif"), "--alpha", "5", "--band", "1", "4"]
    errors = io.StringIO()
    with monkeypatch.context() as patch, contextlib.redirect_stderr(errors):
        patch.setattr(magnify_video, "available_memory", lambda: 2**20)
        assert main([*args, "--out", str(tmp_path / "big.gif")]) == 2
    assert "with --filter ideal need about" in errors.getvalue()
    assert "--filter butterworth" in errors.getvalue() and "--scale below 1" in errors.getvalue()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.gif"]
    errors = io.StringIO()  # progress: decoded, accumulated, magnified, each counted
    with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
        assert main([*args, "--out", str(tmp_path / "out.gif")]) == 0
    bar = errors.getvalue()
    for done in (12, 24, 36):
        assert f"] {done}/36 " in bar, bar
    assert bar.index("] 12/36 ") < bar.index("] 24/36 ") < bar.index("] 36/36 ")


@pytest.mark.parametrize("filter", ["ideal", "butterworth"])
def test_large_motion_or_a_scene_cut_is_warned_once(clip, filter):
    """A sub-pixel motion passes quietly; a cut to another scene halfway, or a pan of many
    pixels, is said once (a warning, not a refusal: the frames still come back)."""
    import warnings

    options = dict(alpha=10, band=(1.0, 4.0), fps=FPS, filter=filter)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pk.magnify(clip, **options)
    other = pk.data.photos(48, names=["rocket"])[0][0, :, :, 4:44].double()
    cut = torch.cat([clip[:20], other.expand(20, -1, -1, -1)])
    pan = torch.stack([clip[0].roll(2 * t, -1) for t in range(clip.shape[0])])
    for video in (cut, pan):
        with pytest.warns(UserWarning, match="motion of many pixels or a scene cut") as said:
            out = pk.magnify(video, **options)
        assert len([w for w in said if "scene cut" in str(w.message)]) == 1
        assert out.shape == video.shape


def test_height_zero_is_refused_as_having_no_band_level(clip):
    with pytest.raises(ValueError, match="height=0 leaves no band level to magnify"):
        pk.magnify(clip, alpha=5, band=(1.0, 4.0), fps=FPS, height=0)
