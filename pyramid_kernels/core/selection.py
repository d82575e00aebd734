"""Which coefficients a partial reconstruction uses: residuals, levels, and bands within them.

Crosses the ``collapse`` op boundary as one string (:meth:`CoefficientSelection.op_arg`, "" for
everything), so the op reads and transforms only the selected coefficients: no zeroed copies,
no FFTs of unselected levels or bands.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

Selection = str | int | Iterable[int | str]
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


def selection_items(value: Selection, name: str, names: tuple[str, ...]) -> list[int | str]:
    """The integers and names a selection argument holds, or ["all"] for "all".

    Accepted: "all"; one index or name; an iterable (list, tuple, range, set) of them; a NumPy
    or torch integer array (0-d or 1-d). An index is a Python or NumPy integer or a 0-d integer
    tensor or array; a name is one of ``names``. Bools, floats, nested sequences, None and
    other strings are a TypeError naming ``name``; an empty selection is a ValueError.
    """
    accepts = f"'all', an index or a list of indices{' and of ' + str(names) if names else ''}"
    if isinstance(value, str):
        if value == "all" or value in names:
            return [value]
        raise ValueError(f"{name} must be {accepts}, got the string {value!r}")
    if isinstance(value, (Tensor, np.ndarray)) and value.ndim > 1:
        raise TypeError(f"{name} must be {accepts}: got an array of shape {tuple(value.shape)}")
    single = isinstance(value, (int, np.integer)) or (
        isinstance(value, (Tensor, np.ndarray)) and value.ndim == 0
    )
    if single:
        items = [value]
    elif isinstance(value, (Tensor, np.ndarray, Iterable)) and not isinstance(value, bytes):
        items = list(value)
    else:
        raise TypeError(f"{name} must be {accepts}, got {type(value).__name__}")
    if not items:
        raise ValueError(f"{name} selects nothing: pass 'all' or at least one index")
    return [_item(item, name, names, accepts) for item in items]


def _item(item, name: str, names: tuple[str, ...], accepts: str) -> int | str:
    """One element of a selection as a Python int or one of ``names``."""
    if isinstance(item, str) and item in names:
        return item
    if isinstance(item, (Tensor, np.ndarray)) and item.ndim == 0:
        integer = (
            not item.dtype.is_floating_point and not item.dtype.is_complex
            if isinstance(item, Tensor)
            else item.dtype.kind in "iu"
        )
        if integer and item.dtype not in (torch.bool, np.bool_):
            return int(item.item())
    elif isinstance(item, (int, np.integer)) and not isinstance(item, (bool, np.bool_)):
        return int(item)
    shown = f"{type(item).__name__} {item!r}" if not isinstance(item, str) else repr(item)
    raise TypeError(f"{name} must be {accepts}; it holds {shown}")


def _levels(levels: Selection, height: int) -> set[int | str]:
    """The levels (ints and residual names) a ``levels`` argument selects."""
    every = {*range(height), *RESIDUALS}
    chosen = set(selection_items(levels, "levels", RESIDUALS))
    if chosen == {"all"}:
        return every
    unknown = chosen - every
    if unknown:
        raise ValueError(
            f"levels has {sorted(map(str, unknown))}, not levels of this pyramid: pass indices "
            f"0..{height - 1} and {RESIDUALS}"
        )
    return chosen


def _bands(bands: Selection, orientations: int) -> tuple[int, ...] | None:
    """The band indices a ``bands`` argument keeps (None: all)."""
    keep = selection_items(bands, "bands", ())
    if keep == ["all"]:
        return None
    keep = tuple(sorted(set(keep)))
    if not all(0 <= b < orientations for b in keep):
        raise ValueError(f"bands must hold band indices 0..{orientations - 1}, got {list(keep)}")
    return keep
