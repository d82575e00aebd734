"""Command line: ``pyramid-kernels demo``, ``eval`` and ``morph``."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

import numpy as np
import torch

from ..morphing import COLORS, EDITS, LOSSES, REGIMES, SPACES
from .protocol import DEMO_MNIST_BUDGET, mnist_budget


def load_model(spec: str):
    """An embedded model name, a TorchScript file, or ``module:callable`` (a class is
    instantiated with no arguments)."""
    from .. import models

    if spec in models.ARCHITECTURES:
        return models.load(spec)
    if Path(spec).is_file():
        return torch.jit.load(spec, map_location="cpu").eval()
    if ":" not in spec:
        raise SystemExit(
            f"--model {spec!r}: not an embedded model ({sorted(models.ARCHITECTURES)}),"
            " not a file, and not module:callable"
        )
    module_name, attr = spec.split(":", 1)
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as error:
        raise SystemExit(f"--model {spec!r}: {error}") from error
    model = obj() if isinstance(obj, type) else obj
    return model.eval() if isinstance(model, torch.nn.Module) else model


def load_image(path: str, gray: bool, size: tuple[int, int] | None) -> torch.Tensor:
    """An image file -> (1, C, H, W) float32 in [0, 1]."""
    from PIL import Image

    try:
        picture = Image.open(path).convert("L" if gray else "RGB")
    except (OSError, ValueError) as error:
        raise SystemExit(f"IMAGE {path!r}: cannot read it as an image ({error})") from error
    if size is not None:
        picture = picture.resize((size[1], size[0]), Image.BILINEAR)
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


def _morph(args: argparse.Namespace) -> int:
    from ..morphing import morph

    model = load_model(args.model)
    x = load_image(args.image, args.gray, args.size)
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
        result.save(args.out)
    except (ValueError, TypeError) as error:
        raise SystemExit(f"error: {error}") from error
    probs = " ".join(f"{p:.3f}" for p in result.target_prob[:, 0].tolist())
    print(f"target {args.target} probability per frame: {probs}")
    print(f"final L2 distance {result.distance[-1, 0]:.4f}; wrote {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pyramid-kernels", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="morph held-out digits with four methods; write pictures")
    demo.add_argument("--out", default="demo_output", help="output folder (default: demo_output)")
    demo.add_argument(
        "--budget",
        type=float,
        default=mnist_budget(DEMO_MNIST_BUDGET),
        help="final pixel L2 of every morph (default 4.571, MNIST L2 4 in RMS terms)",
    )
    demo.add_argument("--regime", default="frozen", choices=REGIMES)
    demo.add_argument("--steps", type=int, default=11)
    demo.set_defaults(run=_demo)

    ev = sub.add_parser("eval", help="driver/judge evaluation of the four methods on digits")
    ev.add_argument("--count", type=int, default=300, help="held-out images (default 300)")
    ev.add_argument("--steps", type=int, default=11)
    ev.add_argument("--out", default="eval_output", help="output folder (default: eval_output)")
    ev.set_defaults(run=_eval)

    mo = sub.add_parser("morph", help="morph an image file toward a target class of a model")
    mo.add_argument("image", help="image file (PNG, JPEG, ...)")
    mo.add_argument(
        "--model", required=True, help="embedded model name, TorchScript file, or module:callable"
    )
    mo.add_argument("--target", type=int, required=True, help="target class index")
    mo.add_argument("--out", required=True, help="output .gif or .png")
    mo.add_argument("--gray", action="store_true", help="read the image as grayscale")
    mo.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), help="resize the image")
    mo.add_argument("--space", default="csp", choices=SPACES)
    mo.add_argument("--edit", default="phase", choices=EDITS)
    mo.add_argument("--loss", default="nll", choices=LOSSES)
    mo.add_argument("--regime", default="frozen", choices=REGIMES)
    mo.add_argument("--color", default="rgb", choices=COLORS)
    mo.add_argument("--steps", type=int, default=11)
    knob = mo.add_mutually_exclusive_group()
    knob.add_argument("--amplification", type=float)
    knob.add_argument("--phase-step", type=float)
    knob.add_argument("--budget", type=float)
    mo.set_defaults(run=_morph)
    args = parser.parse_args(argv)
    if args.command == "morph" and not args.out.lower().endswith((".gif", ".png")):
        parser.error("--out must end in .gif or .png")
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
