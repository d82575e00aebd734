"""Triton kernels of the two fused spectral stages (contract: ``kernels.TransformKernels``).

One launch per direction for the whole pyramid. Every bin k of a coarser level is also a bin
of level 0 (the crops keep integer frequencies), and the low-pass entering level l is the image
spectrum X times lo0 and the low-pass masks of the levels above it:
    low_l(k) = X(k) lo0(k) prod_{j<l} Lo(log2 r + (j + 1) s),
    band_{l,b}(k) = low_l(k) mask_{l,b}(k),
with s = 1 / scales_per_octave (1 for the octave pyramid) and every split of width twidth s.
So the analysis kernel walks the level-0 grid once: a program reads a 2-D tile of one image's
rfft2 half (mirrored into the full grid), builds the masks in closed form from each bin's
frequency (no mask tensors, no atan2: cos(theta - theta_b) = (u . e_b) / r), and writes the
high-pass half, every level's K bands where the bin lies in that level's grid, and the
low-pass half; no intermediate low-pass spectrum touches memory. A level whose masks are
exactly zero on the whole tile (its radii fall outside the level's annulus, see
_level_active) is skipped, so a bin pays for the one or two levels that touch it. The
synthesis kernel walks the level-0 half grid and gathers the adjoint at k and -k (the
Hermitian fold of the residual merge) from every level active on its tile:
    half(k) = hp(k) hi0 + lo0 (low_0(k) + conj low_0(-k)) / 2,
    low_0(k) = sum_l P_l(k) sum_b band_{l,b}(k) conj(mask_{l,b}(k)) + P_L(k) lp(k).

An undecimated pyramid (``DOWNSAMPLE`` false) keeps every level on the level-0 grid, so the
same walk writes each level in place.

Sizes and the number of levels are runtime arguments that are never specialised
(``do_not_specialize``; the level sizes, any crop chain such as the sub-octave one, come in the
parameter buffer; the levels are a runtime loop, the band pointers a tuple of SLOTS): one
compiled variant per
(dtype, K, complex, real bands, decimation) serves every image size and up to 8 levels.
Float constants arrive in a cached device buffer in the compute dtype (offsets below), so
float64 runs stay float64 and a warm call copies nothing from the host.

Import this module only after deciding on TRITON_INTERPRET (tests set it to run on CPU).
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

from ...core import frequency
from ...core.constants import device_constants
from ...core.spec import PyramidSpec
from .. import triton_common as _common

SYNTHESIS_CHUNK_BYTES = None  # the GPU collapses a whole batch at once
# the parameter buffer, per (spec, size, dtype, device, factors)
TWIDTH = tl.constexpr(0)  # twidth / scales_per_octave: the width of every split
GAIN = tl.constexpr(1)  # band_gain(spec): sqrt(c), times sqrt(2) for complex bands
SCALE_Y = tl.constexpr(2)  # 2 / H: normalised frequency per row bin
SCALE_X = tl.constexpr(3)  # 2 / W
HALF_PI = tl.constexpr(4)
STEP = tl.constexpr(5)  # 1 / scales_per_octave: split j sits at log2 r = -j * STEP
COS = tl.constexpr(6)  # cos(theta_b), b < K; then sin(theta_b) at COS + K
# then the factors a_hp, a_0 .. a_{L-1}, a_lp at COS + 2 K (pipeline.spectral_factors), then
# the sizes (h_l, w_l) of levels 1..L (L: the low-pass residual), as floats (exact integers)


@device_constants(maxsize=256)
def _params(spec: PyramidSpec, size, dtype: torch.dtype, device: torch.device, factors):
    """The parameter buffer (layout above), made once per key: a warm call copies nothing."""
    k = spec.orientations
    theta = [math.pi * b / k for b in range(k)]
    n = spec.scales_per_octave
    values = [spec.twidth / n, frequency.band_gain(spec), 2.0 / size[0], 2.0 / size[1]]
    values += [math.pi / 2, 1.0 / n]
    values += [math.cos(t) for t in theta] + [math.sin(t) for t in theta] + list(factors)
    values += [float(d) for hw in spec.level_sizes(tuple(size))[1:] for d in hw]
    return torch.tensor(values, dtype=dtype, device=device)


@triton.jit
def _canonical(k, d):
    """The frequency in -floor(d/2) .. ceil(d/2) - 1 of bin k mod d."""
    return tl.where(k > (d + 1) // 2 - 1, k - d, tl.where(k < -(d // 2), k + d, k))


@triton.jit
def _in_grid(ky, kx, h, w):
    """Whether frequency (ky, kx) is a bin of an (h, w) level (the crop of every coarser one)."""
    return (
        (ky >= -(h // 2)) & (ky <= (h + 1) // 2 - 1) & (kx >= -(w // 2)) & (kx <= (w + 1) // 2 - 1)
    )


@triton.jit
def _row_col(ky, kx, h, w):
    """Storage row and column of frequency (ky, kx) in an unshifted (h, w) spectrum."""
    return tl.where(ky < 0, ky + h, ky), tl.where(kx < 0, kx + w, kx)


@triton.jit
def _radial(lr, dc, offset, twidth, half_pi):
    """(Hi, Lo) at log2 r + offset (lr = log2 r); the DC bin is all low-pass."""
    t = (lr + offset) / twidth
    t = tl.minimum(tl.maximum(t, -1.0), 0.0)
    t = tl.where(dc, -1.0, t)
    hi = tl.where(t <= -1.0, 0.0, tl.cos(half_pi * t))
    return hi, tl.sin(-half_pi * t)


@triton.jit
def _angular(
    ux, uy, inv_r, dc, params_ptr, b, K: tl.constexpr, ORDER: tl.constexpr, IS_COMPLEX: tl.constexpr
):
    """cos^n(theta - theta_b) of band b, restricted to cos > 0 for the complex pyramid."""
    c = (ux * tl.load(params_ptr + COS + b) + uy * tl.load(params_ptr + COS + K + b)) * inv_r
    c = tl.where(dc, 0.0, c)
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
def _load_half(ptr, base, ky, kx, h, w, active):
    """Bin (ky, kx) of an (h, w) real signal's spectrum stored as its rfft2 half (h, w//2+1):
    columns past w//2 are conj of the mirrored bin."""
    cols = w // 2 + 1
    row, col = _row_col(ky, kx, h, w)
    direct = col < cols
    mirror_row = tl.where(row == 0, 0, h - row)
    mirror_col = tl.where(col == 0, 0, w - col)
    idx = tl.where(direct, row * cols + col, mirror_row * cols + mirror_col)
    re, im = _common.load_complex(ptr, base + idx, active)
    return re, tl.where(direct, im, -im)


