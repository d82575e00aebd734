"""The float32 magnification chain on explicit vectors (csrc/magnify/chain_vector.h) gives the
bits of magnify.cpp's loops, on this machine's build and on an AVX2 (x86-64-v3) one built
here, and its polynomial atan2 and sincos keep the error bound their sources state. The checks
themselves are in chain_checks.py (the AVX2 build runs them in a child process)."""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import chain_checks
import pytest
import torch
from conftest import require

from pyramid_kernels.ops.flags import compile_flags

ROOT = Path(__file__).resolve().parents[2]

# a child process: the chain's sources compiled for one -march (torch.utils.cpp_extension,
# only init.cpp and the magnify family: no pyramid_kernels import, whose own build would
# register the same ops), the checks, and one output saved for the parent to compare
CHILD = r"""
import json, sys, torch
from torch.utils import cpp_extension
sources, flags, build, saved, checks = json.loads(sys.argv[1])
cpp_extension.load(name="pk_chain_check", sources=sources, extra_cflags=flags,
                   extra_ldflags=["-fopenmp"], build_directory=build, is_python_module=False)
sys.path.insert(0, checks)
import chain_checks
torch.save(chain_checks.sample_output(), saved)
print(json.dumps([chain_checks.sliced_mismatches(), chain_checks.angle_error()]))
"""


def test_the_vector_chain_gives_the_loops_bits():
    require("cpp")
    assert chain_checks.sliced_mismatches() == []


def test_the_float32_atan2_and_sincos_keep_their_error_bound():
    require("cpp")
    assert chain_checks.angle_error() <= chain_checks.ANGLE_BOUND


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("g++") is None or platform.machine() not in ("x86_64", "AMD64"),
    reason="an x86-64-v3 build needs g++ on x86-64",
)
def test_an_avx2_build_gives_the_same_bits(tmp_path):
    """The x86-64-v3 build (8-lane vectors in a permuted lane order) passes the same checks,
    and its output equals this machine's build's (16 lanes on AVX-512) bit for bit."""
    require("cpp")
    sources = [str(ROOT / "csrc" / "init.cpp"), str(ROOT / "csrc" / "magnify" / "magnify.cpp")]
    saved = tmp_path / "v3.pt"
    config = [
        sources,
        compile_flags("x86-64-v3"),
        str(tmp_path),
        str(saved),
        str(Path(__file__).parent),
    ]
    run = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(config)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-3000:]
    mismatches, error = json.loads(run.stdout.splitlines()[-1])
    assert mismatches == []
    assert error <= chain_checks.ANGLE_BOUND
    assert torch.equal(torch.load(saved), chain_checks.sample_output())
