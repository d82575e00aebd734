"""The main job on the embedded models (``pyramid-kernels demo``): real MNIST test digits
morphed by four methods, and bundled photos morphed by a pretrained ImageNet classifier
(``photo_demo``), with pictures, GIFs and the measured target probabilities."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from .. import data, models
from ..io.image_io import save_morph, save_png, write_atomic
from ..io.patterns import pattern_image
from ..io.progress import Progress
from ..io.render import render_pyramid
from ..morphing import morph
from ..pyramid.module import SteerablePyramid
from .photo_demo import BUDGET as PHOTO_BUDGET
from .photo_demo import print_summary, run_photos
from .protocol import DEMO_MNIST_BUDGET, METHODS, PROTOCOLS

PAIRS = [(3, 8), (5, 6), (1, 7), (4, 9)]  # (source digit, target digit)
MNIST = PROTOCOLS["mnist"]  # its driver, judges and pyramid


def pick_pairs(pairs=PAIRS) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The first MNIST test image of each source digit: (images (P, 1, 28, 28), sources,
    targets)."""
    images, labels = data.mnist("test")
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
    budget: float = DEMO_MNIST_BUDGET,
    regime: str = "frozen",
    steps: int = 11,
    progress: bool = True,
    photos: bool = True,
    photo_budget: float = PHOTO_BUDGET,
) -> list[dict]:
    """Write the demo pictures under ``out``; return the digits summary rows (one per method,
    with the last-frame target probabilities of every pair). ``photos``: also the photo
    morphs (``photo_demo``)."""
    out = Path(out)
    start = time.perf_counter()
    image = pattern_image(256)
    coeffs = SteerablePyramid().build(image)
    save_png(out / "pyramid_bands.png", render_pyramid(coeffs))
    driver = models.load(MNIST.drivers[0])
    judges = {name: models.load(name) for name in MNIST.judges}
    pyramid = SteerablePyramid(**MNIST.pyramid)
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
                pyramid=pyramid,
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
            "driver": r.target_prob[-1].tolist(),
            "reached": int((r.top1[-1] == targets).sum()),
            "L2": r.distance[-1].median().item(),
            "attained": int(r.attained.sum()),
        }
        with torch.no_grad():
            for name, judge in judges.items():
                row[name] = int((judge(last).argmax(1) == targets).sum())
        summary.append(row)
    pairs = [f"{s}->{t}" for s, t in PAIRS]
    print(
        f"\n{len(PAIRS)} MNIST digit pairs (the first test image of each source digit), "
        f"{regime} regime, {steps} steps, budget L2 = {budget:.3f}; the driver's target "
        "probability at the last frame per pair, and how many pairs each model puts in the "
        "target class there:"
    )
    print(
        f"{'method':<15}" + "".join(f"{p:>8}" for p in pairs) + f"{'driver':>8}{'resnet':>8}"
        f"{'mlp':>6}{'L2':>8}{'attained':>10}"
    )
    for row in summary:
        n = len(PAIRS)
        print(
            f"{row['method']:<15}"
            + "".join(f"{p:>8.3f}" for p in row["driver"])
            + f"{row['reached']:>6}/{n}{row[MNIST.judges[0]]:>6}/{n}"
            f"{row[MNIST.judges[1]]:>4}/{n}{row['L2']:>8.3f}{row['attained']:>7}/{n}"
        )
    written = f"{out}/morph_*.png, {out}/morph_*.gif, {out}/pyramid_bands.png"
    if photos:
        photo_rows = run_photos(out, budget=photo_budget, steps=steps, progress=progress)
        print_summary(photo_rows, photo_budget)
        written += f", {out}/photos_morph.png, {out}/photo_*.gif"
    from .magnify_demo import run as run_magnify

    run_magnify(out)
    print(
        "\nmotion magnification: a photo whose left part sways 0.25 px at 2 Hz and right part "
        "0.25 px at 6 Hz, magnified x20 in 1-3 Hz (pk.magnify): only the left part moves visibly"
    )
    written += f", {out}/magnify.gif, {out}/magnify_slice.png"
    elapsed = time.perf_counter() - start
    print(f"wrote {written} in {elapsed:.1f} s")
    return summary
