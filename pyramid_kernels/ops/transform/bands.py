"""Band-level access for band editors (motion magnification), with a backend picked by name:
the tight complex bands of every level, and an image synthesised from edited bands with the
residuals kept as spectra (``pipeline.analyze_bands`` and ``pipeline.edit_bands``)."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

from ...core.spec import PyramidSpec
from . import pipeline
from .kernels import transform_kernels


def analyze_bands(x: Tensor, spec: PyramidSpec, backend: str = "auto") -> list[Tensor]:
    """The tight complex bands of every level of an image batch, residuals not returned.

    Parameters
    ----------
    x : Tensor
        (N, H, W) real, float32 or float64.
    spec : PyramidSpec
        The pyramid, its height resolved for (H, W).
    backend : {"auto", "torch", "cpp", "triton"}
        The kernels.

    Returns
    -------
    list of Tensor
        One (N, K, H_l, W_l) complex tensor per level, finest first.
    """
    return pipeline.analyze_bands(x, spec, transform_kernels(backend, x.device))


def edit_bands(
    x: Tensor, spec: PyramidSpec, edit: Callable[[int, Tensor], Tensor], backend: str = "auto"
) -> Tensor:
    """An image batch re-synthesised from edited bands, the residuals kept as spectra.

    Equal to collapse(build(x) with edited bands) for a tight, adjoint-synthesis complex spec
    (to rounding), without the residuals' inverse and forward FFTs.

    Parameters
    ----------
    x : Tensor
        (N, H, W) real, float32 or float64.
    spec : PyramidSpec
        The pyramid, its height resolved for (H, W).
    edit : callable
        ``edit(level, bands)`` -> the edited bands: (N, K, H_l, W_l) complex, a fresh tensor it
        may write over.
    backend : {"auto", "torch", "cpp", "triton"}
        The kernels.

    Returns
    -------
    Tensor
        (N, H, W), like ``x``.
    """
    return pipeline.edit_bands(x, spec, transform_kernels(backend, x.device), edit)
