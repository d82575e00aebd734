"""``MorphOptions``: every setting of a morph except the model and the images, validated once."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from ..core.color import color_mode
from ..core.spec import PyramidSpec
from ..ops.backends import BACKENDS
from ..pyramid.module import SteerablePyramid

SPACES = ("csp", "fourier", "pixel")
EDITS = ("phase", "joint")
LOSSES = ("nll", "margin")
REGIMES = ("frozen", "anchored", "live")
COLORS = ("rgb", "luminance")
STEP_CONTROLS = ("amplification", "phase_step", "budget")
DEFAULT_PHASE_STEP = 0.2


@dataclass(frozen=True)
class MorphOptions:
    """Settings of :func:`pyramid_kernels.morph`, validated on construction.

    At most one step control (``amplification``, ``phase_step``, ``budget``) may be given; with
    none, ``phase_step`` is DEFAULT_PHASE_STEP. ``clamp`` is stored as a float pair or None.

    Parameters
    ----------
    space, edit, loss, regime : str
        As for :func:`pyramid_kernels.morph`.
    steps : int
        As for :func:`pyramid_kernels.morph`.
    amplification, phase_step, budget : float or None
        The step controls, as for :func:`pyramid_kernels.morph`.
    color : str or None
        As for :func:`pyramid_kernels.morph`; None (the default) means luminance for RGB
        images and every channel otherwise (:meth:`color_for`).
    clamp : (float, float) or None
        As for :func:`pyramid_kernels.morph`.
    chunk_size, group_bytes : int or None
        As for :func:`pyramid_kernels.morph`.
    pyramid : SteerablePyramid, PyramidSpec or None
        As for :func:`pyramid_kernels.morph`; a spec is stored as its SteerablePyramid.
    backend : str
        As for :func:`pyramid_kernels.morph`.
    cuda_graph : bool or None
        As for :func:`pyramid_kernels.morph`.
    """

    space: str = "csp"
    edit: str = "phase"
    loss: str = "nll"
    regime: str = "frozen"
    steps: int = 11
    amplification: float | None = None
    phase_step: float | None = None
    budget: float | None = None
    color: str | None = None
    clamp: tuple[float, float] | None = (0.0, 1.0)
    chunk_size: int | None = None
    group_bytes: int | None = None
    pyramid: SteerablePyramid | PyramidSpec | None = None
    backend: str = "auto"
    cuda_graph: bool | None = None

    def __post_init__(self) -> None:
        for name, allowed in [
            ("space", SPACES),
            ("edit", EDITS),
            ("loss", LOSSES),
            ("regime", REGIMES),
            ("backend", BACKENDS),
        ]:
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.color is not None and self.color not in COLORS:
            raise ValueError(f"color must be one of {COLORS} or None, got {self.color!r}")
        if self.space == "pixel" and self.edit == "joint":
            raise ValueError(
                "edit='joint' needs phases and amplitudes, which space='pixel' does not have; "
                "use edit='phase' (pixel edits) or space='csp' / 'fourier'"
            )
        steps = self.steps
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be an int >= 1, got {steps!r}")
        given = {k: getattr(self, k) for k in STEP_CONTROLS if getattr(self, k) is not None}
        if len(given) > 1:
            raise ValueError(f"pass at most one of amplification, phase_step, budget; got {given}")
        for name, value in given.items():
            if isinstance(value, (bool, np.bool_)) or not isinstance(
                value, (int, float, np.integer, np.floating)
            ):
                raise TypeError(f"{name} must be a number > 0 (not a flag), got {value!r}")
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
            if isinstance(value, np.generic):
                object.__setattr__(self, name, float(value))
        if not given:
            object.__setattr__(self, "phase_step", DEFAULT_PHASE_STEP)
        clamp = self.clamp
        if clamp is not None:
            numbers = isinstance(clamp, (tuple, list)) and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in clamp
            )
            if not numbers or len(clamp) != 2 or not clamp[0] < clamp[1]:
                raise ValueError(
                    f"clamp must be None or (low, high) with low < high, got {clamp!r}"
                )
            object.__setattr__(self, "clamp", (float(clamp[0]), float(clamp[1])))
        chunk = self.chunk_size
        if chunk is not None and (
            isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1
        ):
            raise ValueError(f"chunk_size must be None or an int >= 1, got {chunk!r}")
        budget = self.group_bytes
        if budget is not None and (
            isinstance(budget, bool) or not isinstance(budget, int) or budget < 1
        ):
            raise ValueError(f"group_bytes must be None or an int >= 1, got {budget!r}")
        if self.cuda_graph is not None and not isinstance(self.cuda_graph, bool):
            raise TypeError(f"cuda_graph must be None, True or False, got {self.cuda_graph!r}")
        if self.cuda_graph and (self.regime != "frozen" or self.budget is not None):
            raise ValueError(
                "cuda_graph=True replays frozen morphs without a budget (the budget search "
                "and the iterative regimes decide their work on the host); pass "
                "regime='frozen' without budget, or cuda_graph=None"
            )
        pyramid = self.pyramid
        if isinstance(pyramid, PyramidSpec):  # pyramid= means the same as in pk.magnify
            spec = {f.name: getattr(pyramid, f.name) for f in fields(PyramidSpec)}
            pyramid = SteerablePyramid(**spec, backend=self.backend)
            object.__setattr__(self, "pyramid", pyramid)
        if pyramid is not None and not isinstance(pyramid, SteerablePyramid):
            raise TypeError(
                "pyramid must be a pyramid_kernels.SteerablePyramid or PyramidSpec, got "
                f"{type(pyramid)}"
            )
        if pyramid is not None and not pyramid.spec.is_complex:
            raise ValueError("pyramid must be complex (is_complex=True) for phase edits")

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

    @property
    def joint(self) -> bool:
        """Whether log-amplitudes are edited along with phases."""
        return self.edit == "joint"

    def settings(self) -> dict:
        """The options as a plain dict (without the pyramid module), for records.

        Returns
        -------
        dict
        """
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "pyramid"}
