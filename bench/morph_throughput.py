"""Morph throughput: pk.morph against the same morph written the plain way with plenoptic's
SteerablePyramidFreq and torch autograd, same images and frames, in one run.

Morph: frozen regime, CSP phase edit, one gradient at the source, 12 frames (steps = 11),
fixed amplification, clamp to [0, 1], the model's target probability for every frame.
The comparison loop is the fairest a user would write: the plenoptic pyramid object is made
once outside the timing, the coefficients are built once per morph, one autograd gradient,
then a Python loop over frames that edits, collapses and classifies. A second column times the
same loop rebuilding the pyramid every frame (as in the paper's code). Cases: CPU: a linear
classifier and the embedded digits CNN on 256 digits, a ResNet-18-shaped model (random
weights) on 16x3x224x224; CUDA adds 4096 digits (linear and CNN) and the ResNet on 32 images.
Reports frames/s, the speed-ups, the share of each run spent in the model (its forwards and
backward for the same images, timed alone) and, on CUDA, the peak device memory of the
4096-digit morphs against the morph's group budget. Writes
bench/results/morph-throughput-<device>.md.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import torch
from torch import nn

import pyramid_kernels as pk
from pyramid_kernels.core.sizing import group_budget

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from resnet18 import resnet18_shaped  # noqa: E402
from run import STEADY_MALLOC  # noqa: E402
from timing import best_times  # noqa: E402

STEPS, AMPLIFICATION, REPEATS = 11, 50.0, 5
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def _sync():
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def cases():
    torch.manual_seed(0)
    digits, _ = pk.data.digits("test")
    many = digits.repeat(8, 1, 1, 1)[:4096]  # 4096 digits (the test split has 600)
    linear = nn.Sequential(nn.Flatten(), nn.Linear(32 * 32, 10)).eval()
    driver = pk.models.load("digits-driver")
    yield "linear, 256x1x32x32", linear, digits[:256]
    if DEVICE == "cuda":
        yield "linear, 4096x1x32x32", linear, many
        yield "digits driver, 4096x1x32x32", driver, many
    else:
        yield "digits driver, 256x1x32x32", driver, digits[:256]
    batch = 32 if DEVICE == "cuda" else 16
    yield (
        f"ResNet-18-shaped, {batch}x3x224x224",
        resnet18_shaped().eval(),
        torch.rand(batch, 3, 224, 224),
    )


class PlenopticMorph:
    """The plain morph with plenoptic: pyramid object made once (outside the timing)."""

    def __init__(self, x, rebuild: bool):
        import plenoptic as po

        self.pyr = po.process.SteerablePyramidFreq(tuple(x.shape[-2:]), order=3, is_complex=True)
        self.pyr = self.pyr.to(x.device)
        self.rebuild = rebuild

    def __call__(self, model, x, target):
        pyr = self.pyr
        coeffs = pyr(x)
        bands = [k for k in coeffs if isinstance(k, int)]
        phases = {k: torch.zeros_like(coeffs[k].real, requires_grad=True) for k in bands}
        edited = dict(coeffs)
        for k in bands:
            edited[k] = coeffs[k] * torch.exp(1j * phases[k])
        image = pyr.recon_pyr(edited).clamp(0, 1)
        loss = -torch.log_softmax(model(image), 1).gather(1, target[:, None]).sum()
        grads = torch.autograd.grad(loss, [phases[k] for k in bands])
        probs = []
        with torch.no_grad():
            for frame in range(STEPS + 1):
                c = pyr(x) if self.rebuild else dict(coeffs)
                for k, g in zip(bands, grads, strict=True):
                    c[k] = coeffs[k] * torch.exp(-1j * frame * AMPLIFICATION * g)
                image = pyr.recon_pyr(c).clamp(0, 1)
                probs.append(torch.softmax(model(image), 1).gather(1, target[:, None]))
        return torch.cat(probs, 1)


def pk_morph(model, x, target, cuda_graph=None):
    return pk.morph(
        model,
        x,
        target,
        space="csp",
        edit="phase",
        regime="frozen",
        steps=STEPS,
        amplification=AMPLIFICATION,
        cuda_graph=cuda_graph,
    ).target_prob


def pk_eager(model, x, target):
    return pk_morph(model, x, target, cuda_graph=False)


def graph_calls(model, x, target) -> tuple[float, float, str]:
    """(first call s, capturing call s, memory the captured graph holds) of pk.morph on CUDA,
    from a clean cache: the first call runs eagerly, the second captures, later ones replay."""
    pk.morphing.clear_cuda_graphs()
    times = []
    for _ in range(2):
        _sync()
        held = torch.cuda.memory_allocated()
        start = time.perf_counter()
        pk_morph(model, x, target)
        _sync()
        times.append(time.perf_counter() - start)
    held = torch.cuda.memory_allocated() - held
    return times[0], times[1], f"{held / 2**20:.0f} MiB"


def model_only(model, x, target, frames: int = STEPS + 1):
    """The loops' model work: one forward+backward, then one forward per frame (pk.morph's:
    ``frames=STEPS``, frame 0's logits come from the gradient's forward)."""
    image = x.clone().requires_grad_(True)
    loss = -torch.log_softmax(model(image), 1).gather(1, target[:, None]).sum()
    torch.autograd.grad(loss, image)
    with torch.no_grad():
        for _ in range(frames):
            model(x)


def model_only_pk(model, x, target):
    model_only(model, x, target, frames=STEPS)


def best_time(fn, *args) -> float:
    return best_times({"fn": fn}, REPEATS, *args)["fn"]


def peak_memory(fn, *args) -> str:
    """Peak device memory above the arguments during fn (an eager morph: what the group
    budget bounds), and the budget."""
    if DEVICE != "cuda":
        return ""
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    budget = group_budget(torch.device("cuda"), None)
    torch.cuda.reset_peak_memory_stats()
    fn(*args)
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() - base
    return f"{peak / 2**20:.0f} MiB (budget {budget / 2**20:.0f} MiB)"


def main() -> Path:
    torch.set_num_threads(2)
    device = torch.cuda.get_device_name() if DEVICE == "cuda" else "CPU, 2 threads"
    lines = [
        f"# Morph throughput ({DEVICE}: {device}, float32, torch {torch.__version__})",
        "",
        "Frozen CSP-phase morph, 12 frames, best of 5 runs (the providers' runs interleaved). "
        "frames/s = images x frames / s. "
        "Fair loop: plenoptic pyramid built once per morph, one autograd gradient, then per "
        "frame edit, collapse, classify; rebuild loop: the same, rebuilding the pyramid every "
        "frame. Model share = time of the model's own forwards/backward for the same images "
        "(pk.morph: one forward fewer, frame 0's logits come from the gradient's forward) / "
        "run time. Generated by `python bench/morph_throughput.py`"
        + (
            " (CPU: glibc malloc with "
            + ", ".join(f"{k}={v}" for k, v in STEADY_MALLOC.items())
            + ", as bench/run.py's main table)."
            if DEVICE == "cpu"
            else "."
        ),
        "",
    ]
    if DEVICE == "cuda":
        lines[-2] += (
            " pk.morph replays a CUDA graph from its second call with a shape (first call: "
            "eager; second: eager warm-up + capture); pk eager = cuda_graph=False. Peak memory "
            "is the eager morph's; graph memory = what the captured graph keeps allocated."
        )
        lines += [
            "",
            "| case | pk.morph frames/s | pk eager frames/s | fair loop frames/s | speed-up | "
            "eager speed-up | rebuild loop frames/s | speed-up vs rebuild | model share pk | "
            "model share loop | first call ms | capturing call ms | pk peak memory | "
            "graph memory |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
    else:
        lines += [
            "",
            "| case | pk.morph frames/s | fair loop frames/s | speed-up | rebuild loop frames/s "
            "| speed-up vs rebuild | model share pk | model share loop |",
            "|---|---|---|---|---|---|---|---|",
        ]
    for name, model, x in cases():
        x = x.to(DEVICE)
        model = model.to(DEVICE)
        with torch.no_grad():
            target = model(x).topk(2, dim=1).indices[:, 1]
        frames = x.shape[0] * (STEPS + 1)
        if DEVICE == "cuda":
            first, capturing, held = graph_calls(model, x, target)
        t = best_times(
            {
                "pk": pk_morph,
                "fair": PlenopticMorph(x, rebuild=False),
                "rebuild": PlenopticMorph(x, rebuild=True),
                "model": model_only,
                "model pk": model_only_pk,
            },
            REPEATS,
            model,
            x,
            target,
        )
        t_pk, t_fair, t_rebuild, t_model = t["pk"], t["fair"], t["rebuild"], t["model"]
        t_model_pk = t["model pk"]
        row = [name, f"{frames / t_pk:.0f}"]
        if DEVICE == "cuda":
            pk.morphing.clear_cuda_graphs()
            t_eager = best_time(pk_eager, model, x, target)
            row.append(f"{frames / t_eager:.0f}")
        row += [f"{frames / t_fair:.0f}", f"{t_fair / t_pk:.2f}x"]
        if DEVICE == "cuda":
            row.append(f"{t_fair / t_eager:.2f}x")
        row += [
            f"{frames / t_rebuild:.0f}",
            f"{t_rebuild / t_pk:.2f}x",
            f"{min(1, t_model_pk / t_pk):.0%}",
            f"{min(1, t_model / t_fair):.0%}",
        ]
        if DEVICE == "cuda":
            memory = peak_memory(pk_eager, model, x, target) if x.shape[0] >= 4096 else ""
            row += [f"{1e3 * first:.1f}", f"{1e3 * capturing:.1f}", memory, held]
        lines.append("| " + " | ".join(row) + " |")
        print(lines[-1], flush=True)
    path = ROOT / "bench" / "results" / f"morph-throughput-{DEVICE}.md"
    path.write_text("\n".join(lines) + "\n")
    return path


if __name__ == "__main__":
    if DEVICE == "cpu" and any(os.environ.get(k) != v for k, v in STEADY_MALLOC.items()):
        # as bench/run.py's main table: every provider reuses its large buffers instead of
        # page-faulting fresh ones, which otherwise swings the ratios by +-20% between runs
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **STEADY_MALLOC})
    print(main())
