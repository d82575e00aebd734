"""``pyramid_kernels::build`` and ``pyramid_kernels::collapse``: registered ops (see
``registration.py``) with fake kernels, exact-adjoint autograd in reverse and forward mode, and
vmap rules.

Both ops take the spec as the one string of :meth:`PyramidSpec.op_args` and a concrete backend
name; the backend supplies the fused spectral stages (with the amplitude scales folded in),
torch.fft the FFTs. Both are linear, so a tangent is the op applied to the tangent; the
gradients are the exact adjoint written with the same ops: with A the tight analysis, f the
amplitude scales and P the synthesis projection (identity, or 2 Re(.) for synthesis="real" of
complex bands),
    build(x) = f * A x          -> grad_x = A^T (f * g)         = collapse_tight(f * g)
    collapse(c) = A^T P(c / f)  -> grad_c = P^T(A g) / f        = P^T(build_tight(g)) / f
Both take any leading dims, so a vmapped dim moves to the front. Under the legacy prototype
vmap (gradcheck's check_batched_grad) they run the pure-torch reference.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from ...core.selection import CoefficientSelection
from ...core.spec import PyramidSpec
from ...core.validation import check_coefficients, check_image, complex_dtype
from ..registration import apply_at_this_level, batch_first, below_autograd, register
from . import pipeline
from .kernels import transform_kernels

_lib = torch.library.Library("pyramid_kernels", "FRAGMENT")  # noqa: TOR901


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


def _build_kernel(x: Tensor, spec: str, backend: str) -> list[Tensor]:
    """x real (..., H, W) -> [highpass, band_0, ..., band_{height-1}, lowpass] (see Pyramid).
    Validated first; an empty batch gives empty coefficients."""
    s = PyramidSpec.from_op_args(spec)
    check_image(x, convert=False)
    lead, size = x.shape[:-2], tuple(x.shape[-2:])
    s.resolve(size)  # raises unless the image supports the height
    kernels = transform_kernels(backend, x.device)
    if x.numel() == 0:
        return _build_fake(x, spec, backend)
    scales = pipeline.amplitude_scales(s, size)
    coeffs = pipeline.analyze(x.reshape(-1, *size), s, kernels, scales)
    return [c.reshape(*lead, *c.shape[1:]) for c in coeffs]


def _build_fake(x, spec, backend):
    s = PyramidSpec.from_op_args(spec)
    lead = tuple(x.shape[:-2])
    sizes = s.level_sizes(tuple(x.shape[-2:]))
    band_dtype = complex_dtype(x.dtype) if s.is_complex else x.dtype
    out = [x.new_empty(lead + sizes[0])]
    out += [x.new_empty(lead + (s.orientations, *size), dtype=band_dtype) for size in sizes[:-1]]
    out.append(x.new_empty(lead + sizes[-1]))
    return out


def _collapse_kernel(
    highpass: Tensor,
    bands: list[Tensor],
    lowpass: Tensor,
    spec: str,
    backend: str,
    select: str = "",
) -> Tensor:
    """Coefficients as returned by ``build`` -> real image (..., H, W). Validated against the
    spec first (shapes per level, dtypes, devices); empty coefficients give an empty image.
    ``select`` (:meth:`CoefficientSelection.op_arg`, "" for all) reconstructs from part of
    the coefficients, never reading the rest."""
    s = PyramidSpec.from_op_args(spec)
    chosen = CoefficientSelection.parse(select)
    check_coefficients(highpass, bands, lowpass, s)
    kernels = transform_kernels(backend, highpass.device)
    if highpass.numel() == 0:
        return torch.empty_like(highpass)
    lead, size = highpass.shape[:-2], tuple(highpass.shape[-2:])
    scales = [1.0 / f for f in pipeline.amplitude_scales(s, size)]
    if chosen is not None:  # project only what is read
        bands = [_project([b], s)[0] if i in chosen.levels else b for i, b in enumerate(bands)]
    else:
        bands = _project(bands, s)
    flat = [c.reshape(-1, *c.shape[len(lead) :]) for c in (highpass, *bands, lowpass)]
    image = pipeline.synthesize(flat[0], flat[1:-1], flat[-1], s, kernels, scales, chosen)
    return image.reshape(*lead, *size)


def _collapse_fake(highpass, bands, lowpass, spec, backend, select=""):
    return torch.empty_like(highpass)


def _build_vmap(info, in_dims, x, spec, backend):
    out = build_op(batch_first(x, in_dims[0], info.batch_size), spec, backend)
    return out, [0] * len(out)


def _collapse_batched(info, coeffs, dims, spec, backend, select):
    """collapse of [highpass, *bands, lowpass] vmapped along ``dims`` (one per tensor)."""
    size = info.batch_size
    coeffs = [batch_first(c, d, size) for c, d in zip(coeffs, dims, strict=True)]
    return collapse_op(coeffs[0], coeffs[1:-1], coeffs[-1], spec, backend, select), 0


def _collapse_vmap(info, in_dims, highpass, bands, lowpass, spec, backend, select=""):
    dims = [in_dims[0], *(in_dims[1] or [None] * len(bands)), in_dims[2]]
    return _collapse_batched(info, [highpass, *bands, lowpass], dims, spec, backend, select)


def _restrict(grads: list[Tensor], chosen: CoefficientSelection | None) -> list:
    """Gradients [hp, *bands, lp] of a selective collapse: None for what it did not read,
    unselected bands of a selected level zeroed."""
    if chosen is None:
        return grads
    out = [grads[0] if chosen.highpass else None]
    for level, g in enumerate(grads[1:-1]):
        if level not in chosen.levels:
            out.append(None)
        elif chosen.bands is None:
            out.append(g)
        else:
            out.append(g * chosen.band_mask(g))
    return [*out, grads[-1] if chosen.lowpass else None]


def collapse_vjp(grad: Tensor, spec: PyramidSpec, backend: str, select: str = "") -> list:
    """The gradients of the coefficients of a collapse, given its image's gradient: a build.

    What collapse's backward computes, for callers that need it without the forward (a morph's
    source gradient).

    Parameters
    ----------
    grad : Tensor
        (..., H, W) real, the gradient of the collapsed image.
    spec : PyramidSpec
        The resolved spec of the collapsed pyramid.
    backend : str
        A concrete backend ("torch", "cpp", "triton").
    select : str
        The collapse's selection (:meth:`CoefficientSelection.op_arg`; "" for everything).

    Returns
    -------
    list of Tensor or None
        [highpass, *bands, lowpass]; None for what a selecting collapse did not read.
    """
    coeffs = build_op(grad, _tight(spec).op_args(), backend)
    coeffs = _rescale(coeffs, spec, tuple(grad.shape[-2:]), -1)
    coeffs = [coeffs[0], *_project(coeffs[1:-1], spec, adjoint=True), coeffs[-1]]
    return _restrict(coeffs, CoefficientSelection.parse(select))


class _Build(torch.autograd.Function):
    """build through autograd: gradients by collapse, tangents by build (it is linear)."""

    @staticmethod
    def forward(x, spec, backend):
        return tuple(below_autograd(build_op, x, spec, backend))

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, spec, backend = inputs
        ctx.spec_args, ctx.backend = spec, backend
        ctx.spec, ctx.size = PyramidSpec.from_op_args(spec), tuple(x.shape[-2:])

    @staticmethod
    def backward(ctx, *grads):
        grads = _rescale(list(grads), ctx.spec, ctx.size, 1)
        spec = _tight(ctx.spec).op_args()
        return collapse_op(grads[0], grads[1:-1], grads[-1], spec, ctx.backend, ""), None, None

    @staticmethod
    def jvp(ctx, x_tangent, *_):
        return tuple(build_op(x_tangent, ctx.spec_args, ctx.backend))

    @staticmethod
    def vmap(info, in_dims, x, spec, backend):
        out, dims = _build_vmap(info, in_dims, x, spec, backend)
        return tuple(out), tuple(dims)


class _Collapse(torch.autograd.Function):
    """collapse through autograd, coefficients flattened: (highpass, *bands, lowpass, spec,
    backend, select); gradients by build (restricted to the selection), tangents by collapse
    (it is linear)."""

    @staticmethod
    def forward(*args):
        highpass, *bands, lowpass, spec, backend, select = args
        return below_autograd(collapse_op, highpass, bands, lowpass, spec, backend, select)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.spec_args, ctx.backend, ctx.select = inputs[-3:]
        ctx.spec = PyramidSpec.from_op_args(ctx.spec_args)
        ctx.coefficients = [(t.shape, t.dtype, t.device) for t in inputs[:-3]]

    @staticmethod
    def backward(ctx, grad):
        return *collapse_vjp(grad, ctx.spec, ctx.backend, ctx.select), None, None, None

    @staticmethod
    def jvp(ctx, *tangents):
        coeffs = [
            torch.zeros(shape, dtype=dtype, device=device) if t is None else t
            for t, (shape, dtype, device) in zip(tangents[:-3], ctx.coefficients, strict=True)
        ]
        return collapse_op(
            coeffs[0], coeffs[1:-1], coeffs[-1], ctx.spec_args, ctx.backend, ctx.select
        )

    @staticmethod
    def vmap(info, in_dims, *args):
        *coeffs, spec, backend, select = args
        return _collapse_batched(info, coeffs, in_dims[:-3], spec, backend, select)


build_op = register(
    _lib,
    "build(Tensor x, str spec, str backend) -> Tensor[]",
    _build_kernel,
    _build_fake,
    lambda x, spec, backend: list(apply_at_this_level(_Build, x, spec, backend)),
    _build_vmap,
    legacy_batched=lambda x, spec, backend: _build_kernel(x, spec, "torch"),
)
collapse_op = register(
    _lib,
    "collapse(Tensor highpass, Tensor[] bands, Tensor lowpass, str spec, str backend, "
    'str select="") -> Tensor',
    _collapse_kernel,
    _collapse_fake,
    lambda hp, bands, lp, spec, backend, select="": apply_at_this_level(
        _Collapse, hp, *bands, lp, spec, backend, select
    ),
    _collapse_vmap,
    legacy_batched=lambda hp, bands, lp, spec, backend, select="": _collapse_kernel(
        hp, bands, lp, spec, "torch", select
    ),
)
