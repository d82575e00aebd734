"""``pyramid_kernels::phase_rotate`` and ``pyramid_kernels::phase_extrapolate`` custom ops.

    phase_rotate(c, eta, delta)         = c * exp(eta + i delta)
    phase_extrapolate(c, g_eta, g_delta, s) = [c * exp(-s_k (g_eta + i g_delta))]_k   (T, *c.shape)

c is complex, the fields real with c's shape, s real (T,). Autograd (PyTorch's convention
G = dL/dRe z + i dL/dIm z): with z = c * exp(w), w = a + i b,
    grad_c = G * conj(exp(w)),  dL/da = Re(conj(G) z),  dL/db = Im(conj(z) G).
The backend string picks the kernels ("torch", "cpp", "triton"), as for the pyramid ops.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .backends import backend_kernels


def _check(coeffs: Tensor, *fields: Tensor) -> None:
    if not coeffs.is_complex():
        raise ValueError(f"coeffs must be complex, got {coeffs.dtype}")
    real = coeffs.dtype.to_real()
    for f in fields:
        if f.shape != coeffs.shape or f.is_complex() or f.dtype != real:
            raise ValueError(
                f"phase fields must be real {real} of shape {tuple(coeffs.shape)}, "
                f"got {f.dtype} {tuple(f.shape)}"
            )


@torch.library.custom_op("pyramid_kernels::phase_rotate", mutates_args=())
def phase_rotate(coeffs: Tensor, log_amplitude: Tensor, phase: Tensor, backend: str) -> Tensor:
    """c * exp(eta + i delta) elementwise; all of c's shape."""
    _check(coeffs, log_amplitude, phase)
    return backend_kernels(backend).phase_rotate(coeffs, log_amplitude, phase)


@phase_rotate.register_fake
def _(coeffs, log_amplitude, phase, backend):
    return torch.empty_like(coeffs)


@torch.library.custom_op("pyramid_kernels::phase_extrapolate", mutates_args=())
def phase_extrapolate(
    coeffs: Tensor, grad_log_amplitude: Tensor, grad_phase: Tensor, scales: Tensor, backend: str
) -> Tensor:
    """All T frames c * exp(-s_k (g_eta + i g_delta)) in one pass: (T, *c.shape)."""
    _check(coeffs, grad_log_amplitude, grad_phase)
    if scales.dim() != 1 or scales.dtype != coeffs.dtype.to_real():
        raise ValueError(
            f"scales must be 1-D {coeffs.dtype.to_real()}, got {scales.dtype} {tuple(scales.shape)}"
        )
    return backend_kernels(backend).phase_extrapolate(
        coeffs, grad_log_amplitude, grad_phase, scales
    )


@phase_extrapolate.register_fake
def _(coeffs, grad_log_amplitude, grad_phase, scales, backend):
    return coeffs.new_empty((scales.shape[0], *coeffs.shape))


def _rotate_setup(ctx, inputs, output):
    coeffs, log_amplitude, phase, backend = inputs
    ctx.save_for_backward(log_amplitude, phase, output)


def _rotate_backward(ctx, grad):
    log_amplitude, phase, out = ctx.saved_tensors
    factor = torch.polar(torch.exp(log_amplitude), -phase)  # conj(exp(eta + i delta))
    product = grad.conj() * out
    return grad * factor, product.real, -product.imag, None


def _extrapolate_setup(ctx, inputs, output):
    coeffs, grad_log_amplitude, grad_phase, scales, backend = inputs
    ctx.save_for_backward(grad_log_amplitude, grad_phase, scales, output)


def _extrapolate_backward(ctx, grad):
    g_eta, g_delta, scales, frames = ctx.saved_tensors
    s = scales.reshape(-1, *([1] * g_eta.dim()))
    factor = torch.polar(torch.exp(-s * g_eta), s * g_delta)  # conj of each frame's factor
    product = grad.conj() * frames  # d frame_k = frame_k * (-s_k)(d g_eta + i d g_delta)
    grad_scales = -(product.real * g_eta + (-product.imag) * g_delta).flatten(1).sum(1)
    return (
        (grad * factor).sum(0),
        -(s * product.real).sum(0),
        (s * product.imag).sum(0),
        grad_scales,
        None,
    )


phase_rotate.register_autograd(_rotate_backward, setup_context=_rotate_setup)
phase_extrapolate.register_autograd(_extrapolate_backward, setup_context=_extrapolate_setup)
