"""The CUDA path on a real GPU (skipped without one; ``bench/device_check.sh`` runs it): no
host synchronisation in warm calls, no recompilation for a new image size, CUDA graphs and
torch.compile (fullgraph, reduce-overhead) give the eager results."""

import warnings

import pytest
import torch
from conftest import rel_max_error

import pyramid_kernels as pk
from pyramid_kernels.ops.phase.op import phase_extrapolate, phase_rotate

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


@pytest.fixture(autouse=True)
def _poison_triton_outputs():
    """Plain allocations: the suite's NaN poisoning is itself a fill on the device."""


def _warm_calls():
    x = torch.rand(4, 3, 96, 80, device="cuda")
    xg = x.clone().requires_grad_(True)
    pyr = pk.SteerablePyramid(height=3, orientations=4)
    c = pyr(x)
    grads = [torch.ones_like(t) for t in c.tensors]
    leaves = [t.clone().requires_grad_(True) for t in c.tensors]
    edited = c.replace(highpass=leaves[0], bands=leaves[1:-1], lowpass=leaves[-1])
    b = c.bands[0]
    a = torch.randn_like(b.real)
    s = torch.linspace(0.1, 1.0, 6, device="cuda")
    return {
        "build": lambda: pyr(x),
        "collapse": lambda: pyr.collapse(c),
        "build backward": lambda: torch.autograd.grad(pyr(xg).tensors, xg, grads),
        "collapse backward": lambda: torch.autograd.grad(
            pyr.collapse(edited).sum(), leaves, allow_unused=True
        ),
        "phase_rotate": lambda: phase_rotate(b, a, a, "triton"),
        "phase_extrapolate": lambda: phase_extrapolate(b, a, a, s, "triton"),
    }


def test_warm_calls_never_synchronise():
    calls = _warm_calls()
    for fn in calls.values():
        fn()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for name, fn in calls.items():
            try:
                fn()  # raises on any synchronising call (.item(), pageable copies, ...)
            except RuntimeError as error:
                raise AssertionError(f"a warm {name} synchronised: {error}") from error
    finally:
        torch.cuda.set_sync_debug_mode("default")
    torch.cuda.synchronize()


def test_phase_extrapolate_past_2_31_output_elements():
    """frames x numel > 2^31 while numel < 2^31: the frame offsets are int64 (an int32
    product wrapped around and wrote over earlier frames). About 22 GiB of device memory."""
    if torch.cuda.mem_get_info()[0] < 26 * 2**30:
        pytest.skip("needs 26 GiB of free device memory")
    numel, frames = 2**28, 9
    c = torch.polar(torch.ones(numel, device="cuda"), torch.rand(numel, device="cuda"))
    a = torch.rand(numel, device="cuda")
    s = torch.linspace(0.5, 1.0, frames, device="cuda")
    out = phase_extrapolate(c, a, a, s, "triton")
    index = torch.randint(0, numel, (4096,), device="cuda")
    index[-1] = numel - 1
    picked = phase_extrapolate(c[index], a[index], a[index], s, "torch")
    assert rel_max_error(out[:, index], picked) <= 1e-5
    del out
    torch.cuda.empty_cache()


def _compiled_variants() -> int:
    from pyramid_kernels.ops.transform import triton as spectral

    total = 0
    for kernel in (spectral._analysis_kernel, spectral._synthesis_kernel):
        total += sum(len(entry[0]) for entry in kernel.device_caches.values())
    return total


def test_a_new_image_size_or_height_compiles_nothing():
    pyr = pk.SteerablePyramid(height=3, orientations=5)
    pyr.collapse(pyr(torch.rand(2, 72, 88, device="cuda")))
    before = _compiled_variants()
    for size in [(73, 89), (128, 96), (101, 257)]:
        for batch in (1, 3):
            x = torch.rand(batch, *size, device="cuda")
            assert rel_max_error(pyr.collapse(pyr(x)), x) <= 1e-5
    for height in [0, 1, 4, "auto"]:
        other = pk.SteerablePyramid(height=height, orientations=5)
        x = torch.rand(2, 128, 96, device="cuda")
        assert rel_max_error(other.collapse(other(x)), x) <= 1e-5
    assert _compiled_variants() == before


