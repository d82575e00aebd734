"""What the CLI reads for a command: the model (--model), the image as that model takes it,
the embedded image sets, and the check that a morph fits in memory."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from pathlib import Path

import torch

from .arguments import CLIError
from .system import available_memory

EMBEDDED = ("mnist-test", "mnist-train", "digits-test", "digits-train")
# bytes of working memory per image element of a morph: frames (steps + 1), the pyramid's
# coefficients, gradients and the model's activations (a generous bound, not a measurement)
MORPH_BYTES_PER_ELEMENT = 4 * 64


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
            if is_state_dict(spec):
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


def is_state_dict(path: str) -> bool:
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


def model_input(args: argparse.Namespace, what: str) -> tuple[bool, tuple[int, int] | None]:
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


def image_for(args: argparse.Namespace) -> torch.Tensor:
    """The image as the model takes it (see model_input), checked (io.image_files.
    input_notes) and its size checked against the memory available before it is decoded."""
    from ..io.image_files import ImageFileError, image_size, input_notes

    if image_size(args.image) is None:  # unreadable: its error comes first, before any note
        image_argument(args.image, args.gray, None, args.fit)
    gray, size = model_input(args, args.image)
    try:
        notes = input_notes(args.image, size, 1 if gray else 3)
    except ImageFileError as error:
        raise CLIError(f"IMAGE {args.image!r}: {error}") from error
    shape = size or image_size(args.image)
    check_memory(1, 1 if gray else 3, shape, getattr(args, "steps", 0))
    for note in notes.values():
        print(f"note: {args.image} {note}")
    return image_argument(args.image, gray, size, args.fit)


def normalized(model, args: argparse.Namespace):
    """``model`` wrapped in --normalize's statistics when given."""
    if args.normalize is None:
        return model
    from ..generating.model_input import Normalized, parse_normalize

    return Normalized(model, *parse_normalize(args.normalize))


def data_split(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """--embedded NAME: "mnist-test", "digits-train", ... (``EMBEDDED``) -> (images, labels)."""
    from .. import data

    which, split = name.split("-", 1)
    return getattr(data, which)(split)
