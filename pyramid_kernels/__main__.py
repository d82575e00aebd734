"""``python -m pyramid_kernels COMMAND ...``: the ``pyramid-kernels`` command, for launchers
that start a module (``torchrun ... -m pyramid_kernels generate ...``)."""

import sys

from .apps.cli import main

if __name__ == "__main__":
    sys.exit(main())