@triton.jit
def _frequency(ky, kx, params_ptr):
    """(ux, uy, r2, lr = log2 r, dc, 1/r) of frequency (ky, kx), in units of the image
    Nyquist."""
    scale_y = tl.load(params_ptr + SCALE_Y)
    uy = ky.to(scale_y.dtype) * scale_y
    ux = kx.to(scale_y.dtype) * tl.load(params_ptr + SCALE_X)
    r2 = ux * ux + uy * uy
    dc = r2 == 0
    safe = tl.where(dc, 1.0, r2)
    return ux, uy, r2, 0.5 * tl.log2(safe), dc, 1.0 / tl.sqrt(safe)


@triton.jit
def _tile(pid, tiles_x, tiles, rows, cols, BY: tl.constexpr, BX: tl.constexpr):
    """(image, row, column, valid) of the bins of program ``pid``: a BY x BX tile of one
    image's rows x cols grid (2-D tiles keep a tile's radii close, see _level_active)."""
    image = (pid // tiles).to(tl.int64)
    t = pid % tiles
    ty = t // tiles_x
    tx = t - ty * tiles_x
    r = tl.arange(0, BY * BX)
    jy = ty * BY + r // BX
    jx = tx * BX + r % BX
    return image, jy, jx, (jy < rows) & (jx < cols)


@triton.jit
def _level_active(r2_min, r2_max, level, twidth, step):
    """Whether level ``level`` can be nonzero in a tile with squared radii in
    [r2_min, r2_max]: Hi(log2 r + (level + 1) step) != 0 needs r > 2^-((level + 1) step +
    twidth), and the low-pass reaching the level (lo0 and the Lo of the levels above) needs
    r < 2^-(level step).
    Outside, every bin's mask is exactly 0 (so the level is skipped or written as zeros) and a
    skipped level's Lo is exactly 1 (small r) or the levels below are skipped too (large r).
    The thresholds have a 1e-4 margin: near them the masks are computed."""
    return (r2_max > tl.exp2(-2.0 * ((level + 1.0) * step + twidth)) * 0.9999) & (
        r2_min < tl.exp2(-2.0 * level * step) * 1.0001
    )


@triton.jit
def _level_ptr(ptrs, level, SLOTS: tl.constexpr):
    """ptrs[level] for a runtime ``level`` (a tuple is indexed statically: a select chain)."""
    ptr = ptrs[0]
    for j in tl.static_range(1, SLOTS):
        ptr = tl.where(level == j, ptrs[j], ptr)
    return ptr


@triton.jit(do_not_specialize=["h", "w", "levels", "tiles_x", "tiles"])
def _analysis_kernel(
    x_ptr,
    hp_ptr,
    band_ptrs,
    lp_ptr,
    params_ptr,
    h,
    w,
    levels,
    tiles_x,
    tiles,
    SLOTS: tl.constexpr,
    K: tl.constexpr,
    ORDER: tl.constexpr,
    IS_COMPLEX: tl.constexpr,
    DOWNSAMPLE: tl.constexpr,
    BY: tl.constexpr,
    BX: tl.constexpr,
):
    """X (rfft2 half) -> hp half, K bands per level (full, or halves for a real pyramid),
    lp half; one program = a tile of one image's level-0 grid."""
    image, jy, jx, valid = _tile(tl.program_id(0), tiles_x, tiles, h, w, BY, BX)
    ky = _canonical(jy, h)
    kx = _canonical(jx, w)
    wh = w // 2 + 1
    xr, xi = _load_half(x_ptr, image * h * wh, ky, kx, h, w, valid)
    ux, uy, r2, lr, dc, inv_r = _frequency(ky, kx, params_ptr)
    r2_min = tl.min(tl.where(valid, r2, 4.0))
    r2_max = tl.max(tl.where(valid, r2, 0.0))
    twidth = tl.load(params_ptr + TWIDTH)
    half_pi = tl.load(params_ptr + HALF_PI)
    gain = tl.load(params_ptr + GAIN)
    step = tl.load(params_ptr + STEP)
    factors = params_ptr + COS + 2 * K
    sizes = factors + levels + 2  # (h_l, w_l) of levels 1..levels
    hi0, lo0 = _radial(lr, dc, 0.0, twidth, half_pi)
    a_hp = tl.load(factors) * hi0
    _common.store_complex(
        hp_ptr, image * h * wh + jy * wh + jx, xr * a_hp, xi * a_hp, valid & (jx < wh)
    )
    low_r = xr * lo0  # the low-pass entering each level
    low_i = xi * lo0
    hl = h
    wl = w
    for level in range(levels):
        band_ptr = _level_ptr(band_ptrs, level, SLOTS)
        row, col = _row_col(ky, kx, hl, wl)
        cols = wl if IS_COMPLEX else wl // 2 + 1
        keep = valid & _in_grid(ky, kx, hl, wl) & (col < cols)
        base = image * K * hl * cols + row * cols + col
        if _level_active(r2_min, r2_max, level, twidth, step):
            hi, lo = _radial(lr, dc, (level + 1.0) * step, twidth, half_pi)
            scale = gain * hi * tl.load(factors + 1 + level)
            for b in range(K):
                m = scale * _angular(ux, uy, inv_r, dc, params_ptr, b, K, ORDER, IS_COMPLEX)
                br, bi = _times_minus_i_power(low_r * m, low_i * m, ORDER)
                _common.store_complex(band_ptr, base + b * hl * cols, br, bi, keep)
            low_r = low_r * lo
            low_i = low_i * lo
        else:
            zero = r2 * 0.0
            for b in range(K):
                _common.store_complex(band_ptr, base + b * hl * cols, zero, zero, keep)
        if DOWNSAMPLE:
            hl = tl.load(sizes + 2 * level).to(tl.int32)
            wl = tl.load(sizes + 2 * level + 1).to(tl.int32)
    row, col = _row_col(ky, kx, hl, wl)
    cols = wl // 2 + 1
    keep = valid & _in_grid(ky, kx, hl, wl) & (col < cols)
    # the low-pass residual is nonzero only for r < 2^-(levels s) (else low_r may be stale)
    a_lp = tl.where(
        r2_min < tl.exp2(-2.0 * levels * step) * 1.0001, tl.load(factors + 1 + levels), 0.0
    )
    _common.store_complex(
        lp_ptr, image * hl * cols + row * cols + col, low_r * a_lp, low_i * a_lp, keep
    )


@triton.jit
def _load_band(ptr, base, ky, kx, hl, wl, active, REAL_BANDS: tl.constexpr):
    """Bin (ky, kx) of a band spectrum of an (hl, wl) level: full, or a real band's half."""
    if REAL_BANDS:
        return _load_half(ptr, base, ky, kx, hl, wl, active)
    else:
        row, col = _row_col(ky, kx, hl, wl)
        return _common.load_complex(ptr, base + row * wl + col, active)


@triton.jit(do_not_specialize=["h", "w", "levels", "present", "tiles_x", "tiles"])
def _synthesis_kernel(
    out_ptr,
    hp_ptr,
    band_ptrs,
    lp_ptr,
    params_ptr,
    h,
    w,
    levels,
    present,
    tiles_x,
    tiles,
    SLOTS: tl.constexpr,
    K: tl.constexpr,
    ORDER: tl.constexpr,
    IS_COMPLEX: tl.constexpr,
    REAL_BANDS: tl.constexpr,
    DOWNSAMPLE: tl.constexpr,
    BY: tl.constexpr,
    BX: tl.constexpr,
):
    """The adjoint of the analysis: one program = a tile of one image's level-0 half grid,
    out = hp hi0 a_hp + lo0 (low_0(k) + conj low_0(-k)) / 2, with low_0 at k and at -k
    (the same radius) gathered from every level whose masks can be nonzero in the tile."""
    wh = w // 2 + 1
    image, jy, jx, valid = _tile(tl.program_id(0), tiles_x, tiles, h, wh, BY, BX)
    ky = _canonical(jy, h)
    kx = _canonical(jx, w)
    my = _canonical(-ky, h)
    mx = _canonical(-kx, w)
    ux, uy, r2, lr, dc, inv_r = _frequency(ky, kx, params_ptr)
    mux, muy, _, _, _, _ = _frequency(my, mx, params_ptr)
    r2_min = tl.min(tl.where(valid, r2, 4.0))
    r2_max = tl.max(tl.where(valid, r2, 0.0))
    twidth = tl.load(params_ptr + TWIDTH)
    half_pi = tl.load(params_ptr + HALF_PI)
    gain = tl.load(params_ptr + GAIN)
    step = tl.load(params_ptr + STEP)
    factors = params_ptr + COS + 2 * K
    sizes = factors + levels + 2  # (h_l, w_l) of levels 1..levels
    zero = r2 * 0.0
    acc_r, acc_i, mir_r, mir_i = zero, zero, zero, zero  # low_0 at k and at -k
    chain = zero + 1.0  # lo0 is applied at the end; chain = the Lo of the levels above
    hl = h
    wl = w
    for level in range(levels):
        if _level_active(r2_min, r2_max, level, twidth, step):
            hi, lo = _radial(lr, dc, (level + 1.0) * step, twidth, half_pi)
            if (present >> level) & 1:  # a level left out of a partial collapse is not read
                band_ptr = _level_ptr(band_ptrs, level, SLOTS)
                weight = chain * gain * hi * tl.load(factors + 1 + level)
                nonzero = valid & (weight != 0)
                inside = nonzero & _in_grid(ky, kx, hl, wl)
                inside_m = nonzero & _in_grid(my, mx, hl, wl)
                cols = wl // 2 + 1 if REAL_BANDS else wl
                for b in range(K):
                    base = (image * K + b) * hl * cols
                    m = weight * _angular(ux, uy, inv_r, dc, params_ptr, b, K, ORDER, IS_COMPLEX)
                    mm = weight * _angular(mux, muy, inv_r, dc, params_ptr, b, K, ORDER, IS_COMPLEX)
                    br, bi = _load_band(
                        band_ptr, base, ky, kx, hl, wl, inside & (m != 0), REAL_BANDS
                    )
                    cr, ci = _load_band(
                        band_ptr, base, my, mx, hl, wl, inside_m & (mm != 0), REAL_BANDS
                    )
                    br, bi = _times_minus_i_power(br * m, bi * m, 4 - ORDER % 4)  # conj((-i)^n)
                    cr, ci = _times_minus_i_power(cr * mm, ci * mm, 4 - ORDER % 4)
                    acc_r += br
                    acc_i += bi
                    mir_r += cr
                    mir_i += ci
            chain = chain * lo
        if DOWNSAMPLE:
            hl = tl.load(sizes + 2 * level).to(tl.int32)
            wl = tl.load(sizes + 2 * level + 1).to(tl.int32)
    if r2_min < tl.exp2(-2.0 * levels * step) * 1.0001:  # the low-pass residual can be nonzero
        weight = chain * tl.load(factors + 1 + levels)
        nonzero = valid & (weight != 0)
        base = image * hl * (wl // 2 + 1)
        lr_, li_ = _load_half(lp_ptr, base, ky, kx, hl, wl, nonzero & _in_grid(ky, kx, hl, wl))
        mr_, mi_ = _load_half(lp_ptr, base, my, mx, hl, wl, nonzero & _in_grid(my, mx, hl, wl))
        acc_r += lr_ * weight
        acc_i += li_ * weight
        mir_r += mr_ * weight
        mir_i += mi_ * weight
    hi0, lo0 = _radial(lr, dc, 0.0, twidth, half_pi)
    idx = image * h * wh + jy * wh + jx
    hp_r, hp_i = _common.load_complex(hp_ptr, idx, valid)
    a_hp = tl.load(factors) * hi0
    half_lo = 0.5 * lo0
    _common.store_complex(
        out_ptr,
        idx,
        hp_r * a_hp + (acc_r + mir_r) * half_lo,
        hp_i * a_hp + (acc_i - mir_i) * half_lo,
        valid,
    )


# band pointers per launch come in tuples of a multiple of SLOTS: heights 0-8 share one
# compiled variant per (dtype, K, flags), 9-16 another (images over 2^10 pixels a side); few
# padding arguments keep the launch cheap
SLOTS = 8
# (BY, BX) tile of a program: 16 x 32 bins on a GPU; few, large tiles in the CPU interpreter,
# whose cost is per program (tests shrink them to exercise the per-tile level skipping)
TILE = {"cuda": (16, 32), "cpu": (64, 64)}


def _launch(
    kernel, first, second, bands, lowpass, size, spec: PyramidSpec, factors, cols, *extra, **flags
):
    """Launch one of the two kernels over the N images of ``first`` on tiles of their
    size[0] x ``cols`` grid (the level-0 grid, or its half); complex tensors as real views.
    The band pointers fill a tuple of a multiple of SLOTS (unused slots repeat ``second``,
    never read), so heights share compiled variants."""
    by, bx = TILE["cpu" if first.device.type == "cpu" else "cuda"]
    tiles_x = -(-cols // bx)  # ceil division in plain Python (triton.cdiv costs ~4 us)
    tiles = -(-size[0] // by) * tiles_x
    real = _common.as_real
    slots = SLOTS * max(1, -(-spec.levels // SLOTS))
    pointers = [real(b) for b in bands]
    pointers += [real(second)] * (slots - len(pointers))
    with _common.on_device(first):
        kernel[(first.shape[0] * tiles,)](
            real(first),
            real(second),
            tuple(pointers),
            real(lowpass),
            _params(spec, tuple(size), first.dtype.to_real(), first.device, tuple(factors)),
            size[0],
            size[1],
            spec.levels,
            *extra,
            tiles_x,
            tiles,
            SLOTS=slots,
            K=spec.orientations,
            ORDER=spec.order,
            IS_COMPLEX=spec.is_complex,
            DOWNSAMPLE=spec.downsample,
            BY=by,
            BX=bx,
            **flags,
        )


def analysis(half: torch.Tensor, size, spec: PyramidSpec, factors):
    """rfft2 half (N, H, W//2+1) -> (hp half (N, H, W//2+1), per level (N, K, H_l, W_l)
    complex or (N, K, H_l, W_l//2+1) halves for a real pyramid, lp half (N, H_L, W_L//2+1))."""
    half = half.contiguous()
    n = half.shape[0]
    sizes = spec.level_sizes(tuple(size))
    k = spec.orientations
    hp = _common.alloc(half, half.shape)
    bands = [
        _common.alloc(half, (n, k, h, w if spec.is_complex else w // 2 + 1)) for h, w in sizes[:-1]
    ]
    lp = _common.alloc(half, (n, sizes[-1][0], sizes[-1][1] // 2 + 1))
    if n:
        _launch(_analysis_kernel, half, hp, bands, lp, size, spec, factors, size[1])
    return hp, bands, lp


def synthesis(highpass, bands, lowpass, size, spec: PyramidSpec, factors, real_bands: bool):
    """Adjoint of :func:`analysis`: -> half spectrum (N, H, W//2+1). Levels whose band spectra
    are None count as zero and are not read (the ``present`` bits)."""
    out = _common.alloc(highpass, highpass.shape)
    present = sum(1 << level for level, b in enumerate(bands) if b is not None)
    bands = [highpass if b is None else b for b in bands]  # never read
    if highpass.shape[0]:
        _launch(
            _synthesis_kernel,
            out,
            highpass,
            bands,
            lowpass,
            size,
            spec,
            factors,
            size[1] // 2 + 1,
            present,
            REAL_BANDS=bool(real_bands),
        )
    return out
