"""Pure-torch reference kernels of the fused spectral stages (the tight transform).

Every fast backend implements the same four functions on unshifted spectra and is tested
against these. Shapes: N flattened leading dims, complex spectra of the level's size.

- residual_split(X) -> (hp, L0):       hp = X * hi0, L0 = X * lo0
- residual_merge(hp, L0) -> X:         the adjoint, X = hp * hi0 + L0 * lo0
- band_split(L, level) -> (B, L'):     B_b = L * mask_b,  L' = crop(L) * lomask
- band_merge(B, L', level) -> L:       the adjoint, L = sum_b B_b * conj(mask_b) + pad(L' * lomask)
"""

from __future__ import annotations

import torch

from . import frequency
from .spec import PyramidSpec


def residual_split(spectrum: torch.Tensor, spec: PyramidSpec):
    """(N, H, W) complex -> high-pass spectrum (N, H, W), low-pass spectrum (N, H, W)."""
    hi0, lo0 = frequency.residual_masks(tuple(spectrum.shape[-2:]), spec.twidth, spectrum.device)
    real = spectrum.real.dtype
    return spectrum * hi0.to(real), spectrum * lo0.to(real)


def residual_merge(highpass: torch.Tensor, lowpass: torch.Tensor, spec: PyramidSpec):
    """Adjoint of :func:`residual_split`: (N, H, W) x 2 complex -> (N, H, W) complex."""
    hi0, lo0 = frequency.residual_masks(tuple(highpass.shape[-2:]), spec.twidth, highpass.device)
    real = highpass.real.dtype
    return highpass * hi0.to(real) + lowpass * lo0.to(real)


def band_split(lowpass: torch.Tensor, level: int, full: tuple[int, int], spec: PyramidSpec):
    """(N, H_l, W_l) complex -> bands (N, K, H_l, W_l) complex, next low-pass (N, H_l+1, W_l+1)."""
    size = tuple(lowpass.shape[-2:])
    size_next = ((size[0] + 1) // 2, (size[1] + 1) // 2)
    device = lowpass.device
    masks = frequency.band_masks(level, size, full, spec, device).to(lowpass.dtype)
    bands = lowpass[:, None] * masks
    rows = frequency.crop_index(size[0], size_next[0], device)
    cols = frequency.crop_index(size[1], size_next[1], device)
    cropped = lowpass.index_select(-2, rows).index_select(-1, cols)
    lomask = frequency.lowpass_mask(level, size_next, full, spec.twidth, device)
    return bands, cropped * lomask.to(lowpass.real.dtype)


def band_merge(
    bands: torch.Tensor,
    lowpass_next: torch.Tensor,
    level: int,
    full: tuple[int, int],
    spec: PyramidSpec,
):
    """Adjoint of :func:`band_split`: bands (N, K, H_l, W_l), (N, H_l+1, W_l+1) -> (N, H_l, W_l)."""
    size = tuple(bands.shape[-2:])
    size_next = tuple(lowpass_next.shape[-2:])
    device = bands.device
    masks = frequency.band_masks(level, size, full, spec, device).to(bands.dtype)
    # conj_physical, not a lazy conj view: the view's conj bit was lost inside the custom op
    # on the first torch.compile (aot_eager/inductor) call in torch 2.13.
    out = (bands * masks.conj_physical()).sum(dim=1)
    lomask = frequency.lowpass_mask(level, size_next, full, spec.twidth, device)
    rows = frequency.crop_index(size[0], size_next[0], device)
    cols = frequency.crop_index(size[1], size_next[1], device)
    shaped = lowpass_next * lomask.to(bands.real.dtype)
    padded_rows = out.new_zeros((out.shape[0], size[0], size_next[1]))
    padded_rows.index_copy_(-2, rows, shaped)
    return out.index_add_(-1, cols, padded_rows)  # distinct columns: an exact zero-pad-and-add
