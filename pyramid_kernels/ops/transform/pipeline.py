"""The transform as unnormalised FFTs around a backend's two fused spectral stages.

``analyze`` is the analysis operator A of the tight frame (complex bands scaled by 1/sqrt(2))
times per-output amplitude scales, ``synthesize`` the adjoint A^T after the same kind of
scaling; A^T A = I. The FFTs run unnormalised (forward: norm="backward", inverse:
norm="forward"): every normalisation and amplitude factor is folded into the spectral stages
(:func:`spectral_factors`), so no pass over a spectrum only scales it. Real images, residuals
and real bands use rfft2/irfft2 and travel as half spectra (N, h, w//2+1). All tensors are
flattened to a single leading dim N.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch.fft import fft2, ifft2, irfft2, rfft2

from ...core.selection import CoefficientSelection
from ...core.spec import PyramidSpec
from ...core.validation import complex_dtype


def spectral_factors(
    spec: PyramidSpec, size: tuple[int, int], scales: Sequence[float]
) -> tuple[float, ...]:
    """The factors (a_hp, a_0, ..., a_{L-1}, a_lp) a backend applies to the masked spectra.

    ``scales`` (one per output, like :func:`amplitude_scales`) multiply the tight, orthonormal
    coefficients. An orthonormal DFT pair around a level of size (h, w) cut from an (H, W)
    image scales by 1 / sqrt(H W h w) overall, so a_l = scale_l / sqrt(H W h_l w_l).
    """
    area = size[0] * size[1]
    outputs = [size, *spec.level_sizes(size)]  # highpass, levels 0..L-1, lowpass
    return tuple(s / math.sqrt(area * h * w) for s, (h, w) in zip(scales, outputs, strict=True))


def amplitude_scales(spec: PyramidSpec, size: tuple[int, int]) -> list[float]:
    """Per-output factors f with coefficients = f * (tight coefficients): [hp, band_0.., lp].

    All ones for ``tight_frame=True``. Otherwise the pyrtools/plenoptic amplitudes: backward
    FFT normalisation gives sqrt(HW / (H_l W_l)) at level l (2^l for even sizes), and complex
    bands are not divided by sqrt(2). Undecimated levels keep the image size; their pyrtools
    amplitude is 2^l at every size (plenoptic doubles the low-pass per level).
    """
    if spec.tight_frame:
        return [1.0] * (spec.levels + 2)
    area = size[0] * size[1]
    if spec.downsample:
        level = [(area / (h * w)) ** 0.5 for h, w in spec.level_sizes(size)]
    else:
        level = [2.0 ** (i / spec.scales_per_octave) for i in range(spec.levels + 1)]
    complex_gain = 2.0**0.5 if spec.is_complex else 1.0
    return [1.0] + [level[i] * complex_gain for i in range(spec.levels)] + [level[-1]]


def analyze(
    x: torch.Tensor, spec: PyramidSpec, kernels, scales: Sequence[float]
) -> list[torch.Tensor]:
    """x real (N, H, W) -> [highpass (N, H, W), band_l (N, K, H_l, W_l) ..., lowpass (N, H_L,
    W_L)], each output times its entry of ``scales``.

    Bands are complex when ``spec.is_complex``; ``spec.height`` must be resolved.
    """
    size = tuple(x.shape[-2:])
    factors = spectral_factors(spec, size, scales)
    hp, bands, lp = kernels.analysis(rfft2(x), size, spec, factors)
    sizes = spec.level_sizes(size)
    if spec.is_complex:
        bands = [ifft2(b, norm="forward") for b in bands]
    else:
        bands = [irfft2(b, s=s, norm="forward") for b, s in zip(bands, sizes[:-1], strict=True)]
    return [irfft2(hp, s=size, norm="forward"), *bands, irfft2(lp, s=sizes[-1], norm="forward")]


def synthesize(
    highpass: torch.Tensor,
    bands: list[torch.Tensor],
    lowpass: torch.Tensor,
    spec: PyramidSpec,
    kernels,
    scales: Sequence[float],
    selection: CoefficientSelection | None = None,
) -> torch.Tensor:
    """The adjoint of :func:`analyze` applied to the coefficients times ``scales``:
    (real or complex bands) -> real (N, H, W). With a ``selection``, only the selected
    coefficients are read and transformed; the others count as zero (their spectra are zeros).

    A backend whose ``SYNTHESIS_CHUNK_BYTES`` is set (the C++ one) runs it on chunks of images
    whose level-0 band spectra take about that many bytes: every intermediate of a chunk (the
    FFTs of its coefficients, the merged spectra) stays in cache instead of streaming through
    memory.
    """
    n, size = highpass.shape[0], highpass.shape[-2:]
    factors = spectral_factors(spec, tuple(size), scales)
    budget = kernels.SYNTHESIS_CHUNK_BYTES
    complex_bytes = 2 * highpass.element_size()
    per_image = (bands[0].shape[1] if bands else 1) * size[0] * size[1] * complex_bytes
    chunk = n if budget is None else max(1, budget // per_image)
    if chunk >= n:
        return _synthesize(highpass, bands, lowpass, spec, kernels, factors, selection)
    parts = [
        _synthesize(
            highpass[i : i + chunk],
            [b[i : i + chunk] for b in bands],
            lowpass[i : i + chunk],
            spec,
            kernels,
            factors,
            selection,
        )
        for i in range(0, n, chunk)
    ]
    return torch.cat(parts)


def _synthesize(highpass, bands, lowpass, spec, kernels, factors, selection=None):
    size = tuple(highpass.shape[-2:])
    # with no levels, what the spec's bands would be (no band is read; one kernel variant)
    real_bands = not bands[0].is_complex() if bands else not spec.is_complex
    if selection is None:
        spectra = [rfft2(b) if real_bands else fft2(b) for b in bands]
        hp, lp = rfft2(highpass), rfft2(lowpass)
    else:
        spectra = [_band_spectrum(b, i, selection, real_bands) for i, b in enumerate(bands)]
        hp = rfft2(highpass) if selection.highpass else _zero_half(highpass)
        lp = rfft2(lowpass) if selection.lowpass else _zero_half(lowpass)
    half = kernels.synthesis(hp, spectra, lp, size, spec, factors, real_bands)
    return irfft2(half, s=size, norm="forward")


def _edit_factors(spec: PyramidSpec, size: tuple[int, int]) -> tuple[tuple, tuple]:
    """(synthesis factors, analysis factors) of :func:`edit_bands`: tight bands, and residuals
    that stay spectra (their skipped inverse and forward FFTs' gain h * w folded in)."""
    sizes = spec.level_sizes(size)
    factors = spectral_factors(spec, size, [1.0] * (spec.levels + 2))
    gains = (size[0] * size[1], sizes[-1][0] * sizes[-1][1])
    return factors, (factors[0] * gains[0], *factors[1:-1], factors[-1] * gains[1])


def analyze_bands(x: torch.Tensor, spec: PyramidSpec, kernels) -> list[torch.Tensor]:
    """x real (N, H, W) -> the tight complex bands (N, K, H_l, W_l) of each level that
    :func:`edit_bands` hands its ``edit`` (residuals not returned). ``spec.height`` must be
    resolved."""
    size = tuple(x.shape[-2:])
    _, scaled = _edit_factors(spec, size)
    _, bands, _ = kernels.analysis(rfft2(x), size, spec, scaled)
    return [ifft2(b, norm="forward") for b in bands]


def edit_bands(x: torch.Tensor, spec: PyramidSpec, kernels, edit) -> torch.Tensor:
    """x real (N, H, W) -> the image synthesised from ``edit(level, bands)`` of the tight
    complex bands (N, K, H_l, W_l) of each level, the residuals unchanged. ``edit`` may write
    over the bands it is given (a fresh tensor) and return them.

    Equal to collapse(build(x) with edited bands) for a tight, adjoint-synthesis complex spec
    (to rounding), but the residuals stay spectra: their inverse and forward FFTs (four real
    FFTs, two of them full-size) are skipped. ``spec.height`` must be resolved.
    """
    size = tuple(x.shape[-2:])
    factors, scaled = _edit_factors(spec, size)
    hp, bands, lp = kernels.analysis(rfft2(x), size, spec, scaled)
    # the C++ stages hand out reused buffers that the synthesis writes again: keep copies
    hp, lp = hp.clone(), lp.clone(memory_format=torch.contiguous_format)
    spectra = [fft2(edit(level, ifft2(b, norm="forward"))) for level, b in enumerate(bands)]
    half = kernels.synthesis(hp, spectra, lp, size, spec, factors, False)
    return irfft2(half, s=size, norm="forward")


def _zero_half(x: torch.Tensor) -> torch.Tensor:
    """The rfft2 half spectrum of zeros shaped like real x (..., h, w)."""
    shape = (*x.shape[:-1], x.shape[-1] // 2 + 1)
    return torch.zeros(shape, dtype=complex_dtype(x.dtype), device=x.device)


def _band_spectrum(b, level, selection, real_bands):
    """A level's band spectra (N, K, h, w or h, w//2+1) under a selection: None for an
    unselected level (the backends pass its low-pass through), else the FFT of the selected
    bands with zeros for the others."""
    transform = rfft2 if real_bands else fft2
    if level not in selection.levels:
        return None
    if selection.bands is None:
        return transform(b)
    shape = (*b.shape[:-1], b.shape[-1] // 2 + 1) if real_bands else b.shape
    zeros = torch.zeros(shape, dtype=complex_dtype(b.real.dtype), device=b.device)
    keep = torch.tensor(selection.bands, device=b.device)
    return zeros.index_copy(1, keep, transform(b.index_select(1, keep)))
