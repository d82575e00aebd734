"""The morph's fast paths: the budget search's evaluation count and contract, the closed-form
source gradient, and frozen frames against a plain reference morph."""

import math

import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

import pyramid_kernels as pk
from pyramid_kernels import data, models
from pyramid_kernels.experiments.protocol import DRIVER
from pyramid_kernels.morphing import budget as budget_search
from pyramid_kernels.morphing.options import MorphOptions
from pyramid_kernels.morphing.trajectory import MorphGroup
from pyramid_kernels.ops.phase.op import phase_rotate

BUDGET = 10.0
# per-image distance curves d(t): straight, concave and saturating, convex, non-monotone,
# steep, shallow; all reach BUDGET
CURVES = [
    lambda t: 37 * t,
    lambda t: 30 * (1 - torch.exp(-t / 0.3)),
    lambda t: 5 * t + 20 * t**2,
    lambda t: 12 * torch.sin(3 * t) + 4 * t,
    lambda t: 400 * t,
    lambda t: 0.5 * t,
]


def _counted(curves):
    calls = []

    def distance(t, active=None):
        calls.append(t.clone())
        d = torch.stack([f(v) for f, v in zip(curves, t, strict=True)])
        return d if active is None else torch.where(active, d, math.nan)  # others: ignored

    return distance, calls


def test_search_meets_the_contract_in_few_evaluations():
    distance, calls = _counted(CURVES)
    t, attained = budget_search.search(distance, BUDGET, torch.full((len(CURVES),), 0.5))
    assert attained.all()
    gap = (distance(t) - BUDGET).abs()
    assert (gap <= budget_search.BUDGET_TOLERANCE).all(), gap
    assert len(calls) - 1 <= 8, len(calls)  # the check above is one more


def _bisection_evaluations(curve) -> int:
    """Rounds the bisection the search replaced needs on a curve (doubling, then halving)."""
    low, high, count = 0.0, 0.5, 1
    while curve(torch.tensor(high)) < BUDGET:
        low, high, count = high, 2 * high, count + 1
    while True:
        mid = 0.5 * (low + high)
        d = curve(torch.tensor(mid)).item()
        count += 1
        if abs(d - BUDGET) <= budget_search.BUDGET_TOLERANCE:
            return count
        low, high = (mid, high) if d < BUDGET else (low, mid)


def test_search_needs_fewer_evaluations_than_bisection_on_every_curve():
    ours, bisection = [], []
    for curve in CURVES:
        distance, calls = _counted([curve])
        budget_search.search(distance, BUDGET, torch.tensor([0.5]))
        ours.append(len(calls))
        bisection.append(_bisection_evaluations(curve))
    assert max(ours) <= 5 and sum(ours) * 3 <= sum(bisection), (ours, bisection)


def test_search_reports_budgets_out_of_reach_and_nan_in_bounded_evaluations():
    curves = [lambda t: 3 * (1 - torch.exp(-t)), lambda t: t * math.nan, lambda t: 40 * t]
    distance, calls = _counted(curves)
    t, attained = budget_search.search(distance, BUDGET, torch.full((3,), 0.5))
    assert attained.tolist() == [False, False, True]
    assert t[0] > 10  # the closest it came: far out on the saturated curve
    # growing t by 16x (or 2x, where the saturated curve still bends) to 2^30 x start,
    # then refining the third: at most 2 x 30 / 4 + 2
    assert len(calls) <= 17, len(calls)


def test_search_keeps_its_float_precision_floor():
    """A budget the curve's rounding cannot resolve ends when the bracket stops shrinking."""
    distance, calls = _counted([lambda t: torch.round(40 * t, decimals=2)])
    t, attained = budget_search.search(distance, 10.005, torch.tensor([0.5]))
    assert len(calls) < budget_search.MAX_REFINEMENTS
    # every distance is a multiple of 0.01, so none lies within the tolerance of 10.005: the
    # search says so and keeps the closest scale it found (10.00 or 10.01)
    assert not attained.item()
    assert (distance(t) - 10.005).abs().item() <= 0.005 + 1e-6


def test_budget_morph_evaluates_few_distances_and_meets_the_contract(monkeypatch):
    """Acceptance: on 32 held-out digits (frozen CSP phase, 11 steps, budget 2), the search
    renders the last frame at most 8 times; the bisection it replaced took 18."""
    driver = models.load(DRIVER)
    x = data.digits("test")[0][:32]
    with torch.no_grad():
        target = driver(x).topk(2, dim=1).indices[:, 1]
    evaluations = []
    original = MorphGroup.last_distance  # one group: one call per evaluation
    monkeypatch.setattr(
        MorphGroup, "last_distance", lambda self, *a: evaluations.append(1) or original(self, *a)
    )
    r = pk.morph(driver, x, target, steps=11, budget=2.0)
    assert len(evaluations) <= 8, len(evaluations)
    assert r.attained.all()
    assert ((r.distance[-1] - 2.0).abs() <= pk.morphing.BUDGET_CONTRACT).all()


