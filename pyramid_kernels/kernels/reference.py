"""Pure-torch reference kernels of the fused spectral stages (the tight transform).

Every fast backend implements the same four functions on unshifted spectra and is tested
against these. Shapes: N flattened leading dims, complex spectra of the level's size. Masks
are cached per (level, shape, spec, dtype, device).

- residual_split(Xh, W) -> (hph, L0):  X = full spectrum of the rfft2 half Xh (Hermitian),
                                       hph = (X * hi0)[..., :W//2+1], L0 = X * lo0
- residual_merge(hph, L0) -> Xh:       the adjoint, the half of hp * hi0 + Herm(L0) * lo0,
                                       Herm(S)(k) = (S(k) + conj S(-k)) / 2
- band_split(L, level) -> (B, L'):     B_b = L * mask_b,  L' = crop(L) * lomask
- band_merge(B, L', level) -> L:       the adjoint, L = sum_b B_b * conj(mask_b) + pad(L' * lomask)
"""

from __future__ import annotations

from functools import lru_cache

import torch

from .. import frequency
from ..spec import PyramidSpec

SYNTHESIS_CHUNK_BYTES = None  # collapse whole batches


@lru_cache(maxsize=64)
def _residual_masks(size, twidth, dtype, device):
    hi0, lo0 = frequency.residual_masks(size, twidth, device)
    return hi0.to(dtype), lo0.to(dtype)


@lru_cache(maxsize=64)
def _band_masks(level, size, full, spec, dtype, device):
    """(band masks (K, H_l, W_l) complex, lowpass mask (H_l+1, W_l+1) real, crop rows, cols)."""
    size_next = ((size[0] + 1) // 2, (size[1] + 1) // 2)
    masks = frequency.band_masks(level, size, full, spec, device).to(dtype)
    lomask = frequency.lowpass_mask(level, size_next, full, spec.twidth, device).to(
        masks.real.dtype
    )
    rows = frequency.crop_index(size[0], size_next[0], device)
    cols = frequency.crop_index(size[1], size_next[1], device)
    return masks, lomask, rows, cols


def _mirror(d: int, device) -> torch.Tensor:
    """Index of bin -k for each bin k of a d-point DFT."""
    return torch.remainder(-torch.arange(d, device=device), d)


def residual_split(half: torch.Tensor, width: int, spec: PyramidSpec):
    """rfft2 half spectrum (N, H, W//2+1) -> high-pass half (N, H, W//2+1), low-pass (N, H, W)."""
    h, wh = half.shape[-2:]
    hi0, lo0 = _residual_masks((h, width), spec.twidth, half.real.dtype, half.device)
    mirror = half.index_select(-2, _mirror(h, half.device))[..., 1 : width - wh + 1]
    full = torch.cat([half, mirror.flip(-1).conj_physical()], dim=-1)
    return half * hi0[:, :wh], full * lo0


def residual_merge(highpass: torch.Tensor, lowpass: torch.Tensor, spec: PyramidSpec):
    """Adjoint of :func:`residual_split`: (N, H, W//2+1), (N, H, W) -> (N, H, W//2+1)."""
    (h, w), wh = lowpass.shape[-2:], highpass.shape[-1]
    hi0, lo0 = _residual_masks((h, w), spec.twidth, lowpass.real.dtype, lowpass.device)
    mirror = lowpass.index_select(-2, _mirror(h, lowpass.device))
    mirror = mirror.index_select(-1, _mirror(w, lowpass.device)[:wh]).conj_physical()
    return highpass * hi0[:, :wh] + (lowpass[..., :wh] + mirror) * (0.5 * lo0[:, :wh])


def band_split(lowpass: torch.Tensor, level: int, full: tuple[int, int], spec: PyramidSpec):
    """(N, H_l, W_l) complex -> bands (N, K, H_l, W_l) complex, next low-pass (N, H_l+1, W_l+1)."""
    size = tuple(lowpass.shape[-2:])
    masks, lomask, rows, cols = _band_masks(level, size, full, spec, lowpass.dtype, lowpass.device)
    bands = lowpass[:, None] * masks
    return bands, lowpass.index_select(-2, rows).index_select(-1, cols) * lomask


def band_merge(
    bands: torch.Tensor,
    lowpass_next: torch.Tensor,
    level: int,
    full: tuple[int, int],
    spec: PyramidSpec,
):
    """Adjoint of :func:`band_split`: bands (N, K, H_l, W_l), (N, H_l+1, W_l+1) -> (N, H_l, W_l)."""
    size = tuple(bands.shape[-2:])
    masks, lomask, rows, cols = _band_masks(level, size, full, spec, bands.dtype, bands.device)
    # conj_physical, not a lazy conj view: the view's conj bit was lost inside the custom op
    # on the first torch.compile (aot_eager/inductor) call in torch 2.13.
    out = (bands * masks.conj_physical()).sum(dim=1)
    padded_rows = out.new_zeros((out.shape[0], size[0], lowpass_next.shape[-1]))
    padded_rows.index_copy_(-2, rows, lowpass_next * lomask)
    return out.index_add_(-1, cols, padded_rows)  # distinct columns: an exact zero-pad-and-add


# --- phase ops (any shape; complex c, real fields of c's shape) --------------------------------


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
