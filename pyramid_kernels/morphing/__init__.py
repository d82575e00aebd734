"""Steerable Lens morphs: :func:`morph` and its edit spaces and colour handling."""

from .budget import BUDGET_CONTRACT
from .core import (
    COLORS,
    EDITS,
    LOSSES,
    REGIMES,
    SPACES,
    MorphOptions,
    MorphResult,
    morph,
)
from .graphs import clear_cuda_graphs

__all__ = [
    "BUDGET_CONTRACT",
    "COLORS",
    "EDITS",
    "LOSSES",
    "REGIMES",
    "SPACES",
    "clear_cuda_graphs",
    "MorphOptions",
    "MorphResult",
    "morph",
]
