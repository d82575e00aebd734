"""The main job on the embedded default: morphs of held-out digits by four methods, with
pictures, GIFs and a summary table (``pyramid-kernels demo``)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from .. import data, models
from ..module import SteerablePyramid
from ..morphing import morph
from .image_io import save_morph, save_png, write_atomic
from .images import pattern_image
from .progress import Progress
from .protocol import DEMO_MNIST_BUDGET, DRIVER, JUDGES, METHODS, mnist_budget
from .render import render_pyramid

PAIRS = [(3, 8), (5, 6), (1, 7), (4, 9)]  # (source digit, target digit)


def pick_pairs(pairs=PAIRS) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The first held-out image of each source digit: (images (P, 1, 32, 32), sources, targets)."""
    images, labels = data.digits("test")
    index = [int((labels == s).nonzero()[0]) for s, _ in pairs]
    targets = torch.tensor([t for _, t in pairs])
    return images[index], labels[index], targets


def labelled_grid(
    rows: list[torch.Tensor], probs: list[torch.Tensor], names: list[str], scale: int = 3
) -> Image.Image:
    """One row per method (frames (T, 1, H, W)), each tile captioned with p(target)."""
    frames, height, width = rows[0].shape[0], rows[0].shape[-2] * scale, rows[0].shape[-1] * scale
    left, caption = 96, 14
    canvas = Image.new("L", (left + frames * (width + 2), len(rows) * (height + caption + 4)), 255)
    draw = ImageDraw.Draw(canvas)
    for r, (row, prob, name) in enumerate(zip(rows, probs, names, strict=True)):
        top = r * (height + caption + 4)
        draw.text((4, top + height // 2), name, fill=0)
        for t in range(frames):
            tile = (row[t, 0].clamp(0, 1) * 255).round().to(torch.uint8).numpy()
            tile = np.kron(tile, np.ones((scale, scale), dtype=np.uint8))
            x = left + t * (width + 2)
            canvas.paste(Image.fromarray(tile), (x, top))
            draw.text((x + 2, top + height + 1), f"{100 * prob[t]:.1f}%", fill=0)
    return canvas


def run(
    out: str | Path,
    budget: float = mnist_budget(DEMO_MNIST_BUDGET),
    regime: str = "frozen",
    steps: int = 11,
    progress: bool = True,
) -> list[dict]:
    """Write the demo pictures under ``out``; return the summary rows."""
    out = Path(out)
    start = time.perf_counter()
    image = pattern_image(256)
    coeffs = SteerablePyramid().build(image)
    save_png(out / "pyramid_bands.png", render_pyramid(coeffs))
    driver = models.load(DRIVER)
    judges = {name: models.load(name) for name in JUDGES}
    x, sources, targets = pick_pairs()
    results = {}
    with Progress(len(METHODS), "demo morphs", enabled=progress) as bar:
        for label, space, edit in METHODS:
            results[label] = morph(
                driver,
                x,
                targets,
                space=space,
                edit=edit,
                regime=regime,
                steps=steps,
                budget=budget,
            )
            bar.update()
    for p, (s, t) in enumerate(zip(sources.tolist(), targets.tolist(), strict=True)):
        rows = [results[m[0]].frames[:, p] for m in METHODS]
        probs = [results[m[0]].target_prob[:, p] for m in METHODS]
        grid = labelled_grid(rows, probs, [m[0] for m in METHODS])
        write_atomic(out / f"morph_{s}_to_{t}.png", lambda tmp, g=grid: g.save(tmp, format="PNG"))
        for label, *_ in METHODS:
            name = label.replace(" ", "_")
            save_morph(out / f"morph_{s}_to_{t}_{name}.gif", results[label].frames[:, p : p + 1])
    summary = []
    for label, *_ in METHODS:
        r = results[label]
        last = r.frames[-1]
        row = {
            "method": label,
            "driver": r.target_prob[-1].median().item(),
            "L2": r.distance[-1].median().item(),
            "attained": int(r.attained.sum()),
        }
        with torch.no_grad():
            for name, judge in judges.items():
                prob = torch.softmax(judge(last), 1).gather(1, targets[:, None])[:, 0]
                row[name] = prob.median().item()
        summary.append(row)
    elapsed = time.perf_counter() - start
    print(
        f"\n{len(PAIRS)} digit pairs {PAIRS}, {regime} regime, {steps} steps, budget L2 = "
        f"{budget:.3f}; medians over pairs at the last frame (target probability):"
    )
    print(f"{'method':<15}{'driver':>9}{'resnet':>9}{'mlp':>9}{'L2':>8}{'attained':>10}")
    for row in summary:
        print(
            f"{row['method']:<15}{row['driver']:>9.3f}{row['digits-judge-resnet']:>9.3f}"
            f"{row['digits-judge-mlp']:>9.3f}{row['L2']:>8.3f}"
            f"{row['attained']:>7}/{len(PAIRS)}"
        )
    print(
        f"wrote {out}/morph_*.png, {out}/morph_*.gif and {out}/pyramid_bands.png in {elapsed:.1f} s"
    )
    return summary
