"""The linear Eulerian video magnification baseline (Wu et al. 2012), for comparison: every
pixel's intensity is band-passed in time and added back alpha times, x + alpha * B(x). (The
2012 method applies it per level of a Laplacian pyramid with per-level alpha limits; with one
alpha for all levels that reduces to this.) Noise in the band is amplified alpha times; the
phase-based method moves it instead."""

from __future__ import annotations

from torch import Tensor

from pyramid_kernels.magnifying.filters import IdealBandpass


def linear_magnify(video: Tensor, alpha: float, band: tuple[float, float], fps: float) -> Tensor:
    """video (T, C, H, W) -> x + alpha * ideal_bandpass_t(x), same shape."""
    return video + alpha * IdealBandpass(band, fps)(video)
