"""``pyramid-kernels generate``: every image of a folder morphed (resumable)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..arguments import (
    FIT_HELP,
    FITS,
    MODEL_HELP,
    NORMALIZE_HELP,
    CLIError,
    add_morph_options,
    device_arg,
    morph_options,
)
from ..loading import EMBEDDED, check_memory, data_split, load_model, model_input


def add_parser(sub, formatter: type[argparse.HelpFormatter]) -> argparse.ArgumentParser:
    """Add the command's parser to ``sub`` (argparse subparsers)."""
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
    add_morph_options(ge)
    ge.set_defaults(run=run)
    return ge


def run(args: argparse.Namespace) -> int:
    from ...generating import generate

    if args.images is None and args.embedded is None:
        raise CLIError("pass --images DIR|GLOB or --embedded mnist-test")
    if args.embedded is not None:
        images, _ = data_split(args.embedded)
        gray, size = False, args.size  # a tensor keeps its channels; --size resizes it
    else:
        images = args.images
        gray, size = model_input(args, "the images")
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
            **morph_options(args),
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