def _captured(fn, static: torch.Tensor) -> tuple[torch.cuda.CUDAGraph, torch.Tensor]:
    """(graph, its output) of ``fn(static)``, captured after two warm-up runs on a side
    stream (compiles, per-shape constants, cuFFT plans)."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(2):
            fn(static)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = fn(static)
    return graph, out


def test_cuda_graph_capture_matches_eager():
    pyr = pk.SteerablePyramid(height=3)
    static = torch.rand(8, 3, 64, 64, device="cuda")

    def roundtrip(x):
        c = pyr(x)
        return pyr.collapse(c.replace(bands=[b * torch.exp(0.3j * b.abs()) for b in c.bands]))

    graph, out = _captured(roundtrip, static)
    fresh = torch.rand_like(static)
    static.copy_(fresh)
    graph.replay()
    assert rel_max_error(out, roundtrip(fresh)) <= 1e-6


def test_a_graph_replays_right_after_its_constants_leave_the_cache():
    """Hundreds of other sizes evict the captured size's parameter buffer from its cache;
    the graph still reads it (pinned), not memory reused meanwhile."""
    pyr = pk.SteerablePyramid(height=2)
    static = torch.rand(4, 40, 36, device="cuda")
    graph, out = _captured(lambda x: pyr.collapse(pyr(x)), static)
    for size in range(17, 340):  # new (size, factors) keys: the captured one is evicted
        pyr(torch.rand(1, size, 16, device="cuda"))
    junk = [torch.full((64,), float("nan"), device="cuda") for _ in range(4096)]
    fresh = torch.rand_like(static)
    static.copy_(fresh)
    graph.replay()
    del junk
    assert rel_max_error(out, fresh) <= 1e-5


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs")
def test_tensors_on_a_gpu_that_is_not_current():
    x = torch.rand(2, 3, 40, 36)
    pyr = pk.SteerablePyramid(height=2)
    expected = pk.SteerablePyramid(height=2, backend="torch")(x)
    with torch.cuda.device(0):
        c = pyr(x.to("cuda:1"))
        image = pyr.collapse(c)
        frames = phase_extrapolate(
            c.bands[0], c.bands[0].real, c.bands[0].real, torch.ones(2, device="cuda:1"), "triton"
        )
    assert rel_max_error(c.bands[1].cpu(), expected.bands[1]) <= 1e-5
    assert rel_max_error(image.cpu(), x) <= 1e-5
    assert frames.device == torch.device("cuda:1")


@pytest.mark.parametrize("mode", [None, "reduce-overhead"])
def test_compile_fullgraph_on_cuda(mode):
    pyr = pk.SteerablePyramid(height=3)

    def roundtrip(x):
        c = pyr(x)
        return pyr.collapse(c.replace(bands=[2.0 * b for b in c.bands]))

    torch.compiler.reset()
    compiled = torch.compile(roundtrip, fullgraph=True, mode=mode)
    for _ in range(3):  # reduce-overhead records a CUDA graph on the later calls
        x = torch.rand(4, 3, 64, 64, device="cuda")
        assert rel_max_error(compiled(x).clone(), roundtrip(x)) <= 1e-5
    x = torch.rand(4, 3, 64, 64, device="cuda", requires_grad=True)
    if mode is None:
        (g_compiled,) = torch.autograd.grad(compiled(x).square().sum(), x)
        (g_eager,) = torch.autograd.grad(roundtrip(x).square().sum(), x)
        assert rel_max_error(g_compiled, g_eager) <= 1e-5


def test_generate_on_cuda_matches_cpu(tmp_path):
    """pk.generate on the GPU (Triton backend) writes what it writes on the CPU, to rounding."""
    from pyramid_kernels.generating import load_frames, read_manifest

    x = pk.data.digits("test")[0][:8]
    model = pk.models.load("digits-driver")
    outs = {}
    for device in ["cpu", "cuda"]:
        outs[device] = tmp_path / device
        pk.generate(
            model,
            x,
            outs[device],
            device=device,
            batch_size=4,
            frames_dtype="float32",
            pictures=[],
            steps=3,
        )
    from pyramid_kernels.morphing import graphs

    assert len(graphs.FROZEN_GRAPHS) == 0  # generate frees the graphs of its batches
    cpu, gpu = read_manifest(outs["cpu"]), read_manifest(outs["cuda"])
    assert [(r["image"], r["target"], r["status"]) for r in cpu] == [
        (r["image"], r["target"], r["status"]) for r in gpu
    ]
    for row in cpu:
        a, b = load_frames(outs["cpu"], row["image"]), load_frames(outs["cuda"], row["image"])
        assert (a - b).abs().max() < 1e-4


@pytest.mark.parametrize(
    "space, edit, color", [("csp", "phase", "rgb"), ("csp", "joint", "luminance")]
)
def test_morph_cuda_graph_replays_equal_eager_morphs(space, edit, color):
    """pk.morph runs a frozen morph eagerly, then captures it, then replays it: every call,
    on other images each time, gives the eager morph's result."""
    from pyramid_kernels.morphing import graphs

    pk.morphing.clear_cuda_graphs()
    torch.manual_seed(0)
    model = (
        torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.Flatten(),
            torch.nn.Linear(8 * 32 * 32, 10),
        )
        .cuda()
        .eval()
    )
    kwargs = dict(space=space, edit=edit, color=color, steps=5)
    for _ in range(4):
        x = torch.rand(6, 3, 32, 32, device="cuda")
        got = pk.morph(model, x, 2, **kwargs)
        want = pk.morph(model, x, 2, cuda_graph=False, **kwargs)
        for name in ["frames", "target_prob", "distance", "step"]:
            assert rel_max_error(getattr(got, name), getattr(want, name)) <= 1e-5, name
        assert torch.equal(got.attained, want.attained)
    assert len(graphs.FROZEN_GRAPHS) == 1
    with torch.no_grad():  # parameters changed in place: the replay reads them
        model[3].weight.mul_(-1.0)
    got, want = pk.morph(model, x, 2, **kwargs), pk.morph(model, x, 2, cuda_graph=False, **kwargs)
    assert rel_max_error(got.frames, want.frames) <= 1e-5
    pk.morphing.clear_cuda_graphs()
    assert len(graphs.FROZEN_GRAPHS) == 0


def test_morph_cuda_graph_falls_back_for_a_model_that_synchronises():
    class Reads(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(32 * 32, 10)

        def forward(self, x):
            scale = 1.0 + 0.0 * float(x.mean())  # a host read: cannot be captured
            return self.linear(x.flatten(1)) * scale

    pk.morphing.clear_cuda_graphs()
    model = Reads().cuda().eval()
    x = torch.rand(4, 1, 32, 32, device="cuda")
    want = pk.morph(model, x, 2, cuda_graph=False)
    pk.morph(model, x, 2)
    with pytest.warns(RuntimeWarning, match="could not be captured"):
        got = pk.morph(model, x, 2)
    assert rel_max_error(got.frames, want.frames) <= 1e-5
    with warnings.catch_warnings():  # remembered: no second attempt, no warning
        warnings.simplefilter("error", RuntimeWarning)
        again = pk.morph(model, x, 2)
    assert rel_max_error(again.frames, want.frames) <= 1e-5
    pk.morphing.clear_cuda_graphs()
