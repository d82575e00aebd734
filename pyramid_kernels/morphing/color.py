"""Colour handling of a morph: edit all channels, or only the luminance Y of YIQ."""

from __future__ import annotations

import torch
from torch import Tensor

from ..kernels.constants import device_constants

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


def rgb_to_yiq(x: Tensor) -> Tensor:
    """(..., 3, H, W) RGB -> YIQ."""
    return torch.einsum("ij,...jhw->...ihw", _matrices(x.device, x.dtype)[0], x)


def yiq_to_rgb(x: Tensor) -> Tensor:
    """(..., 3, H, W) YIQ -> RGB."""
    return torch.einsum("ij,...jhw->...ihw", _matrices(x.device, x.dtype)[1], x)


class ColorEdit:
    """Splits images into the channels a morph edits and the ones it keeps.

    rgb: every channel is edited. luminance: Y is edited, I and Q are kept (needs C = 3).
    """

    def __init__(self, mode: str, images: Tensor) -> None:
        self.mode = mode
        if mode == "luminance":
            yiq = rgb_to_yiq(images)
            self.edit, self.kept = yiq[:, :1], yiq[:, 1:]
        else:
            self.edit, self.kept = images, None

    def merge(self, edited: Tensor) -> Tensor:
        """Edited channels (..., B, C', H, W) -> images (..., B, C, H, W)."""
        if self.mode != "luminance":
            return edited
        kept = self.kept.expand(*edited.shape[:-3], *self.kept.shape[-3:])
        return yiq_to_rgb(torch.cat([edited, kept], dim=-3))
