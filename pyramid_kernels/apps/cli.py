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
import sys
import warnings

from ..io.image_io import check_not_input, check_writable
from .arguments import CLIError, HelpFormatter
from .commands import COMMANDS

USAGE_ERROR = 2
INTERRUPTED = 130  # the shell's status for a run stopped by Ctrl-C (128 + SIGINT)


def build_parser() -> argparse.ArgumentParser:
    """The ``pyramid-kernels`` parser: one subparser per command (``parser.commands``: each
    command's own parser, whose usage its errors show)."""
    parser = argparse.ArgumentParser(
        prog="pyramid-kernels", description=__doc__, formatter_class=HelpFormatter
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub, HelpFormatter)
    parser.commands = sub.choices
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
    parser = build_parser()
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
