"""The pyramid specification: the parameters that define the transform, validated once."""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass, fields, replace
from functools import lru_cache

import numpy
import torch

SYNTHESIS_MODES = ("adjoint", "real")


def max_height(size: tuple[int, int]) -> int:
    """Deepest pyramid an (H, W) image supports.

    Parameters
    ----------
    size : tuple of int
        (H, W).

    Returns
    -------
    int
        floor(log2 min(H, W)) - 2, or -1 for an empty or negative size.
    """
    if min(size) < 1:
        return -1
    return int(math.floor(math.log2(min(size)))) - 2


def level_sizes(
    size: tuple[int, int], height: int, downsample: bool = True, scales_per_octave: int = 1
) -> list[tuple[int, int]]:
    """Sizes of band levels 0..height * scales_per_octave - 1, then the low-pass residual's.

    Level 0 has the image size. Band level k holds the frequencies below 2^(-k/n) of the
    image's Nyquist (n = ``scales_per_octave``), so it is stored at the DFT crop of that disk's
    bounding box: ceil(d 2^(-k/n)) bins per axis of size d (ceil(d / 2^k) per octave, the same
    as halving k times). ``downsample=False`` keeps every level at the image size.
    """
    n = scales_per_octave
    return [_scaled_size(size, k, n, downsample) for k in range(height * n + 1)]


