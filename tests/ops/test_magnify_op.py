"""``pyramid_kernels::magnify_iir``: each fast kernel against the torch reference, opcheck, and
the kernels' own checks of their tensors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from conftest import FAST_BACKENDS, require

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

FPS, FRAMES, BAND = 30.0, 30, (1.0, 3.0)  # 2 Hz makes 2 whole cycles: no spectral leakage
SMALL = dict(orientations=4)


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
