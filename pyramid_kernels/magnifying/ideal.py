"""The ideal temporal band-pass (an FFT over the whole clip) in two passes, in bounded memory.

The ideal filter keeps P rfft bins of every coefficient's phase-difference signal over the T
frames, which is a projection onto 2 P cosines and sines: filtered = B (B^T dphi), with B the
(T, 2 P) basis of :meth:`IdealBandpass.basis`. So the clip need not be held as every band of
every frame at once:

- pass 1 (:meth:`IdealMagnification.accumulate`) analyses chunks of frames in order and adds
  B's rows for those frames times their phase differences into one (coefficients, 2 P)
  accumulator per pyramid level;
- pass 2 (:meth:`IdealMagnification.render`) analyses the chunks again and magnifies each
  with its filtered phases, B's rows times the accumulators.

Memory: the accumulators (2 P / T of the whole clip's phases, 2 P = 2 T (f_hi - f_lo) / fps)
and one chunk's pyramid, against every band of every frame for :func:`whole_clip` (the
one-pass form, kept as the reference the two passes are tested against). Time: one more
pyramid analysis per frame.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch import Tensor

from ..ops import analyze_bands
from ..ops.backends import resolve_backend
from .engine import Magnification
from .filters import IdealBandpass
from .options import MagnifyOptions

CHUNK_BYTES = 128 * 2**20  # a chunk's complex bands (all levels) take about this many bytes
AREA = 4 / 3  # the levels of an octave pyramid cover 4/3 of the frame


class IdealMagnification(Magnification):
    """Ideal-filter magnification of a clip of ``count`` frames fed twice, in order: every
    chunk to :meth:`accumulate`, then every chunk to :meth:`render`.

    Parameters
    ----------
    options : MagnifyOptions
        Settings, ``filter="ideal"``.
    count : int
        Frames of the clip (T >= 2).
    """

    def __init__(self, options: MagnifyOptions, count: int) -> None:
        if options.filter != "ideal":
            raise ValueError(f"IdealMagnification needs filter='ideal', got {options.filter!r}")
        super().__init__(options)
        self.count = count
        self.bandpass = IdealBandpass(options.band, options.fps)
        self.sums: list[Tensor] = []  # per level: (coefficients, 2 P)
        self.basis: Tensor | None = None
        self.accumulated = 0
        self.rendered = 0

    def chunk_frames(self, frames: Tensor) -> int:
        """Frames per chunk of a clip like ``frames`` (T, C, H, W) whose pyramid (the complex
        bands of every level) takes about CHUNK_BYTES."""
        per_frame = _coefficients(self.options, frames.shape[1], frames.shape[-2:]) * 8
        return max(1, int(CHUNK_BYTES // per_frame))

    def accumulate(self, frames: Tensor) -> None:
        """Pass 1: add the next frames' phase differences, projected, to the accumulators.

        Parameters
        ----------
        frames : Tensor
            (t, C, H, W) the clip's next t frames.
        """
        frames = self._check(frames)
        start = self._advance("accumulated", frames.shape[0])
        x = self._edited_channels(frames)
        spec = self.options.pyramid.resolve(tuple(x.shape[-2:]))
        backend = resolve_backend(self.options.backend, x.device.type)
        bands = analyze_bands(x.reshape(-1, *x.shape[-2:]), spec, backend)
        rows = self._rows(start, frames.shape[0], x)
        for level, flat in enumerate(bands):
            b = flat.reshape(*x.shape[:2], *flat.shape[1:])  # (t, C', K, h, w)
            if level == len(self.reference):  # the clip's first frame: its reference
                self.reference.append(b[:1].clone())
                self.sums.append(x.new_zeros(b[0].numel(), rows.shape[1]))
            if level == len(bands) - 1 and not self.warned:
                self._check_motion(b, self.reference[level])
            delta = torch.angle(b * self.reference[level].conj()).reshape(b.shape[0], -1)
            self.sums[level].addmm_(delta.T, rows)

    def render(self, frames: Tensor, out: Tensor | None = None) -> Tensor:
        """Pass 2: magnify the next frames (every frame accumulated first).

        Parameters
        ----------
        frames : Tensor
            (t, C, H, W) the clip's next t frames, as given to :meth:`accumulate`.
        out : Tensor, optional
            (t, C, H, W) like ``frames``: written there.

        Returns
        -------
        Tensor
            (t, C, H, W) magnified (``out`` when given).
        """
        if self.accumulated != self.count:
            raise ValueError(
                f"render needs every frame accumulated first: {self.accumulated} of "
                f"{self.count} were"
            )
        frames = self._check(frames)
        start = self._advance("rendered", frames.shape[0])
        rows = self._rows(start, frames.shape[0], frames)

        def band_pass(level: int, delta: Tensor) -> Tensor:
            return (rows @ self.sums[level].T).reshape(delta.shape)

        return self._run(frames, band_pass, out=out)

    def passes(
        self, clip: Tensor, out: Tensor | None = None, accumulated: Callable | None = None
    ) -> Iterator[Tensor]:
        """Both passes over a whole clip, chunk by chunk (``chunk_frames``): every chunk
        accumulated, then each magnified and yielded in order.

        Parameters
        ----------
        clip : Tensor
            (T, C, H, W) the clip, T = ``count``.
        out : Tensor, optional
            (T, C, H, W) like ``clip``: each chunk is written into its rows.
        accumulated : callable, optional
            Called with the number of frames after each chunk of the first pass (progress).

        Yields
        ------
        Tensor
            (t, C, H, W) the next magnified chunk (a view of ``out`` when given).
        """
        step = self.chunk_frames(clip)
        for start in range(0, clip.shape[0], step):
            chunk = clip[start : start + step]
            self.accumulate(chunk)
            if accumulated is not None:
                accumulated(chunk.shape[0])
        for start in range(0, clip.shape[0], step):
            rows = None if out is None else out[start : start + step]
            yield self.render(clip[start : start + step], out=rows)

    def _advance(self, counter: str, frames: int) -> int:
        """The index of these frames' first frame in the clip; moves ``counter`` past them."""
        start = getattr(self, counter)
        if start + frames > self.count:
            raise ValueError(f"more than the clip's {self.count} frames were given")
        setattr(self, counter, start + frames)
        return start

    def _rows(self, start: int, frames: int, like: Tensor) -> Tensor:
        """(frames, 2 P) the basis rows of these frames."""
        if self.basis is None:
            self.basis = self.bandpass.basis(self.count, like.dtype, like.device)
        return self.basis[start : start + frames]


