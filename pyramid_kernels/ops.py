"""``pyramid_kernels::build`` and ``pyramid_kernels::collapse`` as torch.library custom ops.

Both ops take the spec as the one string of :meth:`PyramidSpec.op_args` and a concrete backend
name; the backend supplies the fused spectral stages (with the amplitude scales folded in),
torch.fft the FFTs. Autograd is the exact adjoint written with the same ops: with A the tight
analysis, f the amplitude scales and P the synthesis projection (identity, or 2 Re(.) for
synthesis="real" of complex bands),
    build(x) = f * A x          -> grad_x = A^T (f * g)         = collapse_tight(f * g)
    collapse(c) = A^T P(c / f)  -> grad_c = P^T(A g) / f        = P^T(build_tight(g)) / f
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from . import pipeline
from .backends import backend_kernels
from .spec import PyramidSpec, level_sizes


def complex_dtype(real: torch.dtype) -> torch.dtype:
    return torch.complex128 if real == torch.float64 else torch.complex64


def _rescale(coeffs: list[Tensor], spec: PyramidSpec, size, power: int) -> list[Tensor]:
    """[hp, bands..., lp] times the amplitude scales f**power (a no-op for tight frames)."""
    scales = pipeline.amplitude_scales(spec, size)
    return [c if s == 1.0 else c * s**power for c, s in zip(coeffs, scales, strict=True)]


def _project(bands: list[Tensor], spec: PyramidSpec, adjoint: bool = False) -> list[Tensor]:
    """P (2 Re b, real bands) for synthesis="real" of complex bands, or its adjoint
    P^T (g -> 2 Re g + 0i); the identity otherwise."""
    if not (spec.is_complex and spec.synthesis == "real"):
        return bands
    if adjoint:
        return [torch.complex(2.0 * b.real, torch.zeros_like(b.real)) for b in bands]
    return [2.0 * b.real for b in bands]


def _tight(spec: PyramidSpec) -> PyramidSpec:
    """The tight, adjoint-synthesis transform the autograd formulas are written with."""
    return dataclasses.replace(spec, tight_frame=True, synthesis="adjoint")


@torch.library.custom_op("pyramid_kernels::build", mutates_args=())
def build_op(x: Tensor, spec: str, backend: str) -> list[Tensor]:
    """x real (..., H, W) -> [highpass, band_0, ..., band_{height-1}, lowpass] (see Pyramid)."""
    s = PyramidSpec.from_op_args(spec)
    lead, size = x.shape[:-2], tuple(x.shape[-2:])
    scales = pipeline.amplitude_scales(s, size)
    coeffs = pipeline.analyze(x.reshape(-1, *size), s, backend_kernels(backend), scales)
    return [c.reshape(*lead, *c.shape[1:]) for c in coeffs]


@build_op.register_fake
def _(x, spec, backend):
    s = PyramidSpec.from_op_args(spec)
    lead = tuple(x.shape[:-2])
    sizes = level_sizes(tuple(x.shape[-2:]), s.height)
    band_dtype = complex_dtype(x.dtype) if s.is_complex else x.dtype
    out = [x.new_empty(lead + sizes[0])]
    out += [x.new_empty(lead + (s.orientations, *size), dtype=band_dtype) for size in sizes[:-1]]
    out.append(x.new_empty(lead + sizes[-1]))
    return out


@torch.library.custom_op("pyramid_kernels::collapse", mutates_args=())
def collapse_op(
    highpass: Tensor, bands: list[Tensor], lowpass: Tensor, spec: str, backend: str
) -> Tensor:
    """Coefficients as returned by ``build`` -> real image (..., H, W)."""
    s = PyramidSpec.from_op_args(spec)
    if len(bands) != s.height:
        raise ValueError(f"collapse got {len(bands)} band levels for a spec of height {s.height}")
    lead, size = highpass.shape[:-2], tuple(highpass.shape[-2:])
    scales = [1.0 / f for f in pipeline.amplitude_scales(s, size)]
    flat = [c.reshape(-1, *c.shape[len(lead) :]) for c in (highpass, *_project(bands, s), lowpass)]
    kernels = backend_kernels(backend)
    image = pipeline.synthesize(flat[0], flat[1:-1], flat[-1], s, kernels, scales)
    return image.reshape(*lead, *size)


@collapse_op.register_fake
def _(highpass, bands, lowpass, spec, backend):
    return torch.empty_like(highpass)


def _build_setup(ctx, inputs, output):
    x, spec, backend = inputs
    ctx.spec, ctx.backend = PyramidSpec.from_op_args(spec), backend
    ctx.size = tuple(x.shape[-2:])
    ctx.outputs = [(o.shape, o.dtype, o.device) for o in output]


def _build_backward(ctx, grads):
    grads = [
        torch.zeros(shape, dtype=dtype, device=device) if g is None else g
        for g, (shape, dtype, device) in zip(grads, ctx.outputs, strict=True)
    ]
    grads = _rescale(grads, ctx.spec, ctx.size, 1)
    spec = _tight(ctx.spec).op_args()
    return collapse_op(grads[0], grads[1:-1], grads[-1], spec, ctx.backend), None, None


def _collapse_setup(ctx, inputs, output):
    highpass, bands, lowpass, spec, backend = inputs
    ctx.spec, ctx.backend = PyramidSpec.from_op_args(spec), backend


def _collapse_backward(ctx, grad):
    coeffs = build_op(grad, _tight(ctx.spec).op_args(), ctx.backend)
    coeffs = _rescale(coeffs, ctx.spec, tuple(grad.shape[-2:]), -1)
    return coeffs[0], _project(coeffs[1:-1], ctx.spec, adjoint=True), coeffs[-1], None, None


build_op.register_autograd(_build_backward, setup_context=_build_setup)
collapse_op.register_autograd(_collapse_backward, setup_context=_collapse_setup)
