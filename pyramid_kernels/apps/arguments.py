"""The CLI's shared argument types, help texts and option groups (morph and generate share
pk.morph's options; morph and probe read one image for a model)."""

from __future__ import annotations

import argparse

import torch

from ..io.image_files import FITS
from ..morphing import COLORS, EDITS, LOSSES, REGIMES, SPACES
from ..ops.backends import BACKENDS

TARGET_HELP = "target class: an index, a name (e.g. tiger) or runner-up (the model's second choice)"
MODEL_HELP = (
    "embedded model name, TorchScript file, or module:callable (a class is instantiated with "
    "no arguments, a function is the model; the current folder is importable)"
)
NORMALIZE_HELP = (
    "imagenet or MEAN,STD (numbers or ':'-joined channel values, for pixels in [0, 1]): the "
    "model sees (x - mean) / std, the morph stays in [0, 1]"
)
FIT_HELP = "how a resize keeps the aspect ratio: crop the centre, pad with black, or stretch"


class CLIError(Exception):
    """A user error the CLI reports in one line."""


class HelpFormatter(argparse.HelpFormatter):
    """Help with "(default: X)" where a default says something (not None, not False) and the
    help does not already give it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        hidden = action.default is None or action.default is False
        shown = not (hidden or action.default == argparse.SUPPRESS or action.required)
        if shown and "default" not in text:
            text += " (default: %(default)s)"
        return text


def positive_int(text: str) -> int:
    """argparse type: an int >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an int >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an int >= 1, got {value}")
    return value


def device_arg(text: str) -> torch.device:
    """argparse type: a device torch knows and this machine has."""
    try:
        device = torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a device: use cpu, cuda or cuda:N"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{text!r}: this machine has no CUDA GPU; use cpu")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise argparse.ArgumentTypeError(
            f"{text!r}: this machine has {torch.cuda.device_count()} CUDA GPU(s)"
        )
    if device.type not in ("cpu", "cuda"):
        raise argparse.ArgumentTypeError(f"{text!r}: only cpu and cuda devices are supported")
    return device


def class_arg(text: str) -> int | str:
    """--target/--source: a class index (digits) or a class name."""
    return int(text) if text.strip().lstrip("-").isdigit() else text.strip()


def height_arg(text: str):
    """--height: "auto" or an int."""
    return text if text == "auto" else int(text)


def add_scales_per_octave(parser: argparse.ArgumentParser, what: str) -> None:
    """--scales-per-octave N (1..8) of the pyramid; ``what`` begins its help."""
    parser.add_argument(
        "--scales-per-octave",
        type=int,
        default=1,
        choices=range(1, 9),
        metavar="N",
        help=f"{what}: 1 octave, 2 half-octave, 4 quarter-octave",
    )


def add_image_input(parser: argparse.ArgumentParser) -> None:
    """IMAGE, --model and how the image is read for it (morph, probe: see image_for)."""
    parser.add_argument("image", help="image file (PNG, JPEG, ...)")
    parser.add_argument("--model", required=True, help=MODEL_HELP)
    parser.add_argument(
        "--gray", action="store_true", help="read the image as grayscale (embedded models: auto)"
    )
    parser.add_argument(
        "--size",
        type=int,
        nargs=2,
        metavar=("H", "W"),
        help="resize the image (embedded models: their input size)",
    )
    parser.add_argument("--fit", default="crop", choices=FITS, help=FIT_HELP)
    parser.add_argument("--normalize", help=NORMALIZE_HELP)


def add_morph_options(parser: argparse.ArgumentParser) -> None:
    """The options of pk.morph, shared by ``morph`` and ``generate``."""
    parser.add_argument("--space", default="csp", choices=SPACES, help="edit space")
    parser.add_argument("--edit", default="phase", choices=EDITS, help="what is edited")
    parser.add_argument("--loss", default="nll", choices=LOSSES, help="class loss")
    parser.add_argument("--regime", default="frozen", choices=REGIMES, help="morph regime")
    parser.add_argument(
        "--color",
        default="auto",
        choices=("auto", *COLORS),
        help="colour handling: luminance edits Y of YIQ and keeps the chroma (no colour "
        "fringes), rgb edits each channel; auto is luminance for RGB images, rgb for grayscale",
    )
    parser.add_argument("--steps", type=int, default=11, help="morph steps (frames - 1)")
    knob = parser.add_mutually_exclusive_group()
    knob.add_argument("--amplification", type=float, help="raw gradient x this per step")
    knob.add_argument(
        "--phase-step",
        type=float,
        help="largest parameter change per step (0.2 when no step control is given)",
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
    parser.add_argument("--chunk-size", type=positive_int, help="morph this many images at a time")
    parser.add_argument(
        "--group-bytes", type=positive_int, help="memory budget of the frozen frames"
    )
    parser.add_argument("--backend", default="auto", choices=BACKENDS, help="pyramid backend")
    add_scales_per_octave(parser, "pyramid band levels per octave for --space csp")
    parser.add_argument(
        "--no-cuda-graph",
        action="store_true",
        help="on CUDA, never replay frozen morphs from a CUDA graph",
    )


def morph_options(args: argparse.Namespace) -> dict:
    """The pk.morph keyword arguments of parsed ``add_morph_options`` options."""
    from ..pyramid.module import SteerablePyramid

    color = {} if args.color == "auto" else {"color": args.color}
    per_octave = args.scales_per_octave
    pyramid = {}
    if per_octave != 1:
        pyramid = {"pyramid": SteerablePyramid(scales_per_octave=per_octave, backend=args.backend)}
    return (
        color
        | pyramid
        | {
            "space": args.space,
            "edit": args.edit,
            "loss": args.loss,
            "regime": args.regime,
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
    )
