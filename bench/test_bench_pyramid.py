"""Pyramid build / collapse / build+backward timings: pyramid_kernels backends vs plenoptic vs
the FFT floor, for the standard configs below (float32, complex, tight frame).

Run with ``python bench/run.py`` (or ``pytest bench/ --benchmark-only``); CUDA timings
synchronize inside the timed function.
"""

from __future__ import annotations

import pytest
import torch

import pyramid_kernels as pk

CONFIGS = [  # (B, C, H, W, height, K)
    (8, 3, 256, 256, 4, 4),
    (64, 3, 224, 224, 4, 4),
    (16, 3, 512, 512, 5, 6),
    (1, 1, 2048, 2048, "auto", 8),
    (256, 1, 32, 32, 3, 4),
]
OPS = ("build", "collapse", "build+backward")
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def config_id(cfg) -> str:
    b, c, h, w, height, k = cfg
    return f"{b}x{c}x{h}x{w}-h{height}-K{k}"


def providers() -> list[str]:
    ours = [f"pk-{name}" for name, why in pk.available_backends(DEVICE).items() if why is None]
    if DEVICE == "cuda":  # the small-batch path: each call captured in one CUDA graph
        ours.append("pk-triton-graph")
    return ours + ["plenoptic", "fft_floor"]


def cuda_graphed(fn):
    """Replay of ``fn`` captured in a CUDA graph (after a warm-up on a side stream)."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    return graph.replay


def _sync():
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def _pk_case(backend: str, x: torch.Tensor, cfg):
    height, k = cfg[4], cfg[5]
    pyr = pk.SteerablePyramid(height=height, orientations=k, backend=backend)
    coeffs = pyr.build(x)
    grads = [torch.ones_like(t) for t in coeffs.tensors]
    xg = x.clone().requires_grad_(True)

    def build_backward():
        torch.autograd.grad(pyr.build(xg).tensors, xg, grads)

    return {
        "build": lambda: pyr.build(x),
        "collapse": lambda: pyr.collapse(coeffs),
        "build+backward": build_backward,
    }


def _plenoptic_case(x: torch.Tensor, cfg):
    po = pytest.importorskip("plenoptic")
    height, k = cfg[4], cfg[5]
    pyr = po.process.SteerablePyramidFreq(
        tuple(x.shape[-2:]), height=height, order=k - 1, is_complex=True, tight_frame=True
    ).to(x.device)
    coeffs = pyr(x)
    grads = {key: torch.ones_like(t) for key, t in coeffs.items()}
    xg = x.clone().requires_grad_(True)

    def build_backward():
        out = pyr(xg)
        torch.autograd.grad([out[key] for key in grads], xg, [grads[key] for key in grads])

    return {
        "build": lambda: pyr(x),
        "collapse": lambda: pyr.recon_pyr(coeffs),
        "build+backward": build_backward,
    }


def _fft_floor_case(x: torch.Tensor, cfg, scales_per_octave: int = 1):
    """Only the FFTs the transform needs: real transforms for real data, complex for bands."""
    coeffs = pk.build(x, height=cfg[4], orientations=cfg[5], scales_per_octave=scales_per_octave)
    fft, r2c, c2r = torch.fft.fft2, torch.fft.rfft2, torch.fft.irfft2
    spectra = [r2c(coeffs.highpass), *[fft(b) for b in coeffs.bands], r2c(coeffs.lowpass)]
    size = tuple(x.shape[-2:])

    def build():
        r2c(x)
        c2r(spectra[0], s=size)
        for b in spectra[1:-1]:
            torch.fft.ifft2(b)
        c2r(spectra[-1], s=tuple(coeffs.lowpass.shape[-2:]))

    def collapse():
        r2c(coeffs.lowpass)
        for b in coeffs.bands:
            fft(b)
        r2c(coeffs.highpass)
        c2r(spectra[0], s=size)

    def build_backward():
        build()
        collapse()

    return {"build": build, "collapse": collapse, "build+backward": build_backward}


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("provider", providers())
@pytest.mark.parametrize("cfg", CONFIGS, ids=config_id)
def test_pyramid(benchmark, cfg, provider, op):
    torch.manual_seed(0)
    b, c, h, w = cfg[:4]
    x = torch.rand(b, c, h, w, device=DEVICE)
    if provider == "plenoptic":
        fns = _plenoptic_case(x, cfg)
    elif provider == "fft_floor":
        fns = _fft_floor_case(x, cfg)
    else:
        fns = _pk_case(provider.removeprefix("pk-").removesuffix("-graph"), x, cfg)
    fn = fns[op]
    if provider.endswith("-graph"):
        fn = cuda_graphed(fn)

    def timed():
        fn()
        _sync()

    benchmark.group = f"{config_id(cfg)} {op}"
    benchmark.extra_info.update(
        config=config_id(cfg),
        provider=provider,
        op=op,
        device=DEVICE,
        threads=torch.get_num_threads(),
        bytes=logical_bytes(x, cfg, op),
    )
    if DEVICE == "cuda":  # device-event timing, L2 flushed between calls
        from triton.testing import do_bench

        benchmark.extra_info["median_ms"] = do_bench(fn, return_mode="median")
    pixels = b * c * h * w
    rounds = max(5, min(20, int(4e7 // pixels)))  # the VM page-faults in bursts: >= 5 rounds
    benchmark.pedantic(timed, rounds=rounds, warmup_rounds=1)


def logical_bytes(x: torch.Tensor, cfg, op: str) -> int:
    """Bytes an op must read and write at least: the image and all coefficients, once each."""
    coeffs = pk.build(x[:1, :1], height=cfg[4], orientations=cfg[5])
    per_image = sum(t.numel() * t.element_size() for t in coeffs.tensors)
    total = x.shape[0] * x.shape[1] * per_image + x.numel() * x.element_size()
    return 2 * total if op == "build+backward" else total
