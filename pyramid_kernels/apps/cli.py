"""Command line: ``pyramid-kernels demo``, ``eval``, ``morph``, ``probe``, ``generate``,
``magnify`` and ``photos``.

A bad argument or input ends in one line on stderr and exit status 2; ``--debug`` shows the
traceback instead.

--model takes an embedded model name (mnist-driver, imagenet-lite0, ...: their input size,
normalisation and class names are built in), a TorchScript file, or module:callable: the
module is imported (from the current folder or anywhere on PYTHONPATH) and the callable is
the model: a class is instantiated with no arguments, a function that takes images is used
as it is (nn.Modules are put in eval mode). A model trained on normalised inputs needs
--normalize; a class by name needs a model with a ``labels`` attribute.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from pathlib import Path

import torch

from ..core.spec import PyramidSpec
from ..data import PHOTOS
from ..experiments.photo_demo import BUDGET as PHOTO_BUDGET
from ..experiments.protocol import DEMO_MNIST_BUDGET, PROTOCOLS
from ..io.image_io import check_not_input, check_writable
from ..io.video import GIF_MAX_FPS
from ..magnifying import FILTERS, MagnifyOptions
from ..morphing import COLORS, EDITS, LOSSES, REGIMES, SPACES
from ..ops.backends import BACKENDS
from .system import available_memory

USAGE_ERROR = 2
INTERRUPTED = 130  # the shell's status for a run stopped by Ctrl-C (128 + SIGINT)
TARGET_HELP = "target class: an index, a name (e.g. tiger) or runner-up (the model's second choice)"
EMBEDDED = ("mnist-test", "mnist-train", "digits-test", "digits-train")
MODEL_HELP = (
    "embedded model name, TorchScript file, or module:callable (a class is instantiated with "
    "no arguments, a function is the model; the current folder is importable)"
)
FITS = ("crop", "pad", "stretch")
NORMALIZE_HELP = (
    "imagenet or MEAN,STD (numbers or ':'-joined channel values, for pixels in [0, 1]): the "
    "model sees (x - mean) / std, the morph stays in [0, 1]"
)
FIT_HELP = "how a resize keeps the aspect ratio: crop the centre, pad with black, or stretch"
# bytes of working memory per image element of a morph: frames (steps + 1), the pyramid's
# coefficients, gradients and the model's activations (a generous bound, not a measurement)
MORPH_BYTES_PER_ELEMENT = 4 * 64


class CLIError(Exception):
    """A user error the CLI reports in one line."""


class _HelpFormatter(argparse.HelpFormatter):
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


def load_model(spec: str):
    """An embedded model name, a TorchScript file, or ``module:callable`` (a class is
    instantiated with no arguments)."""
    from .. import models

    if spec in models.NAMES:
        return models.load(spec)
    if Path(spec).is_file():
        try:
            with warnings.catch_warnings():  # torch's own deprecation: not the user's to fix
                warnings.simplefilter("ignore", DeprecationWarning)
                return torch.jit.load(spec, map_location="cpu").eval()
        except (RuntimeError, ValueError) as error:
            if _is_state_dict(spec):
                raise CLIError(
                    f"--model {spec!r} holds weights (a state_dict), not a model: the command "
                    "needs the network too; write a class that builds it and loads the file, "
                    "and pass it as --model module:Class (or save it with torch.jit.script)"
                ) from error
            raise CLIError(f"--model {spec!r}: not a TorchScript file ({error})") from error
    if ":" not in spec:
        raise CLIError(
            f"--model {spec!r}: not an embedded model ({', '.join(models.NAMES)}),"
            " not a file, and not module:callable"
        )
    module_name, attr = spec.split(":", 1)
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m` does: the current folder's modules
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as error:
        raise CLIError(f"--model {spec!r}: {error}") from error
    except Exception as error:  # the user's module failed while importing
        raise CLIError(
            f"--model {spec!r}: importing {module_name} failed: {type(error).__name__}: {error}"
        ) from error
    if isinstance(obj, type):
        try:
            obj = obj()
        except Exception as error:
            raise CLIError(
                f"--model {spec!r}: {attr}() failed: {type(error).__name__}: {error}"
            ) from error
    if not callable(obj):
        raise CLIError(
            f"--model {spec!r}: {attr} is not a model (not callable: {type(obj).__name__})"
        )
    return obj.eval() if isinstance(obj, torch.nn.Module) else obj


def _is_state_dict(path: str) -> bool:
    """Whether ``path`` is a torch.save file of a dict of tensors (weights only)."""
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # not a torch file at all: reported as not TorchScript
        return False
    if isinstance(loaded, dict) and "state_dict" in loaded:
        loaded = loaded["state_dict"]
    return isinstance(loaded, dict) and all(isinstance(v, torch.Tensor) for v in loaded.values())


def image_argument(
    path: str, gray: bool, size: tuple[int, int] | None, fit: str = "crop"
) -> torch.Tensor:
    """An image file -> (1, C, H, W) float32 in [0, 1] (``pk.io.load_image``), its errors
    naming the argument."""
    from ..io.image_files import ImageFileError
    from ..io.image_files import load_image as read

    if size is not None and min(size) < 8:
        raise CLIError(f"--size {size[0]} {size[1]}: both sides must be >= 8")
    try:
        image = read(path, size, gray, fit)
    except ImageFileError as error:
        raise CLIError(f"IMAGE {path!r}: {error}") from error
    if min(image.shape[-2:]) < 8:
        raise CLIError(
            f"IMAGE {path!r} is {image.shape[-2]}x{image.shape[-1]}: too small for a pyramid "
            "(both sides must be >= 8); pass --size H W to resize it"
        )
    return image


def check_memory(images: int, channels: int, size: tuple[int, int], steps: int) -> None:
    """Raise CLIError before any allocation when a morph of ``images`` images of ``size``
    would need more memory than the machine has available (a generous estimate)."""
    need = images * channels * size[0] * size[1] * (MORPH_BYTES_PER_ELEMENT + 4 * steps)
    available = available_memory()
    if available is not None and need > available:
        raise CLIError(
            f"a morph of {images}x{channels}x{size[0]}x{size[1]} images needs about "
            f"{need / 2**30:.1f} GiB, more than the {available / 2**30:.1f} GiB available; "
            "pass a smaller --size"
        )


def _demo(args: argparse.Namespace) -> int:
    from ..experiments.demo import run

    run(
        args.out,
        budget=args.budget,
        regime=args.regime,
        steps=args.steps,
        photos=not args.no_photos,
        photo_budget=args.photo_budget,
    )
    return 0


def _eval(args: argparse.Namespace) -> int:
    from ..experiments.evaluation import run_eval

    if args.protocol == "imagenet":
        from ..experiments.imagenet_protocol import run_imagenet_eval

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


def _model_input(args: argparse.Namespace, what: str) -> tuple[bool, tuple[int, int] | None]:
    """(gray, size) for the images: an embedded model's input spec fills them in when neither
    --gray nor --size is given (said on stdout)."""
    from .. import models

    gray, size = args.gray, args.size
    spec = models.INPUTS.get(args.model)
    if args.normalize is not None:
        from ..generating.model_input import parse_normalize

        with warnings.catch_warnings():  # warned once, where it is used
            warnings.simplefilter("ignore")
            parse_normalize(args.normalize)  # a bad value is reported as such first
    if spec is not None and args.normalize is not None:
        raise CLIError(f"--normalize: {args.model} normalises its input itself; drop it")
    if spec is not None and not gray and size is None:
        gray, size = spec.channels == 1, spec.size
        mode = "grayscale" if gray else "RGB"
        how = {"crop": "centre-cropped", "pad": "padded", "stretch": "stretched"}[args.fit]
        print(
            f"{args.model} takes {spec.channels}x{size[0]}x{size[1]} images: read "
            f"{what} as {mode}, {how} (--fit {args.fit}) and resized to {size[0]}x{size[1]}"
        )
    return gray, size


def _image_for(args: argparse.Namespace) -> torch.Tensor:
    """The image as the model takes it (see _model_input), checked (io.image_files.
    input_notes) and its size checked against the memory available before it is decoded."""
    from ..io.image_files import ImageFileError, image_size, input_notes

    if image_size(args.image) is None:  # unreadable: its error comes first, before any note
        image_argument(args.image, args.gray, None, args.fit)
    gray, size = _model_input(args, args.image)
    try:
        notes = input_notes(args.image, size, 1 if gray else 3)
    except ImageFileError as error:
        raise CLIError(f"IMAGE {args.image!r}: {error}") from error
    shape = size or image_size(args.image)
    check_memory(1, 1 if gray else 3, shape, getattr(args, "steps", 0))
    for note in notes.values():
        print(f"note: {args.image} {note}")
    return image_argument(args.image, gray, size, args.fit)


def class_arg(text: str) -> int | str:
    """--target/--source: a class index (digits) or a class name."""
    return int(text) if text.strip().lstrip("-").isdigit() else text.strip()


def _normalized(model, args: argparse.Namespace):
    """``model`` wrapped in --normalize's statistics when given."""
    if args.normalize is None:
        return model
    from ..generating.model_input import Normalized, parse_normalize

    return Normalized(model, *parse_normalize(args.normalize))


