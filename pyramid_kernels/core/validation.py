"""Validation shared by the public API and the registered ops: images and coefficients against
a spec. Every check raises ValueError/TypeError naming the argument."""

from __future__ import annotations

import torch
from torch import Tensor

from .spec import PyramidSpec

FLOAT_DTYPES = (torch.float32, torch.float64)


def complex_dtype(real: torch.dtype) -> torch.dtype:
    return torch.complex128 if real == torch.float64 else torch.complex64


def check_image(x: Tensor, name: str = "x", convert: bool = True) -> Tensor:
    """Validate a real image batch (..., H, W); return it in float32 or float64 (other
    floating dtypes are converted to float32 when ``convert``, else refused)."""
    if not isinstance(x, Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of shape (..., H, W), got {type(x).__name__}"
        )
    if x.is_complex():
        raise ValueError(
            f"{name} must be real, got {x.dtype}; the pyramid analyses real images "
            f"(pass {name}.real or {name}.abs())"
        )
    if not x.is_floating_point():
        raise TypeError(
            f"{name} must be a floating tensor, got {x.dtype}; convert with {name}.float()"
        )
    if x.dim() < 2:
        raise ValueError(f"{name} must have shape (..., H, W), got shape {tuple(x.shape)}")
    if x.dtype not in FLOAT_DTYPES:
        if not convert:
            raise TypeError(f"{name} must be float32 or float64, got {x.dtype}")
        x = x.float()  # float16 / bfloat16 compute in float32
    return x


def check_coefficients(highpass: Tensor, bands, lowpass: Tensor, spec: PyramidSpec) -> None:
    """Raise ValueError/TypeError unless the coefficients have exactly the shapes of ``spec``."""
    for name, t in [("highpass", highpass), ("lowpass", lowpass)] + [
        (f"bands[{i}]", b) for i, b in enumerate(bands)
    ]:
        if not isinstance(t, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if not isinstance(spec, PyramidSpec) or not isinstance(spec.height, int):
        raise TypeError("spec must be a resolved PyramidSpec (integer height)")
    if highpass.dim() < 2 or highpass.is_complex() or not highpass.is_floating_point():
        raise ValueError(
            f"highpass must be a real floating tensor (..., H, W), got "
            f"{highpass.dtype} of shape {tuple(highpass.shape)}"
        )
    if highpass.dtype not in (torch.float32, torch.float64):
        raise ValueError(f"highpass must be float32 or float64, got {highpass.dtype}")
    if len(bands) != spec.levels:
        per_octave = spec.scales_per_octave
        raise ValueError(
            f"bands must have one tensor per level: spec.height={spec.height}"
            + (f" x scales_per_octave={per_octave}" if per_octave > 1 else "")
            + f" = {spec.levels} levels, got {len(bands)}"
        )
    lead, size = tuple(highpass.shape[:-2]), tuple(highpass.shape[-2:])
    sizes = spec.level_sizes(size)
    band_dtype = complex_dtype(highpass.dtype) if spec.is_complex else highpass.dtype
    expected = [("lowpass", lowpass, lead + sizes[-1], highpass.dtype)] + [
        (f"bands[{i}]", b, lead + (spec.orientations, *sizes[i]), band_dtype)
        for i, b in enumerate(bands)
    ]
    for name, t, shape, dtype in expected:
        if tuple(t.shape) != shape:
            raise ValueError(
                f"{name} has shape {tuple(t.shape)} but the spec and highpass "
                f"{tuple(highpass.shape)} require {shape}"
            )
        if t.dtype != dtype:
            raise ValueError(
                f"{name} must be {dtype} to match highpass ({highpass.dtype}) and "
                f"is_complex={spec.is_complex}, got {t.dtype}"
            )
        if t.device != highpass.device:
            raise ValueError(
                f"{name} is on {t.device} but highpass is on {highpass.device}; "
                "move all coefficients to one device"
            )
