"""``python -m pyramid_kernels.generate`` (or ``torchrun ... -m pyramid_kernels.generate``):
the ``pyramid-kernels generate`` command, for launchers that start a module.

The function is :func:`pyramid_kernels.generate` (from ``pyramid_kernels.generating``). Importing
this module would rebind that name to the module, so the module is made callable as the
function too.
"""

import sys
import types

from .generating import generate


class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        return generate(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

if __name__ == "__main__":
    from .apps.cli import main

    sys.exit(main(["generate", *sys.argv[1:]]))