def _scaled_size(size, k: int, n: int, downsample: bool) -> tuple[int, int]:
    """ceil(d 2^(-k/n)) per axis (exact integer arithmetic at whole octaves)."""
    if not downsample:
        return tuple(size)
    octaves, rest = divmod(k, n)
    if rest == 0:
        return tuple(-(-d // 2**octaves) for d in size)
    return tuple(math.ceil(d * 2.0 ** (-k / n)) for d in size)


@dataclass(frozen=True)
class PyramidSpec:
    """Everything that defines a steerable pyramid except the image size.

    Validated on construction; the custom ops take it as one string (:meth:`op_args`).

    Parameters
    ----------
    height : int or "auto"
        Band-pass levels; :meth:`resolve` checks an int against an image size and replaces
        "auto" by the maximum for it (the custom ops take resolved specs only).
    orientations : int
        K bands per level.
    twidth : float
        Radial transition width in octaves.
    is_complex : bool
        Complex (analytic) or real bands.
    tight_frame : bool
        Orthonormal scaling, or pyrtools / plenoptic amplitudes.
    synthesis : {"adjoint", "real"}
        How complex bands are collapsed.
    downsample : bool
        False gives the undecimated pyramid: every level at the image size.
    scales_per_octave : int
        Band levels per octave n: 1 (octave), 2 (half-octave), 4 (quarter-octave), any n >= 1.
        ``height`` counts octaves, so the pyramid has ``height * n`` band levels
        (:attr:`levels`) covering the same frequencies whatever n.
    """

    height: int | str = "auto"
    orientations: int = 4
    twidth: float = 1.0
    is_complex: bool = True
    tight_frame: bool = True
    synthesis: str = "adjoint"
    downsample: bool = True
    scales_per_octave: int = 1

    def __post_init__(self) -> None:
        for name in ("is_complex", "tight_frame", "downsample"):
            flag = getattr(self, name)
            if not isinstance(flag, (bool, numpy.bool_)):
                raise TypeError(f"{name} must be a bool, got {flag!r}")
            object.__setattr__(self, name, bool(flag))
        h = self.height
        if isinstance(h, bool) or not (h == "auto" or isinstance(h, int)):
            raise TypeError(f"height must be an int or 'auto', got {h!r}")
        if isinstance(h, int) and h < 0:
            raise ValueError(f"height must be >= 0 (or 'auto'), got {h}")
        k = self.orientations
        if isinstance(k, bool) or not isinstance(k, int):
            raise TypeError(f"orientations must be an int, got {type(k).__name__}")
        if k < 1:
            raise ValueError(f"orientations must be >= 1, got {k}")
        if self.is_complex and k < 2:
            raise ValueError(
                "orientations must be >= 2 for a complex pyramid (order 0 has no analytic "
                "band); use orientations >= 2 or is_complex=False"
            )
        if isinstance(self.twidth, bool) or not isinstance(self.twidth, (int, float)):
            raise TypeError(f"twidth must be a positive number, got {self.twidth!r}")
        if not (self.twidth > 0 and math.isfinite(self.twidth)):
            raise ValueError(f"twidth must be a finite number > 0, got {self.twidth}")
        n = self.scales_per_octave
        if isinstance(n, bool) or not isinstance(n, (int, numpy.integer)):
            raise TypeError(f"scales_per_octave must be an int >= 1, got {n!r}")
        if n < 1:
            raise ValueError(
                f"scales_per_octave must be >= 1 (1 octave, 2 half-octave, 4 quarter-octave "
                f"bands), got {n}"
            )
        object.__setattr__(self, "scales_per_octave", int(n))
        if self.synthesis not in SYNTHESIS_MODES:
            raise ValueError(f"synthesis must be one of {SYNTHESIS_MODES}, got {self.synthesis!r}")
        object.__setattr__(self, "twidth", float(self.twidth))

    def __reduce__(self):
        """Pickle through the constructor (validated on load; see Pyramid.__reduce__)."""
        return (PyramidSpec, tuple(getattr(self, f.name) for f in fields(self)))

    @property
    def levels(self) -> int:
        """Band levels: height * scales_per_octave (needs a resolved height)."""
        return self.height * self.scales_per_octave

    @property
    def order(self) -> int:
        """Order n = K - 1 of the angular cos^n masks."""
        return self.orientations - 1

    def level_sizes(self, size: tuple[int, int]) -> list[tuple[int, int]]:
        """Sizes of levels 0..height for an image (needs a resolved height).

        Parameters
        ----------
        size : tuple of int
            (H, W).

        Returns
        -------
        list of tuple of int
            (H_l, W_l) for l = 0..levels (the last one is the low-pass residual's).
        """
        return level_sizes(size, self.height, self.downsample, self.scales_per_octave)

    def resolve(self, size: tuple[int, int]) -> PyramidSpec:
        """This spec with ``height`` checked against an image size and "auto" replaced.

        Cached per spec and size: it runs on every call of build.

        Parameters
        ----------
        size : tuple of int
            (H, W).

        Returns
        -------
        PyramidSpec
            With an integer height.
        """
        if torch.compiler.is_compiling():  # dynamo traces the function, not a cache wrapper
            return _resolve(self, tuple(size))
        return _resolve_cached(self, tuple(size))

    def op_args(self) -> str:
        """The spec as the one string argument the custom ops take ("height=4;...").

        Every field is in it, so a new field crosses the op boundary without touching the ops.

        Returns
        -------
        str
        """
        if torch.compiler.is_compiling():
            return _op_args(self)
        return _op_args_cached(self)

    @staticmethod
    def from_op_args(text: str) -> PyramidSpec:
        """Inverse of :meth:`op_args` (validated; cached per string).

        Parameters
        ----------
        text : str
            A string made by :meth:`op_args`.

        Returns
        -------
        PyramidSpec
        """
        return _parse_op_args(text)


def _resolve(spec: PyramidSpec, size: tuple[int, int]) -> PyramidSpec:
    top = max_height(size)
    if top < 0:
        raise ValueError(
            f"image size {tuple(size)} is too small for a steerable pyramid: "
            "both H and W must be >= 4"
        )
    if spec.height == "auto":
        height = top
    elif spec.height > top:
        raise ValueError(
            f"height={spec.height} is too large for an image of size {tuple(size)}: the "
            f"maximum is floor(log2(min(H, W))) - 2 = {top}; pass height<={top} or 'auto'"
        )
    else:
        height = spec.height
    return replace(spec, height=height)


def _op_args(spec: PyramidSpec) -> str:
    if not isinstance(spec.height, int):
        raise ValueError("op_args() needs a resolved spec (integer height); call resolve()")
    return ";".join(f"{f.name}={getattr(spec, f.name)!r}" for f in fields(spec))


_resolve_cached = lru_cache(maxsize=256)(_resolve)
_op_args_cached = lru_cache(maxsize=256)(_op_args)


@lru_cache(maxsize=256)
def _parse_op_args(text: str) -> PyramidSpec:
    names = {f.name for f in fields(PyramidSpec)}
    values = {}
    for item in text.split(";"):
        name, sep, value = item.partition("=")
        if not sep or name not in names or name in values:
            raise ValueError(f"spec argument {text!r} is not of the form made by op_args()")
        values[name] = ast.literal_eval(value)
    if set(values) != names:
        raise ValueError(f"spec argument {text!r} lacks fields {sorted(names - set(values))}")
    spec = PyramidSpec(**values)
    if not isinstance(spec.height, int):
        raise ValueError(f"spec argument {text!r} must have an integer height")
    return spec
