"""Pure-torch reference of the transform's spectral stages (``kernels.TransformKernels``:
analysis and ``synthesis``), written plainly.

The spectral stages are the per-level stages of :mod:`.levels` (its docstring gives their
formulas), chained by it into the contract's ``analysis`` and ``synthesis``. Shapes: N
flattened leading dims, complex spectra of the level's size, unshifted. Masks (times the
stage's factors) are cached per (level, shape, spec, factors, dtype, device).
"""

from __future__ import annotations

import sys

from ...core import frequency
from ...core.constants import device_constants
from . import levels

SYNTHESIS_CHUNK_BYTES = None  # collapse whole batches


@device_constants(maxsize=64)
def residual_masks(size, twidth, dtype, device, hp_factor=1.0, low_factor=1.0, scales=1):
    """(hi0 * hp_factor, lo0 * low_factor), real (H, W); ``scales`` per octave."""
    hi0, lo0 = frequency.residual_masks(size, twidth, device, scales)
    return (hi0 * hp_factor).to(dtype), (lo0 * low_factor).to(dtype)


@device_constants(maxsize=64)
def _band_masks(level, size, full, spec, dtype, device, band_factor, next_factor):
    """(band masks (K, H_l, W_l) complex, the next level's lowpass mask real, crop rows, cols)."""
    size_next = spec.level_sizes(full)[level + 1]
    masks = (frequency.band_masks(level, size, full, spec, device) * band_factor).to(dtype)
    lomask = frequency.lowpass_mask(
        level, size_next, full, spec.twidth, device, spec.scales_per_octave
    )
    lomask = lomask * next_factor
    rows = frequency.crop_index(size[0], size_next[0], device)
    cols = frequency.crop_index(size[1], size_next[1], device)
    return masks, lomask.to(masks.dtype.to_real()), rows, cols


def residual_split(half, width, spec, hp_factor=1.0, low_factor=1.0):
    """rfft2 half (N, H, W//2+1) -> high-pass half (N, H, W//2+1), low-pass (N, H, W)."""
    h, wh = half.shape[-2:]
    hi0, lo0 = residual_masks(
        (h, width), spec.twidth, half.dtype.to_real(), half.device, hp_factor, low_factor,
        spec.scales_per_octave,
    )  # fmt: skip
    return half * hi0[:, :wh], levels.hermitian_expand(half, width) * lo0


def residual_merge(highpass, lowpass, spec, hp_factor=1.0, low_factor=1.0):
    """Adjoint of :func:`residual_split`: (N, H, W//2+1), (N, H, W) -> (N, H, W//2+1)."""
    (h, w), wh = lowpass.shape[-2:], highpass.shape[-1]
    hi0, lo0 = residual_masks(
        (h, w), spec.twidth, lowpass.dtype.to_real(), lowpass.device, hp_factor, low_factor,
        spec.scales_per_octave,
    )  # fmt: skip
    mirror = lowpass.index_select(-2, levels.mirror_index(h, lowpass.device))
    mirror = mirror.index_select(-1, levels.mirror_index(w, lowpass.device)[:wh]).conj_physical()
    return highpass * hi0[:, :wh] + (lowpass[..., :wh] + mirror) * (0.5 * lo0[:, :wh])


def band_split(lowpass, level, full, spec, band_factor=1.0, next_factor=1.0):
    """(N, H_l, W_l) complex -> bands (N, K, H_l, W_l) complex, next low-pass (N, H_l+1, W_l+1)."""
    size = tuple(lowpass.shape[-2:])
    masks, lomask, rows, cols = _band_masks(
        level, size, full, spec, lowpass.dtype, lowpass.device, band_factor, next_factor
    )
    bands = lowpass[:, None] * masks
    return bands, lowpass.index_select(-2, rows).index_select(-1, cols) * lomask


def band_merge(bands, lowpass_next, level, full, spec, band_factor=1.0, next_factor=1.0):
    """Adjoint of :func:`band_split`: bands (N, K, H_l, W_l), (N, H_l+1, W_l+1) -> (N, H_l, W_l)."""
    size = tuple(bands.shape[-2:])
    masks, lomask, rows, cols = _band_masks(
        level, size, full, spec, bands.dtype, bands.device, band_factor, next_factor
    )
    # conj_physical, not a lazy conj view: the view's conj bit was lost inside the custom op
    # on the first torch.compile (aot_eager/inductor) call in torch 2.13.
    out = (bands * masks.conj_physical()).sum(dim=1)
    return _add_padded(out, lowpass_next * lomask, rows, cols)


def lowpass_merge(lowpass_next, level, size, full, spec, next_factor=1.0):
    """:func:`band_merge` of zero bands: the next low-pass times its mask, zero-padded to the
    level's (N, H_l, W_l) grid (a partial collapse passes unselected levels this way)."""
    _, lomask, rows, cols = _band_masks(
        level, tuple(size), full, spec, lowpass_next.dtype, lowpass_next.device, 1.0, next_factor
    )
    out = lowpass_next.new_zeros((lowpass_next.shape[0], *size))
    return _add_padded(out, lowpass_next * lomask, rows, cols)


def _add_padded(out, low, rows, cols):
    """out + low zero-padded at (rows, cols); out of place (vmap-friendly): zero-pad the rows,
    then add at the (distinct) columns."""
    padded_rows = out.new_zeros((out.shape[0], out.shape[1], low.shape[-1]))
    padded_rows = padded_rows.index_copy(-2, rows, low)
    return out.index_add(-1, cols, padded_rows)


def analysis(half, size, spec, factors):
    """rfft2 half (N, H, W//2+1) -> (hp half, band spectra per level, lowpass half)."""
    return levels.analysis(sys.modules[__name__], half, size, spec, factors)


def synthesis(highpass, bands, lowpass, size, spec, factors, real_bands):
    """Adjoint of :func:`analysis`: -> half spectrum (N, H, W//2+1)."""
    return levels.synthesis(
        sys.modules[__name__], highpass, bands, lowpass, size, spec, factors, real_bands
    )