def _morph(args: argparse.Namespace) -> int:
    from ..models.class_names import class_indices, is_runner_up, model_labels, runner_up
    from ..morphing import MorphOptions, morph

    model = _normalized(load_model(args.model), args)
    names = model_labels(model)
    wants_runner_up = is_runner_up(args.target)
    if not wants_runner_up:
        target = class_indices(class_arg(args.target), names, argument="--target")
    x = _image_for(args)
    try:
        with torch.no_grad():
            logits = model(x)
    except RuntimeError as error:  # the model failed on the image (shape, channels, dtype)
        raise CLIError(f"--model {args.model!r} failed on {args.image!r}: {error}") from error
    if not isinstance(logits, torch.Tensor) or logits.dim() != 2:
        raise CLIError(f"--model {args.model!r} must return logits (B, classes)")

    def name(index: int) -> str:
        return (
            f"{index} ({names[0][index]})" if names and 0 <= index < len(names[0]) else str(index)
        )

    if wants_runner_up and logits.shape[1] < 2:
        raise CLIError(f"--target runner-up: --model {args.model!r} has one class")
    source = int(logits.argmax(1))
    if wants_runner_up:
        target = int(runner_up(logits)[0])
    if isinstance(target, int) and not 0 <= target < logits.shape[1]:  # before any morph work
        raise CLIError(
            f"--target {target} is not a class of --model {args.model!r}, whose classes are "
            f"0 to {logits.shape[1] - 1}"
        )
    if source == target:
        raise CLIError(
            f"--target {name(target)} is already the model's class for {args.image!r}; "
            "pick another target"
        )
    try:
        result = morph(
            model, x, target, progress=True, options=MorphOptions(**_morph_options(args))
        )
    except RuntimeError as error:  # the model failed on the image (shape, channels, dtype)
        raise CLIError(f"--model {args.model!r} failed on {args.image!r}: {error}") from error
    if args.budget is not None and not bool(result.attained.all()) and not args.allow_unattained:
        raise CLIError(
            f"the morph did not reach --budget {args.budget:g}: it stopped at L2 "
            f"{float(result.distance[-1, 0]):.4g} (a clamped image can only change so much); "
            "nothing written; pass --allow-unattained to keep the closest frames"
        )
    coherence = None
    if args.coherence or args.coherence_every_frame:
        coherence = result.coherence_families(args.coherence_every_frame, progress=True)
    result.save(args.out, coherence=False if coherence is None else coherence)
    probs = " ".join(f"{p:.3f}" for p in result.target_prob[:, 0].tolist())
    final = int(result.top1[-1, 0])
    print(f"source {name(source)} -> target {name(target)}")
    print(f"target probability per frame: {probs}")
    if coherence is not None:
        warp, with_gain = (coherence[k][:, 0].tolist() for k in ("warp", "warp+gain"))
        pairs = zip(warp, with_gain, strict=True)
        explained = [f"{w:.3f} / {g:.3f}" for w, g in pairs if g == g]
        which = "per frame" if args.coherence_every_frame else "of the last frame"
        print(f"E warp / warp + gain {which}: {', '.join(explained) or 'undefined'}")
    print(
        f"final L2 distance {result.distance[-1, 0]:.4f}; final top-1 {name(final)}; "
        f"wrote {args.out}"
    )
    return 0


