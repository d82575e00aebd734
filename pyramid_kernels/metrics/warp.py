"""E: the share of an edit's energy that a smooth warp of the source explains.

    E = 1 - |edited - R(source)|^2 / |edited - source|^2

R is the best smooth inverse warp of the source (optionally times a smooth gain field), fitted
without any classifier: a morph whose change is mostly "things moved" scores near 1, one whose
change is new texture or noise near 0. The paper measures its morphs' coherence this way
(warp only, and warp plus gain, both on an 8 x 8 control grid).

The model, for each image independently:
    R(s)(p) = (1 + G(p)) * s(p + D(p))
D (2 components, pixels) and G (gain, only with ``gain=True``) are interpolated from a
grid x grid array of control values by torch's bicubic interpolation (Keys cubic convolution,
a = -0.75, control points on the image's corners and evenly between: align_corners=True).
s(p + D) is sampled bilinearly, outside the image its border pixel (replicated). One warp and
gain field serve all channels of an image.

The fit: Levenberg-Marquardt on the control values (Gauss-Newton normal equations with the
source's central-difference gradient sampled at the warped positions, Marquardt damping, a step
kept only where it lowers that image's sum of squares), coarse to fine: first on both images
blurred by a Gaussian of sigma 2 px, then 1 px, then unblurred (the last stage starts from the
earlier stages' warp or the identity, whichever fits the unblurred images better, so E >= 0).
A stage stops an image after its most iterations (10, 10, 40), when an accepted step raises
that stage's E by less than 1e-5, or when its damping exceeds 1e8. All of it works per image
(no step size or stopping rule is shared in the batch), in float64, deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

# coarse to fine: (Gaussian blur in px, most iterations) of each stage
STAGES = ((2.0, 10), (1.0, 10), (0.0, 40))
TOLERANCE = 1e-5  # an accepted step raising the stage's E by less than this: the image is done
MAX_DAMPING = 1e8


@dataclass
class WarpFit:
    """The best smooth warp of a source toward an edit (see :func:`fit_warp`).

    Parameters
    ----------
    explained : Tensor
        (B,) E, the share of the edit's energy the warp explains, in [0, 1].
    warped : Tensor
        (B, C, H, W) R(source), the warped (and gain-scaled) source.
    displacement : Tensor
        (B, 2, H, W) D in pixels, (x, y): R samples the source at p + D(p).
    gain : Tensor or None
        (B, 1, H, W) the multiplicative gain field 1 + G, or None without ``gain``.
    controls : Tensor or None
        (B, 2 or 3, grid, grid) float64 the fitted control values (``initial`` of another fit).
    """

    explained: Tensor
    warped: Tensor
    displacement: Tensor
    gain: Tensor | None
    controls: Tensor | None = None


def warp_explained(source: Tensor, edited: Tensor, *, gain: bool = False, grid: int = 8) -> Tensor:
    """E = 1 - |edited - R(source)|^2 / |edited - source|^2 per image.

    Parameters
    ----------
    source, edited : Tensor
        (B, C, H, W) float32 or float64, on one device; H, W >= 2.
    gain : bool
        Also fit a smooth multiplicative gain field (the "warp + gain" family).
    grid : int
        Control points per side of the displacement (and gain) field, >= 2.

    Returns
    -------
    Tensor
        (B,) in [0, 1], the dtype of ``source``. An image whose edit has zero energy
        (edited == source) is refused: E is undefined there.
    """
    return fit_warp(source, edited, gain=gain, grid=grid).explained


def fit_warp(
    source: Tensor,
    edited: Tensor,
    *,
    gain: bool = False,
    grid: int = 8,
    stages: tuple[tuple[float, int], ...] = STAGES,
    initial: Tensor | None = None,
) -> WarpFit:
    """Fit the smooth warp (and gain) of ``source`` closest to ``edited`` (module docstring).

    Parameters
    ----------
    source, edited : Tensor
        (B, C, H, W) float32 or float64, on one device.
    gain : bool
        Also fit a multiplicative gain field.
    grid : int
        Control points per side, >= 2.
    stages : tuple of (float, int)
        The coarse-to-fine schedule, (Gaussian blur sigma in px, most iterations) per stage
        (default ``STAGES``; a slower, more thorough fit takes more stages and iterations).
    initial : Tensor or None
        (B, 2 or 3, grid, grid) float control values to start from (displacement x, y in
        pixels, and the gain G with ``gain``), or None for the identity.

    Returns
    -------
    WarpFit
    """
    _check(source, edited, grid)
    dtype = source.dtype
    src, dst = source.double(), edited.double()
    energy = (dst - src).square().sum((1, 2, 3))
    if not (energy > 0).all():
        zero = torch.nonzero(energy == 0).flatten().tolist()
        raise ValueError(
            f"edited equals source for images {zero[:10]}: E is undefined for an edit of zero "
            "energy; leave those images out"
        )
    height, width = src.shape[-2:]
    wy, wx = _interpolation(height, grid, src), _interpolation(width, grid, src)
    params = 3 if gain else 2
    theta = src.new_zeros(src.shape[0], params, grid, grid)
    if initial is not None:
        if not isinstance(initial, Tensor) or initial.shape != theta.shape:
            raise ValueError(
                f"initial must be a tensor of shape {tuple(theta.shape)} (images, "
                f"{params} fields, grid, grid), got {getattr(initial, 'shape', initial)!r}"
            )
        theta = initial.to(theta).clone()
    if not stages or any(s < 0 or n < 0 for s, n in stages) or stages[-1][0] != 0:
        raise ValueError(
            f"stages must be (sigma >= 0, iterations >= 0) pairs ending unblurred (sigma 0), "
            f"got {stages!r}"
        )
    for sigma, iterations in stages:
        a, b = _blur(src, sigma), _blur(dst, sigma)
        if sigma == 0:  # the exact objective: never worse than the identity
            identity = torch.zeros_like(theta)
            worse = _cost(a, b, identity, wy, wx) < _cost(a, b, theta, wy, wx)
            theta = torch.where(worse[:, None, None, None], identity, theta)
        theta = _levenberg_marquardt(a, b, theta, wy, wx, iterations)
    warped, field = _render(src, theta, wy, wx)
    residual = (dst - warped).square().sum((1, 2, 3))
    explained = (1 - residual / energy).clamp(0, 1)
    return WarpFit(
        explained=explained.to(dtype),
        warped=warped.to(dtype),
        displacement=field[:, :2].to(dtype),
        gain=(1 + field[:, 2:]).to(dtype) if gain else None,
        controls=theta,
    )


def _check(source: Tensor, edited: Tensor, grid: int) -> None:
    for name, x in (("source", source), ("edited", edited)):
        if not isinstance(x, Tensor):
            raise TypeError(f"{name} must be a tensor (B, C, H, W), got {type(x).__name__}")
        if x.dim() != 4:
            raise ValueError(f"{name} must be (B, C, H, W), got shape {tuple(x.shape)}")
        if x.dtype not in (torch.float32, torch.float64):
            raise TypeError(f"{name} must be float32 or float64, got {x.dtype}")
        if x.device.type == "meta":
            raise ValueError(f"{name} is on the meta device: E needs its values")
        if not torch.isfinite(x).all():
            raise ValueError(f"{name} holds NaN or inf")
    if source.shape != edited.shape:
        raise ValueError(
            f"source {tuple(source.shape)} and edited {tuple(edited.shape)} must have one shape"
        )
    if source.device != edited.device:
        raise ValueError(f"source ({source.device}) and edited ({edited.device}): one device")
    if isinstance(grid, bool) or not isinstance(grid, int) or grid < 2:
        raise ValueError(f"grid must be an int >= 2, got {grid!r}")
    if min(source.shape[-2:]) < 2 or source.numel() == 0:
        raise ValueError(f"images must be at least 2x2, got {tuple(source.shape)}")


def _interpolation(size: int, grid: int, like: Tensor) -> Tensor:
    """(size, grid): F.interpolate's bicubic weights (align_corners=True) from grid to size."""
    eye = torch.eye(grid, dtype=like.dtype, device=like.device).view(grid, 1, grid, 1)
    weights = F.interpolate(eye, size=(size, 1), mode="bicubic", align_corners=True)
    return weights[:, 0, :, 0].T.contiguous()


