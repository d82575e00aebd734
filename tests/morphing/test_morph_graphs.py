"""CUDA-graph replay of frozen morphs: the cache policy (eager first, captured second,
replayed after; keys; failures; eviction) and the morph's use of it, on CPU with a stand-in
capture that keeps a graph's semantics (static inputs copied in, static outputs cloned out).
That the captured region never synchronises is proven in test_triton_structure.py; the real
capture runs in test_cuda.py."""

import gc

import pytest
import torch
from torch import nn

import pyramid_kernels as pk
from pyramid_kernels.morphing import core, graphs
from pyramid_kernels.morphing.graphs import GraphedRuns


class StandIn:
    """A 'graph' that reruns fn on its static inputs: what a replay computes when fn makes no
    host-side decision from the data."""

    captures = 0

    def __init__(self, fn, inputs):
        type(self).captures += 1
        self.fn = fn
        self.inputs = tuple(t.clone() for t in inputs)
        self.outputs = tuple(fn(*self.inputs))

    def replay(self, inputs):
        for static, value in zip(self.inputs, inputs, strict=True):
            static.copy_(value)
        fresh = self.fn(*self.inputs)
        for static, value in zip(self.outputs, fresh, strict=True):
            static.copy_(value)
        return tuple(t.clone() for t in self.outputs)


class Owner:
    """Stands for a model (weak-referenceable)."""


@pytest.fixture
def stand_in():
    StandIn.captures = 0
    return StandIn


def _double(calls):
    def fn(x):
        calls.append(1)
        return (2 * x,)

    return fn


def test_a_key_runs_eagerly_then_is_captured_then_replayed(stand_in):
    runs, calls, owner = GraphedRuns(capture=stand_in), [], Owner()
    fn = _double(calls)
    (first,) = runs.run("k", fn, (torch.ones(3),), owner)
    assert len(calls) == 1 and stand_in.captures == 0 and len(runs) == 0
    (second,) = runs.run("k", fn, (torch.full((3,), 2.0),), owner)
    assert stand_in.captures == 1 and len(runs) == 1
    calls.clear()
    (third,) = runs.run("k", fn, (torch.full((3,), 5.0),), owner)
    assert stand_in.captures == 1  # replayed, not captured again
    assert torch.equal(first, torch.full((3,), 2.0))
    assert torch.equal(second, torch.full((3,), 4.0))
    assert torch.equal(third, torch.full((3,), 10.0))
    third.zero_()  # results are the caller's: the next replay does not overwrite them
    (fourth,) = runs.run("k", fn, (torch.ones(3),), owner)
    assert torch.equal(third, torch.zeros(3)) and torch.equal(fourth, torch.full((3,), 2.0))


def test_a_collected_owner_drops_its_graph(stand_in):
    runs, owner = GraphedRuns(capture=stand_in), Owner()
    for _ in range(2):
        runs.run("k", _double([]), (torch.ones(2),), owner)
    assert len(runs) == 1
    del owner
    gc.collect()
    runs.run("other", _double([]), (torch.ones(2),), Owner())
    assert len(runs) == 0


def test_capture_failure_warns_once_then_runs_eagerly():
    attempts = []

    def failing(fn, inputs):
        attempts.append(1)
        raise RuntimeError("operation not permitted when stream is capturing")

    runs, calls, owner = GraphedRuns(capture=failing), [], Owner()
    fn = _double(calls)
    runs.run("k", fn, (torch.ones(2),), owner)
    with pytest.warns(RuntimeWarning, match="cuda_graph=False"):
        (out,) = runs.run("k", fn, (torch.full((2,), 3.0),), owner)
    assert torch.equal(out, torch.full((2,), 6.0))
    runs.run("k", fn, (torch.ones(2),), owner)
    assert len(attempts) == 1 and len(calls) == 3 and len(runs) == 0


def test_least_recently_used_graphs_are_evicted(stand_in):
    runs, owner = GraphedRuns(capacity=2, capture=stand_in), Owner()
    for key in ["a", "a", "b", "b", "a", "c", "c"]:
        runs.run(key, _double([]), (torch.ones(1),), owner)
    assert list(runs._graphs) == ["a", "c"]  # b was used least recently
    runs.clear()
    assert len(runs) == 0


@pytest.fixture
def graphed_on_cpu(monkeypatch, stand_in):
    """pk.morph taking its CUDA-graph route on CPU, with the stand-in capture."""
    runs = GraphedRuns(capture=stand_in)
    monkeypatch.setattr(core, "FROZEN_GRAPHS", runs)
    monkeypatch.setattr(core, "_graphed", lambda model, x, options: options.cuda_graph is not False)
    return runs


