"""The C++ kernels' hot loops vectorise for AVX2 (x86-64-v3) as well as for this machine.

Each op family's source is compiled with the build's flags (ops/flags.py) twice, for
x86-64-v3 and for -march=native, with GCC's vectorisation report. Every loop marked
``#pragma omp simd`` must be reported vectorised for both, and no loop may vectorise for the
machine only: on an AVX-512 machine that catches a loop that needs AVX-512 masks (the
magnification chain did, until -fno-trapping-math), which would leave AVX2 users 4x slower.
The float32 magnification chain itself runs on explicit vectors (csrc/magnify/chain_vector.h)
where GCC compiles for AVX2 + FMA; its marked loops then take each thread's remainder, and a
test checks that the explicit path is compiled in for both targets.
"""

from __future__ import annotations

import platform
import re
import shutil
import subprocess
import sysconfig
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pyramid_kernels.ops.flags import compile_flags

SOURCES = sorted((Path(__file__).resolve().parents[2] / "csrc").glob("*/*.cpp"))  # the families'
COMPILER = shutil.which("g++")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        COMPILER is None or platform.machine() not in ("x86_64", "AMD64"),
        reason="GCC's vectorisation report on x86-64 (this machine has no g++ or is not x86)",
    ),
]


def compile_command(source: Path, target: str) -> list[str]:
    """g++ with the build's flags for -march=``target`` and torch's include paths."""
    from torch.utils.cpp_extension import include_paths

    includes = [f"-I{p}" for p in [*include_paths(), sysconfig.get_paths()["include"]]]
    return [COMPILER, *compile_flags(target), "-fPIC", *includes, str(source)]


def vectorised_lines(source: Path, target: str) -> set[int]:
    """Lines of ``source`` whose loops GCC reports vectorised for -march=``target``."""
    command = [*compile_command(source, target), "-c"]
    command += ["-o", "/dev/null", "-fopt-info-vec-optimized"]
    report = subprocess.run(command, capture_output=True, text=True, check=True).stderr
    pattern = rf"{re.escape(source.name)}:(\d+):\d+: optimized: loop vectorized"
    return {int(line) for line in re.findall(pattern, report)}


def simd_loops(source: Path) -> list[int]:
    """Lines of the loops marked ``#pragma omp simd`` (the line after the pragma)."""
    lines = source.read_text().splitlines()
    return [i + 2 for i, text in enumerate(lines) if text.strip() == "#pragma omp simd"]


@pytest.fixture(scope="module")
def reports() -> dict[tuple[str, str], set[int]]:
    cases = [(s, t) for s in SOURCES for t in ("x86-64-v3", "native")]
    with ThreadPoolExecutor(2) as pool:
        found = list(pool.map(lambda case: vectorised_lines(*case), cases))
    return {(s.name, t): lines for (s, t), lines in zip(cases, found, strict=True)}


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.name)
def test_marked_loops_vectorise_for_avx2_and_this_machine(source, reports):
    marked = simd_loops(source)
    for target in ("x86-64-v3", "native"):
        done = reports[source.name, target]
        # GCC names a loop by its header or by the first statement of its body
        missed = [line for line in marked if not {line, line + 1} & done]
        assert not missed, f"{source.name}: loops at lines {missed} not vectorised for {target}"


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.name)
def test_no_loop_vectorises_only_with_this_machines_extensions(source, reports):
    only_native = reports[source.name, "native"] - reports[source.name, "x86-64-v3"]
    assert not only_native, f"{source.name}: lines {sorted(only_native)} vectorise only natively"


def test_the_magnification_chain_is_marked():
    """The test watches the loops that matter: both chains of csrc/magnify/magnify.cpp."""
    magnify = next(s for s in SOURCES if s.name == "magnify.cpp")
    assert len(simd_loops(magnify)) == 2


@pytest.mark.parametrize("target", ["x86-64-v3", "native"])
def test_the_float_chain_runs_on_explicit_vectors(target):
    """chain_vector.h's path is compiled in (it defines PK_VECTOR_CHAIN) for AVX2 and for this
    machine, not only for AVX-512."""
    magnify = next(s for s in SOURCES if s.name == "magnify.cpp")
    command = [*compile_command(magnify, target), "-dM", "-E", "-o", "-"]
    macros = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    assert "#define PK_VECTOR_CHAIN 1" in macros.splitlines()
