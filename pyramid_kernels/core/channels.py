"""Coefficients stacked into one channel dimension (the layout a CNN consumes) and back.

A part is a tensor (..., o, H, W) of o channels (a level's K bands, or a residual as o = 1);
all parts share the leading dims and (H, W), so only an undecimated pyramid stacks. With
``split_complex`` a complex part of o channels becomes 2 o real channels, (Re, Im) of each
channel side by side; otherwise real parts are cast to complex when any part is complex.
"""

from __future__ import annotations

import torch
from torch import Tensor


def stack_channels(parts: list[Tensor], split_complex: bool = False) -> Tensor:
    """Parts (..., o_i, H, W) -> (..., sum of channels, H, W)."""
    if not parts:
        raise ValueError("there are no coefficients to stack")
    sizes = {tuple(p.shape[-2:]) for p in parts}
    if len(sizes) > 1:
        raise ValueError(
            f"coefficients of sizes {sorted(sizes)} cannot be stacked into channels: only an "
            "undecimated pyramid (downsample=False) has every level at the image size"
        )
    if split_complex:
        if not any(p.is_complex() for p in parts):
            raise ValueError(
                "split_complex=True needs complex coefficients (is_complex=True); pass "
                "split_complex=False for a real pyramid"
            )
        parts = [_split(p) if p.is_complex() else p for p in parts]
    elif any(p.is_complex() for p in parts):
        dtype = next(p.dtype for p in parts if p.is_complex())
        parts = [p.to(dtype) for p in parts]
    return torch.cat(parts, dim=-3)


def unstack_channels(
    tensor: Tensor, counts: list[int], complex_parts: list[bool], split_complex: bool = False
) -> list[Tensor]:
    """Inverse of :func:`stack_channels`: (..., C, H, W) -> parts (..., o_i, H, W), part i
    complex when ``complex_parts[i]`` (else real)."""
    widths = [
        2 * o if split_complex and c else o for o, c in zip(counts, complex_parts, strict=True)
    ]
    if tensor.dim() < 3 or tensor.shape[-3] != sum(widths):
        raise ValueError(
            f"tensor must have shape (..., {sum(widths)}, H, W) for these coefficients, got "
            f"{tuple(tensor.shape)}"
        )
    if split_complex and tensor.is_complex():
        raise ValueError("a tensor stacked with split_complex=True is real, got a complex one")
    parts = list(torch.split(tensor, widths, dim=-3))
    for i, (part, is_complex) in enumerate(zip(parts, complex_parts, strict=True)):
        if is_complex and split_complex:
            pairs = part.unflatten(-3, (-1, 2))
            parts[i] = torch.complex(pairs[..., 0, :, :], pairs[..., 1, :, :])
        elif not is_complex and part.is_complex():
            parts[i] = part.real
    return parts


def _split(part: Tensor) -> Tensor:
    """Complex (..., o, H, W) -> real (..., 2 o, H, W): Re and Im of each channel in turn."""
    return torch.stack([part.real, part.imag], dim=-3).flatten(-4, -3)
