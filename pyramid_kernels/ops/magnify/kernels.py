"""The magnification family's kernel contract and dispatch: what each backend's module
provides (``reference.py``, ``cpp.py``, ``triton.py``) and the function that picks one."""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor

from ..backends import family_kernels


class MagnifyKernels(Protocol):
    """The fused causal magnification chain.

    - ``magnify_iir(c (T, N), r (N), state (2, N), filter, difference, alpha, attenuate,
      out=None) -> out (T, N)``: per coefficient, over the frames in order, the phase
      difference to r, one step of a causal band-pass (``filter`` (b0, b1, b2, a1, a2), or
      (r_hi, r_lo) with ``difference``; its ``state`` updated in place) and the rotation of c by
      alpha times the filtered phase (with ``attenuate``: (1 + alpha) filtered - difference).
    """

    def magnify_iir(
        self,
        coeffs: Tensor,
        reference: Tensor,
        state: Tensor,
        filter: list[float],
        difference: bool,
        alpha: float,
        attenuate: bool,
        out: Tensor | None = None,
    ) -> Tensor: ...


def magnify_kernels(backend: str, device: torch.device) -> MagnifyKernels:
    """The magnification kernels of ``backend`` for tensors on ``device`` (ValueError naming
    the backend when it cannot run there)."""
    return family_kernels(__package__, backend, device)