def ideal_peak_bytes(options: MagnifyOptions, count: int, channels: int, size) -> int:
    """About the most memory :func:`magnify` takes for an ideal-filter clip of ``count``
    frames of ``channels`` x ``size``: the clip, its output, the accumulators and one chunk's
    pyramid with its intermediates."""
    bins = 2 * int(IdealBandpass(options.band, options.fps).kept(count).sum())
    clip = count * channels * size[0] * size[1] * 4
    return int(2 * clip + _coefficients(options, channels, size) * bins * 4 + 4 * CHUNK_BYTES)


def _coefficients(options: MagnifyOptions, channels: int, size) -> float:
    """Complex band coefficients of one frame (all levels) of ``channels`` x ``size``."""
    edited = 1 if options.color_for(channels) == "luminance" else channels
    return edited * options.pyramid.orientations * size[0] * size[1] * AREA


def whole_clip(video: Tensor, options: MagnifyOptions) -> Tensor:
    """The one-pass reference of the ideal filter: every band of every frame of ``video``
    (T, C, H, W) at once, an FFT over time. Memory grows with the clip (about 12 float32
    values per pixel of the clip and more); for tests and benchmarks."""
    magnification = Magnification(options)
    video = magnification._check(video)
    ideal = IdealBandpass(options.band, options.fps)
    return magnification._run(video, lambda level, delta: ideal(delta))
