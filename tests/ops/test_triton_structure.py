"""Structural properties of the Triton path, proven on CPU through the interpreter: a warm
call copies nothing from the host, never synchronises, runs no elementwise pass besides the
FFTs, launches one kernel per spectral stage, and no size argument is specialised."""

import inspect

import pytest
import torch
from conftest import DEVICE, rel_max_error, require
from torch.profiler import ProfilerActivity, profile, record_function

import pyramid_kernels as pk
from pyramid_kernels.ops.phase.op import phase_extrapolate, phase_rotate

# what a warm call may dispatch outside the FFTs and the kernel launches: allocation and views
ALLOWED = {
    "aten::empty",
    "aten::new_empty",
    "aten::empty_like",
    "aten::reshape",
    "aten::view",
    "aten::_unsafe_view",
    "aten::as_strided",
    "aten::resolve_conj",
    "aten::view_as_real",
    "aten::_reshape_alias",
    "aten::alias",
    "aten::detach",
    "aten::zeros_like",  # the gradient of unused build outputs (none in these tests)
}
FORBIDDEN = {"aten::lift_fresh", "aten::_to_copy", "aten::_local_scalar_dense", "aten::item"}
KERNEL = "triton-launch"


@pytest.fixture(autouse=True)
def _poison_triton_outputs():
    """Plain allocations here (the suite's NaN poisoning would show up as fill ops)."""


def _triton_modules():
    from pyramid_kernels.ops.phase import triton as phase
    from pyramid_kernels.ops.transform import triton as spectral

    return spectral, phase


class Launches(dict):
    """Launches per kernel name; ``variants[name]``: the distinct compile-time (keyword)
    argument sets it was launched with."""

    def __init__(self):
        super().__init__()
        self.variants: dict[str, set] = {}


@pytest.fixture
def launches(monkeypatch):
    """Counts Triton launches per kernel and marks them in the profile, so that what the
    interpreter does to run a kernel on CPU is not counted as the launcher's work."""
    require("triton")
    counts = Launches()

    class Counted:
        def __init__(self, name, kernel):
            self.name, self.kernel = name, kernel

        def __getitem__(self, grid):
            launch = self.kernel[grid]

            def run(*args, **kwargs):
                counts[self.name] = counts.get(self.name, 0) + 1
                counts.variants.setdefault(self.name, set()).add(tuple(sorted(kwargs.items())))
                with record_function(KERNEL):
                    return launch(*args, **kwargs)

            return run

    for module in _triton_modules():
        for name, value in vars(module).items():
            if name.endswith("_kernel"):
                monkeypatch.setattr(module, name, Counted(name, value))
    return counts


