"""The registered ops: exact adjoint, gradcheck, opcheck, torch.compile, leading dimensions."""

import dataclasses

import pytest
import torch
from conftest import rel_max_error

import pyramid_kernels as pk
from pyramid_kernels.core.spec import PyramidSpec
from pyramid_kernels.ops.transform.op import build_op, collapse_op


def _inner(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Real inner product Re <a, b>."""
    return (a.conj() * b).real.sum() if a.is_complex() else (a * b).sum()


@pytest.mark.parametrize("size", [(64, 64), (63, 65), (40, 37)], ids=str)
@pytest.mark.parametrize("is_complex", [False, True])
def test_collapse_is_the_adjoint_of_build(size, is_complex):
    x = torch.randn(2, *size, dtype=torch.float64)
    c = pk.build(x, orientations=5, is_complex=is_complex)
    random = [torch.randn_like(t) for t in c.tensors]  # complex randn for complex bands
    y = c.replace(highpass=random[0], bands=random[1:-1], lowpass=random[-1])
    lhs = sum(_inner(a, b) for a, b in zip(c.tensors, y.tensors, strict=True))
    rhs = _inner(x, pk.collapse(y))
    assert abs(lhs - rhs).item() <= 1e-12 * abs(lhs).item()


SPECS = [
    dict(is_complex=True, tight_frame=True, synthesis="adjoint"),
    dict(is_complex=True, tight_frame=True, synthesis="real"),
    dict(is_complex=True, tight_frame=False, synthesis="adjoint"),
    dict(is_complex=True, tight_frame=False, synthesis="real"),
    dict(is_complex=False, tight_frame=True, synthesis="adjoint"),
    dict(is_complex=False, tight_frame=False, synthesis="adjoint"),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: "-".join(str(v) for v in s.values()))
@pytest.mark.parametrize("shape,height,fast", [((9, 8), 1, False), ((2, 17, 16), 2, True)], ids=str)
def test_gradcheck_build_and_collapse(spec, shape, height, fast):
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    kwargs = dict(height=height, orientations=3, **spec)
    check = dict(fast_mode=fast)
    assert torch.autograd.gradcheck(lambda x: pk.build(x, **kwargs).tensors, (x,), **check)
    c = pk.build(x.detach(), **kwargs)
    leaves = [t.clone().requires_grad_(True) for t in c.tensors]
    if spec["is_complex"]:  # off the range of build, so the synthesis modes differ
        leaves[1:-1] = [
            (b + torch.randn_like(b)).detach().requires_grad_(True) for b in leaves[1:-1]
        ]

    def synth(*t):
        return pk.collapse(c.replace(highpass=t[0], bands=t[1:-1], lowpass=t[-1]))

    assert torch.autograd.gradcheck(synth, tuple(leaves), **check)
    assert torch.autograd.gradgradcheck(synth, tuple(leaves), fast_mode=True)


def test_gradient_ignores_unused_outputs():
    x = torch.randn(32, 32, dtype=torch.float64, requires_grad=True)
    c = pk.build(x, height=2)
    c.bands[1].abs().sum().backward()  # highpass, band 0 and lowpass get no gradient
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("is_complex", [False, True])
def test_opcheck(dtype, is_complex):
    x = torch.randn(2, 3, 20, 17, dtype=dtype, requires_grad=True)
    spec = PyramidSpec(2, 3, 1.0, is_complex, tight_frame=False)
    torch.library.opcheck(build_op, (x, spec.op_args(), "torch"))
    out = [o.requires_grad_(True) for o in build_op(x.detach(), spec.op_args(), "torch")]
    for synthesis in ("adjoint", "real"):
        args = dataclasses.replace(spec, synthesis=synthesis).op_args()
        torch.library.opcheck(collapse_op, (out[0], out[1:-1], out[-1], args, "torch"))


def test_spec_crosses_the_op_boundary_as_one_string():
    spec = PyramidSpec(3, 5, 0.7, False, False, "adjoint")
    assert PyramidSpec.from_op_args(spec.op_args()) == spec
    with pytest.raises(ValueError, match="resolved"):
        PyramidSpec().op_args()  # height "auto"
    for bad in ("height=3", "height=3;bogus=1", spec.op_args() + ";height=2"):
        with pytest.raises(ValueError, match="spec argument"):
            PyramidSpec.from_op_args(bad)
    x = torch.randn(16, 16)
    out = build_op(x, PyramidSpec(2).op_args(), "torch")
    with pytest.raises(ValueError, match="one tensor per level: spec.height=1"):
        collapse_op(out[0], out[1:-1], out[-1], PyramidSpec(1).op_args(), "torch")


@pytest.mark.parametrize("backend", ["eager", "aot_eager", "inductor"])
def test_compile_fullgraph_matches_eager(backend):
    x = torch.randn(2, 32, 24, requires_grad=True)
    pyr = pk.SteerablePyramid(height=2, orientations=4)

    def roundtrip(x):
        c = pyr(x)
        return pyr.collapse(c.replace(bands=[2.0 * b for b in c.bands]))

    torch.compiler.reset()
    compiled = torch.compile(roundtrip, fullgraph=True, backend=backend)
    eager = roundtrip(x)
    out = compiled(x)
    assert rel_max_error(out, eager) <= 1e-5
    (g_eager,) = torch.autograd.grad(eager.square().sum(), x)
    (g_comp,) = torch.autograd.grad(compiled(x).square().sum(), x)
    assert rel_max_error(g_comp, g_eager) <= 1e-5


@pytest.mark.parametrize("lead", [(), (3,), (2, 3), (2, 3, 4)], ids=str)
def test_leading_dims_match_single_images(lead):
    x = torch.randn(*lead, 33, 40, dtype=torch.float64)
    c = pk.build(x, orientations=3)
    y = pk.collapse(c)
    flat = x.reshape(-1, 33, 40)
    for i in range(flat.shape[0]):
        single = pk.build(flat[i], orientations=3)
        for batched, one in zip(c.tensors, single.tensors, strict=True):
            assert (
                torch.equal(batched.reshape(-1, *one.shape)[i], one)
                or rel_max_error(batched.reshape(-1, *one.shape)[i], one) <= 1e-14
            )
        assert rel_max_error(y.reshape(-1, 33, 40)[i], pk.collapse(single)) <= 1e-14
    assert c.highpass.shape == x.shape
    assert c.bands[0].shape == (*lead, 3, 33, 40)
