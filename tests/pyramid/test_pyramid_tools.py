"""Steering, partial reconstruction and the channel layout (Pyramid.steer / select /
to_tensor / from_tensor, collapse(levels=, bands=))."""

import math

import pytest
import torch
from conftest import TOL, rel_max_error, require

import pyramid_kernels as pk
from pyramid_kernels.core import frequency
from pyramid_kernels.core.selection import CoefficientSelection
from pyramid_kernels.core.spec import PyramidSpec
from pyramid_kernels.core.steering import steer
from pyramid_kernels.ops.transform.op import collapse_op


def _inner(a, b):
    return (a.conj() * b).real.sum() if a.is_complex() else (a * b).sum()


@pytest.mark.parametrize("downsample", [True, False])
@pytest.mark.parametrize("size", [(48, 48), (45, 38)], ids=str)
def test_steered_real_bands_equal_bands_built_at_those_angles(downsample, size):
    """The steered response of a real pyramid equals the band whose mask is built directly at
    the new angle (frequency.band_masks with ``angles``)."""
    x = torch.randn(2, *size, dtype=torch.float64)
    spec = PyramidSpec(2, 3, 1.0, False, True, downsample=downsample)
    c = pk.build(x, height=2, orientations=3, is_complex=False, downsample=downsample)
    angles = torch.tensor([0.1, 1.0, 2.5], dtype=torch.float64)
    steered = c.steer(angles)
    # level 1 directly: low-pass chain lo0 * Lo_0 on the level's grid, then the rotated masks
    full, level = size, 1
    sizes = spec.level_sizes(size)
    spectrum = torch.fft.fft2(x, norm="ortho")
    _, lo0 = frequency.residual_masks(size, 1.0)
    low = spectrum * lo0
    h, w = sizes[1]
    rows, cols = frequency.crop_index(size[0], h), frequency.crop_index(size[1], w)
    low = low.index_select(-2, rows).index_select(-1, cols)
    low = low * frequency.lowpass_mask(0, (h, w), full, 1.0)
    masks = frequency.band_masks(level, (h, w), full, spec, angles=angles)
    direct = torch.fft.ifft2(low[:, None] * masks, norm="ortho").real  # tight: orthonormal DFTs
    assert rel_max_error(steered[1], direct) <= 1e-12


def test_complex_steering_is_exact_on_the_real_part_and_differentiable():
    x = torch.randn(1, 40, 40, dtype=torch.float64)
    real = pk.build(x, height=2, orientations=4, is_complex=False)
    comp = pk.build(x, height=2, orientations=4, is_complex=True)
    angles = [0.2, 0.9]
    for r, c in zip(real.steer(angles), comp.steer(angles), strict=True):
        assert rel_max_error(math.sqrt(2) * c.real, r) <= 1e-12  # tight complex = real / sqrt 2
    bands = comp.bands[0][..., :6, :6].clone().requires_grad_(True)
    angle = torch.tensor([0.4], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda b, a: steer(b, a), (bands, angle))


def test_partial_collapse_adds_up_to_the_full_one():
    x = torch.randn(2, 37, 44, dtype=torch.float64)
    c = pk.build(x, height=3, orientations=4)
    pieces = [pk.collapse(c, levels=[lev], bands=[b]) for lev in range(3) for b in range(4)]
    pieces.append(pk.collapse(c, levels=["highpass", "lowpass"]))
    assert rel_max_error(sum(pieces), x) <= 1e-12
    # the same as zeroing by hand
    manual = c.replace(
        highpass=torch.zeros_like(c.highpass),
        bands=[c.bands[0], torch.zeros_like(c.bands[1]), c.bands[2]],
    )
    mask = torch.tensor([0.0, 1.0, 0.0, 1.0], dtype=torch.float64)[:, None, None]
    manual = manual.replace(bands=[b * mask for b in manual.bands])
    selected = pk.collapse(c, levels=[0, 2, "lowpass"], bands=[1, 3])
    assert torch.equal(
        selected, pk.SteerablePyramid(height=3).collapse(c, levels=[0, 2, "lowpass"], bands=[1, 3])
    )
    assert rel_max_error(selected, pk.collapse(manual)) <= 1e-14


def test_partial_collapse_gradients_reach_only_the_selection():
    c = pk.build(torch.randn(32, 32, dtype=torch.float64), height=2)
    leaves = [t.clone().requires_grad_(True) for t in c.tensors]
    p = c.replace(highpass=leaves[0], bands=leaves[1:-1], lowpass=leaves[-1])
    pk.collapse(p, levels=[1], bands=[2]).square().sum().backward()
    assert leaves[0].grad is None and leaves[-1].grad is None and leaves[1].grad is None
    assert leaves[2].grad[2].abs().sum() > 0 and leaves[2].grad[[0, 1, 3]].abs().sum() == 0


def test_selection_arguments_are_checked():
    c = pk.build(torch.randn(32, 32), height=2)
    with pytest.raises(ValueError, match="levels has \\['2'\\]"):
        pk.collapse(c, levels=[0, 2])
    with pytest.raises(ValueError, match="levels must be 'all'"):
        pk.collapse(c, levels="some")
    with pytest.raises(ValueError, match="band indices 0..3"):
        pk.collapse(c, bands=[4])