def _dispatched(fn):
    """(ops dispatched outside FFTs and kernel launches, FFT calls) of one call of fn."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    outside, ffts = [], []
    for event in prof.events():
        parents, parent = [], event.cpu_parent
        while parent is not None:
            parents.append(parent.name)
            parent = parent.cpu_parent
        if KERNEL in parents or any(p.startswith("aten::_fft") for p in parents):
            continue
        if event.name.startswith("aten::fft_"):
            ffts.append(event.name)
        elif event.name.startswith("aten::") and not event.name.startswith("aten::_fft"):
            outside.append(event.name)
    return outside, ffts


def _check_warm(fn, launches, expected_launches, expected_ffts):
    fn()  # warm: caches filled
    launches.clear()
    outside, ffts = _dispatched(fn)
    assert not FORBIDDEN & set(outside), outside
    assert set(outside) <= ALLOWED, sorted(set(outside) - ALLOWED)
    assert sorted(ffts) == sorted(expected_ffts)
    assert launches == expected_launches


@pytest.mark.parametrize("height", [0, 1, 3])
@pytest.mark.parametrize("tight_frame", [True, False])
def test_warm_build_is_the_ffts_and_one_launch(launches, height, tight_frame):
    x = torch.randn(2, 3, 40, 36, device=DEVICE["triton"])
    pyr = pk.SteerablePyramid(height=height, tight_frame=tight_frame, backend="triton")
    ffts = ["aten::fft_rfft2"] + ["aten::fft_irfft2"] * 2 + ["aten::fft_ifft2"] * height
    _check_warm(lambda: pyr(x), launches, {"_analysis_kernel": 1}, ffts)


@pytest.mark.parametrize("height", [0, 2])
@pytest.mark.parametrize("is_complex", [True, False])
def test_warm_collapse_is_the_ffts_and_one_launch(launches, height, is_complex):
    x = torch.randn(2, 32, 24, device=DEVICE["triton"])
    pyr = pk.SteerablePyramid(height=height, is_complex=is_complex, backend="triton")
    c = pyr(x)
    band_fft = "aten::fft_fft2" if is_complex else "aten::fft_rfft2"
    ffts = ["aten::fft_rfft2"] * 2 + [band_fft] * height + ["aten::fft_irfft2"]
    _check_warm(lambda: pyr.collapse(c), launches, {"_synthesis_kernel": 1}, ffts)


def test_warm_backwards_make_no_host_copies(launches):
    x = torch.randn(2, 32, 24, device=DEVICE["triton"], requires_grad=True)
    pyr = pk.SteerablePyramid(height=2, backend="triton")

    def build_backward():
        torch.autograd.backward(pyr(x).tensors, [torch.ones_like(t) for t in grads])

    def collapse_backward():
        c = pyr(x.detach())
        leaves = [t.requires_grad_(True) for t in c.tensors]
        y = pyr.collapse(c.replace(highpass=leaves[0], bands=leaves[1:-1], lowpass=leaves[-1]))
        y.sum().backward()

    grads = pyr(x.detach()).tensors
    for fn in (build_backward, collapse_backward):
        fn()
        outside, _ = _dispatched(fn)
        assert not FORBIDDEN & set(outside), outside


def test_warm_phase_ops_make_no_host_copies(launches):
    device = DEVICE["triton"]
    c = torch.randn(2, 4, 8, 8, dtype=torch.complex64, device=device)
    a, b = torch.randn(2, *c.shape, device=device)
    s = torch.linspace(0.1, 1.0, 5, device=device)
    _check_warm(lambda: phase_rotate(c, a, b, "triton"), launches, {"_rotate_kernel": 1}, [])
    launches.clear()
    _check_warm(
        lambda: phase_extrapolate(c, a, b, s, "triton"), launches, {"_extrapolate_kernel": 1}, []
    )


def test_no_size_argument_is_specialised():
    """Every integer argument of every Triton kernel is in do_not_specialize, so a new image
    size (or batch, or frame count) compiles nothing new."""
    require("triton")
    checked = 0
    for module in _triton_modules():
        for name, kernel in vars(module).items():
            if not name.endswith("_kernel"):
                continue
            options = getattr(kernel, "kwargs", None) or {}  # the interpreter's wrapper
            skip = set(options.get("do_not_specialize") or getattr(kernel, "do_not_specialize", ()))
            for param in inspect.signature(kernel.fn).parameters.values():
                is_constexpr = "constexpr" in str(param.annotation)
                is_pointer = param.name.endswith(("_ptr", "_ptrs"))
                if not (is_constexpr or is_pointer):
                    assert param.name in skip, (name, param.name)
                    checked += 1
    assert checked >= 7


def test_one_compiled_variant_serves_every_height_and_size(launches):
    """The compile-time (constexpr) arguments of both spectral kernels are the same for every
    image size and height (up to 8 levels): a new height compiles nothing either."""
    for height, size in [(0, (12, 10)), (1, (16, 20)), (3, (40, 36)), ("auto", (64, 48))]:
        pyr = pk.SteerablePyramid(height=height, backend="triton")
        x = torch.rand(2, *size, device=DEVICE["triton"])
        assert rel_max_error(pyr.collapse(pyr(x)), x) <= 1e-5
        pyr.collapse(pyr(x), levels=[0] if pyr(x).bands else "all")  # partial: runtime bits
    variants = {name: len(v) for name, v in launches.variants.items()}
    assert variants == {"_analysis_kernel": 1, "_synthesis_kernel": 1}, launches.variants


def test_a_warm_build_checks_its_input_not_its_own_outputs(monkeypatch):
    """The build op's outputs have the spec's shapes by construction: wrapping them in a
    Pyramid skips the coefficient checks (host time), and gives the checked Pyramid."""
    from pyramid_kernels.pyramid import functional as pyramid

    calls = []
    checked = pyramid.check_coefficients
    monkeypatch.setattr(pyramid, "check_coefficients", lambda *a: calls.append(1) or checked(*a))
    pyr = pk.SteerablePyramid(height=2, backend="torch")
    c = pyr(torch.rand(2, 3, 16, 20))
    assert calls == []
    same = pk.Pyramid(c.highpass, c.bands, c.lowpass, c.spec)
    assert calls == [1] and same.spec == c.spec and isinstance(c.bands, tuple)
    assert all(a is b for a, b in zip(same.tensors, c.tensors, strict=True))


def test_every_launch_runs_on_its_tensors_gpu(launches, monkeypatch):
    """Triton launches on the current device: every launcher first makes its tensors' GPU
    current (tensors on cuda:1 with cuda:0 current would be read from the wrong GPU)."""
    import types

    from pyramid_kernels.ops import triton_common as _common

    entered = []
    on_device = _common.on_device
    monkeypatch.setattr(_common, "on_device", lambda t: entered.append(t) or on_device(t))
    device = DEVICE["triton"]
    pyr = pk.SteerablePyramid(height=2, backend="triton")
    c = pyr(torch.rand(2, 24, 20, device=device))
    pyr.collapse(c)
    b = c.bands[0]
    phase_rotate(b, b.real, b.imag, "triton")
    phase_extrapolate(b, b.real, b.imag, torch.ones(3, device=device), "triton")
    assert len(entered) == sum(launches.values()) == 4

    switched = []
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "device", lambda d: switched.append(d) or "guard")
    assert on_device(types.SimpleNamespace(device=torch.device("cuda", 1))) == "guard"
    assert switched == [torch.device("cuda", 1)]
    assert on_device(types.SimpleNamespace(device=torch.device("cuda", 0))) != "guard"


def test_resolve_backend_is_a_compile_time_constant():
    """torch.compile records resolve_backend's result instead of tracing the probes
    (importlib.util.find_spec broke fullgraph compiles on CUDA)."""
    from pyramid_kernels.ops.backends import resolve_backend

    assert getattr(resolve_backend, "_dynamo_marked_constant", False)


def test_compile_fullgraph_with_the_triton_backend():
    device = require("triton")
    x = torch.randn(2, 32, 24, device=device, requires_grad=True)
    pyr = pk.SteerablePyramid(height=2, backend="triton")

    def roundtrip(x):
        c = pyr(x)
        return pyr.collapse(c.replace(bands=[2.0 * b for b in c.bands]))

    torch.compiler.reset()
    compiled = torch.compile(roundtrip, fullgraph=True, backend="aot_eager")
    eager = roundtrip(x)
    assert torch.allclose(compiled(x), eager, atol=1e-5)
    (g_eager,) = torch.autograd.grad(eager.square().sum(), x)
    (g_compiled,) = torch.autograd.grad(compiled(x).square().sum(), x)
    assert torch.allclose(g_compiled, g_eager, atol=1e-4)


def _ops_and_syncs(prof, within: str | None = None, skip: str | None = None) -> tuple[set, set]:
    """(every op, the reads from and copies to the host) of a profile, outside FFTs and
    Triton launches: only those under the ``within`` region if given, none under ``skip``.
    A ``_to_copy`` inside another op (a Python scalar promoted by a comparison: a kernel
    argument on CUDA) is not a copy."""
    ops, syncs = set(), set()
    for event in prof.events():
        parents, parent = [], event.cpu_parent
        while parent is not None:
            parents.append(parent.name)
            parent = parent.cpu_parent
        if (within is not None and within not in parents) or KERNEL in parents:
            continue
        if skip in parents or any(p.startswith("aten::_fft") for p in parents):
            continue
        if not event.name.startswith("aten"):
            continue
        ops.add(event.name)
        inside_op = any(p.startswith("aten::") and p != "aten::to" for p in parents)
        if event.name in SYNCS - {"aten::_to_copy"} or (
            event.name == "aten::_to_copy" and not inside_op
        ):
            syncs.add(event.name)
    return ops, syncs


def _syncs_in_morph_run(monkeypatch, call, warm: int = 0) -> tuple[set, set]:
    """:func:`_ops_and_syncs` of ``morphing.core._run`` (what a CUDA graph captures of a
    morph) during ``call()`` after ``warm`` unprofiled calls."""
    from pyramid_kernels.morphing import core

    run = core._run

    def marked(*args, **kwargs):
        with record_function("morph-run"):
            return run(*args, **kwargs)

    monkeypatch.setattr(core, "_run", marked)
    for _ in range(warm):
        call()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        call()
    return _ops_and_syncs(prof, within="morph-run")


class Rerun:
    """A stand-in CUDA graph: the replay runs the captured function again."""

    def __init__(self, fn, inputs):
        self.fn = fn

    def replay(self, inputs):
        return self.fn(*inputs)


@pytest.fixture
def graph_route(monkeypatch):
    """pk.morph takes its CUDA-graph route on any device, with :class:`Rerun` graphs."""
    from pyramid_kernels.morphing import core
    from pyramid_kernels.morphing.graphs import GraphedRuns

    monkeypatch.setattr(core, "_graphed", lambda model, x, options: True)
    monkeypatch.setattr(core, "FROZEN_GRAPHS", GraphedRuns(capture=Rerun))


SYNCS = FORBIDDEN | {"aten::is_nonzero"}


@pytest.mark.parametrize(
    "space, edit, color",
    [
        ("csp", "phase", "rgb"),
        ("csp", "joint", "luminance"),
        ("fourier", "phase", "rgb"),
        ("pixel", "phase", "rgb"),
    ],
)
def test_frozen_morph_run_never_synchronises_or_copies_from_host(
    launches, monkeypatch, graph_route, space, edit, color
):
    """What a CUDA graph captures of a frozen morph (source pyramid and gradient, frames,
    collapse, scoring) reads nothing back to the host and copies nothing from it: capture
    needs this, and a replay could not repeat a host-side decision made from the data."""
    device = DEVICE["triton"]
    x = torch.rand(2, 3, 16, 16, device=device)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(768, 5)).to(device).eval()

    def call():
        pk.morph(model, x, 1, space=space, edit=edit, color=color, steps=3, backend="triton")

    # eager (per-device constants made), captured, then replayed and profiled
    ops, syncs = _syncs_in_morph_run(monkeypatch, call, warm=2)
    assert "aten::linear" in ops  # the region was profiled
    assert not syncs, syncs


def test_a_replayed_morph_call_reads_the_host_twice(launches, monkeypatch, graph_route):
    """Around the replay, a whole pk.morph call on the graph route reads device values twice
    (the input checks before, the logit and label checks after) and copies nothing from the
    host: on CUDA every read waits for the device, and a launch-bound replay is short."""
    from pyramid_kernels.morphing import checks

    reads = []
    read = checks.host_read

    def counted_read(values):
        reads.append(1)
        with record_function("host-read"):  # on CUDA a read is a copy to the host
            return read(values)

    monkeypatch.setattr(checks, "host_read", counted_read)
    device = DEVICE["triton"]
    x = torch.rand(2, 1, 16, 16, device=device)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(256, 5)).to(device).eval()
    with pytest.raises(ValueError, match="x contains NaN"):  # the one read still checks
        pk.morph(model, x.clone().fill_(float("nan")), 1, steps=2, backend="triton")
    for _ in range(2):  # eager, captured
        pk.morph(model, x, 1, steps=2, backend="triton")
    reads.clear()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        pk.morph(model, x, 1, steps=2, backend="triton")
    assert len(reads) == 2
    ops, syncs = _ops_and_syncs(prof, skip="host-read")
    assert "aten::linear" in ops and not syncs, syncs
    with pytest.raises(ValueError, match="target must be in"):  # the one read after the run
        pk.morph(model, x, 7, steps=2, backend="triton")


def test_the_synchronisation_check_sees_a_budget_bisection(launches, monkeypatch):
    """The check above can fail: a budget morph reads its bisection state every round."""
    x = torch.rand(2, 1, 16, 16, device=DEVICE["triton"])
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(256, 5)).to(x.device).eval()

    def call():
        pk.morph(model, x, 1, steps=2, budget=0.5, backend="triton")

    _, syncs = _syncs_in_morph_run(monkeypatch, call)
    assert "aten::is_nonzero" in syncs