def tiny_model(channels: int = 1) -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(
        nn.Conv2d(channels, 4, 3, padding=1),
        nn.Tanh(),
        nn.AvgPool2d(4),
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, 5),
    ).eval()


SPECS = [
    dict(height=2),
    dict(height=2, tight_frame=False, synthesis="real"),
    dict(height=2, downsample=False),
]


@pytest.mark.parametrize("edit", ["phase", "joint"])
@pytest.mark.parametrize("spec", SPECS)
def test_closed_form_source_gradient_is_the_autograd_one(edit, spec):
    """The source gradient pulls the image gradient back in closed form (a build); it equals
    autograd through phase_rotate and collapse at zero parameters."""
    model = tiny_model(3).double()
    x = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    options = MorphOptions(
        edit=edit, steps=1, clamp=None, backend="torch", pyramid=pk.SteerablePyramid(**spec)
    )
    group = MorphGroup(model, x, torch.tensor([1, 3]), None, options, None)
    space = group.source_space
    autograd = group.gradient(space, space.zeros())
    for fast, slow in zip(group.source_grads, autograd, strict=True):
        torch.testing.assert_close(fast, slow, rtol=1e-10, atol=1e-12)


def _plain_frozen_morph(model, x, target, steps, phase_step, pyramid):
    """The frozen CSP-phase morph written plainly: build, autograd gradient of the target NLL
    through phase_rotate and collapse at x, then per frame rotate, collapse and clamp."""
    coeffs = pyramid.build(x)
    zeros = [torch.zeros_like(b.real, requires_grad=True) for b in coeffs.bands]

    def render(phases):
        bands = [
            phase_rotate(b, torch.zeros_like(p), p, "torch")
            for b, p in zip(coeffs.bands, phases, strict=True)
        ]
        return pk.collapse(pk.Pyramid(coeffs.highpass, tuple(bands), coeffs.lowpass, coeffs.spec))

    rendered = render(zeros)  # the model sees x itself (re-synthesis rounding flips max-pools)
    image = x + (rendered - rendered.detach())
    loss = -torch.log_softmax(model(image), 1)[range(len(x)), target].sum()
    grads = torch.autograd.grad(loss, zeros)
    peak = torch.stack([g.flatten(1).abs().amax(1) for g in grads]).amax(0)
    u = phase_step / peak
    frames = [x]
    with torch.no_grad():
        for k in range(1, steps + 1):
            phases = [-k * u.reshape(-1, 1, 1, 1, 1) * g for g in grads]
            frames.append(render(phases).clamp(0, 1))
    return torch.stack(frames)


@pytest.mark.parametrize("backend", [b for b in pk.available_backends() if b != "triton"])
def test_frozen_frames_match_a_plain_morph(backend):
    """Frames of the fast frozen path (closed-form gradient, blocked extrapolation, frames
    written in place) within 1e-5 of the plain morph on the reference backend (the Triton
    kernels run on CUDA tensors: tests/cuda/test_cuda.py)."""
    driver = models.load(DRIVER)
    x = data.digits("test")[0][:6].double().float()
    target = torch.tensor([3, 8, 1, 0, 5, 7])
    pyramid = pk.SteerablePyramid(backend="torch")
    want = _plain_frozen_morph(driver, x, target, 6, 0.3, pyramid)
    got = pk.morph(driver, x, target, steps=6, phase_step=0.3, backend=backend)
    torch.testing.assert_close(got.frames, want, rtol=0, atol=1e-5)


class _CatSizes(TorchDispatchMode):
    """Records the output sizes of every torch.cat."""

    def __init__(self):
        super().__init__()
        self.sizes = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func is torch.ops.aten.cat.default:
            self.sizes.append(out.numel())
        return out


@pytest.mark.parametrize("color", ["rgb", "luminance"])
def test_frozen_morph_writes_frames_in_place(color):
    """No concatenation of frame stacks: the groups write their frames into one output."""
    model, x = tiny_model(3), torch.rand(4, 3, 16, 16)
    with _CatSizes() as mode:
        r = pk.morph(model, x, 2, steps=5, color=color, chunk_size=2, group_bytes=1)
    largest = max(mode.sizes, default=0)
    assert largest < x[:2].numel() * 2, (largest, r.frames.numel())
