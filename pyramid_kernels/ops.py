"""``pyramid_kernels::build`` and ``pyramid_kernels::collapse`` as torch.library custom ops.

Both ops take the spec as scalars and a concrete backend name; the backend supplies the fused
spectral stages, torch.fft the FFTs. Autograd is the exact adjoint written with the same ops:
with A the tight analysis, f the amplitude scales and P the synthesis projection
(identity, or 2 Re(.) for synthesis="real" of complex bands),
    build(x) = f * A x          -> grad_x = A^T (f * g)         = collapse_tight(f * g)
    collapse(c) = A^T P(c / f)  -> grad_c = P^T(A g) / f        = P^T(build_tight(g)) / f
"""

from __future__ import annotations

import torch
from torch import Tensor

from . import pipeline
from .backends import spectral_kernels
from .spec import PyramidSpec, level_sizes


def complex_dtype(real: torch.dtype) -> torch.dtype:
    return torch.complex128 if real == torch.float64 else torch.complex64


@torch.library.custom_op("pyramid_kernels::build", mutates_args=())
def build_op(
    x: Tensor,
    height: int,
    orientations: int,
    twidth: float,
    is_complex: bool,
    tight_frame: bool,
    backend: str,
) -> list[Tensor]:
    """x real (..., H, W) -> [highpass, band_0, ..., band_{height-1}, lowpass] (see Pyramid)."""
    spec = PyramidSpec(height, orientations, twidth, is_complex, tight_frame)
    lead, size = x.shape[:-2], tuple(x.shape[-2:])
    flat = x.reshape(-1, *size)
    coeffs = pipeline.analyze(flat, spec, spectral_kernels(backend))
    scales = pipeline.amplitude_scales(spec, size)
    return [
        (c * s if s != 1.0 else c).reshape(*lead, *c.shape[1:])
        for c, s in zip(coeffs, scales, strict=True)
    ]


@build_op.register_fake
def _(x, height, orientations, twidth, is_complex, tight_frame, backend):
    lead = tuple(x.shape[:-2])
    sizes = level_sizes(tuple(x.shape[-2:]), height)
    band_dtype = complex_dtype(x.dtype) if is_complex else x.dtype
    out = [x.new_empty(lead + sizes[0])]
    out += [x.new_empty(lead + (orientations, *s), dtype=band_dtype) for s in sizes[:-1]]
    out.append(x.new_empty(lead + sizes[-1]))
    return out


@torch.library.custom_op("pyramid_kernels::collapse", mutates_args=())
def collapse_op(
    highpass: Tensor,
    bands: list[Tensor],
    lowpass: Tensor,
    orientations: int,
    twidth: float,
    is_complex: bool,
    tight_frame: bool,
    synthesis: str,
    backend: str,
) -> Tensor:
    """Coefficients as returned by ``build`` -> real image (..., H, W)."""
    spec = PyramidSpec(len(bands), orientations, twidth, is_complex, tight_frame, synthesis)
    lead, size = highpass.shape[:-2], tuple(highpass.shape[-2:])
    scales = pipeline.amplitude_scales(spec, size)
    coeffs = [highpass, *bands, lowpass]
    coeffs = [c / s if s != 1.0 else c for c, s in zip(coeffs, scales, strict=True)]
    if is_complex and synthesis == "real":
        coeffs[1:-1] = [2.0 * b.real for b in coeffs[1:-1]]
    flat = [c.reshape(-1, *c.shape[len(lead) :]) for c in coeffs]
    image = pipeline.synthesize(flat[0], flat[1:-1], flat[-1], spec, spectral_kernels(backend))
    return image.reshape(*lead, *size)


@collapse_op.register_fake
def _(highpass, bands, lowpass, orientations, twidth, is_complex, tight_frame, synthesis, backend):
    return torch.empty_like(highpass)


def _build_setup(ctx, inputs, output):
    x, height, orientations, twidth, is_complex, tight_frame, backend = inputs
    ctx.spec = PyramidSpec(height, orientations, twidth, is_complex, tight_frame)
    ctx.backend = backend
    ctx.size = tuple(x.shape[-2:])
    ctx.outputs = [(o.shape, o.dtype, o.device) for o in output]


def _build_backward(ctx, grads):
    spec = ctx.spec
    scales = pipeline.amplitude_scales(spec, ctx.size)
    grads = [
        torch.zeros(shape, dtype=dtype, device=device) if g is None else g
        for g, (shape, dtype, device) in zip(grads, ctx.outputs, strict=True)
    ]
    grads = [g * s if s != 1.0 else g for g, s in zip(grads, scales, strict=True)]
    grad_x = collapse_op(
        grads[0],
        grads[1:-1],
        grads[-1],
        spec.orientations,
        spec.twidth,
        spec.is_complex,
        True,
        "adjoint",
        ctx.backend,
    )
    return grad_x, None, None, None, None, None, None


def _collapse_setup(ctx, inputs, output):
    highpass, bands, lowpass, orientations, twidth, is_complex, tight_frame, synthesis, backend = (
        inputs
    )
    ctx.spec = PyramidSpec(len(bands), orientations, twidth, is_complex, tight_frame, synthesis)
    ctx.backend = backend


def _collapse_backward(ctx, grad):
    spec = ctx.spec
    coeffs = build_op(
        grad, spec.height, spec.orientations, spec.twidth, spec.is_complex, True, ctx.backend
    )
    scales = pipeline.amplitude_scales(spec, tuple(grad.shape[-2:]))
    coeffs = [c / s if s != 1.0 else c for c, s in zip(coeffs, scales, strict=True)]
    if spec.is_complex and spec.synthesis == "real":
        coeffs[1:-1] = [torch.complex(2.0 * b.real, torch.zeros_like(b.real)) for b in coeffs[1:-1]]
    return coeffs[0], coeffs[1:-1], coeffs[-1], None, None, None, None, None, None


build_op.register_autograd(_build_backward, setup_context=_build_setup)
collapse_op.register_autograd(_collapse_backward, setup_context=_collapse_setup)
