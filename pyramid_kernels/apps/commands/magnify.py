"""``pyramid-kernels magnify``: phase-based motion magnification of a video."""

from __future__ import annotations

import argparse
from pathlib import Path

from ...core.spec import PyramidSpec
from ...io.video import GIF_MAX_FPS
from ...magnifying import FILTERS, MagnifyOptions
from ..arguments import add_scales_per_octave, device_arg, height_arg, positive_int


def add_parser(sub, formatter: type[argparse.HelpFormatter]) -> argparse.ArgumentParser:
    """Add the command's parser to ``sub`` (argparse subparsers)."""
    ma = sub.add_parser(
        "magnify",
        help="magnify small motions of a video in a temporal band (phase-based, Wadhwa 2013)",
        formatter_class=formatter,
    )
    ma.add_argument("video", help="video file (mp4, mov, avi, gif, ...), folder or glob of images")
    ma.add_argument("--out", required=True, help="output .mp4, .gif, .avi, .mkv or .mov")
    ma.add_argument(
        "--alpha",
        type=float,
        required=True,
        help="magnification: in-band motion becomes (1 + alpha) times itself; a negative "
        "alpha attenuates it (-1 removes it); |alpha| <= 1e6",
    )
    ma.add_argument(
        "--band", type=float, nargs=2, required=True, metavar=("F_LO", "F_HI"), help="Hz"
    )
    ma.add_argument("--fps", type=float, help="frame rate (default: the container's)")
    ma.add_argument(
        "--filter",
        default="ideal",
        choices=FILTERS,
        help="temporal band-pass: ideal (an FFT over the whole clip, in memory) or a causal "
        "filter that streams (butterworth, difference)",
    )
    ma.add_argument("--sigma", type=float, default=0.0, help="phase smoothing, pixels per level")
    ma.add_argument("--attenuate", action="store_true", help="remove motion outside the band")
    ma.add_argument(
        "--color",
        default="auto",
        choices=("auto", "luminance", "rgb"),
        help="luminance magnifies Y of YIQ and keeps the chroma; rgb each channel; auto is "
        "luminance for colour video",
    )
    ma.add_argument("--gray", action="store_true", help="read the video as grayscale")
    ma.add_argument("--scale", type=float, default=1.0, help="process at this fraction of the size")
    ma.add_argument("--height", type=height_arg, default="auto", help="pyramid levels or auto")
    ma.add_argument("--orientations", type=int, default=8, help="bands per level")
    add_scales_per_octave(ma, "band levels per octave (narrower bands take larger --alpha)")
    ma.add_argument("--device", type=device_arg, default="cpu", help="cpu, cuda, cuda:1, ...")
    ma.add_argument(
        "--chunk-size",
        type=positive_int,
        default=MagnifyOptions.chunk_size,
        help="frames per chunk (causal filters, streaming)",
    )
    ma.add_argument("--quiet", action="store_true", help="no progress bar")
    ma.set_defaults(run=run)
    return ma


def run(args: argparse.Namespace) -> int:
    from ..magnify_video import run
    from ..system import steady_malloc

    steady_malloc()  # frames of one size, over and over: reuse the FFTs' buffers

    written, rate, (height, width) = run(
        args.video,
        args.out,
        fps=args.fps,
        scale=args.scale,
        device=args.device,
        gray=args.gray,
        progress=not args.quiet,
        alpha=args.alpha,
        band=tuple(args.band),
        filter=args.filter,
        sigma=args.sigma,
        attenuate=args.attenuate,
        color=None if args.color == "auto" else args.color,
        pyramid=PyramidSpec(
            args.height, args.orientations, scales_per_octave=args.scales_per_octave
        ),
        chunk_size=args.chunk_size,
    )
    print(f"magnified {written} frames at {rate:g} fps; wrote {args.out}")
    if Path(args.out).suffix.lower() == ".gif" and rate > GIF_MAX_FPS:
        print(f"note: a GIF plays at most {GIF_MAX_FPS:g} fps; write .mp4 to keep {rate:g} fps")
    if (height % 2 or width % 2) and Path(args.out).suffix.lower() in (
        ".mp4",
        ".mkv",
        ".mov",
        ".avi",
    ):
        print(
            f"note: {width}x{height} frames were padded to {width + width % 2}x"
            f"{height + height % 2} (by their last column/row): H.264 and MPEG-4 need even "
            "sizes; write .gif to keep the size"
        )
    return 0