@pytest.mark.parametrize(
    "space, edit, loss, source",
    [("csp", "phase", "nll", None), ("csp", "joint", "margin", 2), ("pixel", "phase", "nll", 1)],
)
def test_replayed_morphs_equal_eager_morphs(graphed_on_cpu, stand_in, space, edit, loss, source):
    model = pk.models.load("digits-driver")
    digits, _ = pk.data.digits("test")
    kwargs = dict(space=space, edit=edit, loss=loss, source=source, steps=4, backend="torch")
    for i in range(4):  # eager, captured, replayed, replayed: each on other images
        x = digits[3 * i : 3 * i + 3]
        got = pk.morph(model, x, 7, **kwargs)
        want = pk.morph(model, x, 7, cuda_graph=False, **kwargs)
        for name in ["frames", "target_prob", "distance", "step"]:
            a, b = getattr(got, name), getattr(want, name)
            assert torch.allclose(a, b, rtol=1e-5, atol=1e-6), name
        assert torch.equal(got.attained, want.attained)
        assert torch.equal(got.source, want.source) and torch.equal(got.target, want.target)
    assert stand_in.captures == 1 and len(graphed_on_cpu) == 1


def test_the_graph_route_checks_labels_and_logits_after_its_run(graphed_on_cpu):
    """Labels are checked on the run's own logits (no separate forward), so a bad target or
    source, or NaN logits, raise on every call: eager, captured and replayed alike."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(256, 3)).eval()
    x = torch.rand(2, 1, 16, 16)
    for _ in range(3):
        with pytest.raises(ValueError, match="target must be in"):
            pk.morph(model, x, 5, steps=2)
    for _ in range(3):
        with pytest.raises(ValueError, match="source must be in"):
            pk.morph(model, x, 1, source=[0, 4], steps=2)
    assert torch.isfinite(pk.morph(model, x, 1, steps=2).frames).all()  # a replay again
    with torch.no_grad():
        model[1].bias[0] = float("nan")
    for _ in range(2):
        with pytest.raises(ValueError, match="NaN or inf logits"):
            pk.morph(model, x, 1, steps=2)


def _key(model, x, **options):
    options = pk.morphing.MorphOptions(**options)
    options = core.dataclasses.replace(options, pyramid=pk.SteerablePyramid(backend="torch"))
    return core._graph_key(model, x, True, options)


def test_graph_keys_follow_what_a_capture_depends_on():
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3)).eval()
    x = torch.rand(2, 1, 4, 4)
    key = _key(model, x)
    assert _key(model, torch.rand(2, 1, 4, 4)) == key  # new values, same shapes
    with torch.no_grad():
        model[1].weight.mul_(2)  # changed in place: the replay reads the new values
    assert _key(model, x) == key
    assert _key(model, torch.rand(3, 1, 4, 4)) != key
    assert _key(model, x, steps=5) != key
    assert _key(model, x, phase_step=0.1) != key
    options = pk.morphing.MorphOptions()
    options = core.dataclasses.replace(options, pyramid=pk.SteerablePyramid(backend="torch"))
    assert core._graph_key(model, x, False, options) != key  # a given source: other inputs
    other = nn.Sequential(nn.Flatten(), nn.Linear(16, 3)).eval()
    assert _key(other, x) != key
    model[1].weight = nn.Parameter(model[1].weight.detach().clone())  # replaced: new capture
    assert _key(model, x) != key


def test_cuda_graph_option_is_validated():
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3)).eval()
    x = torch.rand(2, 1, 4, 4)
    with pytest.raises(TypeError, match="cuda_graph"):
        pk.morph(model, x, 1, cuda_graph="yes")
    with pytest.raises(ValueError, match="cuda_graph=True replays frozen"):
        pk.morph(model, x, 1, cuda_graph=True, budget=1.0)
    with pytest.raises(ValueError, match="cuda_graph=True replays frozen"):
        pk.morph(model, x, 1, cuda_graph=True, regime="anchored")
    with pytest.raises(ValueError, match="cuda_graph=True needs CUDA images"):
        pk.morph(model, x, 1, cuda_graph=True)


def test_cpu_morphs_never_take_the_graph_route(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the graph cache was used on CPU")

    monkeypatch.setattr(graphs.FROZEN_GRAPHS, "run", fail)
    model = nn.Sequential(nn.Flatten(), nn.Linear(256, 3)).eval()
    pk.morph(model, torch.rand(2, 1, 16, 16), 1, steps=2)


def test_the_graph_route_runs_no_separate_label_forward(graphed_on_cpu):
    model = nn.Sequential(nn.Flatten(), nn.Linear(256, 3)).eval()
    calls = []
    model.register_forward_hook(lambda module, args, out: calls.append(args[0].shape[0]))
    x = torch.rand(2, 1, 16, 16)
    for _ in range(3):  # eager, captured (a warm-up and the capture), replayed
        calls.clear()
        pk.morph(model, x, 1, steps=3)
    assert calls == [2] * 4  # the replay: the source gradient, then a forward per frame
