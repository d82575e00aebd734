"""``MagnifyOptions``: every setting of a magnification except the video, validated once."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from ..core.color import color_mode
from ..core.options import check_options, keyword_defaults
from ..core.spec import PyramidSpec
from ..ops.backends import BACKENDS
from ..pyramid.module import SteerablePyramid
from .filters import is_number, make_filter

COLORS = ("luminance", "rgb")
MAX_ALPHA = 1e6  # beyond, the rotation angles outgrow what float32 sin/cos can represent
DEFAULT_PYRAMID = PyramidSpec(orientations=8)


@dataclass(frozen=True)
class MagnifyOptions:
    """Settings of :func:`pyramid_kernels.magnify` and :class:`pyramid_kernels.Magnifier`,
    validated on construction (each error names the setting).

    Parameters
    ----------
    alpha, band, fps, filter, sigma, attenuate, color, backend, chunk_size
        As for :func:`pyramid_kernels.magnify`; ``alpha`` and ``sigma`` are stored as floats,
        ``band`` as a float pair.
    pyramid : PyramidSpec or SteerablePyramid
        The pyramid the bands come from: complex and decimated (its ``height``,
        ``orientations``, ``twidth`` and ``scales_per_octave`` count); magnification always
        edits its tight, adjoint form, so ``tight_frame`` and ``synthesis`` are normalised (a
        SteerablePyramid gives its spec, as in :func:`pyramid_kernels.morph`).
    """

    alpha: float
    band: tuple[float, float]
    fps: float
    filter: str = "ideal"
    sigma: float = 0.0
    attenuate: bool = False
    color: str | None = None
    pyramid: PyramidSpec = DEFAULT_PYRAMID
    backend: str = "auto"
    chunk_size: int = 32

    def __post_init__(self) -> None:
        alpha, sigma = self.alpha, self.sigma
        if not is_number(alpha):
            raise TypeError(f"alpha must be a number, got {alpha!r}")
        if not (math.isfinite(alpha) and abs(alpha) <= MAX_ALPHA):
            raise ValueError(
                f"alpha must be a finite number with |alpha| <= {MAX_ALPHA:g} (phase rotations "
                f"beyond do not fit float32), got {alpha!r}"
            )
        if not is_number(sigma):
            raise TypeError(f"sigma must be a number >= 0 (pixels), got {sigma!r}")
        if not (math.isfinite(sigma) and sigma >= 0):
            raise ValueError(f"sigma must be a finite number >= 0 (pixels), got {sigma!r}")
        if not isinstance(self.attenuate, bool):
            raise TypeError(f"attenuate must be True or False, got {self.attenuate!r}")
        if self.color is not None and self.color not in COLORS:
            raise ValueError(f"color must be one of {COLORS} or None, got {self.color!r}")
        make_filter(self.filter, self.band, self.fps)  # validates the filter's name, band, fps
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        chunk = self.chunk_size
        if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
            raise ValueError(f"chunk_size must be an int >= 1, got {chunk!r}")
        spec = self.pyramid
        if isinstance(spec, SteerablePyramid):  # pyramid= means the same as in pk.morph
            spec = spec.spec
        if not isinstance(spec, PyramidSpec):
            raise TypeError(
                f"pyramid must be a PyramidSpec or SteerablePyramid, got {type(spec).__name__}"
            )
        if not (spec.is_complex and spec.downsample):
            raise ValueError(
                "pyramid must be complex and decimated (is_complex=True, downsample=True): "
                "magnification rotates the phases of analytic bands"
            )
        tight = dataclasses.replace(spec, tight_frame=True, synthesis="adjoint")
        object.__setattr__(self, "pyramid", tight)
        object.__setattr__(self, "alpha", float(alpha))
        object.__setattr__(self, "sigma", float(sigma))
        object.__setattr__(self, "band", tuple(float(f) for f in self.band))

    def color_for(self, channels: int) -> str:
        """The colour mode for images of ``channels``: ``color``, or when None luminance for
        3 channels and every channel otherwise (:func:`core.color.color_mode`).

        Parameters
        ----------
        channels : int
            Channels of the images.

        Returns
        -------
        str
            "luminance" or "rgb".
        """
        return color_mode(self.color, channels)


def pyramid_spec(pyramid, height, orientations, twidth, scales_per_octave) -> PyramidSpec:
    """``pyramid`` (a PyramidSpec, or a SteerablePyramid's spec) when given (then the four
    fields must be left at their defaults), else the spec of the four keyword fields."""
    fields = dict(
        height=height, orientations=orientations, twidth=twidth,
        scales_per_octave=scales_per_octave,
    )  # fmt: skip
    if pyramid is None:
        return PyramidSpec(**fields, is_complex=True)
    changed = [name for name, value in fields.items() if value != getattr(DEFAULT_PYRAMID, name)]
    if changed:
        raise ValueError(
            f"pass either pyramid= or {', '.join(changed)}, not both: the spec already holds them"
        )
    return pyramid.spec if isinstance(pyramid, SteerablePyramid) else pyramid


def options_of(fn, settings: dict, options: MagnifyOptions | None) -> MagnifyOptions:
    """``options``, or MagnifyOptions of ``fn``'s keyword ``settings`` (only one of the two):
    how :func:`magnify` and :class:`Magnifier` take an options object."""
    if options is not None:
        check_options(options, MagnifyOptions, settings, keyword_defaults(fn))
        return options
    missing = [name for name in ("alpha", "band", "fps") if settings[name] is None]
    if missing:
        raise TypeError(
            f"missing {', '.join(missing)}: magnification needs alpha, band and fps (or "
            "options=MagnifyOptions(...))"
        )
    spec = pyramid_spec(
        settings["pyramid"], settings["height"], settings["orientations"], settings["twidth"],
        settings["scales_per_octave"],
    )  # fmt: skip
    keep = {f.name for f in dataclasses.fields(MagnifyOptions)} - {"pyramid"}
    return MagnifyOptions(**{k: v for k, v in settings.items() if k in keep}, pyramid=spec)
