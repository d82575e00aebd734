"""``pyramid-kernels morph``: one image file morphed toward a target class."""

from __future__ import annotations

import argparse

import torch

from ..arguments import (
    TARGET_HELP,
    CLIError,
    add_image_input,
    add_morph_options,
    class_arg,
    morph_options,
)
from ..loading import image_for, load_model, normalized


def add_parser(sub, formatter: type[argparse.HelpFormatter]) -> argparse.ArgumentParser:
    """Add the command's parser to ``sub`` (argparse subparsers)."""
    mo = sub.add_parser(
        "morph",
        help="morph an image file toward a target class of a model",
        formatter_class=formatter,
    )
    add_image_input(mo)
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
    add_morph_options(mo)
    mo.set_defaults(run=run)
    return mo


def run(args: argparse.Namespace) -> int:
    from ...models.class_names import class_indices, is_runner_up, model_labels, runner_up
    from ...morphing import MorphOptions, morph

    model = normalized(load_model(args.model), args)
    names = model_labels(model)
    wants_runner_up = is_runner_up(args.target)
    if not wants_runner_up:
        target = class_indices(class_arg(args.target), names, argument="--target")
    x = image_for(args)
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
        result = morph(model, x, target, progress=True, options=MorphOptions(**morph_options(args)))
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
