"""``pyramid-kernels eval``: the driver/judge evaluation of the four methods."""

from __future__ import annotations

import argparse

from ...experiments.protocol import PROTOCOLS


def add_parser(sub, formatter: type[argparse.HelpFormatter]) -> argparse.ArgumentParser:
    """Add the command's parser to ``sub`` (argparse subparsers)."""
    ev = sub.add_parser(
        "eval",
        help="driver/judge evaluation of the four methods (MNIST, digits or photos)",
        formatter_class=formatter,
    )
    ev.add_argument(
        "--protocol",
        default="mnist",
        choices=["mnist", "digits", "imagenet"],
        help="mnist (the paper's MNIST protocol: real 28x28 test digits, L2 1 and 2, "
        "anchored), digits (the 8x8 scikit-learn digits upsampled to 32x32) or imagenet (the "
        "bundled photos, crops and flips)",
    )
    ev.add_argument(
        "--count",
        type=int,
        default=300,
        help="test images (mnist: a multiple of 10, count/10 per class; digits)",
    )
    ev.add_argument(
        "--driver",
        choices=tuple(d for p in PROTOCOLS.values() for d in p.drivers),
        help="mnist / digits: the model the morphs follow (default mnist-driver / "
        "digits-driver; mnist-robust / digits-robust: trained with L2 PGD)",
    )
    ev.add_argument(
        "--quick", action="store_true", help="imagenet: a reduced case (for CI, minutes)"
    )
    ev.add_argument(
        "--steps", type=int, help="morph steps (frames - 1; default 11 digits, 8 imagenet)"
    )
    ev.add_argument("--out", default="eval_output", help="output folder")
    ev.set_defaults(run=run)
    return ev


def run(args: argparse.Namespace) -> int:
    from ...experiments.evaluation import run_eval

    if args.protocol == "imagenet":
        from ...experiments.imagenet_protocol import run_imagenet_eval

        steps = {} if args.steps is None else {"steps": args.steps}
        run_imagenet_eval(out=args.out, quick=args.quick, **steps)
    else:
        run_eval(
            count=args.count,
            driver=args.driver,
            protocol=args.protocol,
            steps=args.steps or 11,
            out=args.out,
        )
    print(f"wrote {args.out}/eval.md, eval.csv and eval.png")
    return 0
