"""Which coefficients a partial reconstruction uses: residuals, levels, and bands within them.

Crosses the ``collapse`` op boundary as one string (:meth:`CoefficientSelection.op_arg`, "" for
everything), so the op reads and transforms only the selected coefficients: no zeroed copies,
no FFTs of unselected levels or bands.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import Tensor

Selection = str | Iterable[int | str]
RESIDUALS = ("highpass", "lowpass")


@dataclass(frozen=True)
class CoefficientSelection:
    """highpass / lowpass: whether the residuals count; levels: the band levels that do;
    bands: the band indices kept in those levels (None: all K)."""

    highpass: bool
    lowpass: bool
    levels: frozenset[int]
    bands: tuple[int, ...] | None

    @staticmethod
    def of(
        levels: Selection, bands: Selection, height: int, orientations: int
    ) -> CoefficientSelection | None:
        """The selection of ``levels`` ("all", or level indices and "highpass"/"lowpass")
        and ``bands`` ("all", or band indices); None when it selects everything. Raises
        ValueError naming the bad argument."""
        chosen = _levels(levels, height)
        keep = _bands(bands, orientations)
        if keep is not None and len(keep) == orientations:
            keep = None
        selection = CoefficientSelection(
            "highpass" in chosen,
            "lowpass" in chosen,
            frozenset(c for c in chosen if isinstance(c, int)),
            keep,
        )
        everything = CoefficientSelection(True, True, frozenset(range(height)), None)
        return None if selection == everything else selection

    def band_mask(self, like: Tensor) -> Tensor:
        """(K, 1, 1) real ones at the kept bands, zeros elsewhere, for bands like ``like``
        (..., K, h, w); needs ``bands`` set."""
        mask = torch.zeros(like.shape[-3], 1, 1, dtype=like.real.dtype, device=like.device)
        return mask.index_fill(0, torch.tensor(self.bands, device=like.device), 1.0)

    def op_arg(self) -> str:
        levels = ",".join(map(str, sorted(self.levels)))
        bands = "all" if self.bands is None else ",".join(map(str, self.bands))
        residuals = f"highpass={int(self.highpass)};lowpass={int(self.lowpass)}"
        return f"{residuals};levels={levels};bands={bands}"

    @staticmethod
    def parse(text: str) -> CoefficientSelection | None:
        """Inverse of :meth:`op_arg` ("" -> None: everything)."""
        return _parse(text)


@lru_cache(maxsize=256)
def _parse(text: str) -> CoefficientSelection | None:
    if text == "":
        return None
    try:
        fields = dict(item.split("=", 1) for item in text.split(";"))
        ints = [int(v) for v in fields["levels"].split(",") if v]
        bands = (
            None if fields["bands"] == "all" else tuple(int(v) for v in fields["bands"].split(","))
        )
        return CoefficientSelection(
            bool(int(fields["highpass"])), bool(int(fields["lowpass"])), frozenset(ints), bands
        )
    except (KeyError, ValueError):
        raise ValueError(
            f"selection argument {text!r} is not of the form made by op_arg()"
        ) from None


def _levels(levels: Selection, height: int) -> set[int | str]:
    """The levels (ints and residual names) a ``levels`` argument selects."""
    every = {*range(height), *RESIDUALS}
    if isinstance(levels, str):
        if levels != "all":
            raise ValueError(
                f"levels must be 'all' or an iterable of level indices and {RESIDUALS}, "
                f"got {levels!r}"
            )
        return every
    chosen = set(levels)
    unknown = chosen - every
    if unknown:
        raise ValueError(
            f"levels has {sorted(map(str, unknown))}, not levels of this pyramid: pass indices "
            f"0..{height - 1} and {RESIDUALS}"
        )
    return chosen


def _bands(bands: Selection, orientations: int) -> tuple[int, ...] | None:
    """The band indices a ``bands`` argument keeps (None: all)."""
    if isinstance(bands, str):
        if bands != "all":
            raise ValueError(f"bands must be 'all' or an iterable of band indices, got {bands!r}")
        return None
    keep = tuple(sorted(set(bands)))
    if any(
        isinstance(b, bool) or not isinstance(b, int) or not 0 <= b < orientations for b in keep
    ):
        raise ValueError(f"bands must hold band indices 0..{orientations - 1}, got {list(keep)}")
    return keep
