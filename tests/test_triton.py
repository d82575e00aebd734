"""Triton kernels against the torch reference (compiled on CUDA, the interpreter on CPU)."""

import pytest
import torch
from conftest import rel_max_error

import pyramid_kernels as pk
from pyramid_kernels.ops import build_op, collapse_op

pytest.importorskip("triton")
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
if pk.available_backends(DEVICE)["triton"] is not None:
    pytest.skip(pk.available_backends(DEVICE)["triton"], allow_module_level=True)

SIZES = [(32, 32), (33, 29), (20, 37)]
TOL = {torch.float32: 1e-5, torch.float64: 1e-12}


@pytest.fixture(autouse=True)
def _poison_outputs(monkeypatch):
    """Kernel outputs start as NaN, so a bin a kernel fails to write shows up."""
    from pyramid_kernels import triton_spectral

    monkeypatch.setattr(
        triton_spectral,
        "_alloc",
        lambda like, shape: torch.full(shape, float("nan"), dtype=like.dtype, device=like.device),
    )


def _spec_cases():
    for k in range(2, 9):
        yield dict(is_complex=True, orientations=k, synthesis="adjoint" if k % 2 else "real")
        yield dict(is_complex=False, orientations=k)
    yield dict(is_complex=False, orientations=1)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("tight_frame", [True, False])
def test_triton_matches_reference(size, dtype, tight_frame):
    x = torch.randn(2, *size, dtype=dtype, device=DEVICE)
    for kwargs in _spec_cases():
        ref = pk.build(x, tight_frame=tight_frame, backend="torch", **kwargs)
        tri = pk.build(x, tight_frame=tight_frame, backend="triton", **kwargs)
        for a, b in zip(tri.tensors, ref.tensors, strict=True):
            assert rel_max_error(a, b) <= TOL[dtype], kwargs
        # collapse of coefficients off the range of build, so both synthesis modes matter
        edited = ref.replace(bands=[b * 1.5 + torch.randn_like(b) for b in ref.bands])
        y_ref = pk.collapse(edited, backend="torch")
        y_tri = pk.collapse(edited, backend="triton")
        assert rel_max_error(y_tri, y_ref) <= TOL[dtype], kwargs
        assert rel_max_error(pk.collapse(tri, backend="triton"), x) <= TOL[dtype], kwargs


@pytest.mark.parametrize(
    "is_complex,synthesis", [(True, "adjoint"), (True, "real"), (False, "adjoint")]
)
def test_triton_gradients_match_reference(is_complex, synthesis):
    x = torch.randn(2, 24, 21, dtype=torch.float64, device=DEVICE)
    grads = {}
    for backend in ("torch", "triton"):
        xg = x.clone().requires_grad_(True)
        c = pk.build(
            xg,
            orientations=3,
            is_complex=is_complex,
            synthesis=synthesis,
            tight_frame=False,
            backend=backend,
        )
        edited = c.replace(bands=[b * b.abs() for b in c.bands])  # nonlinear edit
        y = pk.collapse(edited, backend=backend)
        (grads[backend],) = torch.autograd.grad((y.sin() * x).sum(), xg)
    assert rel_max_error(grads["triton"], grads["torch"]) <= 1e-12


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_triton_opcheck(dtype):
    x = torch.randn(2, 17, 19, dtype=dtype, device=DEVICE, requires_grad=True)
    torch.library.opcheck(build_op, (x, 2, 3, 1.0, True, True, "triton"))
    out = [o.detach().requires_grad_(True) for o in build_op(x, 2, 3, 1.0, True, True, "torch")]
    torch.library.opcheck(
        collapse_op, (out[0], out[1:-1], out[-1], 3, 1.0, True, True, "real", "triton")
    )


def test_triton_gradcheck():
    x = torch.randn(9, 8, dtype=torch.float64, device=DEVICE, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x: pk.build(x, height=1, orientations=3, backend="triton").tensors,
        (x,),
        fast_mode=True,
    )
