"""``pyramid_kernels::magnify_iir``: the fused causal magnification chain as a registered op.

    magnify_iir(c, r, state, filter, difference, alpha, attenuate, backend, out) -> ()

c (T, N) complex, r (N) complex, state (2, N) real (the filter's, updated in place), out (T, N)
like c (may be c itself). The backend string picks the kernels ("torch": reference.py, "cpp":
magnify.cpp, "triton": triton.py, float32). It writes ``state`` and ``out`` and is not
differentiable (it carries filter state from call to call): a fake kernel serves
torch.compile and export.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .kernels import magnify_kernels

_lib = torch.library.Library("pyramid_kernels", "FRAGMENT")  # noqa: TOR901
_lib.define(
    "magnify_iir(Tensor coeffs, Tensor reference, Tensor(a!) state, float[] filter, "
    "bool difference, float alpha, bool attenuate, str backend, Tensor(b!) out) -> ()"
)


def _kernel(coeffs, reference, state, filter, difference, alpha, attenuate, backend, out):
    magnify_kernels(backend, coeffs.device).magnify_iir(
        coeffs, reference, state, list(filter), difference, alpha, attenuate, out=out
    )


def _fake(coeffs, reference, state, filter, difference, alpha, attenuate, backend, out):
    return None


_lib.impl("magnify_iir", _kernel, "CompositeExplicitAutograd")
torch.library.register_fake("pyramid_kernels::magnify_iir", _fake, lib=_lib)


def magnify_iir(
    coeffs: Tensor,
    reference: Tensor,
    state: Tensor,
    filter: list[float],
    difference: bool,
    alpha: float,
    attenuate: bool,
    backend: str = "auto",
    out: Tensor | None = None,
) -> Tensor:
    """Causal phase-based magnification of coefficients against a reference, fused.

    Per coefficient, over the frames in order: the phase difference to the reference, one step
    of the temporal band-pass (its state carried over between calls) and the rotation of the
    coefficient by alpha times the filtered phase (with ``attenuate``: by (1 + alpha) filtered
    - difference, which also removes the motion outside the band). Not differentiable.

    Parameters
    ----------
    coeffs : Tensor
        (T, N) complex64 or complex128: N coefficients of T frames.
    reference : Tensor
        (N,) complex, coeffs' dtype: the reference frame's coefficients.
    state : Tensor
        (2, N) real, contiguous: the filter's state (zeros: at rest), updated in place.
    filter : list of float
        (b0, b1, b2, a1, a2) of a biquad in transposed direct form II, or (r_hi, r_lo), the
        smoothing factors of two first-order low-passes whose difference is the band-pass.
    difference : bool
        Whether ``filter`` is the difference of low-passes.
    alpha : float
        Magnification.
    attenuate : bool
        Also remove the motion outside the band.
    backend : {"auto", "torch", "cpp", "triton"}
        The kernels (Triton: float32 only).
    out : Tensor, optional
        (T, N) like ``coeffs``, contiguous; may be ``coeffs`` itself (in place).

    Returns
    -------
    Tensor
        ``out`` (a new tensor when not given): the magnified coefficients.
    """
    if out is None:
        out = torch.empty_like(coeffs, memory_format=torch.contiguous_format)
    filter = [float(f) for f in filter]
    torch.ops.pyramid_kernels.magnify_iir(
        coeffs, reference, state, filter, difference, float(alpha), attenuate, backend, out
    )
    return out