def _blur(x: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur (reflected borders); sigma 0 is the identity."""
    if sigma == 0:
        return x
    radius = min(int(3 * sigma), min(x.shape[-2:]) - 1)
    taps = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    kernel = kernel / kernel.sum()
    b, c, h, w = x.shape
    y = x.reshape(b * c, 1, h, w)
    y = F.conv2d(F.pad(y, (radius, radius, 0, 0), mode="reflect"), kernel.view(1, 1, 1, -1))
    y = F.conv2d(F.pad(y, (0, 0, radius, radius), mode="reflect"), kernel.view(1, 1, -1, 1))
    return y.reshape(b, c, h, w)


def _fields(theta: Tensor, wy: Tensor, wx: Tensor) -> Tensor:
    """(B, P, H, W) dense fields from (B, P, grid, grid) control values."""
    return wy @ theta @ wx.T


def _sample(images: Tensor, displacement: Tensor) -> Tensor:
    """images (B, C, H, W) sampled bilinearly at p + displacement (B, 2, H, W; x, y)."""
    b, _, h, w = images.shape
    ys = torch.arange(h, dtype=images.dtype, device=images.device).view(1, h, 1)
    xs = torch.arange(w, dtype=images.dtype, device=images.device).view(1, 1, w)
    gx = (xs + displacement[:, 0]) * (2 / (w - 1)) - 1
    gy = (ys + displacement[:, 1]) * (2 / (h - 1)) - 1
    where = torch.stack([gx, gy], -1)
    return F.grid_sample(images, where, mode="bilinear", padding_mode="border", align_corners=True)


def _render(source: Tensor, theta: Tensor, wy: Tensor, wx: Tensor) -> tuple[Tensor, Tensor]:
    """(R(source), the dense fields) for control values theta."""
    field = _fields(theta, wy, wx)
    warped = _sample(source, field[:, :2])
    if field.shape[1] == 3:
        warped = warped * (1 + field[:, 2:])
    return warped, field


def _cost(source: Tensor, edited: Tensor, theta: Tensor, wy: Tensor, wx: Tensor) -> Tensor:
    """(B,) sum of squares of edited - R(source)."""
    return (edited - _render(source, theta, wy, wx)[0]).square().sum((1, 2, 3))


def _gradient(x: Tensor) -> Tensor:
    """(B, 2C, H, W): central differences of x along x and along y (one-sided at borders)."""
    gx = torch.gradient(x, dim=-1)[0]
    gy = torch.gradient(x, dim=-2)[0]
    return torch.cat([gx, gy], 1)


def _normal_equations(
    source: Tensor, slopes: Tensor, edited: Tensor, theta: Tensor, wy: Tensor, wx: Tensor
) -> tuple[Tensor, Tensor]:
    """(J^T J (B, n, n), J^T r (B, n)) of the residual R(source) - edited at theta; ``slopes``:
    the source's :func:`_gradient`, sampled where the source is."""
    channels = source.shape[1]
    field = _fields(theta, wy, wx)
    sampled = _sample(torch.cat([source, slopes], 1), field[:, :2])
    value, sx, sy = sampled.split(channels, 1)
    scale = 1 + field[:, 2:] if theta.shape[1] == 3 else 1
    residual = scale * value - edited
    columns = [scale * sx, scale * sy] + ([value] if theta.shape[1] == 3 else [])
    a = torch.stack(columns, 1)  # (B, P, C, H, W): d residual / d field
    products = torch.einsum("bpchw,bqchw->bpqhw", a, a)
    rhs = torch.einsum("bpchw,bchw->bphw", a, residual)
    grid = wy.shape[1]
    pairs_x = (wx[:, :, None] * wx[:, None, :]).reshape(wx.shape[0], grid * grid)
    pairs_y = (wy[:, :, None] * wy[:, None, :]).reshape(wy.shape[0], grid, grid)
    rows = products @ pairs_x  # (B, P, P, H, grid*grid): (j, l) pairs along x
    rows = rows.view(*rows.shape[:4], grid, grid)
    jtj = torch.einsum("bpqyjl,yik->bpijqkl", rows, pairs_y)
    n = theta[0].numel()
    jtr = wy.T @ rhs @ wx
    return jtj.reshape(-1, n, n), jtr.reshape(-1, n)


def _levenberg_marquardt(
    source: Tensor, edited: Tensor, theta: Tensor, wy: Tensor, wx: Tensor, iterations: int
) -> Tensor:
    """Per-image Levenberg-Marquardt from theta (module docstring: steps and stopping); each
    iteration works on the images still running only."""
    slopes = _gradient(source)
    theta = theta.clone()
    damping = source.new_full((theta.shape[0],), 1e-3)
    cost = _cost(source, edited, theta, wy, wx)
    energy = (edited - source).square().sum((1, 2, 3))
    running = torch.arange(theta.shape[0], device=source.device)
    for _ in range(iterations):
        if running.numel() == 0:
            break
        src, dst, slope = source[running], edited[running], slopes[running]
        now, lam = theta[running], damping[running]
        jtj, jtr = _normal_equations(src, slope, dst, now, wy, wx)
        diagonal = jtj.diagonal(dim1=1, dim2=2)
        floor = 1e-9 * diagonal.amax(1, keepdim=True).clamp_min(1e-30)
        system = jtj + torch.diag_embed(lam[:, None] * (diagonal + floor))
        factor, _ = torch.linalg.cholesky_ex(system)  # positive definite: damped J^T J
        step = torch.cholesky_solve(-jtr[..., None], factor)[..., 0].view_as(now)
        trial = now + step
        trial_cost = _cost(src, dst, trial, wy, wx)
        before = cost[running]
        better = torch.isfinite(trial_cost) & (trial_cost < before)
        small = better & (before - trial_cost <= TOLERANCE * energy[running])
        theta[running] = torch.where(better[:, None, None, None], trial, now)
        cost[running] = torch.where(better, trial_cost, before)
        lam = torch.where(better, lam / 3, lam * 4)
        damping[running] = lam
        running = running[~small & (lam < MAX_DAMPING)]
    return theta
