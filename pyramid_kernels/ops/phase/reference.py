"""Pure-torch reference of the phase ops (``kernels.PhaseKernels``: phase_rotate and
``phase_extrapolate``): complex c of any shape, real fields of c's shape and real dtype."""

from __future__ import annotations

import torch


def phase_rotate(coeffs: torch.Tensor, log_amplitude: torch.Tensor, phase: torch.Tensor):
    """c * exp(eta + i delta), elementwise."""
    return coeffs * torch.polar(torch.exp(log_amplitude), phase)


def phase_extrapolate(
    coeffs: torch.Tensor,
    grad_log_amplitude: torch.Tensor,
    grad_phase: torch.Tensor,
    scales: torch.Tensor,
):
    """Frames (T, *c.shape): c * exp(-s_k (g_eta + i g_delta)) for the T step scales s_k."""
    s = scales.reshape(-1, *([1] * coeffs.dim()))
    return coeffs * torch.polar(torch.exp(-s * grad_log_amplitude), -s * grad_phase)
