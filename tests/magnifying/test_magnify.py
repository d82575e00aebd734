"""Phase-based motion magnification against motions known exactly (Fourier sub-pixel shifts
of a photo), streaming, filters, colour, backends and bad input."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import FAST_BACKENDS, require

import pyramid_kernels as pk
from pyramid_kernels.magnifying import Magnifier, synthetic
from pyramid_kernels.magnifying.filters import IIRBandpass

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from eulerian import linear_magnify  # noqa: E402

FPS, FRAMES, BAND = 30.0, 30, (1.0, 3.0)  # 2 Hz makes 2 whole cycles: no spectral leakage
SMALL = dict(orientations=4)


@pytest.fixture(scope="module")
def photo() -> torch.Tensor:
    """(1, 64, 64) grayscale crop of a bundled photo, float64."""
    return pk.data.photos(64, names=["motorcycle"])[0][0].mean(0, keepdim=True).double()


def gain(out: torch.Tensor, truth: torch.Tensor) -> float:
    """Least-squares factor between the measured horizontal displacement and ``truth``."""
    measured = synthetic.displacement(out[:, 0], out[0, 0])[:, 0]
    return float((measured * truth).sum() / (truth * truth).sum())


@pytest.mark.parametrize("amplitude, alpha", [(0.05, 5), (0.05, 20), (0.2, 5), (0.2, 10)])
def test_in_band_motion_is_magnified_by_one_plus_alpha(amplitude, alpha):
    """On 128x128 with 8 orientations, as bench/magnify_accuracy.py measures it (narrower
    bands carry a translation more exactly: 4 orientations on 64x64 fall 5-10% short)."""
    photo = pk.data.photos(128, names=["motorcycle"])[0][0].mean(0, keepdim=True)
    truth = synthetic.oscillation(amplitude, 2.0, FPS, FRAMES)
    video = synthetic.fourier_shift(photo, truth).float()
    assert gain(video, truth) == pytest.approx(1.0, abs=1e-3)  # the estimator itself
    out = pk.magnify(video, alpha=alpha, band=BAND, fps=FPS, orientations=8)
    assert gain(out, truth) == pytest.approx(1 + alpha, rel=0.10)


@pytest.mark.parametrize("amplitude", [0.05, 2.0, 6.0, 12.0])
def test_the_displacement_estimator_measures_large_shifts(amplitude):
    """Fitted coarse to fine, the phase slopes do not wrap: Fourier shifts up to 12 px of a
    128 px photo are measured exactly (one annulus of 0.06-0.16 cycles/px wraps past 3 px)."""
    photo = pk.data.photos(128, names=["motorcycle"])[0][0].mean(0, keepdim=True).double()
    truth = synthetic.oscillation(amplitude, 2.0, FPS, FRAMES)
    assert gain(synthetic.fourier_shift(photo, truth), truth) == pytest.approx(1.0, abs=1e-6)


def test_narrower_bands_carry_larger_magnifications(photo):
    """alpha * A = 10 px on 64x64 with 8 orientations: octave bands fall short by more than
    10% (a band's phase carries its mean frequency, and the spread of its frequencies dephases
    as alpha * A grows), half- and quarter-octave bands stay within 10% (the README's range
    table measures it at 256x256)."""
    truth = synthetic.oscillation(0.5, 2.0, FPS, FRAMES)
    video = synthetic.fourier_shift(photo, truth).float()
    errors = {}
    for n in (1, 2, 4):
        out = pk.magnify(video, alpha=20, band=BAND, fps=FPS, orientations=8, scales_per_octave=n)
        errors[n] = gain(out, truth) / 21 - 1
    assert errors[1] < -0.10
    assert abs(errors[2]) <= 0.10 and abs(errors[4]) <= 0.10
    assert abs(errors[4]) < abs(errors[1])


def test_motion_outside_the_band_is_kept_or_attenuated(photo):
    truth = synthetic.oscillation(0.2, 6.0, FPS, FRAMES)  # 6 Hz, band 1-3 Hz
    video = synthetic.fourier_shift(photo, truth).float()
    kept = pk.magnify(video, alpha=20, band=BAND, fps=FPS, **SMALL)
    assert gain(kept, truth) == pytest.approx(1.0, abs=0.05)
    removed = pk.magnify(video, alpha=20, band=BAND, fps=FPS, attenuate=True, **SMALL)
    assert abs(gain(removed, truth)) < 0.1
    inband = synthetic.oscillation(0.05, 2.0, FPS, FRAMES)
    both = synthetic.fourier_shift(photo, truth + inband).float()
    only = pk.magnify(both, alpha=10, band=BAND, fps=FPS, attenuate=True, **SMALL)
    assert gain(only, inband) == pytest.approx(11, rel=0.15)


@pytest.mark.parametrize("filter", ["ideal", "butterworth", "difference"])
@pytest.mark.parametrize("channels, color", [(1, None), (3, "luminance"), (3, "rgb")])
def test_a_still_video_is_returned_unchanged(photo, filter, channels, color):
    still = torch.rand(1, channels, 48, 40).expand(12, -1, -1, -1)
    out = pk.magnify(still, alpha=50, band=BAND, fps=FPS, filter=filter, color=color, sigma=1.0)
    assert out.shape == still.shape and (out - still).abs().max() <= 1e-5


def test_sensor_noise_is_amplified_less_than_by_linear_magnification(photo):
    torch.manual_seed(0)
    clean = photo.float().expand(FRAMES, 1, -1, -1)
    noisy = clean + 0.01 * torch.randn(clean.shape)
    phase = pk.magnify(noisy, alpha=20, band=BAND, fps=FPS, **SMALL)
    linear = linear_magnify(noisy, 20, BAND, FPS)
    error_phase = (phase - clean).pow(2).mean().sqrt()
    error_linear = (linear - clean).pow(2).mean().sqrt()
    assert error_phase < 0.5 * error_linear, (error_phase, error_linear)


def test_luminance_edits_keep_the_chroma(photo):
    rgb = pk.data.photos(48, names=["flower"])[0][0].double()
    truth = synthetic.oscillation(0.2, 2.0, FPS, FRAMES)
    video = synthetic.fourier_shift(rgb, truth)
    out = pk.magnify(video, alpha=10, band=BAND, fps=FPS, **SMALL)
    from pyramid_kernels.core.color import rgb_to_yiq

    chroma_in, chroma_out = rgb_to_yiq(video)[:, 1:], rgb_to_yiq(out)[:, 1:]
    assert (chroma_in - chroma_out).abs().max() < 1e-10
    assert (out - video).abs().max() > 0.05  # the luminance moved


@pytest.mark.parametrize("filter", ["butterworth", "difference"])
def test_streaming_in_any_chunks_gives_the_same_frames(photo, filter):
    truth = synthetic.oscillation(0.1, 2.0, FPS, 20)
    video = synthetic.fourier_shift(photo, truth).float()
    whole = pk.magnify(video, alpha=10, band=BAND, fps=FPS, filter=filter, chunk_size=20)
    for size in (1, 3, 7):
        magnifier = Magnifier(10, BAND, FPS, filter=filter)
        parts = torch.cat([magnifier(chunk) for chunk in video.split(size)])
        assert (parts - whole).abs().max() <= 1e-5


def test_one_options_object_sets_magnify_and_the_magnifier(photo):
    """MagnifyOptions holds every setting once: pyramid=PyramidSpec(...) equals the keyword
    fields, magnify_with(options) equals magnify(**keywords), and mixing the two is refused."""
    from pyramid_kernels.magnifying import MagnifyOptions

    video = synthetic.fourier_shift(photo, synthetic.oscillation(0.1, 2.0, FPS, 8)).float()
    spec = pk.PyramidSpec(height=2, orientations=4)
    keywords = pk.magnify(video, alpha=5, band=BAND, fps=FPS, height=2, orientations=4)
    assert torch.equal(pk.magnify(video, alpha=5, band=BAND, fps=FPS, pyramid=spec), keywords)
    options = MagnifyOptions(5, BAND, FPS, pyramid=spec)
    assert torch.equal(pk.magnify(video, options=options), keywords)
    streamed = Magnifier(options=MagnifyOptions(5, BAND, FPS, "butterworth", pyramid=spec))
    fresh = Magnifier(5, BAND, FPS, height=2, orientations=4)
    assert torch.equal(streamed(video), fresh(video))
    with pytest.raises(ValueError, match="either pyramid= or orientations"):
        pk.magnify(video, alpha=5, band=BAND, fps=FPS, pyramid=spec, orientations=6)
    with pytest.raises(ValueError, match="complex and decimated"):
        MagnifyOptions(5, BAND, FPS, pyramid=pk.PyramidSpec(is_complex=False))
    with pytest.raises(ValueError, match="needs the whole clip"):
        Magnifier(options=options)
    assert options.pyramid.tight_frame and options.alpha == 5.0 and options.band == BAND


def test_a_magnifier_writes_into_a_given_output():
    video = torch.rand(6, 3, 32, 32)
    expected = Magnifier(10, BAND, FPS)(video)
    out = torch.full_like(video, float("nan"))
    magnifier = Magnifier(10, BAND, FPS)
    assert magnifier(video[:4], out=out[:4]).data_ptr() == out.data_ptr()
    magnifier(video[4:], out=out[4:])
    assert torch.equal(out, expected)
    half = Magnifier(10, BAND, FPS)(video.half(), out=torch.empty(6, 3, 32, 32).half())
    assert half.dtype == torch.float16
    fresh = Magnifier(10, BAND, FPS)
    for wrong, message in [
        (torch.empty(5, 3, 32, 32), "shape, dtype and device"),
        (torch.empty(6, 3, 32, 32, dtype=torch.float64), "shape, dtype and device"),
        (video, "overlaps the frames"),
        (video.numpy(), "must be a tensor"),
    ]:
        with pytest.raises((ValueError, TypeError), match=message):
            fresh(video, out=wrong)
    assert fresh.frame_shape is None  # nothing was set by the refused calls
    wide = torch.rand(2, 6, 3, 32, 32)
    fresh(wide[0], out=wide[1])  # the same storage, apart: accepted


def test_steady_malloc_stops_page_faults_on_reused_buffers():
    """A process that allocates and frees a 48 MB tensor 40 times: with glibc's defaults each
    one is mmapped afresh (a page fault per 4 KiB); after steady_malloc(), the block is reused
    (measured here: 1 to 5 blocks' worth of faults in all, against 40)."""
    code = (
        "import resource, sys, torch\n"
        "from pyramid_kernels.apps.system import steady_malloc\n"
        "assert sys.argv[1] == '0' or steady_malloc()\n"
        "torch.ones(12 << 20)\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "for _ in range(40):\n"
        "    torch.ones(12 << 20)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    faults = [
        int(subprocess.run([sys.executable, "-c", code, flag], capture_output=True, text=True,
                           check=True, env=env).stdout)
        for flag in ("0", "1")
    ]  # fmt: skip
    assert faults[0] > 40 * 10_000  # 12 Mi floats: 12,288 pages each time
    assert faults[1] < faults[0] / 5


def test_the_butterworth_band_pass_passes_its_centre_and_stops_dc():
    band, fps = (1.0, 4.0), 30.0
    t = torch.arange(600, dtype=torch.float64) / fps
    centre = math.sqrt(band[0] * band[1])
    for frequency, want in [(centre, 1.0), (0.0, 0.0), (14.0, 0.0)]:
        signal = torch.cos(2 * math.pi * frequency * t)
        out = IIRBandpass(band, fps, "butterworth")(signal)[300:]
        assert out.abs().max() == pytest.approx(want, abs=0.03 if want else 0.1), frequency


@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_fast_backends_match_the_reference(backend, photo):
    device = require(backend)
    truth = synthetic.oscillation(0.1, 2.0, FPS, 8)
    video = synthetic.fourier_shift(photo[:, :32, :32], truth).float()
    want = pk.magnify(video, alpha=10, band=(1, 5), fps=FPS, backend="torch", height=2, **SMALL)
    got = pk.magnify(
        video.to(device), alpha=10, band=(1, 5), fps=FPS, backend=backend, height=2, **SMALL
    )
    assert (got.cpu() - want).abs().max() <= 1e-5


@pytest.mark.parametrize("backend", ["torch", *FAST_BACKENDS])
@pytest.mark.parametrize("size", [(32, 32), (35, 42)])
def test_editing_bands_in_place_equals_build_edit_collapse(backend, size):
    """ops.edit_bands keeps the residuals as spectra (no inverse and forward FFT of them):
    the image must equal collapse(build(x) with the same edit), float64."""
    from pyramid_kernels.ops import edit_bands
    from pyramid_kernels.pyramid.functional import build_with_spec

    device = require(backend)
    x = torch.rand(3, *size, dtype=torch.float64, device=device)
    spec = pk.PyramidSpec(3, 4, 1.0, True, True, "adjoint", True).resolve(size)
    angles = [
        torch.rand(1, 4, *s, dtype=torch.float64, device=device)
        for s in spec.level_sizes(size)[:-1]
    ]

    def edit(level, bands):
        return bands * torch.polar(torch.ones_like(angles[level]), 3 * angles[level])

    got = edit_bands(x, spec, edit, backend)
    coeffs = build_with_spec(x, spec, backend)
    edited = coeffs.replace(bands=[edit(i, b) for i, b in enumerate(coeffs.bands)])
    want = pk.collapse(edited, backend)
    assert (got - want).abs().max() <= 1e-12
    identity = edit_bands(x, spec, lambda _, b: b, backend)
    assert (identity - x).abs().max() <= 1e-12


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("filter", ["butterworth", "difference"])
@pytest.mark.parametrize("attenuate", [False, True])
def test_the_fused_chain_matches_the_plain_one(photo, backend, filter, attenuate):
    """backend="cpp" (float32 and float64) and "triton" (float32) run phase difference, filter
    step and rotation in one pass (csrc/magnify.cpp, kernels/triton/magnify.py; polynomial
    atan2 in float32); the torch backend runs them as separate torch ops."""
    device = require(backend)
    frames, size = (24, 64) if backend == "cpp" else (10, 32)  # the interpreter is slow
    truth = synthetic.oscillation(0.2, 2.0, FPS, frames)
    rgb = pk.data.photos(size, names=["flower"])[0][0]
    motion = truth + 0.3 * synthetic.oscillation(0.2, 7.0, FPS, frames)
    video = synthetic.fourier_shift(rgb, motion)
    options = dict(alpha=20, band=BAND, fps=FPS, filter=filter, attenuate=attenuate)
    if backend == "triton":
        options |= dict(height=2, orientations=4)
    for dtype, tolerance in [(torch.float32, 2e-5), (torch.float64, 1e-12)]:
        plain = pk.magnify(video.to(dtype), backend="torch", **options)
        fused = pk.magnify(video.to(device, dtype), backend=backend, chunk_size=5, **options)
        assert (fused.cpu() - plain).abs().max() <= tolerance, dtype


@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_the_fused_chain_is_one_kernel_per_level(photo, backend):
    """With a causal filter and no smoothing, no band's phase is computed by torch ops (no
    angle, polar or elementwise pass over the bands): each level is one fused kernel call."""
    from torch.utils._python_dispatch import TorchDispatchMode

    device = require(backend)

    class Ops(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.names = set()

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.names.add(str(func.overloadpacket))
            return func(*args, **(kwargs or {}))

    video = photo.float().expand(6, 1, -1, -1).contiguous().to(device)
    magnifier = Magnifier(10, BAND, FPS, orientations=4, height=2, backend=backend)
    magnifier(video[:3])  # set up
    with Ops() as ops:
        magnifier(video[3:])
    assert not {"aten.angle", "aten.polar", "aten.atan2", "aten.cos"} & ops.names


def test_float64_and_smoothing(photo):
    truth = synthetic.oscillation(0.1, 2.0, FPS, FRAMES)
    video = synthetic.fourier_shift(photo, truth)
    out = pk.magnify(video, alpha=10, band=BAND, fps=FPS, sigma=2.0, **SMALL)
    assert out.dtype == torch.float64
    assert gain(out, truth) == pytest.approx(11, rel=0.15)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(video=torch.rand(0, 1, 32, 32)), ValueError, "no frames"),
        (dict(video=torch.rand(1, 1, 32, 32)), ValueError, "one frame"),
        (dict(band=(1.0, 15.0)), ValueError, "Nyquist"),
        (dict(band=(3.0, 1.0)), ValueError, "f_lo < f_hi"),
        (dict(fps=0.0), ValueError, "fps must be > 0"),
        (dict(fps=-30.0), ValueError, "fps must be > 0"),
        (dict(alpha=float("inf")), ValueError, "alpha must be a finite number"),
        (dict(alpha=1e30), ValueError, r"\|alpha\| <= 1e\+06"),
        (dict(alpha=-1e39), ValueError, r"\|alpha\| <= 1e\+06"),
        (dict(band="13"), TypeError, "band must be two numbers"),
        (dict(band=(1.0, "3")), TypeError, "band must be two numbers"),
        (dict(video=torch.rand(4, 1, 7, 7)), ValueError, "at least 8 pixels"),
        (dict(video=torch.rand(4, 1, 4, 64)), ValueError, "at least 8 pixels"),
        (dict(video=torch.rand(4, 1, 32, 32, device="meta")), ValueError, "meta device"),
        (dict(video=torch.rand(4, 1, 32, 32, requires_grad=True)), ValueError, "detach"),
        (dict(alpha=True), TypeError, "alpha must be a number"),
        (dict(video=torch.full((4, 1, 32, 32), float("nan"))), ValueError, "NaN"),
        (dict(video=torch.rand(4, 1, 3, 3)), ValueError, "too small"),
        (dict(video=torch.rand(4, 2, 32, 32)), ValueError, "1 or 3 channels"),
        (dict(video=torch.rand(4, 32, 32)), TypeError, r"\(T, C, H, W\)"),
        (dict(color="luminance"), ValueError, "needs 3 channels"),
        (dict(sigma=-1.0), ValueError, "sigma must be"),
        (dict(filter="fir"), ValueError, "filter must be one of"),
    ],
    ids=lambda v: repr(v.get("video", v).shape) if isinstance(v, dict) and "video" in v else str(v),
)  # a video by its shape: the same id in every pytest-xdist worker
def test_bad_input_is_refused_with_the_reason(kwargs, error, message):
    args = dict(video=torch.rand(4, 1, 32, 32), alpha=10.0, band=(1.0, 3.0), fps=30.0) | kwargs
    with pytest.raises(error, match=message):
        pk.magnify(args.pop("video"), **args)


