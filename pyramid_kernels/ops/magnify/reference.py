"""Pure-torch reference of the fused causal magnification chain (``kernels.MagnifyKernels``;
the C++ kernel is magnify.cpp beside this file, the Triton one triton.py): per coefficient,
over the frames in order, the phase difference to the reference (the angle of c conj(r)), one
step of the temporal band-pass (a biquad in transposed direct form II, or the difference of
two first-order low-passes) and the rotation of c by alpha times the filtered phase (or by
(1 + alpha) filtered - difference: attenuation)."""

from __future__ import annotations

import torch
from torch import Tensor


def magnify_iir(
    coeffs: Tensor,
    reference: Tensor,
    state: Tensor,
    filter: list[float],
    difference: bool,
    alpha: float,
    attenuate: bool,
    out: Tensor | None = None,
) -> Tensor:
    """(T, N) complex coefficients magnified against ``reference`` (N); ``state`` (2, N) real
    is the filter's, updated in place; ``filter`` (b0, b1, b2, a1, a2) for the biquad, or
    (r_hi, r_lo) for the difference. The result goes to ``out`` (T, N), new by default;
    ``out=coeffs`` works in place."""
    out = torch.empty_like(coeffs, memory_format=torch.contiguous_format) if out is None else out
    gain, keep = (1.0 + alpha, 1.0) if attenuate else (float(alpha), 0.0)
    conj_reference = reference.reshape(-1).conj()
    s1, s2 = state[0], state[1]
    for t in range(coeffs.shape[0]):
        c = coeffs[t]
        delta = torch.angle(c * conj_reference)
        if difference:
            r_hi, r_lo = filter
            s1.add_(delta - s1, alpha=r_hi)
            s2.add_(delta - s2, alpha=r_lo)
            y = s1 - s2
        else:
            b0, b1, b2, a1, a2 = filter
            y = b0 * delta + s1
            s1.copy_(b1 * delta - a1 * y + s2)
            s2.copy_(b2 * delta - a2 * y)
        theta = gain * y - keep * delta
        out[t] = c * torch.polar(torch.ones_like(theta), theta)
    return out
