"""``pyramid_kernels::phase_rotate`` and ``pyramid_kernels::phase_extrapolate``: registered ops
(see ``registration.py``) with reverse- and forward-mode autograd and vmap rules.

    phase_rotate(c, eta, delta)         = c * exp(eta + i delta)
    phase_extrapolate(c, g_eta, g_delta, s) = [c * exp(-s_k (g_eta + i g_delta))]_k   (T, *c.shape)

c is complex, the fields real with c's shape, s real (T,). The backend string picks the kernels
("torch", "cpp", "triton"), as for the pyramid ops. With z = c * exp(w), w = a + i b:
    tangent dz = dc * exp(w) + z * (da + i db)
and the gradients (PyTorch's convention G = dL/dRe z + i dL/dIm z)
    grad_c = G * conj(exp(w)),  dL/da = Re(conj(G) z),  dL/db = Im(conj(z) G).
Extrapolation is the same with w_k = -s_k (g_eta + i g_delta), so d w_k = -(ds_k (g_eta + i
g_delta) + s_k (d g_eta + i d g_delta)).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..registration import apply_at_this_level, batch_first, below_autograd, register
from .kernels import phase_kernels

_lib = torch.library.Library("pyramid_kernels", "FRAGMENT")  # noqa: TOR901


def _check(coeffs: Tensor, *fields: Tensor) -> None:
    if not coeffs.is_complex() or coeffs.dtype not in (torch.complex64, torch.complex128):
        raise ValueError(f"coeffs must be complex64 or complex128, got {coeffs.dtype}")
    real = coeffs.dtype.to_real()
    for f in fields:
        if f.shape != coeffs.shape or f.is_complex() or f.dtype != real:
            raise ValueError(
                f"phase fields must be real {real} of shape {tuple(coeffs.shape)}, "
                f"got {f.dtype} {tuple(f.shape)}"
            )
        if f.device != coeffs.device:
            raise ValueError(f"phase fields are on {f.device} but coeffs on {coeffs.device}")


def _rotate_kernel(coeffs: Tensor, log_amplitude: Tensor, phase: Tensor, backend: str) -> Tensor:
    """c * exp(eta + i delta) elementwise; all of c's shape."""
    _check(coeffs, log_amplitude, phase)
    return phase_kernels(backend, coeffs.device).phase_rotate(coeffs, log_amplitude, phase)


def _extrapolate_kernel(
    coeffs: Tensor, grad_log_amplitude: Tensor, grad_phase: Tensor, scales: Tensor, backend: str
) -> Tensor:
    """All T frames c * exp(-s_k (g_eta + i g_delta)) in one pass: (T, *c.shape)."""
    _check(coeffs, grad_log_amplitude, grad_phase)
    if scales.dim() != 1 or scales.dtype != coeffs.dtype.to_real():
        raise ValueError(
            f"scales must be 1-D {coeffs.dtype.to_real()}, got {scales.dtype} {tuple(scales.shape)}"
        )
    if scales.device != coeffs.device:
        raise ValueError(f"scales are on {scales.device} but coeffs on {coeffs.device}")
    kernels = phase_kernels(backend, coeffs.device)
    return kernels.phase_extrapolate(coeffs, grad_log_amplitude, grad_phase, scales)


def _rotate_vmap(info, in_dims, coeffs, log_amplitude, phase, backend):
    size = info.batch_size
    fields = (coeffs, log_amplitude, phase)
    args = [batch_first(t, d, size) for t, d in zip(fields, in_dims[:3], strict=True)]
    return phase_rotate(*args, backend), 0


def _extrapolate_vmap(info, in_dims, coeffs, grad_log_amplitude, grad_phase, scales, backend):
    size = info.batch_size
    fields = (coeffs, grad_log_amplitude, grad_phase)
    if in_dims[3] is not None:  # per-sample scales: one call per sample
        scales = scales.movedim(in_dims[3], 0)
        fields = [batch_first(t, d, size) for t, d in zip(fields, in_dims[:3], strict=True)]
        frames = [
            phase_extrapolate(*(f[i] for f in fields), scales[i], backend) for i in range(size)
        ]
        return torch.stack(frames), 0
    fields = [batch_first(t, d, size) for t, d in zip(fields, in_dims[:3], strict=True)]
    return phase_extrapolate(*fields, scales, backend), 1  # frames stay first


def _exp(a: Tensor, b: Tensor) -> Tensor:
    return torch.polar(torch.exp(a), b)


