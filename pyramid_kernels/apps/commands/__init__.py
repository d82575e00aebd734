"""One module per command, each with ``add_parser(sub, formatter)`` (its arguments) and
``run(args) -> int`` (its work), in the order ``pyramid-kernels --help`` lists them."""

from . import demo, evaluate, generate, magnify, morph, photos, probe

COMMANDS = (demo, evaluate, morph, magnify, probe, generate, photos)
