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
    frames: Tensor, reference: Tensor, band: tuple[float, float] = (0.06, 0.16)
) -> Tensor:
    """Global sub-pixel displacement of each frame from a reference.

    Parameters
    ----------
    frames : Tensor
        (T, H, W) real.
    reference : Tensor
        (H, W) real.
    band : (float, float)
        The annulus of spatial frequencies fitted, cycles per pixel: above the pyramid's
        low-pass residual and low enough that the phase (2 pi k d) does not wrap.

    Returns
    -------
    Tensor
        (T, 2) float64 (dx, dy) in pixels.
    """
    h, w = frames.shape[-2:]
    ky = torch.fft.fftfreq(h, dtype=torch.float64)[:, None].expand(h, w)
    kx = torch.fft.fftfreq(w, dtype=torch.float64)[None, :].expand(h, w)
    radius = (kx**2 + ky**2).sqrt()
    keep = (radius >= band[0]) & (radius <= band[1])
    cross = torch.fft.fft2(frames.double()) * torch.fft.fft2(reference.double()).conj()
    phase, weight = torch.angle(cross)[..., keep], cross.abs()[..., keep]
    design = -2 * math.pi * torch.stack([kx[keep], ky[keep]], dim=-1)  # phase = design @ d
    rows = weight[..., None] * design  # (T, n, 2)
    normal = rows.transpose(-1, -2) @ rows
    rhs = rows.transpose(-1, -2) @ (weight * phase)[..., None]
    return torch.linalg.solve(normal, rhs)[..., 0]
