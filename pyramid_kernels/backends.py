"""Which kernel backends exist, why a missing one is missing, and how "auto" resolves."""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from types import ModuleType

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


def spectral_kernels(backend: str) -> ModuleType:
    """The module implementing the four spectral stages for a concrete backend."""
    if backend == "torch":
        from . import reference

        return reference
    if backend == "cpp":
        from . import cpp_spectral

        return cpp_spectral
    if backend == "triton":
        from . import triton_spectral

        return triton_spectral
    raise ValueError(f"backend={backend!r} has no spectral kernels in this version")


def phase_kernels(backend: str) -> ModuleType:
    """The module implementing ``phase_rotate`` / ``phase_extrapolate`` for a concrete backend."""
    if backend == "triton":
        from . import triton_phase

        return triton_phase
    return spectral_kernels(backend)
