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


def test_cpp_row_runs_cover_exactly_the_nonzeros():
    require("cpp")
    from pyramid_kernels.cpp_spectral import row_runs

    g = torch.Generator().manual_seed(0)
    mask = (torch.rand(5, 7, 33, generator=g) > 0.6) * torch.rand(5, 7, 33, generator=g)
    mask[0, 0], mask[0, 1] = 0.0, 1.0  # an empty row and a full one
    offsets, runs = row_runs(mask)
    rebuilt = torch.zeros(35, 33, dtype=torch.bool)
    for row in range(35):
        last_stop = -1
        for start, stop in runs[offsets[row] : offsets[row + 1]].tolist():
            assert last_stop < start < stop  # ordered, non-empty, never touching
            rebuilt[row, start:stop] = True
            last_stop = stop
    assert torch.equal(rebuilt, (mask != 0).reshape(35, 33))


@pytest.mark.parametrize("workspace", [True, False])
def test_cpp_split_buffers_are_kept_per_mask_support(monkeypatch, workspace):
    """C++ splits write only where the masks are nonzero, into buffers zeroed once per mask
    support: specs with the same shapes but other supports must not see each other's bins."""
    require("cpp")
    from pyramid_kernels import cpp_spectral

    monkeypatch.setattr(cpp_spectral, "WORKSPACE", workspace)
    cpp_spectral.clear_workspace()
    x = torch.randn(2, 48, 40, dtype=torch.float64)
    specs = [dict(twidth=1.0), dict(twidth=0.6), dict(is_complex=False), dict(), dict(twidth=0.6)]
    for kwargs in specs:
        ref = pk.build(x, backend="torch", **kwargs)
        fast = pk.build(x, backend="cpp", **kwargs)
        for a, b in zip(fast.tensors, ref.tensors, strict=True):
            assert rel_max_error(a, b) <= 1e-12, kwargs


@pytest.mark.parametrize("images_per_chunk", [1, 4])
def test_cpp_synthesis_in_chunks_matches_reference(monkeypatch, images_per_chunk):
    require("cpp")
    from pyramid_kernels import cpp_spectral

    x = torch.randn(3, 2, 32, 36, dtype=torch.float64)
    per_image = 4 * 32 * 36 * 16  # level-0 band spectra of one image, complex128
    monkeypatch.setattr(cpp_spectral, "SYNTHESIS_CHUNK_BYTES", images_per_chunk * per_image)
    c = pk.build(x, backend="torch")
    edited = c.replace(bands=[b * 1.5 + torch.randn_like(b) for b in c.bands])
    y_ref = pk.collapse(edited, backend="torch")
    assert rel_max_error(pk.collapse(edited, backend="cpp"), y_ref) <= 1e-12
    assert rel_max_error(pk.collapse(c, backend="cpp"), x) <= 1e-12


def test_cpp_kernels_reject_runs_outside_the_row():
    require("cpp")
    from pyramid_kernels import cpp_spectral

    spec = pk.SteerablePyramid(height=1, orientations=2).spec
    low = torch.randn(1, 8, 8, dtype=torch.complex64)
    masks, lomask, offsets, runs = cpp_spectral._band_masks(0, (8, 8), (8, 8), spec, torch.float32)
    bands, nxt = torch.zeros(1, 2, 8, 8, dtype=low.dtype), torch.zeros(1, 4, 4, dtype=low.dtype)
    ops = torch.ops.pyramid_kernels_cpp
    ops.band_split(low, masks, lomask, offsets, runs, spec.order, bands, nxt)  # the real runs work
    for bad in (runs + 8, runs.flip(1), runs - 1):
        with pytest.raises(RuntimeError, match="run"):
            ops.band_split(low, masks, lomask, offsets, bad.contiguous(), spec.order, bands, nxt)
    with pytest.raises(RuntimeError, match="offsets"):
        ops.band_split(low, masks, lomask, offsets[:-1], runs, spec.order, bands, nxt)