@pytest.mark.parametrize("is_complex", [False, True])
def test_channel_layout_round_trips_exactly(is_complex):
    x = torch.randn(2, 3, 24, 31)
    c = pk.build(x, height=2, orientations=3, is_complex=is_complex, downsample=False)
    for split in [False, True] if is_complex else [False]:
        t = c.to_tensor(split_complex=split)
        per_band = 2 if split else 1
        assert t.shape == (2, 3, 2 + 2 * 3 * per_band, 24, 31)
        assert torch.equal(t[..., 0, :, :].real, c.highpass)
        assert torch.equal(t[..., -1, :, :].real, c.lowpass)
        b = c.bands[1][..., 2, :, :]  # level 1, band 2
        i = 1 + (3 + 2) * per_band
        assert torch.equal(t[..., i, :, :], b.real if split else b)
        if split:
            assert torch.equal(t[..., i + 1, :, :], b.imag)
        back = pk.Pyramid.from_tensor(t, c.spec, split_complex=split)
        assert all(torch.equal(u, v) for u, v in zip(back.tensors, c.tensors, strict=True))


def test_channel_layout_errors_name_the_fix():
    c = pk.build(torch.randn(32, 32), height=2)
    with pytest.raises(ValueError, match="downsample=False"):
        c.to_tensor()
    real = pk.build(torch.randn(32, 32), height=2, is_complex=False, downsample=False)
    with pytest.raises(ValueError, match="split_complex=False for a real pyramid"):
        real.to_tensor(split_complex=True)
    with pytest.raises(ValueError, match="downsample=False"):
        pk.Pyramid.from_tensor(real.to_tensor(), PyramidSpec(2, is_complex=False))
    spec = PyramidSpec(2, is_complex=False, downsample=False)
    with pytest.raises(ValueError, match="must have shape \\(..., 10, H, W\\)"):
        pk.Pyramid.from_tensor(real.to_tensor()[:-1], spec)


@pytest.mark.parametrize("backend", ["torch", "cpp", "triton"])
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(is_complex=True, synthesis="adjoint"),
        dict(is_complex=True, synthesis="real", tight_frame=False),
        dict(is_complex=False, downsample=False),
    ],
    ids=str,
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_selective_collapse_equals_collapse_of_the_zeroed_pyramid(backend, kwargs, dtype):
    x = torch.randn(2, 33, 26, dtype=dtype, device=require(backend))
    c = pk.build(x, height=2, orientations=4, backend="torch", **kwargs)
    c = c.replace(bands=[b + 0.5 * torch.randn_like(b) for b in c.bands])  # off build's range
    for levels, bands in [([1], [0, 2]), (["highpass", 0], "all"), (["lowpass", 1], [3])]:
        expected = pk.collapse(c.select(levels, bands), backend="torch")
        got = pk.collapse(c, backend=backend, levels=levels, bands=bands)
        assert rel_max_error(got, expected) <= TOL[dtype], (levels, bands)
        if dtype == torch.float64 and kwargs.get("synthesis") != "real":
            # adjoint: <select(build x), c> = <x, collapse_selected(c)> (tight frame)
            if kwargs.get("tight_frame", True):
                built = pk.build(x, height=2, orientations=4, **kwargs).select(levels, bands)
                lhs = sum(_inner(a, b) for a, b in zip(built.tensors, c.tensors, strict=True))
                assert abs(lhs - _inner(x, got)) <= 1e-12 * abs(lhs), (levels, bands)


def test_selective_collapse_transforms_only_the_selection(monkeypatch):
    from pyramid_kernels.ops.transform import pipeline

    calls = []
    for name in ("fft2", "rfft2"):
        original = getattr(pipeline, name)
        monkeypatch.setattr(
            pipeline, name, lambda t, *a, f=original, n=name: calls.append((n, t.shape)) or f(t, *a)
        )
    c = pk.build(torch.randn(3, 32, 40), height=3, orientations=4)
    calls.clear()
    pk.collapse(c, levels=[1], bands=[0, 2])
    assert calls == [("fft2", (3, 2, 16, 20))]  # level 1's two bands; no residual, no zeros


def test_selective_collapse_passes_opcheck_and_autograd():
    x = torch.randn(2, 17, 16, dtype=torch.float64)
    c = pk.build(x, height=2, orientations=3, synthesis="real")
    select = CoefficientSelection.of([0, "lowpass"], [1, 2], 2, 3).op_arg()
    leaves = [(t + torch.randn_like(t)).requires_grad_(True) for t in c.tensors]
    args = (leaves[0], leaves[1:-1], leaves[-1], c.spec.op_args(), "torch", select)
    torch.library.opcheck(collapse_op, args)

    def synth(*t):
        return collapse_op(t[0], list(t[1:-1]), t[-1], c.spec.op_args(), "cpp", select)

    assert torch.autograd.gradcheck(synth, tuple(leaves), fast_mode=True)
    tangents = tuple(torch.randn_like(t) for t in leaves)
    _, jvp = torch.func.jvp(synth, tuple(t.detach() for t in leaves), tangents)
    assert rel_max_error(jvp, synth(*tangents)) <= 1e-12  # linear: the tangent's collapse
    batched = torch.func.vmap(synth)(*(torch.stack([t.detach()] * 2) for t in leaves))
    assert rel_max_error(batched[1], synth(*(t.detach() for t in leaves))) <= 1e-12
    with pytest.raises(ValueError, match="selection argument"):
        collapse_op(c.highpass, list(c.bands), c.lowpass, c.spec.op_args(), "torch", "levels=x")
