"""Best-of-N timing shared by the benchmarks, and the machine and build a table comes from."""

from __future__ import annotations

import json
import os
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


def cpu_build() -> str:
    """The CPU's model and vector extensions, and the -march of the C++ kernels that run."""
    from pyramid_kernels.ops import native
    from pyramid_kernels.ops.flags import MARCH, cpu_features

    model = "unknown CPU"
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in open("/proc/cpuinfo")
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    have = cpu_features() or set()
    vector = [f for f in ("avx2", "fma", "avx512f", "avx512bw", "avx512vl") if f in have]
    if os.environ.get(MARCH):
        build = f"-march={os.environ[MARCH]} (compiled on first use, {MARCH})"
    else:
        try:
            info = json.loads((native.EXTENSION_DIR / "_C_build.json").read_text())
            build = f"-march={info['march']} (as installed)"
        except (OSError, ValueError, KeyError):
            build = "as installed (target not recorded)"
    return f"{model} ({', '.join(vector) or 'no AVX'}); C++ kernels built {build}"
