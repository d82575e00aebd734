"""Temporal band-pass filters of phase signals, along dim 0 (time).

- :class:`IdealBandpass`: an FFT over the whole clip, zero outside [f_lo, f_hi] Hz (offline).
- :class:`IIRBandpass`: causal filters that run frame by frame, with their state kept between
  chunks (streaming): ``"butterworth"``, a first-order Butterworth band-pass (a biquad, the
  bilinear transform of B s / (s^2 + B s + w0^2) with prewarped edges), and ``"difference"``,
  the difference of two first-order low-passes with cut-offs f_hi and f_lo (the 2013 paper's
  code's streaming filter).
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch
from torch import Tensor

FILTERS = ("ideal", "butterworth", "difference")


def is_number(value) -> bool:
    """A real number: Python or NumPy ints and floats (np.float32 included), not bools."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def check_band(band, fps) -> tuple[float, float, float]:
    """(f_lo, f_hi, fps) as floats; ValueError naming what is wrong."""
    if not is_number(fps) or not math.isfinite(fps):
        raise TypeError(f"fps must be a finite number > 0, got {fps!r}")
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps!r}")
    pair = isinstance(band, (tuple, list, np.ndarray, Tensor)) and len(band) == 2
    if not pair or not all(
        is_number(f) or (isinstance(f, Tensor) and f.numel() == 1) for f in band
    ):
        raise TypeError(f"band must be two numbers (f_lo, f_hi) in Hz, got {band!r}")
    f_lo, f_hi = (float(f) for f in band)
    if not (math.isfinite(f_lo) and math.isfinite(f_hi)) or not 0 <= f_lo < f_hi:
        raise ValueError(f"band must be (f_lo, f_hi) with 0 <= f_lo < f_hi, got {band!r}")
    if f_hi >= fps / 2:
        raise ValueError(
            f"band's f_hi={f_hi:g} Hz is at or above the Nyquist frequency fps/2 = {fps / 2:g} Hz: "
            "no motion that fast can be seen at this frame rate; lower f_hi"
        )
    return f_lo, f_hi, float(fps)


class IdealBandpass:
    """Zero every temporal frequency outside [f_lo, f_hi] of a whole clip (DC removed)."""

    def __init__(self, band, fps) -> None:
        self.f_lo, self.f_hi, self.fps = check_band(band, fps)

    def kept(self, count: int, device=None) -> Tensor:
        """The rfft bins of a ``count``-frame clip the filter keeps.

        Parameters
        ----------
        count : int
            Frames of the clip.
        device : torch.device, optional
            Of the result.

        Returns
        -------
        Tensor
            (count // 2 + 1,) bool.
        """
        freqs = torch.fft.rfftfreq(count, d=1.0 / self.fps, device=device, dtype=torch.float64)
        return (freqs >= self.f_lo) & (freqs <= self.f_hi) & (freqs > 0)

    def basis(self, count: int, dtype=torch.float32, device=None) -> Tensor:
        """(count, 2 P) real B with ``self(signal) == B @ (B.T @ signal)`` for a ``count``-frame
        signal: the cosines and sines of the P kept bins times sqrt(2 / count) (f_hi is below
        the Nyquist frequency, so every kept bin has a conjugate twin). The projection lets a
        clip be filtered in two passes over its frames, holding 2 P values per signal instead
        of ``count``.

        Parameters
        ----------
        count : int
            Frames of the clip.
        dtype, device
            Of the result.

        Returns
        -------
        Tensor
        """
        bins = self.kept(count).nonzero().flatten().double()
        angle = (2 * math.pi / count) * torch.arange(count, dtype=torch.float64)[:, None] * bins
        scale = math.sqrt(2.0 / count)
        return (scale * torch.cat([angle.cos(), angle.sin()], 1)).to(dtype=dtype, device=device)

    def __call__(self, signal: Tensor) -> Tensor:
        """signal (T, ...) real -> band-passed (T, ...)."""
        count = signal.shape[0]
        keep = self.kept(count, signal.device)
        spectrum = torch.fft.rfft(signal, dim=0)
        shape = (-1,) + (1,) * (signal.dim() - 1)
        return torch.fft.irfft(spectrum * keep.reshape(shape), n=count, dim=0)


class IIRBandpass:
    """A causal band-pass run frame by frame; its state persists across calls (streaming).

    ``kind`` "butterworth" (first-order Butterworth band-pass) or "difference" (difference of
    first-order low-passes at f_hi and f_lo). The state starts at rest on the first frame.
    """

    def __init__(self, band, fps, kind: str = "butterworth") -> None:
        if kind not in ("butterworth", "difference"):
            raise ValueError(f"kind must be 'butterworth' or 'difference', got {kind!r}")
        self.f_lo, self.f_hi, self.fps = check_band(band, fps)
        self.kind = kind
        self.state: list[Tensor] | None = None
        if kind == "butterworth":
            k = 2.0 * self.fps  # bilinear transform s = k (1 - z^-1) / (1 + z^-1)
            w1 = k * math.tan(math.pi * self.f_lo / self.fps)
            w2 = k * math.tan(math.pi * self.f_hi / self.fps)
            bw, w0sq = w2 - w1, w1 * w2
            a0 = k * k + bw * k + w0sq
            self.b = (bw * k / a0, 0.0, -bw * k / a0)
            self.a = (2.0 * (w0sq - k * k) / a0, (k * k - bw * k + w0sq) / a0)
        else:  # per-frame smoothing factors of the two low-passes
            self.r_hi = 1.0 - math.exp(-2.0 * math.pi * self.f_hi / self.fps)
            self.r_lo = 1.0 - math.exp(-2.0 * math.pi * self.f_lo / self.fps)

    def __call__(self, signal: Tensor) -> Tensor:
        """signal (T, ...) real, the next T frames -> band-passed (T, ...)."""
        out = torch.empty_like(signal)
        for t in range(signal.shape[0]):
            out[t] = self.step(signal[t])
        return out

    def step(self, x: Tensor) -> Tensor:
        """One frame (...) -> its filtered value; updates the state."""
        if self.kind == "butterworth":
            if self.state is None:  # at rest: zero input history around the first frame
                self.state = [torch.zeros_like(x), torch.zeros_like(x)]
            s1, s2 = self.state  # transposed direct form II
            y = self.b[0] * x + s1
            self.state = [self.b[1] * x - self.a[0] * y + s2, self.b[2] * x - self.a[1] * y]
            return y
        if self.state is None:
            self.state = [x.clone(), x.clone()]
        hi, lo = self.state
        hi = hi + self.r_hi * (x - hi)
        lo = lo + self.r_lo * (x - lo)
        self.state = [hi, lo]
        return hi - lo


def make_filter(kind: str, band, fps):
    """The filter called ``kind`` (one of FILTERS) for ``band`` (Hz) at ``fps``."""
    if kind == "ideal":
        return IdealBandpass(band, fps)
    if kind in ("butterworth", "difference"):
        return IIRBandpass(band, fps, kind)
    raise ValueError(f"filter must be one of {FILTERS}, got {kind!r}")
