"""Morph efficiency: pk.morph's time over the time of the same model work alone.

A morph must run the classifier: one forward and backward of the batch for the gradient, and a
forward of the batch per frame after the input to score it (the input's logits come from the
gradient's forward). That model work, timed alone with the same batch sizes and threads, is the
floor; the ratio pk.morph / model work is what the library adds (analysis, its backward, the
phase extrapolation, the collapses, colour conversion, the budget search, copies). Both are
timed in one run, best of REPEATS interleaved repeats. Frozen CSP-phase morphs with 12 frames
(steps = 11), clamp to [0, 1], step by ``phase_step=0.2`` or by ``budget`` (final pixel L2
distance; the search's distance evaluations are counted).

Peak memory: in a fresh process per case and step control (glibc's default malloc, so freed
large buffers return to the system), the resident high-water mark of one call above the
resident size before it (after a warm-up call, the mark reset through /proc/self/clear_refs),
for pk.morph and for the model work alone. Linux only.

Cases: EfficientNet-Lite0 (the embedded ImageNet driver) on 8 photos at 224x224, RGB and
luminance edits; a ResNet-18-shaped model (random weights) on 16x3x224x224; the embedded digits
CNN on 256 digits (reported: its model is small next to a pyramid of the same images).
Writes bench/results/morph-efficiency-<device>.md. ``--quick``: one repeat, no memory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

import pyramid_kernels as pk
from pyramid_kernels.morphing import trajectory

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from resnet18 import resnet18_shaped  # noqa: E402
from run import STEADY_MALLOC  # noqa: E402
from timing import best_times  # noqa: E402

STEPS, PHASE_STEP, REPEATS = 11, 0.2, 3
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
# case name -> (model, images, colour, budget (final L2 distance))
CASES = {
    "EfficientNet-Lite0, 8x3x224x224, RGB": ("imagenet-lite0", 8, "rgb", 10.0),
    "EfficientNet-Lite0, 8x3x224x224, luminance": ("imagenet-lite0", 8, "luminance", 10.0),
    "ResNet-18-shaped, 16x3x224x224, RGB": ("resnet18", 16, "rgb", 10.0),
    "digits CNN, 256x1x32x32": ("digits-driver", 256, "rgb", 2.0),
}
TARGETS = {"phase_step": 1.15, "budget": 1.25}  # the 224x224 cases


def load(case: str):
    """(model, images (B, C, H, W) on DEVICE, targets (B,)): the runner-up class of each."""
    name, count, _, _ = CASES[case]
    torch.manual_seed(0)
    if name == "resnet18":
        model, x = resnet18_shaped().eval(), torch.rand(count, 3, 224, 224)
    elif name == "digits-driver":
        model, x = pk.models.load(name), pk.data.digits("test")[0][:count]
    else:
        model, x = pk.models.load(name), pk.data.photos(224)[0][:count]
    model, x = model.to(DEVICE), x.to(DEVICE)
    with torch.no_grad():
        target = model(x).topk(2, dim=1).indices[:, 1]
    return model, x, target


def morph(case: str, control: str):
    """A function (model, x, target) -> MorphResult for a case and step control."""
    _, _, color, budget = CASES[case]
    step = {"phase_step": PHASE_STEP} if control == "phase_step" else {"budget": budget}

    def run(model, x, target):
        return pk.morph(
            model, x, target, space="csp", edit="phase", steps=STEPS, color=color, **step
        )

    return run


def model_work(model, x, target):
    """pk.morph's model work alone: one forward + backward of the batch, a forward per frame
    after the input."""
    image = x.clone().requires_grad_(True)
    loss = -torch.log_softmax(model(image), 1).gather(1, target[:, None]).sum()
    torch.autograd.grad(loss, image)
    with torch.no_grad():
        for _ in range(STEPS):
            model(x)


def distance_evaluations(case: str, *args) -> int:
    """How many times the budget search evaluates the last frame's distance."""
    count = 0
    original = trajectory.MorphGroup.last_distance

    def counted(self, *args):
        nonlocal count
        count += 1
        return original(self, *args)

    trajectory.MorphGroup.last_distance = counted
    try:
        morph(case, "budget")(*args)
    finally:
        trajectory.MorphGroup.last_distance = original
    return count


