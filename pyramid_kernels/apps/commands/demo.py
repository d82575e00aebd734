"""``pyramid-kernels demo``: MNIST digits and photos morphed with four methods."""

from __future__ import annotations

import argparse

from ...experiments.photo_demo import BUDGET as PHOTO_BUDGET
from ...experiments.protocol import DEMO_MNIST_BUDGET
from ...morphing import REGIMES


def add_parser(sub, formatter: type[argparse.HelpFormatter]) -> argparse.ArgumentParser:
    """Add the command's parser to ``sub`` (argparse subparsers)."""
    demo = sub.add_parser(
        "demo",
        help="morph MNIST test digits and photos with four methods; write pictures",
        formatter_class=formatter,
    )
    demo.add_argument("--out", default="demo_output", help="output folder")
    demo.add_argument(
        "--budget",
        type=float,
        default=DEMO_MNIST_BUDGET,
        help="final pixel L2 of every digit morph (28x28 MNIST)",
    )
    demo.add_argument("--regime", default="frozen", choices=REGIMES, help="morph regime")
    demo.add_argument("--steps", type=int, default=11, help="morph steps (frames - 1)")
    demo.add_argument(
        "--photo-budget",
        type=float,
        default=PHOTO_BUDGET,
        help="final pixel L2 of the photo morphs (224x224 RGB)",
    )
    demo.add_argument("--no-photos", action="store_true", help="only the digits")
    demo.set_defaults(run=run)
    return demo


def run(args: argparse.Namespace) -> int:
    from ...experiments.demo import run

    run(
        args.out,
        budget=args.budget,
        regime=args.regime,
        steps=args.steps,
        photos=not args.no_photos,
        photo_budget=args.photo_budget,
    )
    return 0
