"""Steerable Lens morphs: :func:`morph` and its edit spaces and colour handling."""

from .core import (
    BUDGET_CONTRACT,
    COLORS,
    EDITS,
    LOSSES,
    REGIMES,
    SPACES,
    MorphOptions,
    MorphResult,
    morph,
)

__all__ = [
    "BUDGET_CONTRACT",
    "COLORS",
    "EDITS",
    "LOSSES",
    "REGIMES",
    "SPACES",
    "MorphOptions",
    "MorphResult",
    "morph",
]