def _probe(args: argparse.Namespace) -> int:
    from ..models.class_names import class_indices, is_runner_up, model_labels
    from ..morphing import probe_bands

    model = _normalized(load_model(args.model), args)
    names = model_labels(model)
    target = args.target.strip()
    if not is_runner_up(target):
        target = class_indices(class_arg(args.target), names, argument="--target")
    x = _image_for(args)
    try:
        probe = probe_bands(model, x, target, l2=args.l2, n_random=args.n_random)
    except RuntimeError as error:  # the model failed on the image (shape, channels, dtype)
        raise CLIError(f"--model {args.model!r} failed on {args.image!r}: {error}") from error
    probe.save(args.out)
    level, k = probe.peak()[0]
    advantage = probe.advantage[0]
    print(
        f"{probe.class_name(int(probe.source[0]))} -> {probe.class_name(int(probe.target[0]))}"
        f": margin {float(probe.margin[0]):.3f}; margin advantage per band at L2 {args.l2:g} "
        "(rows: levels, finest first; columns: orientations)"
    )
    for row in advantage.tolist():
        print("  " + " ".join(f"{v:+.3f}" for v in row))
    print(f"largest at level {level}, orientation {k}; wrote {args.out}")
    return 0


def _photos(args: argparse.Namespace) -> int:
    from .. import data

    for path in data.save_photos(args.out, args.names or None):
        print(path)
    return 0


