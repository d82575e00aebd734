"""The plenoptic-parity modes against plenoptic 2.1.1 on the standard configs: the undecimated
pyramid (build, collapse), steering (real pyramid, 8 angles: plenoptic steers real pyramids
only) and partial reconstruction (level 1, bands 0 and 2, of a complex pyramid).

plenoptic's module is built once per config (its masks are made at construction, outside the
timings), as a user would; pyramid_kernels uses backend "auto" (C++ on CPU, Triton on CUDA).
Both run float32 with 2 threads on CPU. Times: the best of REPEATS calls after a warm-up.
Writes bench/results/plenoptic-modes-<device>.md.

Usage: ``python bench/plenoptic_modes.py``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import plenoptic as po
import torch

import pyramid_kernels as pk
from pyramid_kernels.compat.plenoptic import SteerablePyramidFreq

sys.path.insert(0, str(Path(__file__).parent))
from test_bench_pyramid import CONFIGS, config_id  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
REPEATS = 5
# undecimated coefficients above this many bytes are skipped (plenoptic holds several copies)
UNDECIMATED_BYTES = 2**31 if DEVICE == "cpu" else 2**32
ANGLES = torch.linspace(0, torch.pi, 8)


def _sync():
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def best_time(fn) -> float:
    fn()
    times = []
    for _ in range(REPEATS):
        _sync()
        start = time.perf_counter()
        fn()
        _sync()
        times.append(time.perf_counter() - start)
    return min(times)


def _pair(x, height, k, **kwargs):
    """plenoptic's module and ours, same arguments."""
    args = (tuple(x.shape[-2:]), height, k - 1)
    theirs = po.process.SteerablePyramidFreq(*args, **kwargs).to(x.device)
    return theirs, SteerablePyramidFreq(*args, **kwargs)


def rows(cfg):
    b, c, h, w, height, k = cfg
    x = torch.rand(b, c, h, w, device=DEVICE)
    top = pk.max_height((h, w)) if height == "auto" else height
    undecimated = b * c * (k * top + 2) * h * w * 8
    if undecimated <= UNDECIMATED_BYTES:
        theirs, _ = _pair(x, height, k, is_complex=True, downsample=False, tight_frame=True)
        spec = dict(height=height, orientations=k, downsample=False)
        coeffs, expected = pk.build(x, **spec), theirs(x)
        yield "undecimated build", lambda: pk.build(x, **spec), lambda: theirs(x)
        yield (
            "undecimated collapse",
            lambda: pk.collapse(coeffs),
            lambda: theirs.recon_pyr(expected),
        )
        del coeffs, expected
    else:
        yield "undecimated", None, f"skipped: {undecimated / 2**30:.1f} GiB of coefficients"
    theirs, _ = _pair(x, height, k, is_complex=False)
    real, expected = pk.build(x, height=height, orientations=k, is_complex=False), theirs(x)
    yield (
        "steer 8 angles",
        lambda: real.steer(ANGLES),
        lambda: theirs.steer_coeffs(expected, ANGLES),
    )
    theirs, _ = _pair(x, height, k, is_complex=True)
    comp, expected = pk.build(x, height=height, orientations=k), theirs(x)
    partial = dict(levels=[1], bands=[0, 2])
    yield (
        "collapse level 1, bands 0+2",
        lambda: pk.collapse(comp, **partial),
        lambda: theirs.recon_pyr(expected, **partial),
    )


def main() -> Path:
    torch.set_num_threads(2)
    torch.manual_seed(0)
    name = torch.cuda.get_device_name().replace(" ", "-") if DEVICE == "cuda" else "cpu-2threads"
    lines = [
        f"# plenoptic-parity modes vs plenoptic 2.1.1 ({name}, float32)",
        "",
        "`python bench/plenoptic_modes.py`; best of 5 after a warm-up; plenoptic's module built "
        "once per config.",
        "",
        "| config | op | pyramid_kernels (ms) | plenoptic (ms) | speed-up |",
        "|---|---|---:|---:|---:|",
    ]
    for cfg in CONFIGS:
        for op, ours, theirs in rows(cfg):
            if ours is None:
                lines.append(f"| {config_id(cfg)} | {op} | {theirs} | | |")
            else:
                a, b = best_time(ours) * 1e3, best_time(theirs) * 1e3
                lines.append(f"| {config_id(cfg)} | {op} | {a:.2f} | {b:.2f} | {b / a:.1f}x |")
            print(lines[-1], flush=True)
    out = Path(__file__).parent / "results" / f"plenoptic-modes-{name}.md"
    out.write_text("\n".join(lines) + "\n")
    return out


if __name__ == "__main__":
    print(main())
