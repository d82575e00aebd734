"""CUDA diagnostics of the pyramid path (run by ``bench/device_check.sh``; needs a GPU).

Prints, in order: the cold-start time of a first call on a new shape (in a fresh process with
an empty Triton cache) and of a second size after it; host time per warm call (the time to
enqueue one build or collapse, the GPU idle); whether warm calls synchronise
(torch.cuda.set_sync_debug_mode); torch.profiler tables of one build and one collapse with
their kernel-launch and synchronisation counts; and build + collapse eager, captured in a CUDA
graph, and under torch.compile(mode="reduce-overhead").

Usage: ``python bench/cuda_profile.py [OUT.txt]`` (default
bench/results/cuda-profile-<device>.txt).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from test_bench_pyramid import cuda_graphed  # noqa: E402

import pyramid_kernels as pk  # noqa: E402

COLD = """
import time, torch
import pyramid_kernels as pk
torch.fft.ifft2(torch.fft.fft2(torch.rand(8, 8, device="cuda")))  # CUDA and cuFFT loaded
torch.cuda.synchronize()
for shape, height in {cases}:
    pyr = pk.SteerablePyramid(height=height)
    x = torch.rand(*shape, device="cuda")
    start = time.perf_counter()
    pyr.collapse(pyr(x))
    torch.cuda.synchronize()
    first = time.perf_counter() - start
    start = time.perf_counter()
    pyr.collapse(pyr(x))
    torch.cuda.synchronize()
    print(f"  {{shape}} height={{height}}: first build+collapse {{first:.2f}} s, "
          f"then {{1e3 * (time.perf_counter() - start):.2f}} ms")