class _Rotate(torch.autograd.Function):
    @staticmethod
    def forward(coeffs, log_amplitude, phase, backend):
        return below_autograd(phase_rotate, coeffs, log_amplitude, phase, backend)

    @staticmethod
    def setup_context(ctx, inputs, output):
        _, log_amplitude, phase, _ = inputs
        ctx.save_for_backward(log_amplitude, phase, output)
        ctx.save_for_forward(log_amplitude, phase, output)

    @staticmethod
    def backward(ctx, grad):
        """Only the gradients asked for (a morph's coefficients need none: the exponential
        of grad_c is most of the work)."""
        log_amplitude, phase, out = ctx.saved_tensors
        need_c, need_a, need_b = ctx.needs_input_grad[:3]
        product = grad.conj() * out if need_a or need_b else None
        return (
            grad * _exp(log_amplitude, -phase) if need_c else None,
            product.real if need_a else None,
            -product.imag if need_b else None,
            None,
        )

    @staticmethod
    def jvp(ctx, d_coeffs, d_log_amplitude, d_phase, _):
        log_amplitude, phase, out = ctx.saved_tensors
        tangent = torch.zeros_like(out)
        if d_coeffs is not None:
            tangent = tangent + d_coeffs * _exp(log_amplitude, phase)
        if d_log_amplitude is not None:
            tangent = tangent + out * d_log_amplitude
        if d_phase is not None:
            tangent = tangent + out * (1j * d_phase)
        return tangent

    @staticmethod
    def vmap(info, in_dims, *args):
        return _rotate_vmap(info, in_dims, *args)


class _Extrapolate(torch.autograd.Function):
    @staticmethod
    def forward(coeffs, grad_log_amplitude, grad_phase, scales, backend):
        return below_autograd(
            phase_extrapolate, coeffs, grad_log_amplitude, grad_phase, scales, backend
        )

    @staticmethod
    def setup_context(ctx, inputs, output):
        _, g_eta, g_delta, scales, _ = inputs
        ctx.save_for_backward(g_eta, g_delta, scales, output)
        ctx.save_for_forward(g_eta, g_delta, scales, output)

    @staticmethod
    def backward(ctx, grad):
        g_eta, g_delta, scales, frames = ctx.saved_tensors
        s = scales.reshape(-1, *([1] * g_eta.dim()))
        need = ctx.needs_input_grad
        # d frame_k = frame_k * (-s_k)(d g_eta + i d g_delta)
        product = grad.conj() * frames if any(need[1:4]) else None
        per_frame = tuple(range(1, frames.dim()))  # (no flatten: legacy vmap has no rule)
        return (
            (grad * _exp(-s * g_eta, s * g_delta)).sum(0) if need[0] else None,  # conj factor
            -(s * product.real).sum(0) if need[1] else None,
            (s * product.imag).sum(0) if need[2] else None,
            -(product.real * g_eta - product.imag * g_delta).sum(per_frame) if need[3] else None,
            None,
        )

    @staticmethod
    def jvp(ctx, d_coeffs, d_g_eta, d_g_delta, d_scales, _):
        g_eta, g_delta, scales, frames = ctx.saved_tensors
        s = scales.reshape(-1, *([1] * g_eta.dim()))
        tangent = torch.zeros_like(frames)
        if d_coeffs is not None:
            tangent = tangent + d_coeffs * _exp(-s * g_eta, -s * g_delta)
        d_w = torch.zeros_like(frames)  # d w_k
        if d_scales is not None:
            d_w = d_w - d_scales.reshape(s.shape) * torch.complex(g_eta, g_delta)
        if d_g_eta is not None:
            d_w = d_w - s * d_g_eta
        if d_g_delta is not None:
            d_w = d_w - s * (1j * d_g_delta)
        return tangent + frames * d_w

    @staticmethod
    def vmap(info, in_dims, *args):
        return _extrapolate_vmap(info, in_dims, *args)


phase_rotate = register(
    _lib,
    "phase_rotate(Tensor coeffs, Tensor log_amplitude, Tensor phase, str backend) -> Tensor",
    _rotate_kernel,
    lambda coeffs, log_amplitude, phase, backend: torch.empty_like(coeffs),
    lambda *args: apply_at_this_level(_Rotate, *args),
    _rotate_vmap,
)
phase_extrapolate = register(
    _lib,
    "phase_extrapolate(Tensor coeffs, Tensor grad_log_amplitude, Tensor grad_phase, "
    "Tensor scales, str backend) -> Tensor",
    _extrapolate_kernel,
    lambda coeffs, g_eta, g_delta, scales, backend: coeffs.new_empty(
        (scales.shape[0], *coeffs.shape)
    ),
    lambda *args: apply_at_this_level(_Extrapolate, *args),
    _extrapolate_vmap,
)
