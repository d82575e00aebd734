"""The driver/judge protocol on natural photos (``pyramid-kernels eval --protocol imagenet``).

Inputs: the eight bundled photos (``pk.data.photos``), each as four deterministic square
crops (the centre square, and 80% squares at the centre, top-left and bottom-right) and their
mirror images: 64 inputs of 224², but only 8 distinct scenes. Driver: EfficientNet-Lite0;
judges: EfficientNet-Lite1 and Lite2 (the same family, other widths, depths and resolutions).
Target: the driver's runner-up class for each input. Every method (pixel, fourier phase, csp
phase, csp joint; luminance edits, chroma kept) morphs every input to each pixel-L2 budget, in
the frozen regime (one gradient, the paper's method) and the anchored regime (a gradient per
step; on the centre crop of each photo only, since it costs a forward and backward per step
and per budget-search round: about 11 s per 224² image and method on the 2-core CPU).

Per (regime, budget, method), over the inputs every method attained: the median driver
target probability, the driver's and each judge's success (argmax = target), the median gain
of the judges' target probability over the input's, the mean coherence E of the last frame
(warp only and warp + gain, as in the digits protocol) and the median L2. Intervals are 95%
bootstrap intervals that resample *photos* (with all their crops), since crops of one photo
are not independent.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .. import data, models
from ..io.image_files import resize_images
from ..io.image_io import write_atomic
from ..io.progress import Progress
from ..morphing import morph
from .evaluation import attained, coherence, common, summary_cell, write_csv, write_report
from .protocol import METHODS

DRIVER = "imagenet-lite0"
JUDGES = ("imagenet-lite1", "imagenet-lite2")
BUDGETS = (10.0, 20.0)  # pixel L2 on 3x224x224 in [0, 1]: RMS 0.026 and 0.052 per value
CROPS = ("centre", "centre 80%", "top-left 80%", "bottom-right 80%")
ANCHORED = "centre/as is"  # the inputs the anchored regime morphs: one per photo
SEED = 20261202
SIZE = 224
STEPS = 8


def protocol_inputs(crops: int = len(CROPS), size: int = SIZE) -> tuple[Tensor, list[str], Tensor]:
    """(images (P * crops * 2, 3, size, size), names "photo/crop/flip", (N,) photo index)."""
    raw = data.full_size_photos()
    images, names, groups = [], [], []
    for p, (photo, image) in enumerate(raw.items()):
        height, width = image.shape[-2:]
        side = min(height, width)
        small = round(0.8 * side)
        top, left = (height - side) // 2, (width - side) // 2
        windows = {
            "centre": (top, left, side),
            "centre 80%": ((height - small) // 2, (width - small) // 2, small),
            "top-left 80%": (0, 0, small),
            "bottom-right 80%": (height - small, width - small, small),
        }
        for crop in CROPS[:crops]:
            y, x, s = windows[crop]
            square = resize_images(image[None, :, y : y + s, x : x + s], (size, size))[0]
            for flip in (False, True):
                images.append(square.flip(-1) if flip else square)
                names.append(f"{photo}/{crop}/{'mirrored' if flip else 'as is'}")
                groups.append(p)
    return torch.stack(images).clamp(0, 1), names, torch.tensor(groups)


def photo_bootstrap(groups: Tensor, resamples: int, seed: int = SEED) -> np.ndarray:
    """(resamples, N) input indices: each draw picks photos with replacement and takes all
    their inputs (every photo has the same number of inputs)."""
    members = [np.flatnonzero(groups.numpy() == g) for g in range(int(groups.max()) + 1)]
    draws = np.random.default_rng(seed).integers(0, len(members), size=(resamples, len(members)))
    return np.stack([np.concatenate([members[g] for g in row]) for row in draws])


def run_imagenet_eval(
    out: str | Path | None = None,
    quick: bool = False,
    steps: int = STEPS,
    budgets=BUDGETS,
    resamples: int = 2000,
    progress: bool = True,
) -> list[dict]:
    """Run the protocol (``quick``: 2 photos, one crop, frozen, 2 methods, 1 budget: the CI
    case); write eval.md, eval.csv and eval.png under ``out`` if given."""
    start = time.perf_counter()
    driver = models.load(DRIVER)
    judges = [models.load(name) for name in JUDGES]
    x, names, groups = protocol_inputs(1 if quick else len(CROPS))
    methods, regimes = METHODS, ("frozen", "anchored")
    if quick:
        keep = groups < 2
        x, groups = x[keep], groups[keep]
        names = [n for n, k in zip(names, keep.tolist(), strict=True) if k]
        methods, regimes, budgets = [METHODS[0], METHODS[2]], ("frozen",), budgets[:1]
    with torch.no_grad():
        logits = driver(x)
        target = logits.topk(2, dim=1).indices[:, 1]
        judge_p0 = torch.stack([j(x).softmax(1) for j in judges]).gather(
            2, target[None, :, None].expand(len(judges), -1, 1)
        )[..., 0]
    anchored_inputs = torch.tensor([n.split("/", 1)[1] == ANCHORED for n in names])
    runs = [(r, b, m) for r in regimes for b in budgets for m in methods]
    rows, cases, examples = [], {}, {}
    with Progress(len(runs), "imagenet eval morphs", enabled=progress) as bar:
        for regime, budget, (label, space, edit) in runs:
            part = anchored_inputs if regime == "anchored" else torch.ones(len(x), dtype=bool)
            r = morph(
                driver,
                x[part],
                target[part],
                space=space,
                edit=edit,
                regime=regime,
                steps=steps,
                budget=budget,
                color="luminance",
            )
            last = r.frames[-1]
            with torch.no_grad():
                judge_logits = [j(last) for j in judges]
            judge_p = torch.stack([lg.softmax(1) for lg in judge_logits])
            t = target[part]
            gain = judge_p.gather(2, t[None, :, None].expand(len(judges), -1, 1))[..., 0]
            reached = attained(r.distance[-1], budget) & r.attained
            cases[(regime, budget, label)] = dict(
                part=part,
                attained=reached,
                **coherence(x[part], last, reached),
                driver=r.target_prob[-1],
                flipped=r.top1[-1] == t,
                judges=[lg.argmax(1) == t for lg in judge_logits],
                gain=(gain - judge_p0[:, part]).mean(0),
                l2=r.distance[-1],
            )
            if regime == "frozen" and budget == budgets[-1]:
                examples[label] = (r.frames[:, ::8], r.target_prob[:, ::8])
            bar.update()
    for regime in regimes:
        for budget in budgets:
            chosen = [cases[(regime, budget, m[0])] for m in methods]
            shared = common([c["attained"] for c in chosen]).numpy()
            part = chosen[0]["part"]
            indices = photo_bootstrap(groups[part], resamples)
            for (label, *_), c in zip(methods, chosen, strict=True):
                values = {
                    "driver": c["driver"],
                    "flipped": c["flipped"],
                    "judge1": c["judges"][0],
                    "judge2": c["judges"][1],
                    "both": c["judges"][0] & c["judges"][1],
                    "gain": c["gain"],
                    "E warp": c["E warp"],
                    "E warp+gain": c["E warp+gain"],
                    "l2": c["l2"],
                }
                row = {
                    "regime": regime,
                    "budget_l2": budget,
                    "method": label,
                    "inputs": int(part.sum()),
                    "photos": int(groups[part].unique().numel()),
                    "attained": int(c["attained"].sum()),
                    "common": int(shared.sum()),
                }
                for name, value in values.items():
                    stat = np.median if name in ("driver", "gain", "l2") else np.mean
                    array = value.double().numpy()
                    row[name] = summary_cell(array, shared, stat, indices)
                rows.append(row)
    seconds = time.perf_counter() - start
    if out is not None:
        _write(Path(out), rows, examples, names, seconds, quick, steps)
    return rows


def _write(out: Path, rows, examples, names, seconds: float, quick: bool, steps: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "eval.csv", lambda tmp: write_csv(tmp, rows, list(rows[0])))
    header = [
        "regime",
        "L2",
        "method",
        "inputs (photos)",
        "common",
        "median driver p",
        "driver flips",
        f"{JUDGES[0]} ok",
        f"{JUDGES[1]} ok",
        "both ok",
        "median judge p gain",
        "mean E warp",
        "mean E warp+gain",
        "median L2",
    ]
    lines = [
        f"# Driver/judge protocol on natural photos{' (quick case)' if quick else ''}",
        "",
        f"Driver {DRIVER}, judges {', '.join(JUDGES)} (EfficientNet-Lite, one family). Inputs: "
        "the bundled photos as deterministic square crops and their mirror images at 224²; "
        "the anchored regime morphs the centre crop of each photo only. Target: the driver's "
        f"runner-up class. Luminance edits (chroma kept), {steps} steps, each morph ending at "
        "the pixel L2 budget. Statistics over the inputs every method attained (within 1e-3); "
        "intervals: 95% bootstrap over photos (2,000 resamples, all crops of a drawn photo "
        f"together). 'ok' = the model's top-1 is the target at the last frame; judge p gain "
        "= last-frame minus input target probability, mean of the judges; E = share of the "
        "last frame's edit energy that a smooth warp of the photo (8x8 control grid) explains, "
        f"without and with a smooth gain field. Run time "
        f"{seconds:.0f} s (CPU). Generated by `pyramid-kernels eval --protocol imagenet"
        f"{' --quick' if quick else ''}`.",
        "",
    ]
    cells = [
        [
            r["regime"],
            f"{r['budget_l2']:g}",
            r["method"],
            f"{r['inputs']} ({r['photos']})",
            f"{r['common']}/{r['inputs']}",
            r["driver"],
            r["flipped"],
            r["judge1"],
            r["judge2"],
            r["both"],
            r["gain"],
            r["E warp"],
            r["E warp+gain"],
            r["l2"],
        ]
        for r in rows
    ]
    write_report(out, lines, header, cells, lambda tmp: _figure(tmp, examples, names))


def _figure(path, examples: dict, names: list[str]) -> None:
    """The first and last frames of every eighth input (a crop of each photo), per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = list(examples)
    frames, probs = examples[methods[0]]
    images = frames.shape[1]
    fig, axes = plt.subplots(
        images, 1 + len(methods), figsize=(1.3 * (1 + len(methods)), 1.4 * images), squeeze=False
    )
    for i in range(images):
        axes[i, 0].imshow(frames[0, i].permute(1, 2, 0).clamp(0, 1).numpy())
        axes[i, 0].set_title(f"{names[8 * i].split('/')[0]} p={probs[0, i]:.2f}", fontsize=5)
        for m, label in enumerate(methods):
            f, p = examples[label]
            axes[i, m + 1].imshow(f[-1, i].permute(1, 2, 0).clamp(0, 1).numpy())
            axes[i, m + 1].set_title(f"{label} p={p[-1, i]:.2f}", fontsize=5)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(
        "frozen morphs at the larger budget: input, then each method's last frame", fontsize=6
    )
    fig.savefig(path, format="png", dpi=150)
    plt.close(fig)
