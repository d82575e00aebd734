"""The fast backends against the torch reference: C++ on CPU tensors, Triton on CUDA tensors
(compiled) or on CPU tensors through the interpreter (TRITON_INTERPRET=1, set in conftest).

Set PYRAMID_KERNELS_REQUIRE=cpp,triton (CI does) to fail instead of skipping a missing backend.
"""

import os

import pytest
import torch
from conftest import rel_max_error

import pyramid_kernels as pk
from pyramid_kernels.ops import build_op, collapse_op

BACKENDS = ["cpp", "triton"]
DEVICE = {"cpp": "cpu", "triton": "cuda" if torch.cuda.is_available() else "cpu"}
EXACTNESS_SIZES = [(64, 64), (63, 65), (100, 37), (256, 192)]
# the interpreter runs a program in ~1 ms, so Triton on CPU gets small shapes
INTERPRETER_SIZES = [(32, 32), (33, 29), (20, 37)]
SIZES = {
    "cpp": EXACTNESS_SIZES,
    "triton": INTERPRETER_SIZES if DEVICE["triton"] == "cpu" else EXACTNESS_SIZES,
}
TOL = {torch.float32: 1e-5, torch.float64: 1e-12}
REQUIRED = set(filter(None, os.environ.get("PYRAMID_KERNELS_REQUIRE", "").split(",")))


@pytest.fixture(autouse=True)
def _poison_triton_outputs(monkeypatch):
    """Triton kernel outputs start as NaN, so a bin left unwritten shows up."""
    if pk.available_backends(DEVICE["triton"])["triton"] is None:
        from pyramid_kernels import triton_spectral

        def nan_alloc(like, shape):
            return torch.full(shape, float("nan"), dtype=like.dtype, device=like.device)

        monkeypatch.setattr(triton_spectral, "_alloc", nan_alloc)


def require(backend: str) -> str:
    reason = pk.available_backends(DEVICE[backend])[backend]
    if reason is not None:
        if backend in REQUIRED:
            pytest.fail(f"backend {backend} is required here but unavailable: {reason}")
        pytest.skip(reason)
    return DEVICE[backend]


def _spec_cases():
    for k in range(2, 9):
        yield dict(is_complex=True, orientations=k, synthesis="adjoint" if k % 2 else "real")
        yield dict(is_complex=False, orientations=k)
    yield dict(is_complex=False, orientations=1)


@pytest.mark.parametrize(
    "backend,size", [(b, s) for b in BACKENDS for s in SIZES[b]], ids=lambda v: str(v)
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("tight_frame", [True, False])
def test_backend_matches_reference(backend, size, dtype, tight_frame):
    x = torch.randn(2, *size, dtype=dtype, device=require(backend))
    for kwargs in _spec_cases():
        ref = pk.build(x, tight_frame=tight_frame, backend="torch", **kwargs)
        fast = pk.build(x, tight_frame=tight_frame, backend=backend, **kwargs)
        for a, b in zip(fast.tensors, ref.tensors, strict=True):
            assert rel_max_error(a, b) <= TOL[dtype], kwargs
        # collapse of coefficients off the range of build, so both synthesis modes matter
        edited = ref.replace(bands=[b * 1.5 + torch.randn_like(b) for b in ref.bands])
        y_ref = pk.collapse(edited, backend="torch")
        assert rel_max_error(pk.collapse(edited, backend=backend), y_ref) <= TOL[dtype], kwargs
        assert rel_max_error(pk.collapse(fast, backend=backend), x) <= TOL[dtype], kwargs


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "is_complex,synthesis", [(True, "adjoint"), (True, "real"), (False, "adjoint")]
)
def test_gradients_match_reference(backend, is_complex, synthesis):
    x = torch.randn(2, 24, 21, dtype=torch.float64, device=require(backend))
    grads = {}
    for name in ("torch", backend):
        xg = x.clone().requires_grad_(True)
        c = pk.build(
            xg,
            orientations=3,
            is_complex=is_complex,
            synthesis=synthesis,
            tight_frame=False,
            backend=name,
        )
        edited = c.replace(bands=[b * b.abs() for b in c.bands])  # nonlinear edit
        y = pk.collapse(edited, backend=name)
        (grads[name],) = torch.autograd.grad((y.sin() * x).sum(), xg)
    assert rel_max_error(grads[backend], grads["torch"]) <= 1e-12


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_opcheck(backend, dtype):
    x = torch.randn(2, 17, 19, dtype=dtype, device=require(backend), requires_grad=True)
    torch.library.opcheck(build_op, (x, 2, 3, 1.0, True, True, backend))
    out = [o.detach().requires_grad_(True) for o in build_op(x, 2, 3, 1.0, True, True, "torch")]
    args = (out[0], out[1:-1], out[-1], 3, 1.0, True, True, "real", backend)
    torch.library.opcheck(collapse_op, args)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradcheck(backend):
    x = torch.randn(9, 8, dtype=torch.float64, device=require(backend), requires_grad=True)
    c = pk.build(x.detach(), height=1, orientations=3, backend=backend)
    leaves = [t.clone().requires_grad_(True) for t in c.tensors]

    def synth(*t):
        return pk.collapse(c.replace(highpass=t[0], bands=t[1:-1], lowpass=t[-1]), backend=backend)

    def analysis(x):
        return pk.build(x, height=1, orientations=3, backend=backend).tensors

    assert torch.autograd.gradcheck(analysis, (x,), fast_mode=True)
    assert torch.autograd.gradcheck(synth, tuple(leaves), fast_mode=True)


def test_cpp_reused_buffers_never_reach_results():
    """The C++ analysis reuses per-shape scratch buffers; results must not alias them."""
    require("cpp")
    first = pk.build(torch.randn(2, 40, 36), backend="cpp")
    saved = [t.clone() for t in first.tensors]
    pk.build(torch.randn(2, 40, 36), backend="cpp")  # same shapes: same scratch buffers
    for kept, now in zip(saved, first.tensors, strict=True):
        assert torch.equal(kept, now)
