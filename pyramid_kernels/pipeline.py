"""The tight-frame transform as FFTs around the four spectral stages of a backend.

``analyze`` is the analysis operator A (ortho FFTs, complex bands scaled by 1/sqrt(2)) and
``synthesize`` its exact adjoint A^T for the real inner product; A^T A = I. Real images and
residuals use rfft2/irfft2; the residual stages expand and fold the Hermitian half spectrum.
All tensors are flattened to a single leading dim N.
"""

from __future__ import annotations

import torch
from torch.fft import fft2, ifft2, irfft2, rfft2

from .spec import PyramidSpec, level_sizes


def analyze(x: torch.Tensor, spec: PyramidSpec, kernels) -> list[torch.Tensor]:
    """x real (N, H, W) -> [highpass (N, H, W), band_l (N, K, H_l, W_l) ..., lowpass (N, H_L, W_L)].

    Bands are complex when ``spec.is_complex``; ``spec.height`` must be resolved.
    """
    full = tuple(x.shape[-2:])
    highpass, lowpass = kernels.residual_split(rfft2(x, norm="ortho"), full[1], spec)
    coeffs = [irfft2(highpass, s=full, norm="ortho")]
    for level in range(spec.height):
        bands, lowpass = kernels.band_split(lowpass, level, full, spec)
        coeffs.append(ifft2(bands, norm="ortho") if spec.is_complex else _real_inverse(bands))
    coeffs.append(_real_inverse(lowpass))
    return coeffs


def _real_inverse(spectrum: torch.Tensor) -> torch.Tensor:
    """Inverse DFT of a Hermitian spectrum (..., h, w): irfft2 of its non-negative half."""
    size = tuple(spectrum.shape[-2:])
    return irfft2(spectrum[..., : size[1] // 2 + 1], s=size, norm="ortho")


def synthesize(
    highpass: torch.Tensor,
    bands: list[torch.Tensor],
    lowpass: torch.Tensor,
    spec: PyramidSpec,
    kernels,
) -> torch.Tensor:
    """The adjoint of :func:`analyze`: coefficients (real or complex bands) -> real (N, H, W).

    A backend whose ``SYNTHESIS_CHUNK_BYTES`` is set (the C++ one) runs it on chunks of images whose
    level-0 band spectra take about that many bytes: every intermediate of a chunk (the FFTs of
    its coefficients, the merged spectra) stays in cache instead of streaming through memory.
    """
    n, size = highpass.shape[0], highpass.shape[-2:]
    budget = kernels.SYNTHESIS_CHUNK_BYTES
    complex_bytes = 2 * highpass.element_size()
    per_image = (bands[0].shape[1] if bands else 1) * size[0] * size[1] * complex_bytes
    chunk = n if budget is None else max(1, budget // per_image)
    if chunk >= n:
        return _synthesize(highpass, bands, lowpass, spec, kernels)
    parts = [
        _synthesize(
            highpass[i : i + chunk],
            [b[i : i + chunk] for b in bands],
            lowpass[i : i + chunk],
            spec,
            kernels,
        )
        for i in range(0, n, chunk)
    ]
    return torch.cat(parts)


def _synthesize(highpass, bands, lowpass, spec, kernels):
    full = tuple(highpass.shape[-2:])
    spectrum = fft2(lowpass, norm="ortho")
    for level in reversed(range(len(bands))):
        spectrum = kernels.band_merge(fft2(bands[level], norm="ortho"), spectrum, level, full, spec)
    spectrum = kernels.residual_merge(rfft2(highpass, norm="ortho"), spectrum, spec)
    return irfft2(spectrum, s=full, norm="ortho")


def amplitude_scales(spec: PyramidSpec, size: tuple[int, int]) -> list[float]:
    """Per-output factors f with coefficients = f * (tight coefficients): [hp, band_0.., lp].

    All ones for ``tight_frame=True``. Otherwise the pyrtools/plenoptic amplitudes: backward
    FFT normalisation gives sqrt(HW / (H_l W_l)) at level l (2^l for even sizes), and complex
    bands are not divided by sqrt(2).
    """
    if spec.tight_frame:
        return [1.0] * (spec.height + 2)
    sizes = level_sizes(size, spec.height)
    area = size[0] * size[1]
    level = [(area / (h * w)) ** 0.5 for h, w in sizes]
    complex_gain = 2.0**0.5 if spec.is_complex else 1.0
    return [1.0] + [level[i] * complex_gain for i in range(spec.height)] + [level[-1]]
