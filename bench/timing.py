"""Best-of-N timing shared by the morph benchmarks."""

from __future__ import annotations

import time

import torch


def sync() -> None:
    """Wait for the GPU, when there is one (CPU work is already done when a call returns)."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def best_times(fns: dict, repeats: int, *args) -> dict:
    """Best of ``repeats`` runs of each fn (after a warm-up each), the runs interleaved
    (fn1, fn2, ..., fn1, ...) so that a slow stretch of the machine hits every fn alike."""
    for fn in fns.values():
        fn(*args)
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            sync()
            start = time.perf_counter()
            fn(*args)
            sync()
            times[name].append(time.perf_counter() - start)
    return {name: min(t) for name, t in times.items()}
