"""Triton kernels of the phase ops (contract of ``reference.phase_rotate/phase_extrapolate``).

Complex data travels as ``view_as_real`` [..., 2] tiles; the rotation is exp(a) (cos b, sin b),
no atan2. The extrapolation reads c and both gradients once and writes all T frames.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from .. import triton_common as _common


@triton.jit(do_not_specialize=["numel"])
def _rotate_kernel(c_ptr, a_ptr, b_ptr, out_ptr, numel, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    valid = offs < numel
    re, im = _common.load_complex(c_ptr, offs, valid)
    a = tl.load(a_ptr + offs, mask=valid, other=0.0)
    b = tl.load(b_ptr + offs, mask=valid, other=0.0)
    gain = tl.exp(a)
    cos_b = gain * tl.cos(b)
    sin_b = gain * tl.sin(b)
    _common.store_complex(out_ptr, offs, re * cos_b - im * sin_b, re * sin_b + im * cos_b, valid)


@triton.jit(do_not_specialize=["numel", "frames"])
def _extrapolate_kernel(c_ptr, a_ptr, b_ptr, s_ptr, out_ptr, numel, frames, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    valid = offs < numel
    re, im = _common.load_complex(c_ptr, offs, valid)
    a = tl.load(a_ptr + offs, mask=valid, other=0.0)
    b = tl.load(b_ptr + offs, mask=valid, other=0.0)
    out_offs = offs  # int64: frames * numel may pass 2^31 when numel does not
    for k in range(frames):
        s = tl.load(s_ptr + k)
        gain = tl.exp(-s * a)
        cos_b = gain * tl.cos(s * b)
        sin_b = -gain * tl.sin(s * b)
        _common.store_complex(
            out_ptr, out_offs, re * cos_b - im * sin_b, re * sin_b + im * cos_b, valid
        )
        out_offs += numel


def phase_rotate(coeffs: torch.Tensor, log_amplitude: torch.Tensor, phase: torch.Tensor):
    """c * exp(eta + i delta)."""
    coeffs, a, b = coeffs.contiguous(), log_amplitude.contiguous(), phase.contiguous()
    out = _common.alloc(coeffs, coeffs.shape)
    numel = coeffs.numel()
    if numel:
        block = _common.block_size(numel, coeffs.device)
        with _common.on_device(coeffs):
            _rotate_kernel[(-(-numel // block),)](
                _common.as_real(coeffs), a, b, _common.as_real(out), numel, BLOCK=block
            )
    return out


def phase_extrapolate(coeffs, grad_log_amplitude, grad_phase, scales):
    """(T, *c.shape): c * exp(-s_k (g_eta + i g_delta))."""
    coeffs = coeffs.contiguous()
    a, b, s = grad_log_amplitude.contiguous(), grad_phase.contiguous(), scales.contiguous()
    out = _common.alloc(coeffs, (s.shape[0], *coeffs.shape))
    numel = coeffs.numel()
    if numel and s.shape[0]:
        block = _common.block_size(numel, coeffs.device)
        with _common.on_device(coeffs):
            _extrapolate_kernel[(-(-numel // block),)](
                _common.as_real(coeffs),
                a,
                b,
                s,
                _common.as_real(out),
                numel,
                s.shape[0],
                BLOCK=block,
            )
    return out
