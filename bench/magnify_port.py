"""The same magnification written as the public PyTorch ports do it, for comparison: one frame
at a time, the pyramid by torch.fft with the masks precomputed per level (the library's pure
torch reference kernels, whose mask tables are cached), the phase math in plain torch (angle,
polar), the same filters and parameters. Its output equals pk.magnify's to float rounding."""

from __future__ import annotations

import torch
from torch import Tensor

import pyramid_kernels as pk
from pyramid_kernels.core.color import rgb_to_yiq, yiq_to_rgb
from pyramid_kernels.magnifying.filters import make_filter


class PortMagnifier:
    """Frame-by-frame phase-based magnification (luminance), causal filter."""

    def __init__(self, alpha, band, fps, filter="butterworth", orientations=8) -> None:
        self.alpha, self.band, self.fps, self.filter = alpha, band, fps, filter
        self.orientations = orientations
        self.reference = None
        self.filters = None

    def __call__(self, frames: Tensor) -> Tensor:
        out = []
        for frame in frames:  # (3, H, W)
            yiq = rgb_to_yiq(frame[None])[0]
            coeffs = pk.build(yiq[:1], orientations=self.orientations, backend="torch")
            if self.reference is None:
                self.reference = [b.clone() for b in coeffs.bands]
                self.filters = [make_filter(self.filter, self.band, self.fps) for _ in coeffs.bands]
            bands = []
            for level, b in enumerate(coeffs.bands):
                delta = torch.angle(b * self.reference[level].conj())
                filtered = self.filters[level].step(delta)
                bands.append(b * torch.polar(torch.ones_like(filtered), self.alpha * filtered))
            y = pk.collapse(coeffs.replace(bands=bands), backend="torch")
            out.append(yiq_to_rgb(torch.cat([y, yiq[1:]])[None])[0])
        return torch.stack(out)
