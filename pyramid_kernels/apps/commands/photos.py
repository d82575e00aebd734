"""``pyramid-kernels photos``: the bundled photos written as PNG files."""

from __future__ import annotations

import argparse

from ...data import PHOTOS


def add_parser(sub, formatter: type[argparse.HelpFormatter]) -> argparse.ArgumentParser:
    """Add the command's parser to ``sub`` (argparse subparsers)."""
    ph = sub.add_parser(
        "photos",
        help="write the bundled photos as PNG files at their own size (to try the commands)",
        formatter_class=formatter,
    )
    ph.add_argument("--out", required=True, help="output folder")
    ph.add_argument("names", nargs="*", help=f"which photos (default: all): {', '.join(PHOTOS)}")
    ph.set_defaults(run=run)
    return ph


def run(args: argparse.Namespace) -> int:
    from ... import data

    for path in data.save_photos(args.out, args.names or None):
        print(path)
    return 0