CHILD = r"""
import json, sys, torch
sys.path.insert(0, {bench!r})
torch.set_num_threads(2)
import morph_efficiency as me

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024

args = me.load({case!r})
fn = me.model_work if {control!r} == "model" else me.morph({case!r}, {control!r})
fn(*args)
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
before = status("VmRSS:")
fn(*args)
print(json.dumps(status("VmHWM:") - before))
"""


def peak_memory(case: str, control: str) -> int:
    """Bytes: resident high-water mark of one call above the resident size before it."""
    if DEVICE == "cuda":
        fn, args = (model_work if control == "model" else morph(case, control)), load(case)
        fn(*args)
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        fn(*args)
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - base
    code = CHILD.format(bench=str(ROOT / "bench"), case=case, control=control)
    env = {k: v for k, v in os.environ.items() if k not in STEADY_MALLOC}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(quick: bool = False) -> Path:
    torch.set_num_threads(2)
    repeats = 1 if quick else REPEATS
    device = torch.cuda.get_device_name() if DEVICE == "cuda" else "CPU, 2 threads"
    lines = [
        f"# Morph efficiency ({DEVICE}: {device}, float32, torch {torch.__version__})",
        "",
        "pk.morph time / time of the same model work alone (one forward + backward of the "
        f"batch, {STEPS} forwards of the batch), both best of {repeats} interleaved runs in "
        f"one process. Frozen CSP-phase morphs, {STEPS + 1} frames, clamp [0, 1]; "
        f"phase_step={PHASE_STEP}, or budget (final L2 distance) with its search's distance "
        "evaluations counted. Targets on the 224x224 cases: phase_step "
        f"<= {TARGETS['phase_step']}x, budget <= {TARGETS['budget']}x. Peak memory: resident "
        "high-water mark of one call above the resident size before it, each in a fresh "
        "process with glibc's default malloc"
        + (" (CUDA: max_memory_allocated above the memory before it)" if DEVICE == "cuda" else "")
        + ". Generated by `python bench/morph_efficiency.py`"
        + (
            " (timings with glibc malloc "
            + ", ".join(f"{k}={v}" for k, v in STEADY_MALLOC.items())
            + ", as bench/run.py)."
            if DEVICE == "cpu"
            else "."
        ),
        "",
        "| case | model work ms | phase_step ms | phase_step ratio | budget | budget ms | "
        "budget ratio | distance evaluations | peak MiB model / phase_step / budget |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for case, (_, _, _, budget) in CASES.items():
        args = load(case)
        t = best_times(
            {
                "model": model_work,
                "phase_step": morph(case, "phase_step"),
                "budget": morph(case, "budget"),
            },
            repeats,
            *args,
        )
        evaluations = distance_evaluations(case, *args)
        memory = "-"
        if not quick:
            peaks = [peak_memory(case, c) / 2**20 for c in ("model", "phase_step", "budget")]
            memory = " / ".join(f"{p:.0f}" for p in peaks)
        row = [
            case,
            f"{1e3 * t['model']:.0f}",
            f"{1e3 * t['phase_step']:.0f}",
            f"{t['phase_step'] / t['model']:.2f}x",
            f"{budget:g}",
            f"{1e3 * t['budget']:.0f}",
            f"{t['budget'] / t['model']:.2f}x",
            str(evaluations),
            memory,
        ]
        lines.append("| " + " | ".join(row) + " |")
        print(lines[-1], flush=True)
    path = ROOT / "bench" / "results" / f"morph-efficiency-{DEVICE}.md"
    if not quick:
        path.write_text("\n".join(lines) + "\n")
    return path


if __name__ == "__main__":
    if DEVICE == "cpu" and any(os.environ.get(k) != v for k, v in STEADY_MALLOC.items()):
        # as bench/run.py: buffers are reused instead of page-faulted fresh (steadier ratios)
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **STEADY_MALLOC})
    print(main(quick="--quick" in sys.argv))