def _generate(args: argparse.Namespace) -> int:
    from ..generating import generate

    if args.images is None and args.embedded is None:
        raise CLIError("pass --images DIR|GLOB or --embedded mnist-test")
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
    elif target != "runner-up" and not Path(target).is_file() and target.endswith(".csv"):
        raise CLIError(f"--target {target!r}: no such CSV file")
    if size is not None:
        check_memory(args.batch_size, 1 if gray else 3, size, args.steps)
    try:
        summary = generate(
            model,
            images,
            args.out,
            targets=target,
            size=size,
            fit=args.fit,
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
            coherence=args.coherence,
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


def _height(text: str):
    """--height: "auto" or an int."""
    return text if text == "auto" else int(text)


def _magnify(args: argparse.Namespace) -> int:
    from .magnify_video import run
    from .system import steady_malloc

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


def data_split(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """--embedded NAME: "mnist-test", "digits-train", ... (``EMBEDDED``) -> (images, labels)."""
    from .. import data

    which, split = name.split("-", 1)
    return getattr(data, which)(split)


def _add_scales_per_octave(parser: argparse.ArgumentParser, what: str) -> None:
    """--scales-per-octave N (1..8) of the pyramid; ``what`` begins its help."""
    parser.add_argument(
        "--scales-per-octave",
        type=int,
        default=1,
        choices=range(1, 9),
        metavar="N",
        help=f"{what}: 1 octave, 2 half-octave, 4 quarter-octave",
    )


def _add_image_input(parser: argparse.ArgumentParser) -> None:
    """IMAGE, --model and how the image is read for it (morph, probe: see _image_for)."""
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


def _add_morph_options(parser: argparse.ArgumentParser) -> None:
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
    _add_scales_per_octave(parser, "pyramid band levels per octave for --space csp")
    parser.add_argument(
        "--no-cuda-graph",
        action="store_true",
        help="on CUDA, never replay frozen morphs from a CUDA graph",
    )


def _morph_options(args: argparse.Namespace) -> dict:
    """The pk.morph keyword arguments of parsed ``_add_morph_options`` options."""
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


def _parser() -> argparse.ArgumentParser:
    formatter = _HelpFormatter
    parser = argparse.ArgumentParser(
        prog="pyramid-kernels", description=__doc__, formatter_class=formatter
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True)
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
    demo.set_defaults(run=_demo)

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
    ev.set_defaults(run=_eval)

    mo = sub.add_parser(
        "morph",
        help="morph an image file toward a target class of a model",
        formatter_class=formatter,
    )
    _add_image_input(mo)
    mo.add_argument(
        "--target",
        required=True,
        help=TARGET_HELP,
    )
    mo.add_argument(
        "--coherence",
        action="store_true",
        help="measure E of the last frame, the share of its change a smooth warp explains "
        "(warp only / warp + gain): printed and captioned",
    )
    mo.add_argument(
        "--allow-unattained",
        action="store_true",
        help="write the morph even when it cannot reach --budget (its closest frames)",
    )
    mo.add_argument(
        "--coherence-every-frame",
        action="store_true",
        help="measure E of every frame (about steps times the work of --coherence)",
    )
    mo.add_argument("--out", required=True, help="output .gif or .png")
    _add_morph_options(mo)
    mo.set_defaults(run=_morph)

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
    ma.add_argument("--height", type=_height, default="auto", help="pyramid levels or auto")
    ma.add_argument("--orientations", type=int, default=8, help="bands per level")
    _add_scales_per_octave(ma, "band levels per octave (narrower bands take larger --alpha)")
    ma.add_argument("--device", type=device_arg, default="cpu", help="cpu, cuda, cuda:1, ...")
    ma.add_argument(
        "--chunk-size",
        type=positive_int,
        default=MagnifyOptions.chunk_size,
        help="frames per chunk (causal filters, streaming)",
    )
    ma.add_argument("--quiet", action="store_true", help="no progress bar")
    ma.set_defaults(run=_magnify)

    pr = sub.add_parser(
        "probe",
        help="which pyramid bands carry a model's class-sensitive phase direction (heat map)",
        formatter_class=formatter,
    )
    _add_image_input(pr)
    pr.add_argument(
        "--target",
        required=True,
        help=TARGET_HELP,
    )
    pr.add_argument("--out", required=True, help="output .png heat map")
    pr.add_argument("--l2", type=float, default=0.5, help="pixel L2 of every probed image")
    pr.add_argument("--n-random", type=int, default=8, help="random directions per band")
    pr.set_defaults(run=_probe)

    ge = sub.add_parser(
        "generate",
        help="morph every image of a folder; frames, pictures, manifest (resumable; torchrun)",
        formatter_class=formatter,
    )
    where = ge.add_mutually_exclusive_group()
    where.add_argument("--images", help="folder (searched recursively) or glob pattern")
    where.add_argument("--embedded", choices=EMBEDDED, help="bundled images instead")
    ge.add_argument("--model", required=True, help=MODEL_HELP)
    ge.add_argument(
        "--target",
        default="runner-up",
        help="runner-up (the model's second choice per image), a class index or name, or a "
        "CSV file with columns image,target (indices or names)",
    )
    ge.add_argument("--out", required=True, help="output folder")
    ge.add_argument("--gray", action="store_true", help="grayscale images (embedded: auto)")
    ge.add_argument(
        "--size", type=int, nargs=2, metavar=("H", "W"), help="resize every image to H x W"
    )
    ge.add_argument("--fit", default="crop", choices=FITS, help=FIT_HELP)
    ge.add_argument("--normalize", help=NORMALIZE_HELP)
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
    ge.add_argument(
        "--device", type=device_arg, help="device (default: cuda:LOCAL_RANK if CUDA, else cpu)"
    )
    ge.add_argument(
        "--coherence",
        action="store_true",
        help="measure E of the last frame (warp only / warp + gain): on the pictures and in "
        "the manifest (coherence_warp, coherence)",
    )
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

    ph = sub.add_parser(
        "photos",
        help="write the bundled photos as PNG files at their own size (to try the commands)",
        formatter_class=formatter,
    )
    ph.add_argument("--out", required=True, help="output folder")
    ph.add_argument("names", nargs="*", help=f"which photos (default: all): {', '.join(PHOTOS)}")
    ph.set_defaults(run=_photos)
    parser.commands = sub.choices  # each command's own parser (its usage with its errors)
    return parser


def _input_files(args: argparse.Namespace) -> list[str]:
    """The files (or, for generate, the folder) a command reads, which its --out must not be."""
    if args.command in ("morph", "probe"):
        return [args.image]
    if args.command == "magnify":
        from ..io.video import video_files

        return video_files(args.video)
    if args.command == "generate" and args.images is not None:
        return [args.images]
    return []


def _one_line_warning(command: str):
    """warnings.showwarning that prints "pyramid-kernels COMMAND: warning: MESSAGE"."""

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        print(f"pyramid-kernels {command}: warning: {message}", file=file or sys.stderr)

    return show


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)  # argparse reports its own errors with status 2
    command = parser.commands[args.command]  # its usage, not the top level's, with an error
    if args.command == "morph" and not args.out.lower().endswith((".gif", ".png")):
        command.error("--out must end in .gif or .png")
    if args.command == "probe" and not args.out.lower().endswith(".png"):
        command.error("--out must end in .png")
    try:
        out = getattr(args, "out", None)
        if out is not None:  # before any work: a morph must not run only to fail at the end
            check_writable(out, folder=args.command not in ("morph", "magnify", "probe"))
            check_not_input(out, _input_files(args))
        with warnings.catch_warnings():  # a warning is one line, not a source line
            warnings.showwarning = _one_line_warning(args.command)
            return args.run(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        resume = (
            ": its finished batches are kept; run the same command again to resume"
            if args.command == "generate"
            else ", nothing written"
        )
        print(f"pyramid-kernels {args.command}: interrupted{resume}", file=sys.stderr)
        return INTERRUPTED
    except (CLIError, ValueError, TypeError, OSError) as error:
        if args.debug:
            raise
        print(f"pyramid-kernels {args.command}: error: {error}", file=sys.stderr)
        return USAGE_ERROR


if __name__ == "__main__":
    sys.exit(main())
