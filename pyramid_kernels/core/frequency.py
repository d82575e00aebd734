"""Closed-form pyramid masks on the unshifted DFT grid: the single source of truth.

Conventions: per axis of a level of size d cut from an image of size N, DFT bin j
has frequency k = j for j < ceil(d/2), else j - d (torch.fft.fftfreq order), and normalised
frequency u = k / (N/2), so every level is measured in the units of the full image (r = 1 is
the image's Nyquist). x = columns, y = rows, theta = atan2(y, x).

Radial: Hi(x) = cos(pi/2 * clip(x/tw, -1, 0)), Lo(x) = sqrt(1 - Hi^2) with x = log2 r + offset.
With s scales per octave, split j (j = 0: the residual split, j = k + 1: band level k) uses
offset j/s and width tw/s (Hi_s, Lo_s), so band level k has the radial profile
    Lo_s(log2 r + k/s) Hi_s(log2 r + (k+1)/s),  Hi_s(x) = cos(pi/2 clip(s x / tw, -1, 0)),
for tw <= 1 a raised-cosine window in log2 r from 2^(-(k+1+tw)/s) to 2^(-k/s) of the Nyquist,
equal to 1 at its centre r = 2^(-(k+1)/s) when tw = 1. Every split has Hi^2 + Lo^2 = 1, so the
squares of the high-pass residual, all bands (summed over orientations) and the low-pass
residual sum to 1 at every bin: a tight frame for any s. s = 1 is the octave pyramid.
Angular: A_b = sqrt(c) cos^n(theta - pi b/K) (real) or 2 sqrt(c) cos^n(.) [cos(.) > 0] (complex),
c = 4^n (n!)^2 / (K (2n)!), n = K - 1. The Triton and C++ kernels evaluate the same formulas.
"""

from __future__ import annotations

import math
from fractions import Fraction

import torch

from .spec import PyramidSpec


def angular_constant(orientations: int) -> float:
    """c = 4^n (n!)^2 / (K (2n)!), the normaliser with sum_b c cos^(2n)(theta - pi b/K) = 1."""
    n = orientations - 1
    return float(Fraction(4**n * math.factorial(n) ** 2, orientations * math.factorial(2 * n)))


def band_gain(spec: PyramidSpec) -> float:
    """Scalar factor of the band masks: sqrt(c) (real) or 2 sqrt(c) / sqrt(2) (complex, tight).

    The tight transform is always computed; ``tight_frame=False`` rescales outside the kernels.
    """
    root = math.sqrt(angular_constant(spec.orientations))
    return root * math.sqrt(2.0) if spec.is_complex else root


