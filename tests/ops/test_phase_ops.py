"""Phase ops: backends against the reference, opcheck, gradcheck."""

import pytest
import torch
from conftest import FAST_BACKENDS, TOL, rel_max_error, require
from torch.profiler import ProfilerActivity, profile

from pyramid_kernels.ops.phase import reference
from pyramid_kernels.ops.phase.op import phase_extrapolate, phase_rotate

BACKENDS = FAST_BACKENDS


def _inputs(dtype, shape=(2, 3, 7, 9)):
    cdtype = torch.complex128 if dtype == torch.float64 else torch.complex64
    c = torch.randn(shape, dtype=cdtype)
    return c, 0.3 * torch.randn(shape, dtype=dtype), torch.randn(shape, dtype=dtype)


@pytest.mark.parametrize("backend", ["torch", *BACKENDS])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_phase_ops_match_reference(backend, dtype):
    device = require(backend)
    c, a, b = (t.to(device) for t in _inputs(dtype))
    expected = reference.phase_rotate(c, a, b)
    assert rel_max_error(phase_rotate(c, a, b, backend), expected) <= TOL[dtype]
    # the reference against its own definition
    assert rel_max_error(expected, c * torch.exp(a + 1j * b)) <= TOL[dtype]
    # uneven scales, and evenly spaced ones (the C++ kernel steps those by multiplication)
    for scales in ([0.0, 0.5, 1.0, 2.5], [0.37 * k for k in range(1, 13)]):
        scales = torch.tensor(scales, dtype=dtype, device=device)
        frames = phase_extrapolate(c, a, b, scales, backend)
        assert frames.shape == (len(scales), *c.shape)
        for k, s in enumerate(scales):
            assert rel_max_error(frames[k], c * torch.exp(-s * (a + 1j * b))) <= TOL[dtype]


@pytest.mark.parametrize("backend", ["torch", *BACKENDS])
def test_phase_ops_opcheck_and_gradcheck(backend):
    device = require(backend)
    c, a, b = (t.to(device).requires_grad_(True) for t in _inputs(torch.float64, (2, 5, 4)))
    s = torch.tensor([0.5, 1.5], dtype=torch.float64, device=device, requires_grad=True)
    torch.library.opcheck(phase_rotate, (c, a, b, backend))
    torch.library.opcheck(phase_extrapolate, (c, a, b, s, backend))
    assert torch.autograd.gradcheck(lambda c, a, b: phase_rotate(c, a, b, backend), (c, a, b))
    assert torch.autograd.gradcheck(
        lambda c, a, b, s: phase_extrapolate(c, a, b, s, backend), (c, a, b, s)
    )


def test_phase_ops_reject_bad_fields():
    c, a, b = _inputs(torch.float32)
    with pytest.raises(ValueError, match="coeffs must be complex"):
        phase_rotate(c.real, a, b, "torch")
    with pytest.raises(ValueError, match="phase fields must be real"):
        phase_rotate(c, a[..., :-1], b, "torch")
    with pytest.raises(ValueError, match="scales must be 1-D"):
        phase_extrapolate(c, a, b, torch.ones(2, 2), "torch")


def test_backward_gives_only_the_gradients_asked_for():
    """A morph differentiates the phases only: the coefficients' gradient (an exponential
    per element) is skipped, and the others equal the full backward's."""
    c = torch.randn(2, 3, 5, 4, dtype=torch.complex128)
    a, b = torch.randn(2, *c.shape, dtype=torch.float64)
    s = torch.linspace(0.5, 2.0, 3, dtype=torch.float64)
    for op, extra in [(phase_rotate, ()), (phase_extrapolate, (s,))]:
        leaves = [t.clone().requires_grad_(True) for t in (c, a, b)]
        full = torch.autograd.grad(op(*leaves, *extra, "torch").abs().sum(), leaves)
        phase = b.clone().requires_grad_(True)
        loss = op(c, a, phase, *extra, "torch").abs().sum()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            (only,) = torch.autograd.grad(loss, phase)
        assert torch.allclose(only, full[2], rtol=1e-12, atol=1e-12)
        assert "aten::polar" not in {e.name for e in prof.events()}
