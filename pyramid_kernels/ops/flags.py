"""The C++ kernels' compile flags, one list for setup.py (the install's build) and native.py
(the first-use build). Imports nothing of the package or of torch: setup.py loads this file
by its path.

``-fno-trapping-math`` lets the compiler turn the float selects of the kernels' polynomial
atan2 and sincos into blends: without it, GCC vectorises the magnification chain only where
AVX-512 masks can hide the unselected side's floating-point exceptions, and on AVX2
(x86-64-v3) the loop stays scalar (tests/ops/test_vectorization.py). No result changes: it
allows no reassociation, only evaluating both sides of a select.
"""

from __future__ import annotations

import os
import subprocess

MARCH = "PYRAMID_KERNELS_MARCH"  # e.g. x86-64-v3, skylake-avx512, native
PORTABLE = "PYRAMID_KERNELS_PORTABLE"  # "1": no -march (the compiler's baseline x86-64)


def march() -> str | None:
    """The -march target: ``$PYRAMID_KERNELS_MARCH``; else none with
    ``PYRAMID_KERNELS_PORTABLE=1`` (a wheel for other machines); else "native" when the
    compiler takes it (the kernels compiled on the machine that runs them)."""
    if os.environ.get(MARCH):
        return os.environ[MARCH]
    if os.environ.get(PORTABLE) == "1":
        return None
    probe = [os.environ.get("CXX", "c++"), "-march=native", "-x", "c++", "-E", os.devnull]
    try:
        return "native" if subprocess.run(probe, capture_output=True).returncode == 0 else None
    except OSError:
        return None


def compile_flags(target: str | None) -> list[str]:
    """The C++ flags for a -march ``target`` (None: the compiler's default)."""
    arch = [f"-march={target}"] if target else []
    return ["-O3", *arch, "-fno-trapping-math", "-fopenmp", "-std=c++17"]
