"""The C++ kernels' compile flags and the CPU features a build needs: one source for setup.py
(the install's build) and native.py (the first-use build and the check before loading the
installed one). Imports nothing of the package or of torch: setup.py loads this file by path.

``-fno-trapping-math`` lets the compiler turn the float selects of the kernels' polynomial
atan2 and sincos into blends: without it, GCC vectorises the magnification chain only where
AVX-512 masks can hide the unselected side's floating-point exceptions, and on AVX2
(x86-64-v3) the loop stays scalar (tests/ops/test_vectorization.py). No result changes: it
allows no reassociation, only evaluating both sides of a select. On x86,
``-mprefer-vector-width=512`` lets an AVX-512 build use its full registers (GCC otherwise
stays at 256 bits): the magnification chain runs 2x faster; AVX2 builds are unchanged.

Targets: ``native`` by default (the kernels compiled on the machine that runs them);
``$PYRAMID_KERNELS_MARCH`` for another; ``PYRAMID_KERNELS_PORTABLE=1`` for a build meant for
other machines (a wheel, a container or cluster image): x86-64-v3 (AVX2 + FMA, every x86 CPU
since 2013-2015) on x86, the compiler's default elsewhere. Whatever the target, the build
records the instruction-set extensions it assumed (``features``), and the package loads it
only on a CPU that has them all (native.py), so an image built on an AVX-512 machine falls
back, loudly, on an AVX2 one instead of dying of an illegal instruction.
"""

from __future__ import annotations

import os
import platform
import subprocess

MARCH = "PYRAMID_KERNELS_MARCH"  # e.g. x86-64-v3, skylake-avx512, native
PORTABLE = "PYRAMID_KERNELS_PORTABLE"  # "1": a build for other machines (x86-64-v3 on x86)
X86 = platform.machine().lower() in ("x86_64", "amd64", "i686", "x86")

# the compiler's instruction-set macros and /proc/cpuinfo's names for the same extensions: the
# ones a vectoriser may emit on its own (no AMX or others reachable only through intrinsics)
ISA_MACROS = {
    "__SSE4_2__": "sse4_2",
    "__AVX__": "avx",
    "__AVX2__": "avx2",
    "__FMA__": "fma",
    "__F16C__": "f16c",
    "__BMI2__": "bmi2",
    "__AVX512F__": "avx512f",
    "__AVX512CD__": "avx512cd",
    "__AVX512BW__": "avx512bw",
    "__AVX512DQ__": "avx512dq",
    "__AVX512VL__": "avx512vl",
    "__AVX512VBMI__": "avx512vbmi",
    "__AVX512VNNI__": "avx512_vnni",
    "__AVX512BF16__": "avx512_bf16",
    "__AVX512FP16__": "avx512_fp16",
}


def _compiler() -> str:
    return os.environ.get("CXX", "c++")


def march() -> str | None:
    """The -march target (see the module docstring); None: the compiler's default."""
    if os.environ.get(MARCH):
        return os.environ[MARCH]
    if os.environ.get(PORTABLE) == "1":
        return "x86-64-v3" if X86 else None
    probe = [_compiler(), "-march=native", "-x", "c++", "-E", os.devnull]
    try:
        return "native" if subprocess.run(probe, capture_output=True).returncode == 0 else None
    except OSError:
        return None


def compile_flags(target: str | None) -> list[str]:
    """The C++ flags for a -march ``target`` (None: the compiler's default)."""
    arch = [f"-march={target}"] if target else []
    wide = ["-mprefer-vector-width=512"] if X86 else []
    return ["-O3", *arch, *wide, "-fno-trapping-math", "-fopenmp", "-std=c++17"]


def features(target: str | None) -> list[str]:
    """The CPU extensions (cpuinfo names) a build for ``target`` may use, from the compiler's
    predefined macros; empty when the compiler cannot say (or off x86)."""
    if not X86:
        return []
    arch = [f"-march={target}"] if target else []
    probe = [_compiler(), *arch, "-dM", "-E", "-x", "c++", os.devnull]
    try:
        out = subprocess.run(probe, capture_output=True, text=True).stdout
    except OSError:
        return []
    defined = {line.split()[1] for line in out.splitlines() if line.startswith("#define ")}
    return sorted(name for macro, name in ISA_MACROS.items() if macro in defined)


def cpu_features() -> set[str] | None:
    """This CPU's extensions (/proc/cpuinfo's flags); None where that cannot be read."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


def missing_features(needed: list[str], have: set[str] | None) -> list[str]:
    """The extensions in ``needed`` that this CPU lacks (none when its flags are unknown)."""
    return [] if have is None else [f for f in needed if f not in have]
