"""The C++ fused magnification chain (magnify.cpp, in ``pyramid_kernels.ops._C``) behind
``kernels.MagnifyKernels``."""

from __future__ import annotations

import torch

from .. import native

if native.load_error() is not None:  # registers torch.ops.pyramid_kernels_cpp
    raise ImportError(f"the C++ kernels cannot be loaded: {native.load_error()}")

_ops = torch.ops.pyramid_kernels_cpp


def magnify_iir(
    coeffs, reference, state, filter, difference: bool, alpha: float, attenuate: bool, out=None
):
    """Causal phase-based magnification of (T, N) complex coefficients against a reference
    (N), fused (magnify.cpp); ``state`` (2, N) is the filter's, updated in place. The
    result goes to ``out`` (T, N), a new tensor by default; ``out=coeffs`` works in place."""
    out = torch.empty_like(coeffs, memory_format=torch.contiguous_format) if out is None else out
    filter = [float(f) for f in filter]
    _ops.magnify_iir(coeffs, reference, state, filter, difference, alpha, attenuate, out)
    return out