def bin_frequencies(d: int, n_full: int, device=None) -> torch.Tensor:
    """Normalised frequencies u, float64 (d,), of a level's d DFT bins in unshifted order."""
    j = torch.arange(d, dtype=torch.float64, device=device)
    k = torch.where(j < (d + 1) // 2, j, j - d)
    return k / (n_full / 2.0)


def crop_index(d: int, d_next: int, device=None) -> torch.Tensor:
    """Indices (int64, (d_next,)) of the bins a level of size d keeps for the next level.

    The kept bins are k = -floor(d'/2) .. ceil(d'/2) - 1, i.e. exactly the bins of a
    d'-point DFT, so output bin j of the crop reads input bin k mod d.
    """
    j = torch.arange(d_next, dtype=torch.int64, device=device)
    k = torch.where(j < (d_next + 1) // 2, j, j - d_next)
    return torch.remainder(k, d)


def _grid(size: tuple[int, int], full: tuple[int, int], device):
    uy = bin_frequencies(size[0], full[0], device)[:, None]
    ux = bin_frequencies(size[1], full[1], device)[None, :]
    return ux, uy


def _log2_radius(ux: torch.Tensor, uy: torch.Tensor) -> torch.Tensor:
    return torch.log2(torch.sqrt(ux * ux + uy * uy))  # -inf at DC, which the clip maps to Lo = 1


def radial_high(x: torch.Tensor, twidth: float) -> torch.Tensor:
    """Hi(x) = cos(pi/2 clip(x/tw, -1, 0)), exactly 0 for x <= -tw and 1 for x >= 0."""
    t = torch.clamp(x / twidth, -1.0, 0.0)
    return torch.where(t <= -1.0, torch.zeros_like(t), torch.cos(0.5 * math.pi * t))


def radial_low(x: torch.Tensor, twidth: float) -> torch.Tensor:
    """Lo(x) = sqrt(1 - Hi(x)^2) = sin(-pi/2 clip(x/tw, -1, 0)), so Lo^2 + Hi^2 = 1."""
    t = torch.clamp(x / twidth, -1.0, 0.0)
    return torch.sin(-0.5 * math.pi * t)


def residual_masks(size: tuple[int, int], twidth: float, device=None, scales_per_octave=1):
    """(hi0, lo0), float64 (H, W): the first split into high-pass residual and low-pass
    (transition width twidth / scales_per_octave octaves below the image's Nyquist)."""
    ux, uy = _grid(size, size, device)
    lr = _log2_radius(ux, uy)
    return radial_high(lr, twidth / scales_per_octave), radial_low(lr, twidth / scales_per_octave)


def lowpass_mask(
    level: int,
    size_next: tuple[int, int],
    full: tuple[int, int],
    twidth: float,
    device=None,
    scales_per_octave: int = 1,
) -> torch.Tensor:
    """Lo_n(log2 r + (level + 1)/n), float64 (H_{l+1}, W_{l+1}), on the cropped grid of the
    next level (level -1: lo0)."""
    ux, uy = _grid(size_next, full, device)
    n = scales_per_octave
    if n == 1:  # as the octave pyramid always computed it (bitwise)
        return radial_low(_log2_radius(ux, uy) + level + 1, twidth)
    return radial_low(_log2_radius(ux, uy) + (level + 1) / n, twidth / n)


def band_masks(
    level: int,
    size: tuple[int, int],
    full: tuple[int, int],
    spec: PyramidSpec,
    device=None,
    angles: torch.Tensor | None = None,
) -> torch.Tensor:
    """Band masks of a level, complex128 (K, H_l, W_l): :func:`band_masks_real` times (-i)^n."""
    real = band_masks_real(level, size, full, spec, device, angles)
    re_factor, im_factor = minus_i_power(spec.order)
    return torch.complex(real * re_factor, real * im_factor)


def band_masks_real(
    level: int,
    size: tuple[int, int],
    full: tuple[int, int],
    spec: PyramidSpec,
    device=None,
    angles: torch.Tensor | None = None,
) -> torch.Tensor:
    """Real factor of the band masks, float64 (K, H_l, W_l), including the tight scale:

    gain * Hi_s(log2 r + (level + 1)/s) * cos^n(theta - pi b/K) (s scales per octave, Hi_s of
    width twidth / s), times [cos(theta - pi b/K) > 0]
    for a complex pyramid. ``angles`` (float64 (A,)) replaces the K angles pi b/K: the masks
    of the same order steered to other orientations, (A, H_l, W_l).
    """
    ux, uy = _grid(size, full, device)
    r = torch.sqrt(ux * ux + uy * uy)
    s = spec.scales_per_octave
    if s == 1:
        radial = radial_high(torch.log2(r) + level + 1, spec.twidth)
    else:
        radial = radial_high(torch.log2(r) + (level + 1) / s, spec.twidth / s)
    safe_r = torch.where(r > 0, r, torch.ones_like(r))
    k = spec.orientations
    if angles is None:
        angles = torch.arange(k, dtype=torch.float64, device=device) * (math.pi / k)
    cos_delta = ux * torch.cos(angles)[:, None, None] + uy * torch.sin(angles)[:, None, None]
    cos_delta = torch.where(r > 0, cos_delta / safe_r, torch.zeros_like(cos_delta))
    angular = cos_delta**spec.order
    if spec.is_complex:
        angular = torch.where(cos_delta > 0, angular, torch.zeros_like(angular))
    return band_gain(spec) * radial * angular


def minus_i_power(n: int) -> tuple[float, float]:
    """(-i)^n as exact (real, imag) parts."""
    return ((1.0, 0.0), (0.0, -1.0), (-1.0, 0.0), (0.0, 1.0))[n % 4]
