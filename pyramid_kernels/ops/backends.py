"""Which kernel backends exist, why a missing one is missing, how "auto" resolves, and which
module of an op family holds a backend's kernels. Imports no op family: each family's
``kernels.py`` (its contract and dispatch) calls :func:`family_kernels` with its own package.

A backend is one row of :data:`IMPLEMENTATIONS` (the module name it has in every family
folder) plus its availability reason in :func:`available_backends`.

Import the Triton kernels only after deciding on TRITON_INTERPRET (tests set it to run on CPU).
"""

from __future__ import annotations

import importlib.util
import os
from functools import cache, lru_cache
from types import ModuleType

import torch

BACKENDS = ("auto", "torch", "cpp", "triton")
# the module holding a concrete backend's kernels in every op family's folder
IMPLEMENTATIONS = {"torch": "reference", "cpp": "cpp", "triton": "triton"}


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


@cache
def _family_module(family: str, backend: str) -> ModuleType:
    name = f"{family}.{IMPLEMENTATIONS[backend]}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name != name:
            raise
        raise ValueError(
            f"backend={backend!r} has no kernels for the {family.rpartition('.')[2]} ops (no "
            f"{IMPLEMENTATIONS[backend]}.py in its folder); pick another backend"
        ) from None


def family_kernels(family: str, backend: str, device: torch.device) -> ModuleType:
    """The kernels of the op family ``family`` (its package name, e.g.
    ``pyramid_kernels.ops.phase``) for ``backend`` on ``device``: the family's module of the
    concrete backend, which provides the family's contract (its ``kernels.py`` Protocol).
    Raises ValueError naming the backend when it cannot run there."""
    if not isinstance(backend, str):
        raise TypeError(f"backend must be a str, got {type(backend).__name__}")
    return _family_module(family, resolve_backend(backend, device.type))
