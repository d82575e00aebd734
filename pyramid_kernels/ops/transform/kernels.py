"""The transform family's kernel contract and dispatch: what each backend's module provides
(``reference.py``, ``cpp.py``, ``triton.py``) and the function that picks one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import torch
from torch import Tensor

from ..backends import family_kernels

if TYPE_CHECKING:
    from ...core.spec import PyramidSpec


class TransformKernels(Protocol):
    """The two spectral stages of the transform, which ``pipeline`` wraps in unnormalised FFTs.

    N is the flattened batch, (H, W) the image size, (H_l, W_l) the size of level l (l = 0 ..
    L-1 bands, l = L the low-pass); spectra are unshifted DFTs, complex64 for float32 data and
    complex128 for float64. A "half" is an rfft2 half spectrum (..., h, w//2+1) of a real
    signal. ``factors`` = (a_hp, a_0, ..., a_{L-1}, a_lp) from
    :func:`pipeline.spectral_factors` multiply the respective outputs, folding every
    normalisation into the stage. Every fast backend is tested against the reference.

    - ``analysis(half (N, H, W//2+1), (H, W), spec, factors) -> (hp_half (N, H, W//2+1),
      [band_l (N, K, H_l, W_l), or its half for a real pyramid], lp_half (N, H_L, W_L//2+1))``:
      the image spectrum split into the high-pass residual, every band of every level, and the
      low-pass residual (formulas in :mod:`pyramid_kernels.ops.transform.levels`).
    - ``synthesis(hp_half, bands, lp_half, (H, W), spec, factors, real_bands) -> half``: its
      adjoint; ``real_bands`` says the band spectra are halves of real bands (a real pyramid,
      or synthesis="real"). A level's entry may be None: its bands count as zero and are not
      read (a partial collapse).
    - ``SYNTHESIS_CHUNK_BYTES``: None, or the level-0 band-spectrum bytes per chunk of images
      that :func:`pipeline.synthesize` collapses at a time (cache-sized chunks).
    """

    SYNTHESIS_CHUNK_BYTES: int | None

    def analysis(
        self, half: Tensor, size: tuple[int, int], spec: PyramidSpec, factors: tuple[float, ...]
    ) -> tuple[Tensor, list[Tensor], Tensor]: ...

    def synthesis(
        self,
        highpass: Tensor,
        bands: list[Tensor],
        lowpass: Tensor,
        size: tuple[int, int],
        spec: PyramidSpec,
        factors: tuple[float, ...],
        real_bands: bool,
    ) -> Tensor: ...


def transform_kernels(backend: str, device: torch.device) -> TransformKernels:
    """The transform kernels of ``backend`` for tensors on ``device`` (ValueError naming the
    backend when it cannot run there)."""
    return family_kernels(__package__, backend, device)
