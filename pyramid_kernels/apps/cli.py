"""Command line: ``pyramid-kernels demo``, ``eval`` and ``morph``.

A bad argument or input ends in one line on stderr and exit status 2; ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

import numpy as np
import torch

from ..morphing import COLORS, EDITS, LOSSES, REGIMES, SPACES
from .protocol import DEMO_MNIST_BUDGET, mnist_budget

USAGE_ERROR = 2


class CLIError(Exception):
    """A user error the CLI reports in one line."""


def load_model(spec: str):
    """An embedded model name, a TorchScript file, or ``module:callable`` (a class is
    instantiated with no arguments)."""
    from .. import models

    if spec in models.ARCHITECTURES:
        return models.load(spec)
    if Path(spec).is_file():
        try:
            return torch.jit.load(spec, map_location="cpu").eval()
        except (RuntimeError, ValueError) as error:
            raise CLIError(f"--model {spec!r}: not a TorchScript file ({error})") from error
    if ":" not in spec:
        raise CLIError(
            f"--model {spec!r}: not an embedded model ({sorted(models.ARCHITECTURES)}),"
            " not a file, and not module:callable"
        )
    module_name, attr = spec.split(":", 1)
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as error:
        raise CLIError(f"--model {spec!r}: {error}") from error
    model = obj() if isinstance(obj, type) else obj
    return model.eval() if isinstance(model, torch.nn.Module) else model


def load_image(path: str, gray: bool, size: tuple[int, int] | None) -> torch.Tensor:
    """An image file -> (1, C, H, W) float32 in [0, 1]."""
    from PIL import Image

    if size is not None and min(size) < 4:
        raise CLIError(f"--size {size[0]} {size[1]}: both sides must be >= 4")
    try:
        picture = Image.open(path).convert("L" if gray else "RGB")
        if size is not None:
            picture = picture.resize((size[1], size[0]), Image.BILINEAR)
    except (OSError, ValueError) as error:
        raise CLIError(f"IMAGE {path!r}: cannot read it as an image ({error})") from error
    array = torch.from_numpy(np.asarray(picture, dtype=np.float32) / 255.0)
    if gray:
        array = array[..., None]
    return array.permute(2, 0, 1)[None].contiguous()


def _demo(args: argparse.Namespace) -> int:
    from .demo import run

    run(args.out, budget=args.budget, regime=args.regime, steps=args.steps)
    return 0


def _eval(args: argparse.Namespace) -> int:
    from .evaluation import run_eval

    run_eval(count=args.count, steps=args.steps, out=args.out)
    print(f"wrote {args.out}/eval.md, eval.csv and eval.png")
    return 0


def _image_for(args: argparse.Namespace) -> torch.Tensor:
    """The image as the model takes it: an embedded model's input spec fills in --gray and
    --size when they are not given (said on stdout)."""
    from .. import models

    gray, size = args.gray, args.size
    spec = models.INPUTS.get(args.model)
    if spec is not None and not gray and size is None:
        gray, size = spec.channels == 1, spec.size
        mode = "grayscale" if gray else "RGB"
        print(
            f"{args.model} takes {spec.channels}x{size[0]}x{size[1]} images: read "
            f"{args.image} as {mode} resized to {size[0]}x{size[1]}"
        )
    return load_image(args.image, gray, size)


def _morph(args: argparse.Namespace) -> int:
    from ..morphing import morph

    model = load_model(args.model)
    x = _image_for(args)
    knob = {
        "amplification": args.amplification,
        "phase_step": args.phase_step,
        "budget": args.budget,
    }
    try:
        result = morph(
            model,
            x,
            args.target,
            space=args.space,
            edit=args.edit,
            loss=args.loss,
            regime=args.regime,
            steps=args.steps,
            color=args.color,
            progress=True,
            **knob,
        )
    except RuntimeError as error:  # the model failed on the image (shape, channels, dtype)
        raise CLIError(f"--model {args.model!r} failed on {args.image!r}: {error}") from error
    result.save(args.out)
    probs = " ".join(f"{p:.3f}" for p in result.target_prob[:, 0].tolist())
    print(f"target {args.target} probability per frame: {probs}")
    print(f"final L2 distance {result.distance[-1, 0]:.4f}; wrote {args.out}")
    return 0


def _parser() -> argparse.ArgumentParser:
    formatter = argparse.ArgumentDefaultsHelpFormatter
    parser = argparse.ArgumentParser(
        prog="pyramid-kernels", description=__doc__, formatter_class=formatter
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="morph held-out digits with four methods; write pictures",
        formatter_class=formatter,
    )
    demo.add_argument("--out", default="demo_output", help="output folder")
    demo.add_argument(
        "--budget",
        type=float,
        default=mnist_budget(DEMO_MNIST_BUDGET),
        help="final pixel L2 of every morph (MNIST L2 4 in RMS terms)",
    )
    demo.add_argument("--regime", default="frozen", choices=REGIMES, help="morph regime")
    demo.add_argument("--steps", type=int, default=11, help="morph steps (frames - 1)")
    demo.set_defaults(run=_demo)

    ev = sub.add_parser(
        "eval",
        help="driver/judge evaluation of the four methods on digits",
        formatter_class=formatter,
    )
    ev.add_argument("--count", type=int, default=300, help="held-out images")
    ev.add_argument("--steps", type=int, default=11, help="morph steps (frames - 1)")
    ev.add_argument("--out", default="eval_output", help="output folder")
    ev.set_defaults(run=_eval)

    mo = sub.add_parser(
        "morph",
        help="morph an image file toward a target class of a model",
        formatter_class=formatter,
    )
    mo.add_argument("image", help="image file (PNG, JPEG, ...)")
    mo.add_argument(
        "--model", required=True, help="embedded model name, TorchScript file, or module:callable"
    )
    mo.add_argument("--target", type=int, required=True, help="target class index")
    mo.add_argument("--out", required=True, help="output .gif or .png")
    mo.add_argument(
        "--gray", action="store_true", help="read the image as grayscale (embedded models: auto)"
    )
    mo.add_argument(
        "--size",
        type=int,
        nargs=2,
        metavar=("H", "W"),
        help="resize the image (embedded models: their input size)",
    )
    mo.add_argument("--space", default="csp", choices=SPACES, help="edit space")
    mo.add_argument("--edit", default="phase", choices=EDITS, help="what is edited")
    mo.add_argument("--loss", default="nll", choices=LOSSES, help="class loss")
    mo.add_argument("--regime", default="frozen", choices=REGIMES, help="morph regime")
    mo.add_argument("--color", default="rgb", choices=COLORS, help="colour handling")
    mo.add_argument("--steps", type=int, default=11, help="morph steps (frames - 1)")
    knob = mo.add_mutually_exclusive_group()
    knob.add_argument("--amplification", type=float, help="raw gradient x this per step")
    knob.add_argument(
        "--phase-step", type=float, help="largest parameter change per step (default 0.2)"
    )
    knob.add_argument("--budget", type=float, help="final pixel L2 distance from the input")
    mo.set_defaults(run=_morph)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)  # argparse reports its own errors with status 2
    if args.command == "morph" and not args.out.lower().endswith((".gif", ".png")):
        parser.error("--out must end in .gif or .png")
    try:
        return args.run(args)
    except (CLIError, ValueError, TypeError, OSError) as error:
        if args.debug:
            raise
        print(f"pyramid-kernels {args.command}: error: {error}", file=sys.stderr)
        return USAGE_ERROR


if __name__ == "__main__":
    sys.exit(main())
