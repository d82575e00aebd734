"""The transform as users hold it: :class:`Pyramid` coefficients with :func:`build` and
:func:`collapse` (functional.py), and the :class:`SteerablePyramid` module (module.py)."""

from .functional import Pyramid, build, build_with_spec, collapse
from .module import NotScriptableError, SteerablePyramid

__all__ = [
    "NotScriptableError",
    "Pyramid",
    "SteerablePyramid",
    "build",
    "build_with_spec",
    "collapse",
]
