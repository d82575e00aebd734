"""Phase-based video motion magnification, the API: :class:`Magnifier` (streaming, causal
filters) and :func:`magnify` (a clip in memory; the ideal filter in two
passes, :mod:`.ideal`). The band edits themselves are the engine's (:mod:`.engine`)."""

from __future__ import annotations

import torch
from torch import Tensor

from ..core.spec import PyramidSpec
from ..pyramid.module import SteerablePyramid
from .engine import Magnification
from .ideal import IdealMagnification
from .options import MagnifyOptions, options_of

IDEAL_NEEDS_THE_CLIP = (
    "filter='ideal' needs the whole clip (an FFT over time): use pk.magnify on a tensor, or a "
    "causal filter ('butterworth', 'difference') for streaming"
)


class Magnifier(Magnification):
    """Streaming magnification: feed chunks of frames in order, get them back magnified.

    The first chunk fixes the reference frame (its first frame), the frame size, channels,
    dtype and device; the temporal filter's state carries over between chunks, so peak memory
    depends on the chunk and frame size, not the video's length. Causal filters only
    ("butterworth", "difference"); the "ideal" filter needs the whole clip (:func:`magnify`).

    Parameters
    ----------
    alpha : float
        Magnification: in-band motion becomes (1 + alpha) times itself.
    band : (float, float)
        (f_lo, f_hi) in Hz, 0 <= f_lo < f_hi < fps / 2.
    fps : float
        Frame rate of the video.
    filter : {"butterworth", "difference"}
        The causal temporal band-pass.
    sigma : float
        Amplitude-weighted Gaussian smoothing of the filtered phase, in pixels of each level
        (0: none).
    attenuate : bool
        Also remove the motion outside the band.
    color : {"luminance", "rgb"} or None
        Edit Y of YIQ (3 channels only) or every channel; None: luminance for 3 channels.
    height : int or "auto"
        Pyramid levels.
    orientations : int
        Bands per level (>= 2).
    twidth : float
        Radial transition width in octaves (per band: twidth / scales_per_octave).
    backend : {"auto", "torch", "cpp", "triton"}
        The kernels.
    scales_per_octave : int
        Band levels per octave: 2 (half-octave) or 4 (quarter-octave) bands are narrower and
        carry larger magnifications before they break down (1: octave bands).
    pyramid : PyramidSpec or SteerablePyramid, optional
        The pyramid as one spec (complex, decimated) instead of ``height``, ``orientations``,
        ``twidth`` and ``scales_per_octave``.
    options : MagnifyOptions, optional
        Every setting as one object, instead of the keywords (its ``filter`` must be causal,
        its ``chunk_size`` is not used: the caller feeds the chunks).
    """

    def __init__(
        self,
        alpha: float | None = None,
        band: tuple[float, float] | None = None,
        fps: float | None = None,
        *,
        filter: str = "butterworth",
        sigma: float = 0.0,
        attenuate: bool = False,
        color: str | None = None,
        height: int | str = "auto",
        orientations: int = 8,
        twidth: float = 1.0,
        backend: str = "auto",
        scales_per_octave: int = 1,
        pyramid: PyramidSpec | SteerablePyramid | None = None,
        options: MagnifyOptions | None = None,
    ) -> None:
        if filter == "ideal":  # said before any other setting is checked
            raise ValueError(IDEAL_NEEDS_THE_CLIP)
        settings = dict(
            alpha=alpha, band=band, fps=fps, filter=filter, sigma=sigma, attenuate=attenuate,
            color=color, height=height, orientations=orientations, twidth=twidth,
            backend=backend, scales_per_octave=scales_per_octave, pyramid=pyramid,
        )  # fmt: skip
        self._begin(options_of(Magnifier.__init__, settings, options))

    @classmethod
    def from_options(cls, options: MagnifyOptions) -> Magnifier:
        """``Magnifier(options=options)``, kept for earlier callers.

        Parameters
        ----------
        options : MagnifyOptions
            Every setting (a causal filter).

        Returns
        -------
        Magnifier
        """
        return cls(options=options)

    def _begin(self, options: MagnifyOptions) -> None:
        """Start on ``options``, which must be MagnifyOptions of a causal filter."""
        if not isinstance(options, MagnifyOptions):
            raise TypeError(f"options must be MagnifyOptions, got {type(options).__name__}")
        if options.filter == "ideal":
            raise ValueError(IDEAL_NEEDS_THE_CLIP)
        super().__init__(options)

    def __call__(self, frames: Tensor, *, out: Tensor | None = None) -> Tensor:
        """Magnify the next frames.

        Parameters
        ----------
        frames : Tensor
            (T, C, H, W) float, the next T frames of the video.
        out : Tensor, optional
            (T, C, H, W) like ``frames`` (same dtype and device), not overlapping them: the
            result is written there (a slice of a whole video's buffer, say) instead of into a
            new tensor.

        Returns
        -------
        Tensor
            (T, C, H, W) magnified (``out`` when given).
        """
        dtype = frames.dtype if isinstance(frames, Tensor) else None
        if out is not None:
            _check_out(out, frames)
        frames = self._check(frames)
        result = torch.empty_like(frames) if out is None or out.dtype != frames.dtype else out
        step = self._frames_per_group(frames)
        for start in range(0, frames.shape[0], step):  # in order: the filters' state runs on
            group = frames[start : start + step]
            band_pass = None if self._fuses(group) else (lambda lv, d: self.filters[lv](d))
            self._run(group, band_pass, out=result[start : start + step])
        if out is None:
            return result.to(dtype)
        return out if result is out else out.copy_(result)


