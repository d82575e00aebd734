"""Videos whose motion is known exactly, and a displacement estimator independent of the
pyramid: what the magnification is tested and evaluated against.

A sub-pixel translation is exact in the Fourier domain (periodic boundaries, like the
pyramid): F(k) exp(-2 pi i k.d / N). The estimator fits the DFT phase slope of the
cross-power spectrum of a frame and a reference by weighted least squares over an annulus of
spatial frequencies.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def fourier_shift(image: Tensor, dx: Tensor, dy: Tensor | float = 0.0) -> Tensor:
    """Images (C, H, W) shifted by (dx, dy) pixels (periodic), one frame per shift.

    Parameters
    ----------
    image : Tensor
        (C, H, W) real.
    dx, dy : Tensor or float
        (T,) shifts in pixels (or scalars), positive to the right and down.

    Returns
    -------
    Tensor
        (T, C, H, W) in float64.
    """
    h, w = image.shape[-2:]
    dx = torch.as_tensor(dx, dtype=torch.float64).reshape(-1, 1, 1, 1)
    dy = torch.as_tensor(dy, dtype=torch.float64).reshape(-1, 1, 1, 1)
    ky = torch.fft.fftfreq(h, dtype=torch.float64)[:, None]
    kx = torch.fft.fftfreq(w, dtype=torch.float64)[None, :]
    spectrum = torch.fft.fft2(image.double())
    return torch.fft.ifft2(spectrum * torch.exp(-2j * math.pi * (kx * dx + ky * dy))).real


def oscillation(amplitude: float, frequency: float, fps: float, frames: int) -> Tensor:
    """A sinusoidal displacement sampled at the frames' times.

    Parameters
    ----------
    amplitude : float
        A, pixels.
    frequency : float
        f, Hz.
    fps : float
        Frame rate.
    frames : int
        Number of frames T.

    Returns
    -------
    Tensor
        (T,) float64, A sin(2 pi f t) at t = 0, 1/fps, ...
    """
    t = torch.arange(frames, dtype=torch.float64) / fps
    return amplitude * torch.sin(2 * math.pi * frequency * t)


def two_motions(image: Tensor, first: Tensor, second: Tensor, split: float = 0.5) -> Tensor:
    """A clip whose left and right parts move horizontally by two known displacements.

    The parts are joined by a smooth vertical seam.

    Parameters
    ----------
    image : Tensor
        (C, H, W).
    first, second : Tensor
        (T,) displacements in pixels of the left and the right part.
    split : float
        Where the seam lies, as a fraction of the width.

    Returns
    -------
    Tensor
        (T, C, H, W) float64.
    """
    w = image.shape[-1]
    x = torch.arange(w, dtype=torch.float64)
    mask = torch.sigmoid((split * w - x) / (0.02 * w))  # 1 on the left
    return mask * fourier_shift(image, first) + (1 - mask) * fourier_shift(image, second)


def displacement(
    frames: Tensor,
    reference: Tensor,
    band: tuple[float, float] = (0.06, 0.16),
    coarse: tuple[tuple[float, float], ...] = ((0.02, 0.035), (0.035, 0.06)),
) -> Tensor:
    """Global sub-pixel displacement of each frame from a reference: a weighted least-squares
    fit of the cross-spectrum's phase slopes, coarse to fine.

    The phase 2 pi k d of a frequency k wraps once |k d| > 1/2, so a fit over ``band`` alone
    is exact only up to 1 / (2 f) pixels, f its upper frequency (about 3 px). Each annulus of
    ``coarse`` (low frequencies first) is fitted after removing the displacement found so far,
    so every fit sees small residual phases: displacements up to 1 / (2 f) pixels of the first
    annulus (about 14 px) are measured with the accuracy of ``band``.

    Parameters
    ----------
    frames : Tensor
        (T, H, W) real.
    reference : Tensor
        (H, W) real.
    band : (float, float)
        The annulus of spatial frequencies of the final fit, cycles per pixel: above the
        pyramid's low-pass residual (which magnification leaves in place).
    coarse : tuple of (float, float)
        Lower annuli fitted first, in order.

    Returns
    -------
    Tensor
        (T, 2) float64 (dx, dy) in pixels.
    """
    h, w = frames.shape[-2:]
    ky = torch.fft.fftfreq(h, dtype=torch.float64)[:, None].expand(h, w)
    kx = torch.fft.fftfreq(w, dtype=torch.float64)[None, :].expand(h, w)
    radius = (kx**2 + ky**2).sqrt()
    cross = torch.fft.fft2(frames.double()) * torch.fft.fft2(reference.double()).conj()
    found = cross.real.new_zeros((cross.shape[0], 2))
    for low, high in (*coarse, band):
        keep = (radius >= low) & (radius <= high)
        design = -2 * math.pi * torch.stack([kx[keep], ky[keep]], dim=-1)  # phase = design @ d
        turn = -(found @ design.T)
        shifted = cross[..., keep] * torch.polar(torch.ones_like(turn), turn)
        phase, weight = torch.angle(shifted), shifted.abs()
        rows = weight[..., None] * design  # (T, n, 2)
        normal = rows.transpose(-1, -2) @ rows
        rhs = rows.transpose(-1, -2) @ (weight * phase)[..., None]
        found = found + torch.linalg.solve(normal, rhs)[..., 0]
    return found
