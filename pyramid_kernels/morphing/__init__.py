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
from .probe import BandProbe, probe_bands

__all__ = [
    "BUDGET_CONTRACT",
    "BandProbe",
    "COLORS",
    "EDITS",
    "LOSSES",
    "REGIMES",
    "SPACES",
    "clear_cuda_graphs",
    "MorphOptions",
    "MorphResult",
    "morph",
    "probe_bands",
]
