"""The C++ CPU kernels (csrc/*.cpp, built as ``pyramid_kernels._C``) behind the contracts of
``reference.py``: the four spectral stages and the two phase ops. Real masks are cached per
(level, shape, spec, dtype)."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from functools import lru_cache

import torch

from . import (
    _C,  # noqa: F401  (loads the library and registers torch.ops.pyramid_kernels_cpp)
    frequency,
)
from .reference import _residual_masks as reference_masks
from .spec import PyramidSpec

_ops = torch.ops.pyramid_kernels_cpp
_local = threading.local()
WORKSPACE = os.environ.get("PYRAMID_KERNELS_WORKSPACE", "1") != "0"
WORKSPACE_SLOTS = 32


def _scratch(shape, like: torch.Tensor) -> torch.Tensor:
    """Output buffer for an intermediate that the next stage consumes at once (a split's
    outputs before their inverse FFT or the next split, a merge's output before the next merge
    or the final inverse FFT; never returned to callers).

    Large fresh allocations page-fault on every call (~10 ms per 50 MB on the 2-core bench
    machine), so each thread keeps one buffer per shape for the last WORKSPACE_SLOTS shapes
    (about one level-0 band spectrum plus the full-size low-pass per image size).
    PYRAMID_KERNELS_WORKSPACE=0 turns this off; :func:`clear_workspace` frees the buffers.
    """
    if not WORKSPACE:
        return like.new_empty(shape)
    slots = getattr(_local, "slots", None)
    if slots is None:
        slots = _local.slots = OrderedDict()
    key = (tuple(shape), like.dtype)
    buffer = slots.pop(key, None)
    if buffer is None:
        buffer = like.new_empty(shape)
    slots[key] = buffer
    while len(slots) > WORKSPACE_SLOTS:
        slots.popitem(last=False)
    return buffer


def clear_workspace() -> None:
    """Free this thread's reusable analysis buffers."""
    _local.slots = OrderedDict()


def _residual_masks(size, twidth, dtype):
    return reference_masks(size, twidth, dtype, torch.device("cpu"))


@lru_cache(maxsize=64)
def _band_masks(level, size, full, spec, dtype):
    """Real band masks (K, H_l, W_l) and Lo (H_l, W_l) on the level's own grid."""
    masks = frequency.band_masks_real(level, size, full, spec).to(dtype)
    return masks, frequency.lowpass_mask(level, size, full, spec.twidth).to(dtype)


def residual_split(half: torch.Tensor, width: int, spec: PyramidSpec):
    """rfft2 half (N, H, W//2+1) -> high-pass half (N, H, W//2+1), low-pass (N, H, W)."""
    masks = _residual_masks((half.shape[-2], width), spec.twidth, half.real.dtype)
    half = half.contiguous()
    high = _scratch(half.shape, half)
    low = _scratch((half.shape[0], half.shape[1], width), half)
    _ops.residual_split(half, width, *masks, high, low)
    return high, low


def residual_merge(highpass: torch.Tensor, lowpass: torch.Tensor, spec: PyramidSpec):
    """Adjoint of :func:`residual_split`: -> half spectrum (N, H, W//2+1)."""
    masks = _residual_masks(tuple(lowpass.shape[-2:]), spec.twidth, lowpass.real.dtype)
    out = _scratch(highpass.shape, highpass)
    _ops.residual_merge(highpass.contiguous(), lowpass.contiguous(), *masks, out)
    return out


def band_split(lowpass: torch.Tensor, level: int, full: tuple[int, int], spec: PyramidSpec):
    """(N, H_l, W_l) complex -> bands (N, K, H_l, W_l), next low-pass (N, H_l+1, W_l+1)."""
    n, h, w = lowpass.shape
    masks = _band_masks(level, (h, w), full, spec, lowpass.real.dtype)
    bands = _scratch((n, spec.orientations, h, w), lowpass)
    nxt = _scratch((n, (h + 1) // 2, (w + 1) // 2), lowpass)
    _ops.band_split(lowpass.contiguous(), *masks, spec.order, bands, nxt)
    return bands, nxt


def band_merge(
    bands: torch.Tensor,
    lowpass_next: torch.Tensor,
    level: int,
    full: tuple[int, int],
    spec: PyramidSpec,
):
    """Adjoint of :func:`band_split`: -> (N, H_l, W_l) complex."""
    n, _, h, w = bands.shape
    masks = _band_masks(level, (h, w), full, spec, bands.real.dtype)
    out = _scratch((n, h, w), bands)
    _ops.band_merge(bands.contiguous(), lowpass_next.contiguous(), *masks, spec.order, out)
    return out


def phase_rotate(coeffs: torch.Tensor, log_amplitude: torch.Tensor, phase: torch.Tensor):
    """c * exp(eta + i delta) (csrc/phase.cpp)."""
    return _ops.phase_rotate(coeffs, log_amplitude, phase)


def phase_extrapolate(coeffs, grad_log_amplitude, grad_phase, scales):
    """(T, *c.shape): c * exp(-s_k (g_eta + i g_delta)) (csrc/phase.cpp)."""
    return _ops.phase_extrapolate(coeffs, grad_log_amplitude, grad_phase, scales)
