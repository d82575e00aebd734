"""The phase family's kernel contract and dispatch: what each backend's module provides
(``reference.py``, ``cpp.py``, ``triton.py``) and the function that picks one."""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor

from ..backends import family_kernels


class PhaseKernels(Protocol):
    """Phase ops on complex c of any shape, with real fields of c's shape and real dtype.

    - ``phase_rotate(c, eta, delta) -> c * exp(eta + i delta)``.
    - ``phase_extrapolate(c, g_eta, g_delta, s (T,)) -> (T, *c.shape)``, frame k being
      c * exp(-s_k (g_eta + i g_delta)).
    """

    def phase_rotate(self, coeffs: Tensor, log_amplitude: Tensor, phase: Tensor) -> Tensor: ...

    def phase_extrapolate(
        self, coeffs: Tensor, grad_log_amplitude: Tensor, grad_phase: Tensor, scales: Tensor
    ) -> Tensor: ...


def phase_kernels(backend: str, device: torch.device) -> PhaseKernels:
    """The phase kernels of ``backend`` for tensors on ``device`` (ValueError naming the
    backend when it cannot run there)."""
    return family_kernels(__package__, backend, device)