"""
COLD_CASES = [  # a new shape, then other sizes of the same spec, then a new height
    ((2, 3, 200, 300), 4),
    ((4, 1, 512, 512), 4),
    ((3, 2, 97, 131), 4),
    ((2, 3, 200, 300), "auto"),
]


def cold_start() -> str:
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "TRITON_CACHE_DIR": cache, "PYTHONPATH": str(ROOT)}
        code = COLD.format(cases=COLD_CASES)
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
        )
    return done.stdout + done.stderr


def host_time_us(fn, repeats: int = 100) -> float:
    """Median wall time to enqueue one call with the GPU idle (the host-side cost)."""
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    torch.cuda.synchronize()
    return 1e6 * statistics.median(times)


def host_breakdown() -> str:
    """Host time of the layers of one warm build (8x3x256x256 h4 K4), innermost first."""
    import triton

    from pyramid_kernels.ops.transform import op as ops
    from pyramid_kernels.ops.transform import pipeline
    from pyramid_kernels.ops.transform import triton as spectral

    @triton.jit
    def noop(x_ptr):
        pass

    pyr, x, coeffs = case(8, 3, 256, 256, 4, 4)
    spec, size = coeffs.spec, (256, 256)
    flat = x.reshape(-1, *size)
    kernels = spectral  # the Triton transform kernels
    scales = pipeline.amplitude_scales(spec, size)
    factors = pipeline.spectral_factors(spec, size, scales)
    half = torch.fft.rfft2(flat)
    hp, bands, lp = kernels.analysis(half, size, spec, factors)
    launch = spectral._launch
    kernel = spectral._analysis_kernel

    def ffts():
        torch.fft.rfft2(flat)
        torch.fft.irfft2(hp, s=size, norm="forward")
        for b in bands:
            torch.fft.ifft2(b, norm="forward")
        torch.fft.irfft2(lp, s=(16, 16), norm="forward")

    rows = {
        "an empty Triton kernel (1 pointer)": lambda: noop[(1,)](flat),
        "the analysis kernel's launch (real views, cached constants)": lambda: launch(
            kernel, half, hp, bands, lp, size, spec, factors, size[1]
        ),
        "kernels.analysis (allocations, views, launch)": lambda: kernels.analysis(
            half, size, spec, factors
        ),
        "the 7 FFT calls alone": ffts,
        "pipeline.analyze (FFTs + analysis)": lambda: pipeline.analyze(flat, spec, kernels, scales),
        "ops.build_op (the custom op)": lambda: ops.build_op(x, spec.op_args(), "triton"),
        "SteerablePyramid.build": lambda: pyr(x),
    }
    return "\n".join(f"  {name}: {host_time_us(fn):.0f} us" for name, fn in rows.items())


def case(b, c, h, w, height, k):
    pyr = pk.SteerablePyramid(height=height, orientations=k)
    x = torch.rand(b, c, h, w, device="cuda")
    coeffs = pyr(x)
    return pyr, x, coeffs


def profile_tables(name: str, fn) -> str:
    from torch.profiler import ProfilerActivity, profile

    fn()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    events = prof.events()
    launches = sum(
        e.name in ("cudaLaunchKernel", "cuLaunchKernel", "cudaLaunchKernelExC") for e in events
    )
    syncs = {}
    for e in events:
        if "Synchronize" in e.name or "Memcpy" in e.name or e.name == "aten::_local_scalar_dense":
            syncs[e.name] = syncs.get(e.name, 0) + 1
    table = prof.key_averages().table(sort_by="cuda_time_total", row_limit=14)
    return f"### {name}: kernel launches {launches}; sync/copy calls {syncs}\n{table}\n"


def sync_check() -> str:
    pyr, x, coeffs = case(8, 3, 256, 256, 4, 4)
    xg = x.clone().requires_grad_(True)
    grads = [torch.ones_like(t) for t in coeffs.tensors]
    calls = {
        "build": lambda: pyr(x),
        "collapse": lambda: pyr.collapse(coeffs),
        "build+backward": lambda: torch.autograd.grad(pyr(xg).tensors, xg, grads),
    }
    lines = []
    for name, fn in calls.items():
        fn()
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            fn()
            lines.append(f"  {name}: no synchronisation (sync debug mode 'error')")
        except RuntimeError as error:
            lines.append(f"  {name}: SYNCHRONISED: {error}")
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return "\n".join(lines)


def graph_paths() -> str:
    from triton.testing import do_bench

    lines = []
    for cfg in [(8, 3, 256, 256, 4, 4), (256, 1, 32, 32, 3, 4)]:
        pyr, x, _ = case(*cfg)

        def roundtrip(x=x, pyr=pyr):
            return pyr.collapse(pyr(x))

        eager = do_bench(roundtrip, return_mode="median")
        graph = do_bench(cuda_graphed(roundtrip), return_mode="median")
        torch._dynamo.reset()
        compiled = torch.compile(lambda x, pyr=pyr: pyr.collapse(pyr(x)), mode="reduce-overhead")
        start = time.perf_counter()
        for _ in range(3):
            compiled(x)
        torch.cuda.synchronize()
        compile_s = time.perf_counter() - start
        reduce = do_bench(lambda c=compiled, x=x: c(x), return_mode="median")
        lines.append(
            f"  {cfg}: eager {eager:.3f} ms, CUDA graph {graph:.3f} ms, "
            f"torch.compile(mode='reduce-overhead') {reduce:.3f} ms (compile {compile_s:.1f} s)"
        )
    return "\n".join(lines)


def main() -> None:
    out = (
        Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "bench" / "results" / "cuda-profile.txt"
    )
    sections = [
        f"# CUDA profile: {torch.cuda.get_device_name()}, torch {torch.__version__}, "
        f"triton {__import__('triton').__version__}",
        "## Cold start (fresh process, empty Triton cache)",
        cold_start(),
    ]
    print("\n".join(sections), flush=True)
    host = ["## Host time per warm call (enqueue, GPU idle), median of 100"]
    for cfg in [(8, 3, 256, 256, 4, 4), (256, 1, 32, 32, 3, 4), (64, 3, 224, 224, 4, 4)]:
        pyr, x, coeffs = case(*cfg)
        build = host_time_us(lambda pyr=pyr, x=x: pyr(x))
        collapse = host_time_us(lambda pyr=pyr, c=coeffs: pyr.collapse(c))
        host.append(f"  {cfg}: build {build:.0f} us, collapse {collapse:.0f} us")
    sections += host
    print("\n".join(host), flush=True)
    for title, text in [
        ("## Host time of the layers of a warm build, 8x3x256x256 h4 K4", host_breakdown()),
        ("## Synchronisation of warm calls", sync_check()),
        (
            "## Eager, CUDA graph and torch.compile(mode='reduce-overhead'): build + collapse",
            graph_paths(),
        ),
    ]:
        sections += [title, text]
        print(title + "\n" + text, flush=True)
    pyr, x, coeffs = case(64, 3, 224, 224, 4, 4)
    tables = profile_tables("build 64x3x224x224 h4 K4", lambda: pyr(x))
    tables += profile_tables("collapse 64x3x224x224 h4 K4", lambda: pyr.collapse(coeffs))
    sections += ["## torch.profiler", tables]
    out.write_text("\n".join(sections) + "\n")
    print(tables)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
