"""The two fused spectral stages of the backend contract, composed from per-level stages.

The reference and C++ backends implement five per-level stages (``stages`` below, a module):

- ``residual_split(half, W, spec, hp_factor, low_factor) -> (hp_half, low)``: the rfft2 half
  spectrum X_h (N, H, W//2+1) into hp_half = (X * hi0 * hp_factor)[..., :W//2+1] and the full
  low-pass spectrum low = X * lo0 * low_factor (N, H, W), X the Hermitian expansion of X_h;
- ``residual_merge(hp_half, low, spec, hp_factor, low_factor) -> half``: its adjoint, the half
  of hp * hi0 * hp_factor + Herm(low) * lo0 * low_factor, Herm(S)(k) = (S(k) + conj S(-k)) / 2;
- ``band_split(low, level, (H, W), spec, band_factor, next_factor) -> (bands, next)``:
  bands_b = low * mask_b * band_factor (N, K, H_l, W_l), next = crop(low) * lomask *
  next_factor (N, H_{l+1}, W_{l+1});
- ``band_merge(bands, next, level, (H, W), spec, band_factor, next_factor) -> low``: its adjoint;
- ``lowpass_merge(next, level, size_l, (H, W), spec, next_factor) -> low``: ``band_merge`` of
  zero bands (a level a partial collapse leaves out).

:func:`analysis` and :func:`synthesis` chain them level by level; the Triton backend fuses
the whole chain into one kernel per direction instead.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ...core.spec import PyramidSpec


def mirror_index(d: int, device) -> Tensor:
    """Index of bin -k for each bin k of a d-point DFT."""
    return torch.remainder(-torch.arange(d, device=device), d)


def hermitian_expand(half: Tensor, width: int) -> Tensor:
    """The full spectrum (..., h, width) of a real signal from its rfft2 half (..., h, w//2+1)."""
    h, wh = half.shape[-2:]
    mirror = half.index_select(-2, mirror_index(h, half.device))[..., 1 : width - wh + 1]
    return torch.cat([half, mirror.flip(-1).conj_physical()], dim=-1)


def _next_factor(level: int, spec: PyramidSpec, factors) -> float:
    """The factor of the low-pass a stage passes on (level -1: the residual stage): the
    low-pass residual's a_lp from the deepest stage, 1 from the others."""
    return factors[-1] if level == spec.levels - 1 else 1.0


def analysis(stages, half: Tensor, size, spec: PyramidSpec, factors) -> tuple:
    """The contract's ``analysis`` by levels: (hp_half, band spectra, lowpass half)."""
    next_factor = _next_factor(-1, spec, factors)
    hp, low = stages.residual_split(half, size[1], spec, factors[0], next_factor)
    bands = []
    for level in range(spec.levels):
        next_factor = _next_factor(level, spec, factors)
        b, low = stages.band_split(low, level, size, spec, factors[1 + level], next_factor)
        bands.append(b if spec.is_complex else b[..., : b.shape[-1] // 2 + 1])
    return hp, bands, low[..., : low.shape[-1] // 2 + 1]


def synthesis(
    stages, hp_half: Tensor, bands: list[Tensor], lp_half: Tensor, size, spec, factors, real_bands
) -> Tensor:
    """The contract's ``synthesis`` by levels: -> half spectrum (N, H, W//2+1). A level whose
    band spectra are None counts as zero."""
    sizes = spec.level_sizes(tuple(size))
    low = hermitian_expand(lp_half, sizes[-1][1])
    for level in reversed(range(spec.levels)):
        spectrum = bands[level]
        next_factor = _next_factor(level, spec, factors)
        if spectrum is None:  # zero bands (a partial collapse): pass the low-pass up
            low = stages.lowpass_merge(low, level, sizes[level], size, spec, next_factor)
            continue
        if real_bands:
            spectrum = hermitian_expand(spectrum, sizes[level][1])
        low = stages.band_merge(spectrum, low, level, size, spec, factors[1 + level], next_factor)
    return stages.residual_merge(hp_half, low, spec, factors[0], _next_factor(-1, spec, factors))
