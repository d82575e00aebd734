"""Run every pyramid benchmark in one pytest-benchmark session per allocator setting and write
bench/results/ (timings: <device>.md/.csv, on CPU also <device>-default-malloc.md/.csv and
peak memory: cpu-memory.md).

On CPU the suite runs twice (``--malloc both``, the default there):

- ``steady`` (the main table): MALLOC_MMAP_THRESHOLD_=1 GiB and MALLOC_TRIM_THRESHOLD_=4 GiB,
  so freed memory stays mapped and every provider reuses pages instead of page-faulting
  (what jemalloc/tcmalloc, which PyTorch's CPU tuning guide recommends, do too). Reproducible,
  compute-only, and the stricter comparison for pyramid_kernels, whose reused buffers then
  save nothing.
- ``default``: glibc's malloc as it comes. Blocks over its mmap threshold (at most 32 MiB) are
  fresh mappings that page-fault on first touch, about 10 ms per 50 MB on the 2-core bench
  machine, and whether a given 50 MB FFT output is one depends on the heap's history in that
  process: the same call moves by 10 ms between runs, for every provider.

Usage: ``python bench/run.py [--malloc default|steady|both] [pytest args ...]``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STEADY_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(2**30), "MALLOC_TRIM_THRESHOLD_": str(2**32)}
SUFFIX = {"steady": "", "default": "-default-malloc"}


def run(malloc: str, suffix: str, threads: str, pytest_args: list[str]) -> Path | None:
    """One pytest-benchmark session; returns its JSON path (None if it failed)."""
    raw = ROOT / "bench" / "results" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    json_path = raw / f"pyramid-{threads}threads{suffix}.json"
    cmd = [sys.executable, "-m", "pytest", str(ROOT / "bench"), "--benchmark-only", "-q"]
    cmd += [f"--benchmark-json={json_path}", *pytest_args]
    env = {**os.environ, **(STEADY_MALLOC if malloc == "steady" else {})}
    return json_path if subprocess.call(cmd, cwd=ROOT, env=env) == 0 else None


def main() -> int:
    args = sys.argv[1:]
    malloc = None
    if "--malloc" in args:
        at = args.index("--malloc")
        malloc = args[at + 1] if at + 1 < len(args) else ""
        del args[at : at + 2]
        if malloc not in ("default", "steady", "both"):
            print(f"--malloc must be default, steady or both, got {malloc!r}", file=sys.stderr)
            return 2
    threads = os.environ.setdefault("BENCH_THREADS", "2")
    sys.path.insert(0, str(ROOT / "bench"))
    import torch

    torch.set_num_threads(int(threads))
    from report import main as report

    cuda = torch.cuda.is_available()
    malloc = malloc or ("default" if cuda else "both")
    for setting in ("steady", "default") if malloc == "both" else (malloc,):
        suffix = "" if cuda else SUFFIX[setting]  # one table on CUDA
        json_path = run(setting, suffix, threads, args)
        if json_path is None:
            return 1
        note = " glibc malloc " + (
            "as it comes."
            if setting == "default"
            else ", ".join(f"{k}={v}" for k, v in STEADY_MALLOC.items()) + " (see bench/run.py)."
        )
        print(report(str(json_path), str(ROOT / "bench" / "results"), suffix, note))
    if not cuda:
        from memory import main as memory

        print(memory())
    return 0


if __name__ == "__main__":
    sys.exit(main())
