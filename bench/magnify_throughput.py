"""Motion-magnification throughput: writes bench/results/magnify-throughput-<device>.md.

pk.magnify (first-order Butterworth band-pass, so a streaming pk.Magnifier over chunks of 16
frames written into one output video; luminance, octave pyramid with 8 orientations) against
the same algorithm written as the public PyTorch ports do it (bench/magnify_port.py: one frame
at a time, torch.fft per level with cached masks, plain-torch phase math; the same output to
float rounding), both timed in one run (best of 3, interleaved), frames/s on RGB video at
640x480 (both), 1280x720 and, on CUDA, 1920x1080 (pk), each beside the FFT floor (the FFTs the
algorithm needs, timed alone in the same run): what bounds the speed-up over the port is
port / floor.

On CPU the table is measured twice in one process: first with glibc's default malloc, which
returns the FFTs' freed buffers (tens of MB a frame) to the system, so that every frame, of pk,
the port and the floor alike, may pay page faults on fresh memory, by luck of the heap's state;
then after pyramid_kernels.apps.system.steady_malloc() (what the CLI's magnify sets), which
keeps them. Then the streaming peak memory (resident high-water mark above the start, fresh
process each) for 300 and 3,000 frames of 160x120, with either malloc: it must not grow with
the video's length.

The table says which CPU ran it (its vector extensions) and which build of the C++ kernels:
the installed one (-march=native at install), or with PYRAMID_KERNELS_MARCH=<target> one
compiled for that target on first use (e.g. x86-64-v3, AVX2 + FMA, on an AVX-512 machine),
written to magnify-throughput-cpu-<target>.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

import pyramid_kernels as pk
from pyramid_kernels.apps.system import steady_malloc

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from magnify_port import PortMagnifier  # noqa: E402
from run import STEADY_MALLOC  # noqa: E402
from timing import best_times, cpu_build  # noqa: E402

ALPHA, BAND, FPS, CHUNK, FRAMES, REPEATS = 20.0, (1.0, 3.0), 30.0, 16, 32, 3
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"

CHILD = r"""
import json, sys, torch
torch.set_num_threads(2)
import pyramid_kernels as pk
from pyramid_kernels.apps.system import steady_malloc
if {steady}:
    steady_malloc()

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024

frames, chunk = {frames}, {chunk}
magnifier = pk.Magnifier({alpha}, {band}, {fps})
torch.manual_seed(0)
base = torch.rand(chunk, 3, 120, 160)
magnifier(base)  # warm-up: reference, filters, caches
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
for start in range(0, frames, chunk):
    magnifier(base.roll(start % 7, dims=-1))
print(json.dumps(status("VmHWM:")))
"""


def streaming_peak(frames: int, steady: bool) -> int:
    """Bytes: the process's resident high-water mark over the run (torch included)."""
    code = CHILD.format(frames=frames, chunk=CHUNK, alpha=ALPHA, band=BAND, fps=FPS, steady=steady)
    env = {k: v for k, v in os.environ.items() if k not in STEADY_MALLOC}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def fft_floor(video: torch.Tensor) -> None:
    """The FFTs the algorithm needs, frame by frame, and nothing else: rfft2 of the luminance,
    per level the inverse and forward c2c FFTs of its 8 complex bands, irfft2 of the result
    (both pk and the port run at least these; the port also transforms the residuals)."""
    h, w = video.shape[-2:]
    sizes = pk.PyramidSpec().resolve((h, w)).level_sizes((h, w))[:-1]
    bands = [torch.randn(1, 8, *s, dtype=torch.complex64, device=video.device) for s in sizes]
    for frame in video[:, :1]:
        half = torch.fft.rfft2(frame)
        for b in bands:
            torch.fft.fft2(torch.fft.ifft2(b))
        torch.fft.irfft2(half, s=(h, w))


