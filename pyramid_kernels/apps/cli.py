"""Command line: ``pyramid-kernels demo``, ``eval`` and ``morph``.

A bad argument or input ends in one line on stderr and exit status 2; ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

import torch

from ..backends import BACKENDS
from ..morphing import COLORS, EDITS, LOSSES, REGIMES, SPACES
from .protocol import DEMO_MNIST_BUDGET, mnist_budget

USAGE_ERROR = 2
EMBEDDED = ("digits-test", "digits-train")


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
    """An image file -> (1, C, H, W) float32 in [0, 1] (conversions: image_files.read_image)."""
    from .image_files import ImageFileError, read_image

    if size is not None and min(size) < 4:
        raise CLIError(f"--size {size[0]} {size[1]}: both sides must be >= 4")
    try:
        return read_image(path, 1 if gray else 3, size)[None]
    except ImageFileError as error:
        raise CLIError(f"IMAGE {path!r}: {error}") from error


def _demo(args: argparse.Namespace) -> int:
    from .demo import run

    run(args.out, budget=args.budget, regime=args.regime, steps=args.steps)
    return 0


def _eval(args: argparse.Namespace) -> int:
    from .evaluation import run_eval

    run_eval(count=args.count, steps=args.steps, out=args.out)
    print(f"wrote {args.out}/eval.md, eval.csv and eval.png")
    return 0


def _model_input(args: argparse.Namespace, what: str) -> tuple[bool, tuple[int, int] | None]:
    """(gray, size) for the images: an embedded model's input spec fills them in when neither
    --gray nor --size is given (said on stdout)."""
    from .. import models

    gray, size = args.gray, args.size
    spec = models.INPUTS.get(args.model)
    if spec is not None and not gray and size is None:
        gray, size = spec.channels == 1, spec.size
        mode = "grayscale" if gray else "RGB"
        print(
            f"{args.model} takes {spec.channels}x{size[0]}x{size[1]} images: read "
            f"{what} as {mode} resized to {size[0]}x{size[1]}"
        )
    return gray, size


def _image_for(args: argparse.Namespace) -> torch.Tensor:
    """The image as the model takes it (see _model_input)."""
    gray, size = _model_input(args, args.image)
    return load_image(args.image, gray, size)


def _morph(args: argparse.Namespace) -> int:
    from ..morphing import morph

    model = load_model(args.model)
    x = _image_for(args)
    try:
        result = morph(model, x, args.target, progress=True, **_morph_options(args))
    except RuntimeError as error:  # the model failed on the image (shape, channels, dtype)
        raise CLIError(f"--model {args.model!r} failed on {args.image!r}: {error}") from error
    result.save(args.out)
    probs = " ".join(f"{p:.3f}" for p in result.target_prob[:, 0].tolist())
    print(f"target {args.target} probability per frame: {probs}")
    print(f"final L2 distance {result.distance[-1, 0]:.4f}; wrote {args.out}")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from ..generating import generate

    if args.images is None and args.embedded is None:
        raise CLIError("pass --images DIR|GLOB or --embedded digits-test")
    if args.embedded is not None:
        images, _ = data_split(args.embedded)
        gray, size = False, args.size  # a tensor keeps its channels; --size resizes it
    else:
        images = args.images
        gray, size = _model_input(args, "the images")
    model = load_model(args.model)
    target = args.target
    if target.lstrip("-").isdigit():
        target = int(target)
    elif target != "runner-up" and not Path(target).is_file():
        raise CLIError(f"--target {target!r}: use runner-up, a class index or a CSV file")
    try:
        summary = generate(
            model,
            images,
            args.out,
            targets=target,
            size=size,
            gray=gray,
            normalize=args.normalize,
            batch_size=args.batch_size,
            pictures=[] if "none" in args.pictures else args.pictures,
            frames_dtype=args.frames_dtype,
            seed=args.seed,
            workers=args.workers,
            device=args.device,
            allow_mixed=args.allow_mixed,
            retry_errors=args.retry_errors,
            progress=not args.quiet,
            model_name=args.model,
            **_morph_options(args),
        )
    except RuntimeError as error:  # the model or the device failed mid-run (e.g. out of memory)
        raise CLIError(
            f"stopped by {type(error).__name__}: {error}; the finished batches are kept: fix "
            "the cause and rerun the same command to resume"
        ) from error
    if summary.rank == 0:
        print(
            f"{summary.morphed} images morphed, {summary.errors} skipped with errors, "
            f"{summary.skipped} finished before ({summary.images_per_second:.1f} images/s on "
            f"rank 0 of {summary.world}); wrote {Path(args.out) / 'manifest.csv'}"
        )
    return 0


def data_split(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """--embedded NAME: "digits-test" or "digits-train" -> (images, labels)."""
    from .. import data

    return data.digits(name.split("-", 1)[1])


def _add_morph_options(parser: argparse.ArgumentParser) -> None:
    """The options of pk.morph, shared by ``morph`` and ``generate``."""
    parser.add_argument("--space", default="csp", choices=SPACES, help="edit space")
    parser.add_argument("--edit", default="phase", choices=EDITS, help="what is edited")
    parser.add_argument("--loss", default="nll", choices=LOSSES, help="class loss")
    parser.add_argument("--regime", default="frozen", choices=REGIMES, help="morph regime")
    parser.add_argument("--color", default="rgb", choices=COLORS, help="colour handling")
    parser.add_argument("--steps", type=int, default=11, help="morph steps (frames - 1)")
    knob = parser.add_mutually_exclusive_group()
    knob.add_argument("--amplification", type=float, help="raw gradient x this per step")
    knob.add_argument(
        "--phase-step", type=float, help="largest parameter change per step (default 0.2)"
    )
    knob.add_argument("--budget", type=float, help="final pixel L2 distance from the input")
    parser.add_argument(
        "--clamp",
        type=float,
        nargs=2,
        metavar=("LOW", "HIGH"),
        default=(0.0, 1.0),
        help="pixel range of every frame",
    )
    parser.add_argument("--no-clamp", action="store_true", help="do not clamp the frames")
    parser.add_argument("--chunk-size", type=int, help="morph this many images at a time")
    parser.add_argument("--group-bytes", type=int, help="memory budget of the frozen frames")
    parser.add_argument("--backend", default="auto", choices=BACKENDS, help="pyramid backend")
    parser.add_argument(
        "--no-cuda-graph",
        action="store_true",
        help="on CUDA, never replay frozen morphs from a CUDA graph",
    )


def _morph_options(args: argparse.Namespace) -> dict:
    """The pk.morph keyword arguments of parsed ``_add_morph_options`` options."""
    return {
        "space": args.space,
        "edit": args.edit,
        "loss": args.loss,
        "regime": args.regime,
        "color": args.color,
        "steps": args.steps,
        "amplification": args.amplification,
        "phase_step": args.phase_step,
        "budget": args.budget,
        "clamp": None if args.no_clamp else tuple(args.clamp),
        "chunk_size": args.chunk_size,
        "group_bytes": args.group_bytes,
        "backend": args.backend,
        "cuda_graph": False if args.no_cuda_graph else None,
    }


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
    _add_morph_options(mo)
    mo.set_defaults(run=_morph)

    ge = sub.add_parser(
        "generate",
        help="morph every image of a folder; frames, pictures, manifest (resumable; torchrun)",
        formatter_class=formatter,
    )
    where = ge.add_mutually_exclusive_group()
    where.add_argument("--images", help="folder (searched recursively) or glob pattern")
    where.add_argument("--embedded", choices=EMBEDDED, help="bundled images instead")
    ge.add_argument(
        "--model", required=True, help="embedded model name, TorchScript file, or module:callable"
    )
    ge.add_argument(
        "--target",
        default="runner-up",
        help="runner-up (the model's second choice per image), a class index, or a CSV file "
        "with columns image,target",
    )
    ge.add_argument("--out", required=True, help="output folder")
    ge.add_argument("--gray", action="store_true", help="grayscale images (embedded: auto)")
    ge.add_argument(
        "--size", type=int, nargs=2, metavar=("H", "W"), help="resize every image to H x W"
    )
    ge.add_argument(
        "--normalize",
        help="imagenet or MEAN,STD (numbers or ':'-joined channel values): the model sees "
        "(x - mean) / std, the morph stays in [0, 1]",
    )
    ge.add_argument("--batch-size", type=int, default=64, help="images per batch")
    ge.add_argument(
        "--pictures",
        nargs="+",
        default=["png"],
        choices=["png", "gif", "none"],
        help="pictures per image: PNG strip, GIF, or none",
    )
    ge.add_argument(
        "--frames-dtype",
        default="uint8",
        choices=["uint8", "float16", "float32"],
        help="dtype of the frames in the shard files",
    )
    ge.add_argument("--seed", type=int, default=0, help="torch seed before each batch")
    ge.add_argument("--workers", type=int, default=2, help="DataLoader decoding processes")
    ge.add_argument("--device", help="device (default: cuda:LOCAL_RANK if CUDA, else cpu)")
    ge.add_argument(
        "--allow-mixed",
        action="store_true",
        help="add to an output folder whose run had other settings",
    )
    ge.add_argument(
        "--retry-errors",
        action="store_true",
        help="morph again the images a previous run could not read (they are skipped by default)",
    )
    ge.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_morph_options(ge)
    ge.set_defaults(run=_generate)
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
