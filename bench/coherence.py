"""Speed of E (pk.metrics.warp_explained) and the picture that explains it.

    python bench/coherence.py

Times E, warp only and warp + gain, on the last frames of frozen budget morphs (csp phase
and pixel): 256 held-out digits (32x32, digits-driver, L2 2.29) and the 8 bundled photos
(224x224, EfficientNet-Lite0, luminance, L2 20), one run each after nothing else (2 threads).
Targets: under 30 s for the digits and under 60 s for the photos. Writes
bench/results/coherence-cpu.md and docs/coherence.png (source, edit, best warp, residual).
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

import pyramid_kernels as pk
from pyramid_kernels.metrics import fit_warp

ROOT = Path(__file__).resolve().parent.parent


def cases() -> dict:
    """name -> (source, {method: last frame})."""
    out = {}
    digits = pk.models.load("digits-driver")
    x, _ = pk.data.digits("test")
    x = x[:256]
    photos_model = pk.models.load("imagenet-lite0")
    p, _ = pk.data.photos(224)
    for name, model, images, budget, color in [
        ("256 digits, 1x32x32", digits, x, 2.2857, "rgb"),
        ("8 photos, 3x224x224", photos_model, p, 20.0, "luminance"),
    ]:
        with torch.no_grad():
            target = model(images).topk(2, 1).indices[:, 1]
        frames = {
            space: pk.morph(model, images, target, space=space, budget=budget, color=color).frames[
                -1
            ]
            for space in ("csp", "pixel")
        }
        out[name] = (images, frames)
    return out


def main() -> None:
    torch.set_num_threads(2)
    rows = []
    for name, (source, frames) in cases().items():
        for space, edited in frames.items():
            for gain in (False, True):
                start = time.perf_counter()
                fit = fit_warp(source, edited, gain=gain)
                seconds = time.perf_counter() - start
                family = "warp + gain" if gain else "warp"
                mean = float(fit.explained.mean())
                rows.append(f"| {name} | {space} | {family} | {mean:.3f} | {seconds:.1f} |")
                print(rows[-1], flush=True)
    lines = [
        "# E: speed on the CPU (2 threads)",
        "",
        "`python bench/coherence.py`: pk.metrics.warp_explained on the last frames of frozen "
        "budget morphs (digits: digits-driver, L2 2.29; photos: EfficientNet-Lite0, "
        "luminance, L2 20), one call per row. Targets: 256 digits under 30 s, 8 photos under "
        "60 s.",
        "",
        "| images | edit | family | mean E | seconds |",
        "|---|---|---|---|---|",
        *rows,
    ]
    (ROOT / "bench" / "results" / "coherence-cpu.md").write_text("\n".join(lines) + "\n")
    _figure(ROOT / "docs" / "coherence.png")


def _figure(path: Path) -> None:
    """For one photo: source, csp and pixel edits, their best warp + gain and residuals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    source = pk.data.photos(224)[0][:1]
    model = pk.models.load("imagenet-lite0")
    with torch.no_grad():
        target = model(source).topk(2, 1).indices[:, 1]
    fig, axes = plt.subplots(2, 5, figsize=(10, 4.9))
    for row, space in enumerate(("csp", "pixel")):
        edited = pk.morph(model, source, target, space=space, budget=20.0, color="luminance")
        edited = edited.frames[-1]
        fit = fit_warp(source, edited, gain=True)
        change = (edited - source)[0].mean(0)
        residual = (edited - fit.warped)[0].mean(0)
        bound = float(change.abs().max())
        panels = [
            (source[0].permute(1, 2, 0), "source", None),
            (edited[0].permute(1, 2, 0).clamp(0, 1), f"{space} edit (L2 20)", None),
            (change, "edit - source", bound),
            (fit.warped[0].permute(1, 2, 0).clamp(0, 1), "best warp + gain of source", None),
            (residual, f"edit - warp (E = {float(fit.explained[0]):.2f})", bound),
        ]
        for ax, (image, title, scale) in zip(axes[row], panels, strict=True):
            if scale is None:
                ax.imshow(image.numpy())
            else:
                ax.imshow(image.numpy(), cmap="RdBu_r", vmin=-scale, vmax=scale)
            ax.set_title(title, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(
        "E: how much of an edit a smooth warp (x smooth gain) of the source explains", fontsize=9
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
