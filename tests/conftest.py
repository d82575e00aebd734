"""Shared test helpers: backend/device tables, tolerances, ``require`` and output poisoning.

Set PYRAMID_KERNELS_REQUIRE=cpp,triton (CI does) to fail instead of skipping a missing backend.
"""

import os

import pytest
import torch

if not torch.cuda.is_available():
    # run the Triton kernels on CPU tensors; must be set before they are defined
    os.environ.setdefault("TRITON_INTERPRET", "1")

import pyramid_kernels as pk  # noqa: E402  (after TRITON_INTERPRET)

if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):  # pytest -n: the cores shared among workers
    # this worker's torch and every process it starts (OMP_NUM_THREADS): OpenMP threads that
    # outnumber the cores spin-wait on each other (a subprocess suite ran 7x slower)
    share = max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    os.environ["OMP_NUM_THREADS"] = str(share)
    torch.set_num_threads(share)

FAST_BACKENDS = ["cpp", "triton"]
DEVICE = {"torch": "cpu", "cpp": "cpu", "triton": "cuda" if torch.cuda.is_available() else "cpu"}
TOL = {torch.float32: 1e-5, torch.float64: 1e-12}  # relative max error vs the reference
REQUIRED = set(filter(None, os.environ.get("PYRAMID_KERNELS_REQUIRE", "").split(",")))


def require(backend: str) -> str:
    """The device to test ``backend`` on; skips (or fails, if REQUIRED) when it cannot run."""
    reason = pk.available_backends(DEVICE[backend])[backend]
    if reason is not None:
        if backend in REQUIRED:
            pytest.fail(f"backend {backend} is required here but unavailable: {reason}")
        pytest.skip(reason)
    return DEVICE[backend]


def rel_max_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| / max |b|."""
    return ((a - b).abs().max() / b.abs().max()).item()


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _poison_triton_outputs(monkeypatch):
    """Triton kernel outputs (spectral and phase) start as NaN, so a bin left unwritten shows."""
    if pk.available_backends(DEVICE["triton"])["triton"] is None:
        from pyramid_kernels.ops import triton_common as _common

        def nan_alloc(like, shape):
            return torch.full(shape, float("nan"), dtype=like.dtype, device=like.device)

        monkeypatch.setattr(_common, "alloc", nan_alloc)


collect_ignore = [
    "compat/plenoptic_upstream"
]  # conftest of the upstream run (test_plenoptic_upstream.py)
