"""Throughput of `pyramid-kernels generate` on the digits driver: the 597 held-out digits
written as PNG files, generated end to end (process start, decoding, morphs, frame shards,
pictures, manifest) with 1 process and with 2 torchrun ranks (gloo on CPU; on CUDA only when
there are 2 GPUs). Default morph (frozen csp phase, 12 frames), uint8 frames, runner-up
targets, batches of 64 images on CPU and 512 on CUDA; with PNG strips and with no pictures.
Reports the wall time of the whole command and images/s over it; each configuration is run
twice and the faster kept. Writes bench/results/generate-throughput-<device>.md.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import pyramid_kernels as pk

ROOT = Path(__file__).resolve().parent.parent
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
REPEATS = 2
BATCH = 512 if DEVICE == "cuda" else 64  # a GPU wants large batches; a CPU's caches small ones


def write_pngs(folder: Path) -> int:
    x, _ = pk.data.digits("test")
    pixels = (x[:, 0] * 255).round().to(torch.uint8).numpy()
    for n, picture in enumerate(pixels):
        Image.fromarray(np.ascontiguousarray(picture)).save(folder / f"{n:04d}.png")
    return len(pixels)


def run(command: list[str], env: dict) -> tuple[float, float]:
    """(wall seconds, rank 0's images/s over its batch loop, as the command prints it)."""
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    loop = re.search(r"\(([0-9.]+) images/s on rank 0", done.stdout)
    return seconds, float(loop.group(1)) if loop else float("nan")


def main() -> None:
    threads = torch.get_num_threads()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    configs = [("1 process", [])]
    if DEVICE == "cpu" or torch.cuda.device_count() >= 2:
        configs.append(
            (
                "2 torchrun ranks",
                ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"],
            )
        )
    lines = [
        f"# generate throughput ({DEVICE}, "
        f"{torch.cuda.get_device_name() if DEVICE == 'cuda' else f'{threads} threads'})",
        "",
        "`python bench/generate_throughput.py`: the 597 held-out digits as PNG files, "
        "`pyramid-kernels generate --model digits-driver` end to end (frozen csp phase, "
        f"12 frames, runner-up targets, uint8 shards, batch {BATCH}, 2 DataLoader workers); wall "
        "time "
        "of the whole command, process start included, best of 2. torchrun gives each rank "
        "OMP_NUM_THREADS=1. The last column is rank 0's own rate over its batch loop "
        "(what the command prints), without process start and the final merge.",
        "",
        "| ranks | pictures | wall s | images/s (wall) | rank 0 loop images/s |",
        "|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        images = Path(tmp) / "images"
        images.mkdir()
        count = write_pngs(images)
        for name, launcher in configs:
            for pictures in ["png", "none"]:
                best, loop = float("inf"), float("nan")
                for repeat in range(REPEATS):
                    out = Path(tmp) / f"out-{len(launcher)}-{pictures}-{repeat}"
                    command = [sys.executable, *launcher, "-m", "pyramid_kernels", "generate"]
                    command += ["--images", str(images), "--model", "digits-driver"]
                    command += ["--out", str(out), "--pictures", pictures, "--quiet"]
                    command += ["--batch-size", str(BATCH)]
                    seconds, rate = run(command, env)
                    if seconds < best:
                        best, loop = seconds, rate
                lines.append(
                    f"| {name} | {pictures} | {best:.2f} | {count / best:.1f} | {loop:.1f} |"
                )
                print(lines[-1], flush=True)
    path = ROOT / "bench" / "results" / f"generate-throughput-{DEVICE}.md"
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