@pytest.mark.parametrize("filter", ["ideal", "butterworth", "difference"])
def test_large_alphas_stay_finite_on_every_filter(filter):
    video = torch.rand(6, 1, 16, 16)
    out = pk.magnify(video, alpha=1e6, band=BAND, fps=FPS, filter=filter, **SMALL)
    assert torch.isfinite(out).all()


def test_numpy_numbers_half_precision_and_wide_smoothing_are_accepted(photo):
    np = pytest.importorskip("numpy")
    truth = synthetic.oscillation(0.1, 2.0, FPS, FRAMES)
    video = synthetic.fourier_shift(photo, truth).float()
    alpha, fps = np.float32(10.0), np.float64(FPS)
    reference = pk.magnify(video, alpha=10.0, band=BAND, fps=FPS, **SMALL)
    assert torch.equal(pk.magnify(video, alpha=alpha, band=BAND, fps=fps, **SMALL), reference)
    for dtype in (torch.float16, torch.bfloat16):  # computed in float32, returned as given
        out = pk.magnify(video.to(dtype), alpha=10.0, band=BAND, fps=FPS, **SMALL)
        assert out.dtype == dtype
        assert (out.float() - reference).abs().max() < 0.02
    # a Gaussian wider than the coarsest levels wraps around them instead of failing
    wide = pk.magnify(video, alpha=10.0, band=BAND, fps=FPS, sigma=40.0, **SMALL)
    assert torch.isfinite(wide).all() and wide.shape == video.shape


def test_a_refused_chunk_leaves_the_magnifier_as_it_was():
    frames = torch.rand(6, 3, 32, 32)
    magnifier = Magnifier(10, BAND, FPS, color="luminance")
    with pytest.raises(ValueError, match="needs 3 channels"):
        magnifier(torch.rand(3, 1, 32, 32))
    with pytest.raises(ValueError, match="at least 8 pixels"):
        magnifier(torch.rand(3, 3, 6, 6))
    streamed = torch.cat([magnifier(frames[:3]), magnifier(frames[3:])])
    fresh = Magnifier(10, BAND, FPS, color="luminance")
    assert torch.equal(streamed, torch.cat([fresh(frames[:3]), fresh(frames[3:])]))


def test_a_magnifier_takes_one_video_and_no_ideal_filter():
    with pytest.raises(ValueError, match="needs the whole clip"):
        Magnifier(10, BAND, FPS, filter="ideal")
    magnifier = Magnifier(10, BAND, FPS)
    magnifier(torch.rand(3, 1, 32, 32))
    with pytest.raises(ValueError, match="a Magnifier takes one video"):
        magnifier(torch.rand(3, 1, 32, 40))
