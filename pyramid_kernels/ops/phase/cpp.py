"""The C++ phase ops (phase.cpp, in ``pyramid_kernels.ops._C``) behind ``kernels.PhaseKernels``."""

from __future__ import annotations

import torch

from .. import native

if native.load_error() is not None:  # registers torch.ops.pyramid_kernels_cpp
    raise ImportError(f"the C++ kernels cannot be loaded: {native.load_error()}")

_ops = torch.ops.pyramid_kernels_cpp


def phase_rotate(coeffs: torch.Tensor, log_amplitude: torch.Tensor, phase: torch.Tensor):
    """c * exp(eta + i delta) (phase.cpp)."""
    return _ops.phase_rotate(coeffs, log_amplitude, phase)


def phase_extrapolate(coeffs, grad_log_amplitude, grad_phase, scales):
    """(T, *c.shape): c * exp(-s_k (g_eta + i g_delta)) (phase.cpp)."""
    return _ops.phase_extrapolate(coeffs, grad_log_amplitude, grad_phase, scales)
