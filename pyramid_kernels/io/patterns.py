"""A procedural test image with structure at every scale and orientation (no files needed)."""

from __future__ import annotations

import math

import torch


def pattern_image(size: int = 256, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(size, size) image in [0, 1]: zone plate, oriented gratings, shapes and smooth noise."""
    half = size // 2
    t = torch.linspace(-1.0, 1.0, half, dtype=torch.float64)
    y, x = torch.meshgrid(t, t, indexing="ij")
    zone = 0.5 + 0.5 * torch.cos(0.5 * math.pi * half * (x * x + y * y) / 2)
    angle = torch.atan2(y, x)
    gratings = 0.5 + 0.5 * torch.cos(
        (12 + 24 * (x + 1) / 2)
        * math.pi
        * (x * torch.cos(angle.floor()) + y * torch.sin(angle.floor()))
    )
    shapes = 0.2 + 0.6 * ((x + 0.4) ** 2 + (y + 0.3) ** 2 < 0.12).double()
    shapes = torch.where(
        (x - 0.45).abs().maximum((y - 0.4).abs()) < 0.3, 0.9 - 0.7 * shapes, shapes
    )
    shapes = torch.where(((x + y) - 0.6).abs() < 0.05, torch.ones_like(shapes), shapes)
    gen = torch.Generator().manual_seed(0)
    noise = torch.randn(1, 1, half // 8, half // 8, generator=gen, dtype=torch.float64)
    noise = torch.nn.functional.interpolate(noise, size=(half, half), mode="bicubic")[0, 0]
    noise = 0.5 + 0.2 * noise
    top = torch.cat([zone, gratings], dim=1)
    bottom = torch.cat([shapes, noise], dim=1)
    image = torch.cat([top, bottom], dim=0).clamp(0, 1)
    return torch.nn.functional.pad(image, (0, size - 2 * half, 0, size - 2 * half), value=0.5).to(
        dtype
    )
