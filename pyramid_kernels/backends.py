"""Which kernel backends exist, why a missing one is missing, and how "auto" resolves."""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol

from torch import Tensor

if TYPE_CHECKING:
    from .spec import PyramidSpec

BACKENDS = ("auto", "torch", "cpp", "triton")


@lru_cache(maxsize=1)
def _cpp_import_error() -> str | None:
    """Why ``pyramid_kernels._C`` does not import, or None (probed once per process)."""
    try:
        from . import _C  # noqa: F401
    except ImportError as error:
        return str(error)
    return None


@lru_cache(maxsize=1)
def _triton_installed() -> bool:
    return importlib.util.find_spec("triton") is not None


def _cpp_reason(device_type: str) -> str | None:
    if device_type != "cpu":
        return f"the C++ kernels run on CPU tensors, not {device_type}"
    error = _cpp_import_error()
    if error is not None:
        return (
            f"the C++ extension pyramid_kernels._C is not built ({error}); install with "
            "`pip install --no-build-isolation -e .` after installing torch"
        )
    return None


def _triton_reason(device_type: str) -> str | None:
    if not _triton_installed():
        return "triton is not installed (pip install triton)"
    if device_type == "cuda":
        return None
    if device_type == "cpu" and os.environ.get("TRITON_INTERPRET") == "1":
        return None  # the Triton interpreter runs the kernels on CPU tensors
    return (
        f"Triton kernels run on CUDA tensors, not {device_type}; for CPU tensors set "
        "TRITON_INTERPRET=1 before importing pyramid_kernels (slow, for testing)"
    )


def available_backends(device_type: str = "cpu") -> dict[str, str | None]:
    """Map each concrete backend to None when it can run on ``device_type``, else the reason."""
    return {"torch": None, "cpp": _cpp_reason(device_type), "triton": _triton_reason(device_type)}


def resolve_backend(backend: str, device_type: str) -> str:
    """The concrete backend for a request on a device; raises if it cannot run there.

    "auto" is Triton on CUDA, C++ on CPU when built, else the torch reference.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    reasons = available_backends(device_type)
    if backend == "auto":
        preferred = "triton" if device_type == "cuda" else "cpp"
        return preferred if reasons[preferred] is None else "torch"
    if reasons[backend] is not None:
        raise ValueError(
            f"backend={backend!r} is not available on {device_type}: {reasons[backend]}"
        )
    return backend


class KernelBackend(Protocol):
    """What a kernel backend module provides (``kernels/reference.py``, ``kernels/cpp.py``,
    ``kernels/triton/``). N is the flattened batch, (H, W) the image size, (H_l, W_l) the size
    of level l; spectra are unshifted DFTs, complex64 for float32 data and complex128 for
    float64. Every fast backend is tested against the reference.

    Spectral stages of the tight transform (the pipeline wraps them in FFTs):

    - ``residual_split(half (N, H, W//2+1), W, spec) -> (hp_half (N, H, W//2+1),
      low (N, H, W))``: the rfft2 half spectrum split into the high-pass residual's half
      spectrum and the full low-pass spectrum.
    - ``residual_merge(hp_half, low, spec) -> half``: its adjoint.
    - ``band_split(low (N, H_l, W_l), level, (H, W), spec) -> (bands (N, K, H_l, W_l),
      next (N, H_{l+1}, W_{l+1}))``: one level's K band spectra and the cropped next low-pass.
    - ``band_merge(bands, next, level, (H, W), spec) -> low``: its adjoint.

    Phase ops (complex c of any shape, real fields of c's shape and real dtype):

    - ``phase_rotate(c, eta, delta) -> c * exp(eta + i delta)``.
    - ``phase_extrapolate(c, g_eta, g_delta, s (T,)) -> (T, *c.shape)``, frame k being
      c * exp(-s_k (g_eta + i g_delta)).

    ``SYNTHESIS_CHUNK_BYTES``: None, or the level-0 band-spectrum bytes per chunk of images
    that :func:`pyramid_kernels.pipeline.synthesize` collapses at a time (cache-sized chunks).
    """

    SYNTHESIS_CHUNK_BYTES: int | None

    def residual_split(
        self, half: Tensor, width: int, spec: PyramidSpec
    ) -> tuple[Tensor, Tensor]: ...

    def residual_merge(self, highpass: Tensor, lowpass: Tensor, spec: PyramidSpec) -> Tensor: ...

    def band_split(
        self, lowpass: Tensor, level: int, full: tuple[int, int], spec: PyramidSpec
    ) -> tuple[Tensor, Tensor]: ...

    def band_merge(
        self,
        bands: Tensor,
        lowpass_next: Tensor,
        level: int,
        full: tuple[int, int],
        spec: PyramidSpec,
    ) -> Tensor: ...

    def phase_rotate(self, coeffs: Tensor, log_amplitude: Tensor, phase: Tensor) -> Tensor: ...

    def phase_extrapolate(
        self, coeffs: Tensor, grad_log_amplitude: Tensor, grad_phase: Tensor, scales: Tensor
    ) -> Tensor: ...


def backend_kernels(backend: str) -> KernelBackend:
    """The kernel module of a concrete backend ("torch", "cpp" or "triton")."""
    if backend == "torch":
        from .kernels import reference

        return reference
    if backend == "cpp":
        from .kernels import cpp

        return cpp
    if backend == "triton":
        from .kernels import triton

        return triton
    raise ValueError(f"backend={backend!r} has no kernels in this version")
