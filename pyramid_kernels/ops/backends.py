"""Which kernel backends exist, why a missing one is missing, how "auto" resolves, and the
kernels of a backend: each op family (``transform/``, ``phase/``, ``magnify/``) holds its torch
reference (``reference.py``), C++ binding (``cpp.py`` and its .cpp) and Triton kernels
(``triton.py``); :func:`backend_kernels` gathers one backend's from every family.

Import the Triton kernels only after deciding on TRITON_INTERPRET (tests set it to run on CPU).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Protocol

import torch
from torch import Tensor

if TYPE_CHECKING:
    from ..core.spec import PyramidSpec

BACKENDS = ("auto", "torch", "cpp", "triton")


def _cpp_import_error() -> str | None:
    """Why the C++ ops cannot be loaded, or None (kernels/native.py: the built extension, else
    compiled on first use; tried once per process)."""
    from .native import load_error

    return load_error()


@lru_cache(maxsize=1)
def _triton_installed() -> bool:
    return importlib.util.find_spec("triton") is not None


def _cpp_reason(device_type: str) -> str | None:
    if device_type != "cpu":
        return f"the C++ kernels run on CPU tensors, not {device_type}"
    error = _cpp_import_error()
    if error is not None:
        return (
            f"the C++ kernels cannot be loaded: {error}; install a C++ compiler, or install "
            "with `pip install --no-build-isolation .` after installing torch"
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
    """Which concrete backends can run on a device type, and why not.

    Parameters
    ----------
    device_type : str
        "cpu" or "cuda".

    Returns
    -------
    dict of str to str or None
        Each backend mapped to None when it can run, else the reason it cannot.
    """
    return {"torch": None, "cpp": _cpp_reason(device_type), "triton": _triton_reason(device_type)}


def constant_under_compile(fn):
    """``torch.compiler.assume_constant_result(fn)`` without importing torch._dynamo (about
    1.2 s) when the package is imported: the same mark on ``fn``, which dynamo reads when it
    traces (tests/ops/test_backends.py checks that the two agree)."""
    fn._dynamo_marked_constant = True
    return fn


@constant_under_compile
def resolve_backend(backend: str, device_type: str) -> str:
    """The concrete backend for a request on a device; raises if it cannot run there.

    "auto" is Triton on CUDA, C++ on CPU when built, else the torch reference. A constant
    per process (cached: every op call resolves its backend): torch.compile records its
    result instead of tracing the availability probes.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    return _resolve(backend, device_type)


@lru_cache(maxsize=64)
def _resolve(backend: str, device_type: str) -> str:
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
    """What a kernel backend provides (gathered by :func:`backend_kernels` from the op
    families' ``reference.py``, ``cpp.py`` or ``triton.py``). N is the flattened batch, (H, W)
    the image size, (H_l, W_l) the size of level l (l = 0 .. L-1 bands, l = L the low-pass);
    spectra are unshifted DFTs, complex64 for float32 data and complex128 for float64. A "half"
    is an rfft2 half spectrum (..., h, w//2+1) of a real signal. Every fast backend is tested
    against the reference.

    The two spectral stages of the transform (``pipeline`` wraps them in unnormalised FFTs;
    ``factors`` = (a_hp, a_0, ..., a_{L-1}, a_lp) from :func:`pipeline.spectral_factors`
    multiply the respective outputs, folding every normalisation into the stage):

    - ``analysis(half (N, H, W//2+1), (H, W), spec, factors) -> (hp_half (N, H, W//2+1),
      [band_l (N, K, H_l, W_l), or its half for a real pyramid], lp_half (N, H_L, W_L//2+1))``:
      the image spectrum split into the high-pass residual, every band of every level, and the
      low-pass residual (formulas in :mod:`pyramid_kernels.ops.transform.levels`).
    - ``synthesis(hp_half, bands, lp_half, (H, W), spec, factors, real_bands) -> half``: its
      adjoint; ``real_bands`` says the band spectra are halves of real bands (a real pyramid,
      or synthesis="real"). A level's entry may be None: its bands count as zero and are not
      read (a partial collapse).

    Phase ops (complex c of any shape, real fields of c's shape and real dtype):

    - ``phase_rotate(c, eta, delta) -> c * exp(eta + i delta)``.
    - ``phase_extrapolate(c, g_eta, g_delta, s (T,)) -> (T, *c.shape)``, frame k being
      c * exp(-s_k (g_eta + i g_delta)).

    Magnification (``ops/magnify/``):

    - ``magnify_iir(c (T, N), r (N), state (2, N), filter, difference, alpha, attenuate,
      out=None) -> out (T, N)``: per coefficient, over the frames in order, the phase
      difference to r, one step of a causal band-pass (``filter`` (b0, b1, b2, a1, a2), or
      (r_hi, r_lo) with ``difference``; its ``state`` updated in place) and the rotation of c by
      alpha times the filtered phase (with ``attenuate``: (1 + alpha) filtered - difference).

    ``SYNTHESIS_CHUNK_BYTES``: None, or the level-0 band-spectrum bytes per chunk of images
    that :func:`pyramid_kernels.ops.transform.pipeline.synthesize` collapses at a time
    (cache-sized chunks).
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

    def phase_rotate(self, coeffs: Tensor, log_amplitude: Tensor, phase: Tensor) -> Tensor: ...

    def phase_extrapolate(
        self, coeffs: Tensor, grad_log_amplitude: Tensor, grad_phase: Tensor, scales: Tensor
    ) -> Tensor: ...

    def magnify_iir(
        self,
        coeffs: Tensor,
        reference: Tensor,
        state: Tensor,
        filter: list[float],
        difference: bool,
        alpha: float,
        attenuate: bool,
        out: Tensor | None = None,
    ) -> Tensor: ...


@dataclass(frozen=True)
class Kernels:
    """One backend's kernels, one field per :class:`KernelBackend` member."""

    name: str
    SYNTHESIS_CHUNK_BYTES: int | None
    analysis: Callable
    synthesis: Callable
    phase_rotate: Callable
    phase_extrapolate: Callable
    magnify_iir: Callable


@cache
def backend_kernels(backend: str) -> KernelBackend:
    """The kernels of a concrete backend ("torch", "cpp" or "triton"), from every op family."""
    if backend == "torch":
        from .magnify import reference as magnify
        from .phase import reference as phase
        from .transform import reference as transform
    elif backend == "cpp":
        from .magnify import cpp as magnify
        from .phase import cpp as phase
        from .transform import cpp as transform
    elif backend == "triton":
        from .magnify import triton as magnify
        from .phase import triton as phase
        from .transform import triton as transform
    else:
        raise ValueError(f"backend={backend!r} has no kernels in this version")
    return Kernels(
        backend,
        transform.SYNTHESIS_CHUNK_BYTES,
        transform.analysis,
        transform.synthesis,
        phase.phase_rotate,
        phase.phase_extrapolate,
        magnify.magnify_iir,
    )


def op_kernels(backend: str, device: torch.device) -> KernelBackend:
    """The kernels of ``backend`` for tensors on ``device``; raises ValueError naming the
    backend when it cannot run there."""
    if not isinstance(backend, str):
        raise TypeError(f"backend must be a str, got {type(backend).__name__}")
    return backend_kernels(resolve_backend(backend, device.type))
