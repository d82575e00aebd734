"""Triton kernel of the fused causal magnification chain (the contract of the C++
``magnify_iir``, magnify.cpp): per coefficient, over the frames in order, the phase
difference to the reference (atan2 of c conj(r)), one step of the temporal band-pass (a biquad
in transposed direct form II, or the difference of two first-order low-passes) and the rotation
of c by alpha times the filtered phase (or (1 + alpha) filtered - difference: attenuation).

One read and one write of each coefficient, the filter state in registers across the frames.
float32 only: atan2 is an odd minimax polynomial after octant reduction (errors below 2e-7
rad; no libdevice, so it runs in the interpreter too); float64 runs the unfused torch ops.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from .. import triton_common as _common


@triton.jit
def _atan2(y, x):
    """atan2(y, x) in float32: octant reduction to [0, 1] and an odd minimax polynomial."""
    ax = tl.abs(x)
    ay = tl.abs(y)
    big = tl.maximum(ax, ay)
    small = tl.minimum(ax, ay)
    t = tl.where(big > 0.0, small / tl.where(big > 0.0, big, 1.0), 0.0)
    s = t * t
    p = -0.0040540580
    p = p * s + 0.0218612288
    p = p * s - 0.0559098861
    p = p * s + 0.0964200441
    p = p * s - 0.1390853351
    p = p * s + 0.1994653599
    p = p * s - 0.3332985605
    p = p * s + 0.9999993329
    r = p * t
    r = tl.where(ay > ax, 1.57079632679 - r, r)
    r = tl.where(x < 0.0, 3.14159265359 - r, r)
    return tl.where(y < 0.0, -r, r)


@triton.jit(do_not_specialize=["numel", "frames"])
def _magnify_kernel(
    c_ptr,
    r_ptr,
    state_ptr,
    out_ptr,
    numel,
    frames,
    f0,
    f1,
    f2,
    f3,
    f4,
    gain,
    keep,
    DIFFERENCE: tl.constexpr,
    BLOCK: tl.constexpr,
):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    valid = offs < numel
    rr, ri = _common.load_complex(r_ptr, offs, valid)
    s1 = tl.load(state_ptr + offs, mask=valid, other=0.0)
    s2 = tl.load(state_ptr + numel + offs, mask=valid, other=0.0)
    frame_offs = offs  # int64: frames * numel may pass 2^31
    for _ in range(frames):
        re, im = _common.load_complex(c_ptr, frame_offs, valid)
        delta = _atan2(im * rr - re * ri, re * rr + im * ri)
        if DIFFERENCE:
            s1 = s1 + f0 * (delta - s1)
            s2 = s2 + f1 * (delta - s2)
            filtered = s1 - s2
        else:
            filtered = f0 * delta + s1
            s1 = f1 * delta - f3 * filtered + s2
            s2 = f2 * delta - f4 * filtered
        theta = gain * filtered - keep * delta
        cos_t = tl.cos(theta)
        sin_t = tl.sin(theta)
        _common.store_complex(
            out_ptr, frame_offs, re * cos_t - im * sin_t, re * sin_t + im * cos_t, valid
        )
        frame_offs += numel
    tl.store(state_ptr + offs, s1, mask=valid)
    tl.store(state_ptr + numel + offs, s2, mask=valid)


def magnify_iir(
    coeffs, reference, state, filter, difference: bool, alpha: float, attenuate: bool, out=None
):
    """Causal phase-based magnification of (T, N) complex64 coefficients against a reference
    (N); ``state`` (2, N) float32 is the filter's, updated in place; ``filter`` is (b0, b1, b2,
    a1, a2) for the biquad or (r_hi, r_lo) for the difference. The result goes to ``out``
    (T, N), a new tensor by default; ``out=coeffs`` works in place."""
    if coeffs.dtype != torch.complex64 or coeffs.dim() != 2:
        raise ValueError(f"coeffs must be (T, N) complex64, got {coeffs.dtype} {coeffs.shape}")
    frames, numel = coeffs.shape
    if reference.dtype != coeffs.dtype or reference.numel() != numel:
        raise ValueError("reference must be (N) of coeffs' dtype")
    if state.dtype != torch.float32 or tuple(state.shape) != (2, numel):
        raise ValueError("state must be a contiguous (2, N) float32 tensor")
    if not state.is_contiguous() or state.device != coeffs.device:
        raise ValueError("state must be a contiguous (2, N) float32 tensor on coeffs' device")
    if len(filter) != (2 if difference else 5):
        raise ValueError("filter has the wrong length")
    coeffs = coeffs.contiguous()
    out = _common.alloc(coeffs, coeffs.shape) if out is None else out
    if not (out.is_contiguous() and out.shape == coeffs.shape and out.dtype == coeffs.dtype):
        raise ValueError("out must be a contiguous tensor of coeffs' shape and dtype")
    f = [float(v) for v in filter] + [0.0] * (5 - len(filter))
    gain, keep = (1.0 + alpha, 1.0) if attenuate else (float(alpha), 0.0)
    if numel and frames:
        block = _common.block_size(numel, coeffs.device)
        with _common.on_device(coeffs):
            _magnify_kernel[(-(-numel // block),)](
                _common.as_real(coeffs),
                _common.as_real(reference.contiguous()),
                state,
                torch.view_as_real(out),
                numel,
                frames,
                *f,
                gain,
                keep,
                DIFFERENCE=bool(difference),
                BLOCK=block,
            )
    return out
