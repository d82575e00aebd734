"""The undecimated pyramid (downsample=False): every backend against the reference, exact
reconstruction, Parseval, adjointness, autograd and agreement with plenoptic."""

import plenoptic as po
import pytest
import torch
from conftest import DEVICE, TOL, rel_max_error, require

import pyramid_kernels as pk
from pyramid_kernels.core.spec import PyramidSpec
from pyramid_kernels.ops.transform.op import build_op, collapse_op

SIZES = [(32, 32), (33, 29), (20, 37)]  # even, odd, non-square
CASES = [
    dict(is_complex=True, orientations=4, synthesis="adjoint"),
    dict(is_complex=True, orientations=3, synthesis="real"),
    dict(is_complex=False, orientations=3),
    dict(is_complex=False, orientations=1),
]


def _inner(a, b):
    return (a.conj() * b).real.sum() if a.is_complex() else (a * b).sum()


@pytest.mark.parametrize("backend", ["torch", "cpp", "triton"])
@pytest.mark.parametrize("size", SIZES, ids=str)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("tight_frame", [True, False])
def test_undecimated_is_exact_on_every_backend(backend, size, dtype, tight_frame):
    x = torch.randn(2, *size, dtype=dtype, device=require(backend))
    for kwargs in CASES:
        kwargs = dict(height=2, tight_frame=tight_frame, downsample=False, **kwargs)
        c = pk.build(x, backend=backend, **kwargs)
        assert all(t.shape[-2:] == size for t in c.tensors), kwargs
        ref = pk.build(x, backend="torch", **kwargs)
        for a, b in zip(c.tensors, ref.tensors, strict=True):
            assert rel_max_error(a, b) <= TOL[dtype], kwargs
        assert rel_max_error(pk.collapse(c, backend=backend), x) <= TOL[dtype], kwargs
        energy = sum((t.abs() ** 2).sum() for t in c.tensors) / (x**2).sum()
        if tight_frame:
            assert abs(energy.item() - 1.0) <= 10 * TOL[dtype], kwargs
        else:  # pyrtools amplitudes: 2^l at level l, sqrt(2) more for complex bands
            tight = pk.build(x, backend="torch", **{**kwargs, "tight_frame": True})
            gain = 2**0.5 if kwargs["is_complex"] else 1.0
            scales = [1.0, gain, 2 * gain, 4.0]
            for a, b, s in zip(c.tensors, tight.tensors, scales, strict=True):
                assert rel_max_error(a, s * b) <= TOL[dtype], kwargs
        edited = ref.replace(bands=[b * 1.5 + torch.randn_like(b) for b in ref.bands])
        y_ref = pk.collapse(edited, backend="torch")
        assert rel_max_error(pk.collapse(edited, backend=backend), y_ref) <= TOL[dtype], kwargs


@pytest.mark.parametrize("backend", ["torch", "cpp"])
@pytest.mark.parametrize("size", [(40, 40), (41, 35)], ids=str)
@pytest.mark.parametrize("is_complex", [False, True])
def test_undecimated_collapse_is_the_adjoint_of_build(backend, size, is_complex):
    x = torch.randn(2, *size, dtype=torch.float64)
    c = pk.build(x, height=3, orientations=5, is_complex=is_complex, downsample=False)
    random = [torch.randn_like(t) for t in c.tensors]
    y = c.replace(highpass=random[0], bands=random[1:-1], lowpass=random[-1])
    lhs = sum(_inner(a, b) for a, b in zip(c.tensors, y.tensors, strict=True))
    rhs = _inner(x, pk.collapse(y, backend=backend))
    assert abs(lhs - rhs).item() <= 1e-12 * abs(lhs).item()


@pytest.mark.parametrize("tight_frame", [True, False])
@pytest.mark.parametrize("is_complex", [False, True])
def test_undecimated_matches_plenoptic(tight_frame, is_complex):
    x = torch.randn(2, 3, 64, 48, dtype=torch.float64)
    ref = po.process.SteerablePyramidFreq(
        (64, 48), 3, 2, is_complex=is_complex, downsample=False, tight_frame=tight_frame
    ).to(torch.float64)
    expected = ref(x)
    c = pk.build(
        x,
        height=3,
        orientations=3,
        is_complex=is_complex,
        tight_frame=tight_frame,
        synthesis="real",
        downsample=False,
    )
    tol = 1e-4  # plenoptic's lookup-table masks
    assert rel_max_error(c.highpass, expected["residual_highpass"]) <= tol
    assert rel_max_error(c.lowpass, expected["residual_lowpass"]) <= tol
    for level, bands in enumerate(c.bands):
        assert rel_max_error(bands, expected[level]) <= tol
    edited = dict(expected)
    for level, bands in enumerate(c.bands):
        edited[level] = bands * 1.3 + 0.1 * torch.randn_like(bands)
    ours = pk.collapse(c.replace(bands=[edited[i] for i in range(3)]))
    assert rel_max_error(ours, ref.recon_pyr(edited)) <= tol


def test_each_band_keeps_its_energy_when_undecimated():
    x = torch.randn(1, 64, 64, dtype=torch.float64)
    for tight_frame in (True, False):
        kwargs = dict(height=3, orientations=4, tight_frame=tight_frame)
        dec = pk.build(x, **kwargs)
        und = pk.build(x, downsample=False, **kwargs)
        for a, b in zip(dec.tensors, und.tensors, strict=True):
            assert torch.allclose((a.abs() ** 2).sum(), (b.abs() ** 2).sum(), rtol=1e-10)


@pytest.mark.parametrize("backend", ["torch", "cpp", "triton"])
def test_undecimated_ops_pass_opcheck_and_gradcheck(backend):
    device = require(backend)
    spec = PyramidSpec(2, 3, 1.0, True, False, "real", downsample=False)
    x = torch.randn(2, 17, 16, dtype=torch.float64, device=device, requires_grad=True)
    torch.library.opcheck(build_op, (x, spec.op_args(), backend))
    out = [o.requires_grad_(True) for o in build_op(x.detach(), spec.op_args(), "torch")]
    torch.library.opcheck(collapse_op, (out[0], out[1:-1], out[-1], spec.op_args(), backend))

    def analysis(x):
        return build_op(x, spec.op_args(), backend)

    def synthesis(*t):
        return collapse_op(t[0], list(t[1:-1]), t[-1], spec.op_args(), backend)

    leaves = [(t + torch.randn_like(t)).detach().requires_grad_(True) for t in out]
    assert torch.autograd.gradcheck(analysis, (x,), fast_mode=True)
    assert torch.autograd.gradcheck(synthesis, tuple(leaves), fast_mode=True)


def test_undecimated_spec_validates_and_travels():
    with pytest.raises(TypeError, match="downsample must be a bool"):
        PyramidSpec(downsample="no")
    spec = PyramidSpec(3, downsample=False)
    assert PyramidSpec.from_op_args(spec.op_args()) == spec
    assert spec.level_sizes((33, 20)) == [(33, 20)] * 4
    c = pk.build(torch.randn(33, 20), height=2, downsample=False)
    with pytest.raises(ValueError, match="lowpass has shape"):
        pk.Pyramid(c.highpass, c.bands, c.lowpass, PyramidSpec(2))  # decimated spec
    assert "downsample=False" in repr(pk.SteerablePyramid(downsample=False))
    assert DEVICE["torch"] == "cpu"
