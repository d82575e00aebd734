"""Half- and quarter-octave pyramids (``scales_per_octave`` n = 2, 4): exact, tight, adjoint and
equal on every backend; radial windows at their nominal frequencies; bands cropped to their
support; the ops' transforms (autograd both modes, vmap, opcheck) and the public API."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import FAST_BACKENDS, rel_max_error, require

import pyramid_kernels as pk
from pyramid_kernels.core import frequency
from pyramid_kernels.core.spec import PyramidSpec, level_sizes
from pyramid_kernels.ops.transform.op import build_op, collapse_op

BACKENDS = ["torch", *FAST_BACKENDS]
SIZES = [(33, 50), (47, 40)]  # odd and non-square


def _build(x, n, backend, **kwargs):
    return pk.build(x, height=2, orientations=4, scales_per_octave=n, backend=backend, **kwargs)


def _inner(a: pk.Pyramid, b: pk.Pyramid) -> torch.Tensor:
    """The real inner product of two pyramids' coefficients."""
    return sum((s.conj() * t).real.sum() for s, t in zip(a.tensors, b.tensors, strict=True))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n", [2, 4])
@pytest.mark.parametrize("size", SIZES, ids=str)
def test_exact_tight_and_adjoint_on_every_backend(backend, n, size):
    x = torch.randn(2, *size, dtype=torch.float64, device=require(backend))
    c = _build(x, n, backend)
    assert len(c.bands) == 2 * n == c.levels
    assert rel_max_error(pk.collapse(c, backend), x) <= 1e-12
    assert abs(_inner(c, c) / (x * x).sum() - 1) <= 1e-12  # Parseval
    other = c.replace(
        highpass=torch.randn_like(c.highpass),
        bands=[torch.randn_like(b) for b in c.bands],
        lowpass=torch.randn_like(c.lowpass),
    )
    lhs, rhs = _inner(c, other), (x * pk.collapse(other, backend)).sum()
    assert abs(lhs - rhs) <= 1e-12 * abs(rhs)  # <A x, c> = <x, A^T c>
    if backend != "torch":
        ref = _build(x.cpu(), n, "torch")
        for a, b in zip(c.tensors, ref.tensors, strict=True):
            assert rel_max_error(a.cpu(), b) <= 1e-12
        edited = ref.replace(bands=[b * 1.5 + torch.randn_like(b) for b in ref.bands])
        moved = edited.replace(
            highpass=edited.highpass.to(x.device),
            bands=[b.to(x.device) for b in edited.bands],
            lowpass=edited.lowpass.to(x.device),
        )
        y = pk.collapse(moved, backend).cpu()
        assert rel_max_error(y, pk.collapse(edited, "torch")) <= 1e-12


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(is_complex=False),
        dict(twidth=0.5),
        dict(tight_frame=False, synthesis="real"),
        dict(downsample=False),
    ],
    ids=str,
)
def test_other_options_reconstruct(backend, kwargs):
    x = torch.randn(1, 36, 29, dtype=torch.float64, device=require(backend))
    c = _build(x, 2, backend, **kwargs)
    assert rel_max_error(pk.collapse(c, backend), x) <= 1e-12
    if backend != "torch":
        ref = _build(x.cpu(), 2, "torch", **kwargs)
        for a, b in zip(c.tensors, ref.tensors, strict=True):
            assert rel_max_error(a.cpu(), b) <= 1e-12


