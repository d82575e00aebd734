"""Run every pyramid benchmark in one pytest-benchmark session and write bench/results/
(timings: <device>.md/.csv; on CPU also peak memory: cpu-memory.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    raw = ROOT / "bench" / "results" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    threads = os.environ.setdefault("BENCH_THREADS", "2")
    json_path = raw / f"pyramid-{threads}threads.json"
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        str(ROOT / "bench"),
        "--benchmark-only",
        "-q",
        f"--benchmark-json={json_path}",
        *sys.argv[1:],
    ]
    code = subprocess.call(cmd, cwd=ROOT)
    if code != 0:
        return code
    sys.path.insert(0, str(ROOT / "bench"))
    import torch

    torch.set_num_threads(int(threads))
    from report import main as report

    print(report(str(json_path), str(ROOT / "bench" / "results")))
    if not torch.cuda.is_available():
        from memory import main as memory

        print(memory())
    return 0


if __name__ == "__main__":
    sys.exit(main())
