"""``pyramid-kernels probe``: which pyramid bands carry a model's class direction."""

from __future__ import annotations

import argparse

from ..arguments import TARGET_HELP, CLIError, add_image_input, class_arg
from ..loading import image_for, load_model, normalized


def add_parser(sub, formatter: type[argparse.HelpFormatter]) -> argparse.ArgumentParser:
    """Add the command's parser to ``sub`` (argparse subparsers)."""
    pr = sub.add_parser(
        "probe",
        help="which pyramid bands carry a model's class-sensitive phase direction (heat map)",
        formatter_class=formatter,
    )
    add_image_input(pr)
    pr.add_argument(
        "--target",
        required=True,
        help=TARGET_HELP,
    )
    pr.add_argument("--out", required=True, help="output .png heat map")
    pr.add_argument("--l2", type=float, default=0.5, help="pixel L2 of every probed image")
    pr.add_argument("--n-random", type=int, default=8, help="random directions per band")
    pr.set_defaults(run=run)
    return pr


def run(args: argparse.Namespace) -> int:
    from ...models.class_names import class_indices, is_runner_up, model_labels
    from ...morphing import probe_bands

    model = normalized(load_model(args.model), args)
    names = model_labels(model)
    target = args.target.strip()
    if not is_runner_up(target):
        target = class_indices(class_arg(args.target), names, argument="--target")
    x = image_for(args)
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
