"""The C++ spectral stages (spectral.cpp, in ``pyramid_kernels.ops._C``) behind the backend
contract: the four per-level stages of :mod:`.levels` (chained by it into the contract's
``analysis`` and ``synthesis``).

Real masks are cached per (level, shape, spec, dtype) with the runs of columns where they are
nonzero within the support of the incoming low-pass; the kernels touch only those bins (about
40% of a level-0 band spectrum for K = 4 complex). So a split's outputs are exact for the
band-limited low-pass the transform feeds it, and a merge's output is zero off that support,
where the next merge multiplies it by zero: the transform is unchanged.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import OrderedDict
from functools import lru_cache

import torch

from ...core import frequency
from .. import native
from . import levels
from .reference import lowpass_merge  # noqa: F401  (a stage: the reference's serves here)
from .reference import residual_masks as reference_masks

if native.load_error() is not None:  # registers torch.ops.pyramid_kernels_cpp
    raise ImportError(f"the C++ kernels cannot be loaded: {native.load_error()}")

_ops = torch.ops.pyramid_kernels_cpp
_local = threading.local()
WORKSPACE = os.environ.get("PYRAMID_KERNELS_WORKSPACE", "1") != "0"
WORKSPACE_SLOTS = 128  # the ~2 buffers per level of a few pyramids, sub-octave ones included
SYNTHESIS_CHUNK_BYTES = 8 << 20  # pipeline.synthesize: level-0 band spectra per chunk


def _scratch(shape, like: torch.Tensor, support=None, slot: int = 0) -> torch.Tensor:
    """Output buffer for an intermediate that the next stage consumes at once (a split's
    outputs before their inverse FFT or the next split, a merge's output before the next merge
    or the final inverse FFT; never returned to callers).

    Large fresh allocations page-fault on every call (tens of ms per 50 MB on a small
    machine), so each thread keeps one buffer per shape for the last WORKSPACE_SLOTS shapes
    (about one level-0 band spectrum plus the full-size low-pass per image size). A transform
    uses two shapes per level, so the slots hold a few pyramids' worth, a quarter-octave one of
    36 levels included: with fewer, each call would evict and zero its own buffers again.
    PYRAMID_KERNELS_WORKSPACE=0 turns this off; :func:`clear_workspace` frees the buffers.

    ``support`` (a hashable key of the masks) asks for a buffer that is zero off the masks'
    runs: splits write only the runs, so such a buffer is zeroed once, when it is created, and
    kept per key. ``slot`` tells apart buffers of one shape that are alive together (an
    undecimated merge reads the previous level's output, of its own shape).
    """
    fresh = like.new_empty if support is None else like.new_zeros
    if not WORKSPACE:
        return fresh(shape)
    slots = getattr(_local, "slots", None)
    if slots is None:
        slots = _local.slots = OrderedDict()
    key = (tuple(shape), like.dtype, support, slot)
    buffer = slots.pop(key, None)
    if buffer is None:
        buffer = fresh(shape)
    slots[key] = buffer
    while len(slots) > WORKSPACE_SLOTS:
        slots.popitem(last=False)
    return buffer


def clear_workspace() -> None:
    """Free this thread's reusable analysis buffers."""
    _local.slots = OrderedDict()


def row_runs(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Runs of nonzero columns in each row of ``mask`` (..., W), rows flattened in order.

    Returns offsets int64 (R + 1,) and runs int64 (offsets[-1], 2): row r's runs are
    ``runs[offsets[r]:offsets[r + 1]]``, each a [start, stop) column range.
    """
    nonzero = (mask != 0).reshape(-1, mask.shape[-1]).to(torch.int8)
    edges = torch.nn.functional.pad(nonzero, (1, 1)).diff(dim=-1)  # (R, W + 1)
    starts, stops = (edges == 1).nonzero(), (edges == -1).nonzero()  # row-major order
    counts = torch.bincount(starts[:, 0], minlength=nonzero.shape[0])
    offsets = torch.cat([counts.new_zeros(1), counts.cumsum(0)])
    return offsets, torch.stack([starts[:, 1], stops[:, 1]], dim=1).contiguous()


def _support(level: int, size, full, spec) -> torch.Tensor:
    """Where the low-pass entering ``level`` can be nonzero: the previous split's Lo != 0,
    bool (H_l, W_l). Outside it a split reads zeros and a merge's output is later multiplied by
    zero (by lo0 or the previous level's lomask), so both stages skip those bins exactly."""
    mask = frequency.lowpass_mask(level - 1, size, full, spec.twidth, None, spec.scales_per_octave)
    return mask != 0


@lru_cache(maxsize=64)
def residual_masks(size, twidth, dtype, hp_factor=1.0, low_factor=1.0, scales=1):
    """(hi0 * hp_factor, lo0 * low_factor) real (H, W) and the runs of lo0."""
    cpu = torch.device("cpu")
    hi0, lo0 = reference_masks(size, twidth, dtype, cpu, hp_factor, low_factor, scales)
    return hi0, lo0, *row_runs(lo0)


@lru_cache(maxsize=64)
def _band_masks(level, size, full, spec, dtype, band_factor=1.0, next_factor=1.0):
    """Real band masks (K, H_l, W_l) times band_factor, Lo (H_l, W_l) on the level's own grid
    times next_factor, and the runs of the masks (K * H_l rows) then of Lo on the kept
    (cropped) bins (H_l rows), both within the support of the incoming low-pass."""
    masks = frequency.band_masks_real(level, size, full, spec)
    lomask = frequency.lowpass_mask(level, size, full, spec.twidth, None, spec.scales_per_octave)
    support = _support(level, size, full, spec)
    kept = torch.zeros(size, dtype=torch.bool)
    size_next = spec.level_sizes(full)[level + 1]
    rows, cols = (frequency.crop_index(d, dn) for d, dn in zip(size, size_next, strict=True))
    kept[rows[:, None], cols[None, :]] = True
    on = torch.cat([(masks != 0) & support, ((lomask != 0) & kept & support)[None]])
    offsets, runs = row_runs(on)
    return (masks * band_factor).to(dtype), (lomask * next_factor).to(dtype), offsets, runs


def residual_split(half, width, spec, hp_factor=1.0, low_factor=1.0):
    """rfft2 half (N, H, W//2+1) -> high-pass half (N, H, W//2+1), low-pass (N, H, W)."""
    size = (half.shape[-2], width)
    real = half.dtype.to_real()
    masks = residual_masks(size, spec.twidth, real, hp_factor, low_factor, spec.scales_per_octave)
    half = half.contiguous()
    high = _scratch(half.shape, half)
    low = _scratch((half.shape[0], *size), half, support=("residual", size, spec.twidth))
    _ops.residual_split(half, width, *masks, high, low)
    return high, low


def residual_merge(highpass, lowpass, spec, hp_factor=1.0, low_factor=1.0):
    """Adjoint of :func:`residual_split`: -> half spectrum (N, H, W//2+1)."""
    size = tuple(lowpass.shape[-2:])
    real = lowpass.dtype.to_real()
    masks = residual_masks(size, spec.twidth, real, hp_factor, low_factor, spec.scales_per_octave)
    out = _scratch(highpass.shape, highpass)
    _ops.residual_merge(highpass.contiguous(), lowpass.contiguous(), *masks, out)
    return out


def band_split(lowpass, level, full, spec, band_factor=1.0, next_factor=1.0):
    """(N, H_l, W_l) complex -> bands (N, K, H_l, W_l), next low-pass (N, H_l+1, W_l+1) of
    the next level's size."""
    n, h, w = lowpass.shape
    real = lowpass.dtype.to_real()
    masks = _band_masks(level, (h, w), full, spec, real, band_factor, next_factor)
    support = ("band", level, full, spec)
    bands = _scratch((n, spec.orientations, h, w), lowpass, support)
    nxt = _scratch((n, *spec.level_sizes(full)[level + 1]), lowpass, support)
    _ops.band_split(lowpass.contiguous(), *masks, spec.order, bands, nxt)
    return bands, nxt


def band_merge(bands, lowpass_next, level, full, spec, band_factor=1.0, next_factor=1.0):
    """Adjoint of :func:`band_split`: -> (N, H_l, W_l) complex, zero off the incoming
    low-pass support."""
    n, _, h, w = bands.shape
    real = bands.dtype.to_real()
    masks = _band_masks(level, (h, w), full, spec, real, band_factor, next_factor)
    out = _scratch((n, h, w), bands, slot=level % 2)
    _ops.band_merge(bands.contiguous(), lowpass_next.contiguous(), *masks, spec.order, out)
    return out


def analysis(half, size, spec, factors):
    """rfft2 half (N, H, W//2+1) -> (hp half, band spectra per level, lowpass half); the
    outputs are reused scratch buffers, consumed by the pipeline's inverse FFTs at once."""
    return levels.analysis(sys.modules[__name__], half, size, spec, factors)


def synthesis(highpass, bands, lowpass, size, spec, factors, real_bands):
    """Adjoint of :func:`analysis`: -> half spectrum (N, H, W//2+1)."""
    return levels.synthesis(
        sys.modules[__name__], highpass, bands, lowpass, size, spec, factors, real_bands
    )
