"""Command line: ``pyramid-kernels demo``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch


def _demo(args: argparse.Namespace) -> int:
    import pyramid_kernels as pk

    from .image_io import save_png
    from .images import test_image
    from .render import render_pyramid

    image = test_image(args.size)
    pyr = pk.SteerablePyramid(height=args.height, orientations=args.orientations)
    start = time.perf_counter()
    coeffs = pyr.build(image)
    recon = pyr.collapse(coeffs)
    elapsed = time.perf_counter() - start
    out = Path(args.out)
    save_png(out / "test_image.png", image)
    save_png(out / "pyramid_bands.png", render_pyramid(coeffs, part=args.part))
    error = ((recon - image).abs().max() / image.abs().max()).item()
    print(f"pyramid: {coeffs}")
    print(
        f"build + collapse of a {args.size}x{args.size} image: {elapsed * 1e3:.1f} ms, "
        f"max relative reconstruction error {error:.1e}"
    )
    print(f"wrote {out / 'test_image.png'} and {out / 'pyramid_bands.png'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pyramid-kernels", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="build a pyramid of a test image and render its bands")
    demo.add_argument("--out", default="demo_output", help="output folder (default: demo_output)")
    demo.add_argument("--size", type=int, default=256, help="image side in pixels")
    demo.add_argument("--height", default="auto", type=lambda s: s if s == "auto" else int(s))
    demo.add_argument("--orientations", type=int, default=4)
    demo.add_argument("--part", default="real", choices=("real", "imag", "abs"))
    demo.set_defaults(run=_demo)
    args = parser.parse_args(argv)
    with torch.no_grad():
        return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
