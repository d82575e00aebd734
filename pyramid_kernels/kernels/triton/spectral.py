"""Triton kernels of the four spectral stages (same contract as ``reference.py``).

Each launch covers one level: a program reads BLOCK bins of one image's spectrum once, builds
the radial and angular masks in closed form from the bin's frequency (no mask tensors), and
writes all K band spectra plus, for the kept bins, the cropped next low-pass (split), or the
adjoint (merge). Complex data travels as ``view_as_real`` [..., 2] tiles; no atan2: the angular
mask is cos(theta - theta_b) = (u . e_b) / r. Float scalars (twidth, gains, pi/2, grid scale)
arrive through a small tensor in the compute dtype, so float64 runs stay float64.

Import this module only after deciding on TRITON_INTERPRET (tests set it to run on CPU).
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

from ... import frequency
from ...spec import PyramidSpec
from . import _common


@triton.jit
def _bin_frequency(j, d, scale):
    """Normalised frequency of unshifted bin j of a d-point level."""
    k = tl.where(j < (d + 1) // 2, j, j - d)
    return k, k.to(scale.dtype) * scale


@triton.jit
def _radial(r2, offset, twidth, half_pi):
    """(Hi, Lo) at log2 r + offset; DC (r2 == 0) is all low-pass."""
    safe = tl.where(r2 > 0, r2, 1.0)
    t = (0.5 * tl.log2(safe) + offset) / twidth
    t = tl.minimum(tl.maximum(t, -1.0), 0.0)
    t = tl.where(r2 > 0, t, -1.0)
    hi = tl.where(t <= -1.0, 0.0, tl.cos(half_pi * t))
    lo = tl.sin(-half_pi * t)
    return hi, lo


@triton.jit
def _angular(
    ux, uy, inv_r, r2, angles_ptr, b, K: tl.constexpr, ORDER: tl.constexpr, IS_COMPLEX: tl.constexpr
):
    """cos^n(theta - theta_b) of band b, restricted to cos > 0 for the complex pyramid;
    angles_ptr holds cos(theta_b) then sin(theta_b) for the K bands."""
    cos_b = tl.load(angles_ptr + b)
    sin_b = tl.load(angles_ptr + K + b)
    c = tl.where(r2 > 0, (ux * cos_b + uy * sin_b) * inv_r, 0.0)
    a = c * 0.0 + 1.0
    for _ in tl.static_range(ORDER):
        a = a * c
    if IS_COMPLEX:
        a = tl.where(c > 0, a, 0.0)
    return a


@triton.jit
def _times_minus_i_power(re, im, POWER: tl.constexpr):
    """(re + i im) * (-i)^POWER."""
    if POWER % 4 == 1:
        return im, -re
    elif POWER % 4 == 2:
        return -re, -im
    elif POWER % 4 == 3:
        return -im, re
    else:
        return re, im


@triton.jit
def _level_grid(params_ptr, h, w, cols, BLOCK: tl.constexpr):
    """This program's bins of an (h, w) level, stored with ``cols`` columns (w, or w//2+1 for
    a half spectrum): (image, flat index, valid, jy, jx, ky, kx, ux, uy, r2, twidth)."""
    image = tl.program_id(0).to(tl.int64)
    offs = tl.program_id(1).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    valid = offs < h * cols
    twidth = tl.load(params_ptr)
    scale_y = tl.load(params_ptr + 2)
    scale_x = tl.load(params_ptr + 3)
    jy = offs // cols
    jx = offs % cols
    ky, uy = _bin_frequency(jy, h, scale_y)
    kx, ux = _bin_frequency(jx, w, scale_x)
    return image, offs, valid, jy, jx, ky, kx, ux, uy, ux * ux + uy * uy, twidth


@triton.jit
def _residual_kernel(
    half_ptr, hp_ptr, low_ptr, params_ptr, h, w, MERGE: tl.constexpr, BLOCK: tl.constexpr
):
    """Split (over the full grid): X = Hermitian expansion of the rfft2 half, low = X * lo0,
    hp = X * hi0 on the half. Merge (over the half grid), the adjoint:
    half = hp * hi0 + lo0 * (low(k) + conj low(-k)) / 2."""
    wh = w // 2 + 1
    cols = wh if MERGE else w
    image, offs, valid, jy, jx, ky, kx, ux, uy, r2, twidth = _level_grid(
        params_ptr, h, w, cols, BLOCK
    )
    hi, lo = _radial(r2, 0, twidth, tl.load(params_ptr + 4))
    mirror_y = tl.where(jy == 0, 0, h - jy)
    mirror_x = tl.where(jx == 0, 0, w - jx)
    if MERGE:
        half_idx = image * h * wh + offs
        pr, pi = _common.load_complex(hp_ptr, half_idx, valid)
        lr, li = _common.load_complex(low_ptr, image * h * w + jy * w + jx, valid)
        mr, mi = _common.load_complex(low_ptr, image * h * w + mirror_y * w + mirror_x, valid)
        out_r = pr * hi + 0.5 * (lr + mr) * lo
        out_i = pi * hi + 0.5 * (li - mi) * lo
        _common.store_complex(half_ptr, half_idx, out_r, out_i, valid)
    else:
        direct = jx < wh
        src = image * h * wh + tl.where(direct, jy * wh + jx, mirror_y * wh + mirror_x)
        xr, xi = _common.load_complex(half_ptr, src, valid)
        xi = tl.where(direct, xi, -xi)
        _common.store_complex(low_ptr, image * h * w + offs, xr * lo, xi * lo, valid)
        _common.store_complex(
            hp_ptr, image * h * wh + jy * wh + jx, xr * hi, xi * hi, valid & direct
        )


@triton.jit
def _band_kernel(
    low_ptr,
    bands_ptr,
    next_ptr,
    params_ptr,
    angles_ptr,
    h,
    w,
    hn,
    wn,
    level,
    K: tl.constexpr,
    ORDER: tl.constexpr,
    IS_COMPLEX: tl.constexpr,
    MERGE: tl.constexpr,
    BLOCK: tl.constexpr,
):
    """Split: bands_b = low * mask_b, next = crop(low) * lomask.
    Merge (the adjoint): low = sum_b bands_b * conj(mask_b) + pad(next * lomask)."""
    image, offs, valid, _, _, ky, kx, ux, uy, r2, twidth = _level_grid(params_ptr, h, w, w, BLOCK)
    half_pi = tl.load(params_ptr + 4)
    gain = tl.load(params_ptr + 1)
    # himask and the next level's lomask are Hi and Lo at the same point (grids share units)
    hi, lo = _radial(r2, level + 1, twidth, half_pi)
    inv_r = 1.0 / tl.sqrt(tl.where(r2 > 0, r2, 1.0))
    idx = image * h * w + offs
    # crop window: bins -floor(hn/2) .. ceil(hn/2) - 1 land at k mod hn of the next level
    keep = valid & (ky >= -(hn // 2)) & (ky <= (hn + 1) // 2 - 1)
    keep = keep & (kx >= -(wn // 2)) & (kx <= (wn + 1) // 2 - 1)
    next_idx = image * hn * wn + tl.where(ky < 0, ky + hn, ky) * wn + tl.where(kx < 0, kx + wn, kx)
    if MERGE:
        nr, ni = _common.load_complex(next_ptr, next_idx, keep)
        acc_r = nr * lo
        acc_i = ni * lo
        for b in tl.static_range(K):
            m = gain * hi * _angular(ux, uy, inv_r, r2, angles_ptr, b, K, ORDER, IS_COMPLEX)
            br, bi = _common.load_complex(bands_ptr, (image * K + b) * h * w + offs, valid)
            br, bi = _times_minus_i_power(br * m, bi * m, 4 - ORDER % 4)  # conj((-i)^n) = (-i)^-n
            acc_r += br
            acc_i += bi
        _common.store_complex(low_ptr, idx, acc_r, acc_i, valid)
    else:
        lr, li = _common.load_complex(low_ptr, idx, valid)
        for b in tl.static_range(K):
            m = gain * hi * _angular(ux, uy, inv_r, r2, angles_ptr, b, K, ORDER, IS_COMPLEX)
            br, bi = _times_minus_i_power(lr * m, li * m, ORDER)
            _common.store_complex(bands_ptr, (image * K + b) * h * w + offs, br, bi, valid)
        _common.store_complex(next_ptr, next_idx, lr * lo, li * lo, keep)


def _params(spec: PyramidSpec, full: tuple[int, int], like: torch.Tensor) -> torch.Tensor:
    real = like.real.dtype
    values = [spec.twidth, frequency.band_gain(spec), 2.0 / full[0], 2.0 / full[1], math.pi / 2]
    return torch.tensor(values, dtype=real, device=like.device)


def _angles(spec: PyramidSpec, like: torch.Tensor) -> torch.Tensor:
    k = spec.orientations
    theta = torch.arange(k, dtype=torch.float64) * (math.pi / k)
    return torch.cat([theta.cos(), theta.sin()]).to(like.real.dtype).to(like.device)


def _launch_residual(half, highpass, lowpass, spec, merge):
    n, h, w = lowpass.shape
    bins = h * (w // 2 + 1) if merge else h * w
    block = _common.block_size(bins, lowpass.device)
    _residual_kernel[(n, triton.cdiv(bins, block))](
        _common.as_real(half),
        _common.as_real(highpass),
        _common.as_real(lowpass),
        _params(spec, (h, w), lowpass),
        h,
        w,
        MERGE=merge,
        BLOCK=block,
    )


def residual_split(half: torch.Tensor, width: int, spec: PyramidSpec):
    """rfft2 half (N, H, W//2+1) -> high-pass half (N, H, W//2+1), low-pass (N, H, W)."""
    half = half.contiguous()
    highpass = _common.alloc(half, half.shape)
    lowpass = _common.alloc(half, (half.shape[0], half.shape[1], width))
    _launch_residual(half, highpass, lowpass, spec, merge=False)
    return highpass, lowpass


def residual_merge(highpass: torch.Tensor, lowpass: torch.Tensor, spec: PyramidSpec):
    """Adjoint of :func:`residual_split`: -> half spectrum (N, H, W//2+1)."""
    highpass, lowpass = highpass.contiguous(), lowpass.contiguous()
    out = _common.alloc(highpass, highpass.shape)
    _launch_residual(out, highpass, lowpass, spec, merge=True)
    return out


def _launch_band(low, bands, nxt, level, full, spec, merge):
    n, h, w = low.shape
    hn, wn = nxt.shape[-2:]
    block = _common.block_size(h * w, low.device)
    _band_kernel[(n, triton.cdiv(h * w, block))](
        _common.as_real(low),
        _common.as_real(bands),
        _common.as_real(nxt),
        _params(spec, full, low),
        _angles(spec, low),
        h,
        w,
        hn,
        wn,
        level,
        K=spec.orientations,
        ORDER=spec.order,
        IS_COMPLEX=spec.is_complex,
        MERGE=merge,
        BLOCK=block,
    )


def band_split(lowpass: torch.Tensor, level: int, full: tuple[int, int], spec: PyramidSpec):
    """(N, H_l, W_l) complex -> bands (N, K, H_l, W_l), next low-pass (N, H_l+1, W_l+1)."""
    lowpass = lowpass.contiguous()
    n, h, w = lowpass.shape
    bands = _common.alloc(lowpass, (n, spec.orientations, h, w))
    nxt = _common.alloc(lowpass, (n, (h + 1) // 2, (w + 1) // 2))
    _launch_band(lowpass, bands, nxt, level, full, spec, merge=False)
    return bands, nxt


def band_merge(
    bands: torch.Tensor,
    lowpass_next: torch.Tensor,
    level: int,
    full: tuple[int, int],
    spec: PyramidSpec,
):
    """Adjoint of :func:`band_split`: -> (N, H_l, W_l) complex."""
    bands, lowpass_next = bands.contiguous(), lowpass_next.contiguous()
    n, _, h, w = bands.shape
    out = _common.alloc(bands, (n, h, w))
    _launch_band(out, bands, lowpass_next, level, full, spec, merge=True)
    return out
