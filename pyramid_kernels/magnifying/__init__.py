"""Phase-based video motion magnification: :func:`magnify` (a clip in memory) and
:class:`Magnifier` (streaming, causal filters), both set by one :class:`MagnifyOptions`."""

from .filters import FILTERS
from .magnifier import Magnifier, magnify, magnify_with
from .options import COLORS, MagnifyOptions

__all__ = ["COLORS", "FILTERS", "MagnifyOptions", "Magnifier", "magnify", "magnify_with"]
