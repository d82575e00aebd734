"""Colour handling of a morph: edit all channels, or only the luminance Y of YIQ."""

from __future__ import annotations

import torch
from torch import Tensor

from .constants import device_constants

# NTSC RGB -> YIQ; its inverse is computed, so the round trip is exact to float precision
_RGB_TO_YIQ = torch.tensor(
    [[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]],
    dtype=torch.float64,
)


@device_constants(maxsize=8)
def _matrices(device: torch.device, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """(RGB -> YIQ, YIQ -> RGB) on a device: copied there once, not on every call (a copy
    from the host would synchronise, and could not be captured in a CUDA graph)."""
    inverse = torch.linalg.inv(_RGB_TO_YIQ)
    return _RGB_TO_YIQ.to(device, dtype), inverse.to(device, dtype)


def color_mode(color: str | None, channels: int) -> str:
    """The colour mode of images of ``channels``: ``color`` when given, else (the rule of
    morphs, probes, generate, magnification and the command line alike) "luminance" for 3
    channels (edits of Y keep the chroma: no colour fringes) and "rgb" (every channel)
    otherwise."""
    return color or ("luminance" if channels == 3 else "rgb")


def yiq_matrices(device: torch.device, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """(RGB -> YIQ, YIQ -> RGB) 3x3 matrices on ``device`` in ``dtype`` (cached there)."""
    return _matrices(device, dtype)


def rgb_to_yiq(x: Tensor) -> Tensor:
    """(..., 3, H, W) RGB -> YIQ."""
    return torch.einsum("ij,...jhw->...ihw", _matrices(x.device, x.dtype)[0], x)


def yiq_to_rgb(x: Tensor) -> Tensor:
    """(..., 3, H, W) YIQ -> RGB."""
    return torch.einsum("ij,...jhw->...ihw", _matrices(x.device, x.dtype)[1], x)


class ColorEdit:
    """Splits images into the channels a morph edits and the ones it keeps.

    rgb: every channel is edited. luminance: Y is edited, I and Q are kept (needs C = 3); the
    kept channels' part of the RGB image is made once, so merging a frame is one pass.
    """

    def __init__(self, mode: str, images: Tensor) -> None:
        self.mode = mode
        if mode == "luminance":
            yiq = rgb_to_yiq(images)
            self.edit = yiq[:, :1]
            to_rgb = _matrices(images.device, images.dtype)[1]
            self.luma = to_rgb[:, :1, None]  # (3, 1, 1): RGB per unit of Y
            self.chroma = torch.einsum("ij,bjhw->bihw", to_rgb[:, 1:], yiq[:, 1:])  # I, Q's
        else:
            self.edit = images

    def merge(self, edited: Tensor, images: slice = slice(None), out: Tensor | None = None):
        """Edited channels (..., n, C', H, W) of the ``images`` (n of the B) -> images
        (..., n, C, H, W), written into ``out`` when given (luminance mode; rgb returns
        ``edited`` itself)."""
        if self.mode != "luminance":
            return edited
        return torch.addcmul(self.chroma[images], self.luma, edited, out=out)
