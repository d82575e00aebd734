"""Phase-based video motion magnification: :func:`magnify` (a clip in memory) and
:class:`Magnifier` (streaming, causal filters)."""

from .filters import FILTERS
from .magnifier import COLORS, Magnifier, magnify

__all__ = ["COLORS", "FILTERS", "Magnifier", "magnify"]