@pytest.mark.parametrize("n", [1, 2, 3, 4])
@pytest.mark.parametrize("twidth", [1.0, 0.6])
def test_the_radial_windows_squares_sum_to_one(n, twidth):
    """hi0^2 + sum over band levels of (the low-pass chain above it)^2 Hi_k^2 sum_b A_b^2 +
    (the whole chain)^2 = 1 on the grid, from the closed forms every backend evaluates."""
    size = (96, 80)
    spec = PyramidSpec(3, 4, twidth, False, scales_per_octave=n)
    hi0, lo0 = frequency.residual_masks(size, twidth, None, n)
    total, chain = hi0**2, lo0**2
    for k in range(spec.levels):
        masks = frequency.band_masks_real(k, size, size, spec)
        total = total + chain * (masks**2).sum(0)
        chain = chain * frequency.lowpass_mask(k, size, size, twidth, None, n) ** 2
    total = total + chain
    assert (total - 1).abs().max() <= 1e-12


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n", [2, 4])
def test_each_band_peaks_at_its_nominal_frequency(backend, n):
    """Band level k of an impulse, transformed back to frequencies on its own (cropped) grid:
    along the horizontal axis (orientation 0) its response peaks at 2^(-(k+1)/n) of the
    Nyquist, to within one bin, and that axis holds the band's largest response."""
    size = 256
    x = torch.zeros(1, size, size, dtype=torch.float64, device=require(backend))
    x[0, 0, 0] = 1.0
    c = pk.build(
        x, height=3, orientations=4, scales_per_octave=n, is_complex=False, backend=backend
    )
    for k, band in enumerate(c.bands):
        w = band.shape[-1]
        spectrum = torch.fft.fft2(band[0, 0]).abs().cpu()
        row = spectrum[0, : (w + 1) // 2]
        peak = int(row.argmax())
        nominal = 2.0 ** (-(k + 1) / n) * size / 2
        assert abs(peak - nominal) <= 1.0, (k, peak, nominal)
        assert float(row.max()) == pytest.approx(float(spectrum.max()), rel=1e-9)


@pytest.mark.parametrize("n", [1, 2, 4])
def test_bands_are_stored_at_the_crop_of_their_support(n):
    """Band level k holds frequencies below 2^(-k/n) of the Nyquist: ceil(d 2^(-k/n)) bins per
    axis keep every one of them, and the rule is the octave one (halving) at whole octaves."""
    size = (480, 641)
    sizes = level_sizes(size, 4, True, n)
    assert len(sizes) == 4 * n + 1
    for k, (h, w) in enumerate(sizes):
        for d, dl in zip(size, (h, w), strict=True):
            assert dl == math.ceil(d * 2.0 ** (-k / n) - 1e-9)
            kmax = math.ceil(2.0 ** (-k / n) * d / 2) - 1  # largest |bin| inside the disc
            assert dl // 2 >= kmax and (dl + 1) // 2 - 1 >= kmax
    assert sizes[::n] == level_sizes(size, 4, True, 1)
    assert level_sizes(size, 2, False, n) == [size] * (2 * n + 1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_ops_pass_opcheck_gradcheck_and_vmap(backend):
    device = require(backend)
    spec = PyramidSpec(1, 3, 1.0, True, True, "real", scales_per_octave=2)
    x = torch.randn(2, 17, 19, dtype=torch.float64, device=device, requires_grad=True)
    torch.library.opcheck(build_op, (x, spec.op_args(), backend))
    out = [o.requires_grad_(True) for o in build_op(x.detach(), spec.op_args(), backend)]
    torch.library.opcheck(collapse_op, (out[0], out[1:-1], out[-1], spec.op_args(), backend))

    small = torch.randn(9, 8, dtype=torch.float64, device=device, requires_grad=True)

    def analysis(v):
        return pk.build(v, height=1, orientations=3, scales_per_octave=2, backend=backend).tensors

    assert torch.autograd.gradcheck(analysis, (small,), fast_mode=True)
    assert torch.autograd.gradgradcheck(lambda v: analysis(v)[1].abs(), (small,), fast_mode=True)
    # forward mode: the tangent of a linear op is the op of the tangent
    tangent = torch.randn_like(small)
    _, jvp = torch.func.jvp(lambda v: analysis(v)[2], (small.detach(),), (tangent,))
    assert torch.allclose(jvp, analysis(tangent)[2], atol=1e-12)
    batch = torch.randn(3, 9, 8, dtype=torch.float64, device=device)
    mapped = torch.vmap(lambda v: analysis(v)[1])(batch)
    assert torch.allclose(mapped, torch.stack([analysis(v)[1] for v in batch]), atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_partial_collapse_and_selection_count_band_levels(backend):
    x = torch.randn(1, 40, 40, dtype=torch.float64, device=require(backend))
    c = _build(x, 2, backend)
    assert c.height == 2 and c.levels == 4
    part = pk.collapse(c, backend, levels=[1, 3])
    zeroed = c.replace(
        highpass=torch.zeros_like(c.highpass),
        bands=[b if i in (1, 3) else torch.zeros_like(b) for i, b in enumerate(c.bands)],
        lowpass=torch.zeros_like(c.lowpass),
    )
    assert rel_max_error(part, pk.collapse(zeroed, backend)) <= 1e-12
    with pytest.raises(ValueError, match="0..3"):
        pk.collapse(c, backend, levels=[4])
    steered = c.steer([0.3])
    assert len(steered) == 4 and steered[1].shape[-2:] == c.bands[1].shape[-2:]


def test_the_spec_validates_and_travels():
    for bad in (0, -1):
        with pytest.raises(ValueError, match="scales_per_octave must be >= 1"):
            PyramidSpec(scales_per_octave=bad)
    for bad in (True, 1.5, "2", None):
        with pytest.raises(TypeError, match="scales_per_octave must be an int"):
            PyramidSpec(scales_per_octave=bad)
    spec = PyramidSpec(2, 4, scales_per_octave=4)
    assert PyramidSpec.from_op_args(spec.op_args()) == spec
    assert spec.levels == 8
    module = pk.SteerablePyramid(height=2, scales_per_octave=2)
    assert "scales_per_octave=2" in repr(module)
    c = module(torch.rand(1, 32, 32))
    assert len(c.bands) == 4
    with pytest.raises(ValueError, match="scales_per_octave=2 = 4 levels, got 3"):
        pk.Pyramid(c.highpass, c.bands[:3], c.lowpass, c.spec)


def test_undecimated_sub_octave_round_trips_through_a_tensor():
    x = torch.rand(1, 32, 32, dtype=torch.float64)
    c = pk.build(x, height=1, scales_per_octave=2, downsample=False)
    back = pk.Pyramid.from_tensor(c.to_tensor(), c.spec)
    assert all(torch.equal(a, b) for a, b in zip(back.tensors, c.tensors, strict=True))
