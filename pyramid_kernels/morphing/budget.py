"""The budget search of a morph: per image, the step scale t whose last frame lies at the
budget's pixel L2 distance from the input.

Each evaluation of ``distance(t)`` (B,) renders one frame per image (an extrapolation and a
collapse), so the search is built to need few of them. d(t) is continuous with d(0) = 0, close
to linear for small t and concave after (phases wrap, the clamp saturates), monotone in
practice but not in theory. Per image, vectorised over the batch:

1. Bracket: evaluate at ``start``; while d < budget, step to where the parabola through the
   origin and the last two points (see :func:`_through_origin`) reaches the budget, aiming
   ``OVERSHOOT`` times further (a concave curve's estimate falls short) and growing t by a
   factor in [MIN_GROWTH, MAX_GROWTH], up to ``start * REACH`` (the reach of the doubling this
   search replaced); a saturated curve's estimate is undefined and grows t by MAX_GROWTH, so a
   budget out of reach costs about log(REACH) / log(MAX_GROWTH) evaluations.
2. Refine inside the bracket, which always holds a crossing, until the distance is within
   ``tolerance`` of the budget or the bracket is as narrow as float rounding allows. Each step
   takes the first of these that falls strictly inside the bracket (Brent's safeguard):
   inverse quadratic interpolation through the last three points, the parabola through the
   origin and the last two, an Illinois step (regula falsi on the bracket's ends that halves
   the value of an end kept twice running), the midpoint.

On the frozen morphs of bench/morph_efficiency.py this takes 4-7 evaluations where bisection
took 17-20. An image is ``attained`` when its closest evaluation is within BUDGET_CONTRACT of
the budget; otherwise its t is the one that came closest.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

BUDGET_TOLERANCE = 1e-4  # the search stops within this of the budget
BUDGET_CONTRACT = 1e-3  # a budget counts as attained within this
OVERSHOOT = 1.5  # bracketing steps aim this far past the secant's estimate
MIN_GROWTH, MAX_GROWTH = 2.0, 16.0  # bracketing grows t by a factor in this range
REACH = 2.0**30  # bracketing gives up (budget not attainable) beyond start x REACH
MAX_REFINEMENTS = 60


def search(
    distance: Callable[[Tensor], Tensor],
    budget: float,
    start: Tensor,
    tolerance: float = BUDGET_TOLERANCE,
) -> tuple[Tensor, Tensor]:
    """Per-image scales t (B,) > 0 with distance(t) within ``tolerance`` of ``budget``.

    ``distance(t, active)`` maps scales t (B,) to distances (B,) for the images where
    ``active`` (B,) bool (those still searched; the others' values are ignored); ``start``
    (B,) is the first scale tried. Returns (t, attained (B,) bool): see the module docstring.
    """
    low, f_low = torch.zeros_like(start), torch.full_like(start, -budget)  # d(0) = 0
    high = start
    f_high = distance(high, torch.ones_like(high, dtype=torch.bool)) - budget
    best, best_gap = high, f_high.abs()
    history = [(high, f_high)] * 3  # the last three points per image, newest last
    for _ in range(int(math.log2(REACH))):  # at least doubling: REACH in this many steps
        short = (f_high < 0) & (high < REACH * start)
        if not short.any():
            break
        guess = _through_origin(history, budget) * OVERSHOOT
        grown = torch.where(torch.isfinite(guess) & (guess > 0), guess, MAX_GROWTH * high)
        grown = torch.minimum(torch.maximum(grown, MIN_GROWTH * high), MAX_GROWTH * high)
        low = torch.where(short, high, low)
        f_low = torch.where(short, f_high, f_low)
        high = torch.where(short, grown, high)
        f_high = torch.where(short, distance(high, short) - budget, f_high)
        best, best_gap = _closer(best, best_gap, high, f_high)
        history = _push(history, high, f_high, short)
    reached = f_high >= 0
    done = ~reached | (best_gap <= tolerance)
    side = torch.zeros_like(start, dtype=torch.int8)  # -1: low was moved last, +1: high
    for _ in range(MAX_REFINEMENTS):
        done = done | (high - low <= 4 * torch.finfo(high.dtype).eps * high)
        if done.all():
            break
        t = high - f_high * (high - low) / (f_high - f_low)  # regula falsi
        for guess in (_inverse_quadratic(history), _through_origin(history, budget)):
            t = torch.where((guess > low) & (guess < high), guess, t)  # the last one inside
        t = torch.where((t > low) & (t < high), t, 0.5 * (low + high))  # rounding safeguard
        active = ~done
        f_t = distance(t, active) - budget
        best, best_gap = _closer(best, best_gap, t, f_t, active)
        below = f_t < 0
        move_low, move_high = active & below, active & ~below
        f_high = torch.where(move_low & (side < 0), 0.5 * f_high, f_high)  # Illinois
        f_low = torch.where(move_high & (side > 0), 0.5 * f_low, f_low)
        low, f_low = torch.where(move_low, t, low), torch.where(move_low, f_t, f_low)
        high, f_high = torch.where(move_high, t, high), torch.where(move_high, f_t, f_high)
        side = torch.where(move_low, -1, torch.where(move_high, 1, side)).to(torch.int8)
        history = _push(history, t, f_t, active)
        done = done | (best_gap <= tolerance)
    return best, reached & (best_gap <= BUDGET_CONTRACT)


def _push(history: list, t: Tensor, f: Tensor, where: Tensor) -> list:
    """The last three points (t, d - budget) after evaluating (t, f) for the images
    ``where``."""
    shifted = [*history[1:], (t, f)]
    return [
        (torch.where(where, new[0], old[0]), torch.where(where, new[1], old[1]))
        for new, old in zip(shifted, history, strict=True)
    ]


def _through_origin(history: list, budget: float) -> Tensor:
    """The first scale where d = budget on the parabola d = a t + c t^2 through the origin and
    the last two points (the line through the origin and the newest, while they coincide):
    exact for a straight curve, and it follows a concave one. NaN where it never reaches the
    budget."""
    (_, _), (t1, f1), (t2, f2) = history
    h1, h2 = (f1 + budget) / t1, (f2 + budget) / t2  # d / t
    c = torch.where(t1 == t2, torch.zeros_like(t2), (h2 - h1) / (t2 - t1))
    a = h2 - c * t2
    return 2 * budget / (a + torch.sqrt(a * a + 4 * c * budget))


def _inverse_quadratic(history: list) -> Tensor:
    """Where the parabola t(f) through the last three points crosses f = 0 (NaN or inf while
    two of them share f)."""
    (ta, fa), (tb, fb), (tc, fc) = history
    return (
        ta * fb * fc / ((fa - fb) * (fa - fc))
        + tb * fa * fc / ((fb - fa) * (fb - fc))
        + tc * fa * fb / ((fc - fa) * (fc - fb))
    )


def _closer(best: Tensor, gap: Tensor, t: Tensor, f_t: Tensor, active: Tensor | None = None):
    """(best, gap) updated where t's |f_t| is smaller (and ``active``)."""
    better = f_t.abs() < gap
    if active is not None:
        better = better & active
    return torch.where(better, t, best), torch.where(better, f_t.abs(), gap)