def _check_out(out, frames) -> None:
    """``out`` must be a tensor like ``frames`` that does not share its memory."""
    if not isinstance(out, Tensor) or not isinstance(frames, Tensor):
        raise TypeError(f"out must be a tensor like the frames, got {type(out).__name__}")
    like = (out.shape, out.dtype, out.device) == (frames.shape, frames.dtype, frames.device)
    if not like:
        raise ValueError(
            f"out must have the frames' shape, dtype and device {tuple(frames.shape)} "
            f"{frames.dtype} {frames.device}, got {tuple(out.shape)} {out.dtype} {out.device}"
        )
    (a, b), (c, d) = _byte_span(out), _byte_span(frames)
    if a < d and c < b:
        raise ValueError("out overlaps the frames: pass a separate tensor (frames.clone())")


def _byte_span(t: Tensor) -> tuple[int, int]:
    """[first, last + 1) of the bytes a tensor's elements may occupy."""
    last = sum((n - 1) * s for n, s in zip(t.shape, t.stride(), strict=True))
    start = t.data_ptr()
    return start, start + (last + 1) * t.element_size()


def magnify(
    video: Tensor,
    *,
    alpha: float | None = None,
    band: tuple[float, float] | None = None,
    fps: float | None = None,
    filter: str = "ideal",
    sigma: float = 0.0,
    attenuate: bool = False,
    color: str | None = None,
    height: int | str = "auto",
    orientations: int = 8,
    twidth: float = 1.0,
    backend: str = "auto",
    chunk_size: int = 32,
    scales_per_octave: int = 1,
    pyramid: PyramidSpec | SteerablePyramid | None = None,
    options: MagnifyOptions | None = None,
) -> Tensor:
    """Magnify the motions of a video in a temporal frequency band.

    Parameters
    ----------
    video : Tensor
        (T, C, H, W) float32 or float64 frames in [0, 1], C = 1 or 3, T >= 2; CPU or CUDA.
    alpha : float
        Magnification: in-band motion becomes (1 + alpha) times itself.
    band : (float, float)
        (f_lo, f_hi) in Hz, 0 <= f_lo < f_hi < fps / 2.
    fps : float
        Frame rate.
    filter : {"ideal", "butterworth", "difference"}
        "ideal": an FFT over the whole clip (zero-phase); the others are causal filters run
        in chunks of ``chunk_size`` frames by a :class:`Magnifier`.
    sigma : float
        Amplitude-weighted Gaussian smoothing of the filtered phase, pixels per level (0: off).
    attenuate : bool
        Also remove the motion outside the band.
    color : {"luminance", "rgb"} or None
        Edit Y of YIQ (chroma untouched) or every channel; None: luminance for RGB.
    height : int or "auto"
        Pyramid levels.
    orientations : int
        Bands per level.
    twidth : float
        Radial transition width in octaves.
    backend : {"auto", "torch", "cpp", "triton"}
        The kernels.
    chunk_size : int
        Frames per chunk for the causal filters.
    scales_per_octave : int
        Band levels per octave: 2 (half-octave) or 4 (quarter-octave) bands carry larger
        magnifications before they break down (1: octave bands).
    pyramid : PyramidSpec or SteerablePyramid, optional
        The pyramid as one spec (complex, decimated) instead of ``height``, ``orientations``,
        ``twidth`` and ``scales_per_octave``.
    options : MagnifyOptions, optional
        Every setting as one object (what the command line builds), instead of the keywords:
        then leave those at their defaults.

    Returns
    -------
    Tensor
        The magnified video, (T, C, H, W), not clamped.

    Examples
    --------
    >>> import torch, pyramid_kernels as pk
    >>> still = torch.rand(1, 1, 32, 32).expand(8, 1, 32, 32)
    >>> out = pk.magnify(still, alpha=10, band=(1, 4), fps=30, height=2, orientations=4)
    >>> bool((out - still).abs().max() < 1e-5)
    True
    """
    settings = dict(
        alpha=alpha, band=band, fps=fps, filter=filter, sigma=sigma, attenuate=attenuate,
        color=color, height=height, orientations=orientations, twidth=twidth, backend=backend,
        chunk_size=chunk_size, scales_per_octave=scales_per_octave, pyramid=pyramid,
    )  # fmt: skip
    return _magnify_clip(video, options_of(magnify, settings, options))


def magnify_with(video: Tensor, options: MagnifyOptions) -> Tensor:
    """``magnify(video, options=options)``, kept for earlier callers.

    Parameters
    ----------
    video : Tensor
        (T, C, H, W) float frames in [0, 1], as for :func:`magnify`.
    options : MagnifyOptions
        Every setting.

    Returns
    -------
    Tensor
        The magnified video, (T, C, H, W), not clamped.
    """
    return magnify(video, options=options)


def _magnify_clip(video: Tensor, options: MagnifyOptions) -> Tensor:
    """The clip magnified chunk by chunk (the ideal filter in its two passes)."""
    count = video.shape[0] if isinstance(video, Tensor) and video.dim() == 4 else 0
    ideal = options.filter == "ideal"  # two passes over the clip, chunk by chunk (ideal.py)
    magnifier = IdealMagnification(options, count) if ideal else Magnifier(options=options)
    dtype = video.dtype if isinstance(video, Tensor) else None
    video = magnifier._check(video)
    if count == 1:
        raise ValueError("video has one frame: there is no motion to magnify")
    magnifier.frame_shape = None  # checked here; the chunks set it again
    out = torch.empty_like(video)  # one buffer: no per-chunk results to concatenate
    if ideal:
        for _ in magnifier.passes(video, out):  # each chunk written into out
            pass
    else:
        step = options.chunk_size
        for start in range(0, count, step):
            magnifier(video[start : start + step], out=out[start : start + step])
    return out.to(dtype)


__all__ = ["Magnifier", "magnify", "magnify_with"]
