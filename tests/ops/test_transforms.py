"""Forward-mode AD and the torch.func transforms through every op and backend, and the pyramid
embedded in a model through everything a PyTorch user does with one (so it stays working)."""

import copy
import dataclasses
import io
import pickle

import pytest
import torch
import torch.autograd.forward_ad as forward_ad
from conftest import FAST_BACKENDS, rel_max_error, require
from torch import nn

import pyramid_kernels as pk
from pyramid_kernels.core.spec import PyramidSpec
from pyramid_kernels.ops.phase.op import phase_extrapolate, phase_rotate
from pyramid_kernels.ops.transform.op import build_op, collapse_op

BACKENDS = ["torch", *FAST_BACKENDS]
SPECS = [
    PyramidSpec(1, 3, 1.0, True, True, "adjoint"),
    PyramidSpec(1, 3, 1.0, True, False, "real"),
    PyramidSpec(1, 2, 1.0, False, False, "adjoint"),
]
CHECKS = dict(check_forward_ad=True, check_backward_ad=True, check_batched_grad=True)


def _coefficients(spec: PyramidSpec, device, shape=(9, 8)):
    x = torch.randn(*shape, dtype=torch.float64, device=device)
    out = build_op(x, spec.op_args(), "torch" if device == "cpu" else "triton")
    if spec.is_complex:  # off the range of build, so the synthesis modes differ
        out[1:-1] = [b + torch.randn_like(b) for b in out[1:-1]]
    return [t.detach().requires_grad_(True) for t in out]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "spec", SPECS, ids=lambda s: f"{s.is_complex}-{s.tight_frame}-{s.synthesis}"
)
def test_pyramid_ops_pass_forward_batched_and_second_order_checks(backend, spec):
    device = require(backend)
    args = spec.op_args()
    x = torch.randn(9, 8, dtype=torch.float64, device=device, requires_grad=True)
    fast = backend == "triton"  # the interpreter runs every column of a full Jacobian

    def build(x):
        return tuple(build_op(x, args, backend))

    def collapse(*c):
        return collapse_op(c[0], list(c[1:-1]), c[-1], args, backend)

    leaves = _coefficients(spec, device)
    assert torch.autograd.gradcheck(build, (x,), fast_mode=fast, **CHECKS)
    assert torch.autograd.gradcheck(collapse, tuple(leaves), fast_mode=fast, **CHECKS)
    assert torch.autograd.gradgradcheck(build, (x,), fast_mode=True)
    assert torch.autograd.gradgradcheck(collapse, tuple(leaves), fast_mode=True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_phase_ops_pass_forward_batched_and_second_order_checks(backend):
    device = require(backend)
    shape = (2, 3, 4)
    c = torch.randn(shape, dtype=torch.complex128, device=device, requires_grad=True)
    a, b = (0.3 * torch.randn(shape, dtype=torch.float64, device=device) for _ in range(2))
    a, b = a.requires_grad_(True), b.requires_grad_(True)
    s = torch.tensor([0.5, 1.5], dtype=torch.float64, device=device, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda c, a, b: phase_rotate(c, a, b, backend), (c, a, b), **CHECKS
    )
    assert torch.autograd.gradcheck(
        lambda c, a, b, s: phase_extrapolate(c, a, b, s, backend), (c, a, b, s), **CHECKS
    )
    assert torch.autograd.gradgradcheck(lambda c, a, b: phase_rotate(c, a, b, backend), (c, a, b))
    assert torch.autograd.gradgradcheck(
        lambda c, a, b, s: phase_extrapolate(c, a, b, s, backend), (c, a, b, s), fast_mode=True
    )


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_jvp_of_the_linear_ops_is_the_op_of_the_tangent(backend, dtype):
    device = require(backend)
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    x, t = torch.randn(2, 2, 24, 20, dtype=dtype, device=device).unbind(0)
    for spec in (SPECS[0], SPECS[1], PyramidSpec(2, 4)):
        args = spec.op_args()
        out, tangent = torch.func.jvp(lambda x, a=args: build_op(x, a, backend), (x,), (t,))
        for got, want in zip(tangent, build_op(t, args, backend), strict=True):
            assert rel_max_error(got, want) <= tol
        coeffs = [o.detach() for o in out]
        tangents = [torch.randn_like(o) for o in coeffs]

        def collapse(*c, a=args):
            return collapse_op(c[0], list(c[1:-1]), c[-1], a, backend)

        _, tangent = torch.func.jvp(collapse, tuple(coeffs), tuple(tangents))
        assert rel_max_error(tangent, collapse(*tangents)) <= tol


@pytest.mark.parametrize("backend", BACKENDS)
def test_forward_ad_through_the_public_api_is_exact(backend):
    """The bug this guards: a jvp through build/collapse returned a zero tangent silently."""
    device = require(backend)
    x, t = torch.randn(2, 3, 32, 28, dtype=torch.float64, device=device).unbind(0)
    pyr = pk.SteerablePyramid(height=2, backend=backend)
    _, tangent = torch.func.jvp(lambda im: pk.collapse(pyr(im)), (x,), (t,))
    assert rel_max_error(tangent, t) <= 1e-12
    with forward_ad.dual_level():
        y = pyr.collapse(pyr(forward_ad.make_dual(x, t)))
        assert rel_max_error(forward_ad.unpack_dual(y).tangent, t) <= 1e-12


@pytest.mark.parametrize("backend", BACKENDS)
def test_vmap_equals_the_unbatched_loop(backend):
    device = require(backend)
    x = torch.randn(3, 2, 24, 20, dtype=torch.float64, device=device)
    pyr = pk.SteerablePyramid(height=2, orientations=3, backend=backend)
    batched = torch.func.vmap(lambda im: pyr(im).tensors, in_dims=1)(x)
    for i in range(x.shape[1]):
        for got, want in zip(batched, pyr(x[:, i]).tensors, strict=True):
            assert rel_max_error(got[i], want) <= 1e-12
    coeffs = pyr(x)
    # a batched band beside unbatched residuals
    stack = torch.stack([b * (k + 1) for k, b in enumerate([coeffs.bands[0]] * 4)])

    def with_band(b):
        return pyr.collapse(coeffs.replace(bands=(b, coeffs.bands[1])))

    out = torch.func.vmap(with_band)(stack)
    for k in range(4):
        assert rel_max_error(out[k], with_band(stack[k])) <= 1e-12
    c = coeffs.bands[0]
    a = torch.randn(5, *c.shape, dtype=torch.float64, device=device)
    rotated = torch.func.vmap(lambda a: phase_rotate(c, a, a, backend))(a)
    s = torch.tensor([0.5, 1.0], dtype=torch.float64, device=device)
    frames = torch.func.vmap(lambda a: phase_extrapolate(c, a, a, s, backend))(a)
    for k in range(5):
        assert rel_max_error(rotated[k], phase_rotate(c, a[k], a[k], backend)) <= 1e-12
        assert rel_max_error(frames[k], phase_extrapolate(c, a[k], a[k], s, backend)) <= 1e-12


@pytest.mark.parametrize("backend", BACKENDS)
def test_per_sample_gradients_equal_a_loop(backend):
    device = require(backend)
    x = torch.randn(4, 24, 20, dtype=torch.float64, device=device)
    pyr = pk.SteerablePyramid(height=2, orientations=3, backend=backend)

    def loss(im):
        c = pyr(im)
        rotated = phase_rotate(c.bands[0], c.bands[0].abs(), c.bands[0].real, backend)
        return pyr.collapse(c.replace(bands=(rotated, c.bands[1]))).sin().sum()

    per_sample = torch.func.vmap(torch.func.grad(loss))(x)
    for i in range(x.shape[0]):
        xi = x[i].clone().requires_grad_(True)
        (expected,) = torch.autograd.grad(loss(xi), xi)
        assert rel_max_error(per_sample[i], expected) <= 1e-12


def test_jacobians_and_hessian():
    x = torch.randn(8, 8, dtype=torch.float64)
    pyr = pk.SteerablePyramid(height=1, orientations=2, backend="torch")

    def energy(im):
        return pyr(im).bands[0].abs().square().sum()

    def band(im):
        return torch.view_as_real(pyr(im).bands[0]).flatten()

    jac_rev = torch.func.jacrev(band)(x)
    jac_fwd = torch.func.jacfwd(band)(x)
    assert rel_max_error(jac_fwd, jac_rev) <= 1e-12
    # energy is the quadratic form of the band operator B: its Hessian is 2 B^T B
    matrix = jac_rev.reshape(jac_rev.shape[0], -1)
    expected = 2 * matrix.T @ matrix
    hessian = torch.func.hessian(energy)(x).reshape(64, 64)  # forward over reverse
    assert rel_max_error(hessian, expected) <= 1e-12
    t = torch.randn(8, 8, dtype=torch.float64)
    hvp = torch.func.grad(lambda im: (torch.func.grad(energy)(im) * t).sum())(x)  # rev over rev
    assert rel_max_error(hvp.flatten(), expected @ t.flatten()) <= 1e-12
    tht = torch.func.jvp(lambda im: torch.func.jvp(energy, (im,), (t,))[1], (x,), (t,))[1]
    assert abs(tht - t.flatten() @ expected @ t.flatten()) <= 1e-12 * abs(tht)  # fwd over fwd


# --- the pyramid inside a model ---------------------------------------------------------------


class PyramidEnergy(nn.Module):
    """A toy perceptual feature: learned weights on the energy of every band."""

    def __init__(self, backend: str = "auto") -> None:
        super().__init__()
        self.pyr = pk.SteerablePyramid(height=2, orientations=3, backend=backend)
        self.weights = nn.Parameter(torch.linspace(0.5, 1.5, 6))

    def forward(self, x):
        bands = self.pyr(x).bands
        energy = torch.cat([b.abs().square().mean(dim=(-2, -1)) for b in bands], dim=-1)
        return (energy * self.weights).sum(-1)


def test_model_state_copies_and_pickles():
    model = PyramidEnergy()
    x = torch.rand(2, 3, 32, 32)
    expected = model(x)
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert torch.equal(clone(x), expected)
    fresh = PyramidEnergy()
    with torch.no_grad():
        fresh.weights.zero_()
    fresh.load_state_dict(model.state_dict())
    assert torch.equal(fresh(x), expected)
    assert set(model.state_dict()) == {"weights"}  # the pyramid has no state


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_pyramid_loads_with_weights_only(dtype):
    c = pk.build(torch.randn(2, 40, 36, dtype=dtype), orientations=5, tight_frame=False)
    buffer = io.BytesIO()
    torch.save({"coeffs": c}, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)["coeffs"]
    assert loaded.spec == c.spec and loaded.highpass.dtype == dtype
    for a, b in zip(loaded.tensors, c.tensors, strict=True):
        assert torch.equal(a, b)
    # loading goes through the validating constructor
    bad = dataclasses.replace(c.spec, orientations=4)
    tampered = object.__new__(pk.Pyramid)
    object.__setattr__(tampered, "highpass", c.highpass)
    object.__setattr__(tampered, "bands", c.bands)
    object.__setattr__(tampered, "lowpass", c.lowpass)
    object.__setattr__(tampered, "spec", bad)
    buffer = io.BytesIO()
    torch.save(tampered, buffer)
    buffer.seek(0)
    with pytest.raises(ValueError, match="bands"):
        torch.load(buffer, weights_only=True)


def test_model_compiles_exports_and_traces():
    model = PyramidEnergy()
    x = torch.rand(2, 3, 32, 32, requires_grad=True)
    eager = model(x)
    (g_eager,) = torch.autograd.grad(eager.sum(), x)
    torch.compiler.reset()
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    out = compiled(x)
    (g_compiled,) = torch.autograd.grad(out.sum(), x)
    assert rel_max_error(out, eager) <= 1e-5 and rel_max_error(g_compiled, g_eager) <= 1e-5
    exported = torch.export.export(model, (x.detach(),))
    assert rel_max_error(exported.module()(x.detach()), eager) <= 1e-6
    traced = torch.jit.trace(model, (x.detach(),), check_trace=False)
    assert rel_max_error(traced(x.detach()), eager) <= 1e-6


def test_layouts_modes_and_determinism():
    model = PyramidEnergy()
    x = torch.rand(2, 3, 32, 32)
    expected = model(x)
    assert rel_max_error(model(x.contiguous(memory_format=torch.channels_last)), expected) <= 1e-6
    with torch.inference_mode():
        assert rel_max_error(model(x), expected) <= 1e-6
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        assert torch.equal(model(x), model(x))
    finally:
        torch.use_deterministic_algorithms(previous)
