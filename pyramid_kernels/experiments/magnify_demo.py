"""The motion-magnification demo: a clip made from a bundled photo whose left part sways
0.25 px at 2 Hz and right part 0.25 px at 6 Hz, magnified x20 in the band 1-3 Hz (ideal
filter) with ``pk.magnify``: the left part's motion becomes visible, the right part's stays
as it was. Writes the clip and its magnification side by side as a GIF, and a space-time
slice picture (one row of pixels over time, before above, after below)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .. import data
from ..io.image_io import write_atomic
from ..io.video import write_video
from ..magnifying import magnify, synthetic

FPS, FRAMES, SIZE, ALPHA, BAND = 30.0, 60, 160, 20.0, (1.0, 3.0)
MOTIONS = ((0.25, 2.0), (0.25, 6.0))  # (amplitude px, frequency Hz) left, right
ROW = 0.5  # the slice's row, as a fraction of the height


def clip() -> torch.Tensor:
    """(T, 3, SIZE, SIZE) float32 in [0, 1]: the two-motion clip of the motorcycle photo."""
    photo = data.photos(SIZE, names=["motorcycle"])[0][0]
    left, right = (synthetic.oscillation(a, f, FPS, FRAMES) for a, f in MOTIONS)
    return synthetic.two_motions(photo, left, right).float().clamp(0, 1)


def slice_picture(before: torch.Tensor, after: torch.Tensor, scale: int = 2) -> np.ndarray:
    """Row ROW of every frame stacked in time (T, W, 3), before above after, upscaled."""
    row = int(ROW * before.shape[-2])

    def rows(video: torch.Tensor) -> np.ndarray:
        band = video[:, :, row, :].clamp(0, 1).mul(255).round().byte()
        return band.permute(0, 2, 1).numpy()

    gap = np.full((3, before.shape[-1], 3), 255, np.uint8)
    picture = np.concatenate([rows(before), gap, rows(after)], axis=0)
    return np.kron(picture, np.ones((scale, scale, 1), np.uint8))


def run(out: str | Path) -> list[Path]:
    """Write magnify.gif and magnify_slice.png under ``out``; returns their paths."""
    out = Path(out)
    before = clip()
    after = magnify(before, alpha=ALPHA, band=BAND, fps=FPS, filter="ideal")
    side = torch.cat([before, torch.ones_like(before[..., :4]), after.clamp(0, 1)], dim=-1)
    gif = write_video(out / "magnify.gif", iter(side), FPS)
    picture = Image.fromarray(slice_picture(before, after))
    png = write_atomic(out / "magnify_slice.png", lambda tmp: picture.save(tmp, format="PNG"))
    return [gif, png]
