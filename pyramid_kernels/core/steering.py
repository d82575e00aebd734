"""Steering: a level's response at any orientation from its K bands.

The angular masks cos^n(theta - theta_b), theta_b = pi b / K, n = K - 1, hold only the
angular harmonics m = n, n - 2, ... (> -1) of theta, and K of them span every rotation
cos^n(theta - alpha). The weights come in closed form: for those harmonics,
sum_b e^{i m (theta_b - alpha)} e^{-i j theta_b} / K = e^{-i m alpha} [m = j], so

    cos^n(theta - alpha) = sum_b w_b(alpha) cos^n(theta - theta_b),
    w_b(alpha) = (1/K) ([n even] + 2 sum_{m in {n, n-2, ...}, m > 0} cos(m (alpha - theta_b))).

Applied to the bands of a real pyramid this is exact (the radial mask is common to all bands).
For complex bands the same weights act on the real and imaginary parts: the real part (the
real pyramid's band) steers exactly; the imaginary part, a Hilbert pair cut to one half-plane
per band, is not a finite sum of rotations and steers approximately.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor


def steering_weights(
    orientations: int,
    angles: Tensor | Sequence[float],
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
    even_phase: bool = True,
) -> Tensor:
    """Steering weights: cos^n(theta - angles[a]) = sum_b w[a, b] cos^n(theta - pi b / K).

    ``even_phase=False`` gives the sine-phase weights of pyrtools / plenoptic
    (w_b = ([n even] - 2 sum_m sin(m (alpha - theta_b))) / K): every angular harmonic
    cos m(theta - alpha), m > 0, of the steered mask becomes sin m(theta - alpha).

    Parameters
    ----------
    orientations : int
        K >= 1 (the order is n = K - 1).
    angles : Tensor or sequence of float
        (A,) or a scalar, real, in radians; differentiable when a tensor that requires grad.
    dtype : torch.dtype
        The weights' dtype.
    device : torch.device, str or None
        The weights' device (default: the angles').
    even_phase : bool
        Cosine-phase (True) or sine-phase (False) weights.

    Returns
    -------
    Tensor
        (A, K) real weights.
    """
    if isinstance(orientations, bool) or not isinstance(orientations, int) or orientations < 1:
        raise ValueError(f"orientations must be an int >= 1, got {orientations!r}")
    angles = _real_angles(angles, dtype, device)
    angles = angles.to(device=device or angles.device).reshape(-1)
    k, n = orientations, orientations - 1
    theta = torch.arange(k, dtype=angles.dtype, device=angles.device) * (math.pi / k)
    delta = angles[:, None] - theta[None, :]
    weights = torch.full_like(delta, 1.0 if n % 2 == 0 else 0.0)
    for m in range(n, 0, -2):
        weights = weights + (
            2.0 * torch.cos(m * delta) if even_phase else -2.0 * torch.sin(m * delta)
        )
    return (weights / k).to(dtype)


def _real_angles(angles, dtype: torch.dtype, device) -> Tensor:
    """``angles`` as a real floating tensor; TypeError for complex or bool angles."""
    given = angles
    if not isinstance(angles, Tensor):
        try:
            inferred = torch.as_tensor(angles).dtype  # what the values are: bool, complex
            angles = torch.as_tensor(
                angles,
                dtype=torch.float64 if inferred.is_floating_point else inferred,
                device=device,
            )
        except (TypeError, ValueError, RuntimeError) as error:
            raise TypeError(
                f"angles must be real numbers (radians) or a real tensor: {error}"
            ) from None
    if angles.is_complex() or angles.dtype == torch.bool:
        fix = "; pass their real part (angles.real)" if angles.is_complex() else ""
        raise TypeError(f"angles must be real numbers (radians), got {angles.dtype} values{fix}")
    keep = isinstance(given, Tensor) and angles.is_floating_point()
    return angles if keep else angles.to(dtype)


def steer(bands: Tensor, angles: Tensor | Sequence[float], even_phase: bool = True) -> Tensor:
    """A level's responses at any angles, as linear combinations of its K bands.

    Parameters
    ----------
    bands : Tensor
        (..., K, H, W) one level's bands, real or complex.
    angles : Tensor or sequence of float
        (A,) real angles in radians, or a scalar.
    even_phase : bool
        Cosine-phase (True) or plenoptic's sine-phase (False) weights.

    Returns
    -------
    Tensor
        (..., A, H, W), the dtype of ``bands``.
    """
    if not isinstance(bands, Tensor) or bands.dim() < 3:
        raise ValueError("bands must be a tensor (..., K, H, W) of one level's bands")
    real = bands.real.dtype if bands.is_complex() else bands.dtype
    weights = steering_weights(bands.shape[-3], angles, real, bands.device, even_phase)
    return torch.einsum("ak,...khw->...ahw", weights.to(bands.dtype), bands)