def table(sizes: list[tuple[int, int, bool]]) -> list[str]:
    """One row per (H, W, with the port): frames/s of pk, the port and the floor."""
    rows = []
    for h, w, with_port in sizes:
        video = torch.rand(FRAMES, 3, h, w, device=DEVICE)

        def run_pk(v):
            return pk.magnify(
                v, alpha=ALPHA, band=BAND, fps=FPS, filter="butterworth", chunk_size=CHUNK
            )

        def run_port(v):
            return PortMagnifier(ALPHA, BAND, FPS)(v)

        fns = {"pk": run_pk} | ({"port": run_port} if with_port else {}) | {"floor": fft_floor}
        t = best_times(fns, REPEATS, video)
        row = [f"{w}x{h}", f"{FRAMES / t['pk']:.2f}"]
        if with_port:
            row += [f"{FRAMES / t['port']:.2f}", f"{t['port'] / t['pk']:.2f}x"]
        else:
            row += ["-", "-"]
        row += [f"{FRAMES / t['floor']:.2f}", f"{t['pk'] / t['floor']:.2f}x"]
        if with_port:
            difference = (run_pk(video[:8]) - run_port(video[:8])).abs().max().item()
            row += [f"{t['port'] / t['floor']:.2f}x", f"{difference:.1e}"]
        else:
            row += ["-", "-"]
        rows.append("| " + " | ".join(row) + " |")
        print(rows[-1], flush=True)
    return rows


def main() -> Path:
    torch.set_num_threads(2)
    torch.manual_seed(0)
    device = torch.cuda.get_device_name() if DEVICE == "cuda" else "CPU, 2 threads"
    header = [
        "| size | pk frames/s | port frames/s | pk speed-up | FFT floor frames/s "
        "| pk time / floor | port time / floor | max difference |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines = [
        f"# Motion-magnification throughput ({DEVICE}: {device}, float32, torch "
        f"{torch.__version__})",
        "",
        "Generated by `python bench/magnify_throughput.py` (see its docstring): frames/s of "
        f"pk.magnify (Butterworth {BAND[0]:g}-{BAND[1]:g} Hz, alpha {ALPHA:g}, luminance, "
        f"8 orientations, chunks of {CHUNK}) and of the frame-by-frame port, {FRAMES} frames, "
        f"best of {REPEATS} interleaved runs.",
        "",
        f"Machine: {cpu_build()}.",
        "",
    ]
    sizes = [(480, 640, True), (720, 1280, False)]
    if DEVICE == "cuda":
        sizes.append((1080, 1920, False))  # the GPU target: frames/s at 1920x1080
        lines += [*header, *table(sizes)]
    else:
        lines += ["glibc's default malloc (freed FFT buffers go back to the system):", ""]
        lines += [*header, *table(sizes), ""]
        if not steady_malloc():
            raise SystemExit("steady_malloc() needs glibc")
        lines += ["After `steady_malloc()` (what `pyramid-kernels magnify` sets):", ""]
        lines += [*header, *table(sizes)]
        peaks = {
            (n, steady): streaming_peak(n, steady) / 2**20
            for steady in (False, True)
            for n in (300, 3000)
        }
        lines.append("")
        for steady, name in ((False, "default malloc"), (True, "steady_malloc()")):
            a, b = peaks[300, steady], peaks[3000, steady]
            lines.append(
                f"Streaming peak memory, {name}, 160x120 RGB, chunks of 16 (the process's "
                f"resident high-water mark, torch included): {a:.0f} MiB for 300 frames, "
                f"{b:.0f} MiB for 3,000 frames ({b / a - 1:+.1%})."
            )
            print(lines[-1])
    target = os.environ.get("PYRAMID_KERNELS_MARCH")
    suffix = f"-{target}" if target and DEVICE == "cpu" else ""
    path = ROOT / "bench" / "results" / f"magnify-throughput-{DEVICE}{suffix}.md"
    path.write_text("\n".join(lines) + "\n")
    return path


if __name__ == "__main__":
    main()
