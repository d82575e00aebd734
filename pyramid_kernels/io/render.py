"""Render all bands of a :class:`Pyramid` into one picture."""

from __future__ import annotations

import torch

from ..pyramid.functional import Pyramid

PARTS = ("real", "imag", "abs")


def _normalise(t: torch.Tensor, signed: bool) -> torch.Tensor:
    """Signed: [-max|t|, max|t|] -> [0, 1] (0 is grey); unsigned: [min, max] -> [0, 1]."""
    if signed:
        return 0.5 + 0.5 * t / t.abs().max().clamp_min(1e-12)
    low = t.min()
    return (t - low) / (t.max() - low).clamp_min(1e-12)


def render_pyramid(
    coeffs: Pyramid, index: int = 0, part: str = "real", gap: int = 2
) -> torch.Tensor:
    """One picture (rows, cols) float32 in [0, 1] of image ``index`` of a pyramid batch.

    Row 0 is the high-pass residual, then one row per level with its K bands left to right
    (band b at angle pi b / K), then the low-pass residual. Each band is scaled by its own
    maximum; signed parts map 0 to grey, abs and the low-pass span [min, max].
    ``part`` picks the real part, imaginary part or magnitude of complex bands.
    """
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}, got {part!r}")
    lead = coeffs.highpass.shape[:-2]
    flat = [t.reshape(-1, *t.shape[len(lead) :]).detach().cpu() for t in coeffs.tensors]
    count = flat[0].shape[0]
    if not -count <= index < count:
        raise ValueError(
            f"index must be in [{-count}, {count}) for a batch of {count} images, got {index}"
        )

    def view(t: torch.Tensor) -> torch.Tensor:
        t = t.to(torch.complex128 if t.is_complex() else torch.float64)
        if part == "abs":
            return _normalise(t.abs(), signed=False)
        return _normalise(t.imag if part == "imag" and t.is_complex() else t.real, signed=True)

    rows = [[view(flat[0][index])]]
    rows += [[view(band) for band in level[index]] for level in flat[1:-1]]
    rows.append([_normalise(flat[-1][index].double(), signed=False)])
    width = max(sum(p.shape[1] for p in row) + gap * (len(row) - 1) for row in rows)
    height = sum(row[0].shape[0] for row in rows) + gap * (len(rows) - 1)
    canvas = torch.ones(height, width, dtype=torch.float64)
    top = 0
    for row in rows:
        left = 0
        for panel in row:
            h, w = panel.shape
            canvas[top : top + h, left : left + w] = panel
            left += w + gap
        top += row[0].shape[0] + gap
    return canvas.float()
