"""The driver/judge evaluation protocol on digits (``pyramid-kernels eval``).

Two data sets (``protocol.PROTOCOLS``): real MNIST at 28x28 ("mnist": N/10 test images of
every class, the paper's budgets L2 = 1 and 2, the anchored regime) and the upsampled
scikit-learn digits at 32x32 ("digits": the first N test images, the budgets in RMS terms,
frozen and anchored). Target: the driver's runner-up class at the source. Each method (pixel,
fourier phase, csp phase, csp joint) and regime morphs every image to each pixel-L2 budget.
Per (regime, budget) the summaries use the images every method attained (common attainment)
and report median driver target probability, judge success (each judge's argmax is the
target, and both), the mean coherence E of the last frame (the share of the edit's energy a
smooth warp of the source explains, warp only and warp + gain: ``pk.metrics.warp_explained``)
and median L2, each with a 95% percentile bootstrap interval over source images (the same
resampled sources for every method), and paired differences between methods on the same
draws. The driver is the protocol's default or its other embedded driver (the adversarially
trained "mnist-robust" / "digits-robust").
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .. import data, models
from ..io.image_io import write_atomic
from ..io.progress import Progress
from ..metrics import warp_explained
from ..morphing import BUDGET_CONTRACT, morph
from ..pyramid.module import SteerablePyramid
from .protocol import METHODS, MNIST_BUDGETS, PROTOCOLS, DigitProtocol

BOOTSTRAP_SEED = 20261006


def attained(distance: Tensor, budget: float, tolerance: float = BUDGET_CONTRACT) -> Tensor:
    """(N,) bool: the final distance is within ``tolerance`` of the budget."""
    return (distance - budget).abs() <= tolerance


def common(masks: Sequence[Tensor]) -> Tensor:
    """(N,) bool: attained by every method."""
    return torch.stack(list(masks)).all(0)


def judge_success(logits: Sequence[Tensor], target: Tensor) -> tuple[list[Tensor], Tensor]:
    """(per judge (N,) bool argmax == target, (N,) bool all judges)."""
    each = [lg.argmax(1) == target for lg in logits]
    return each, torch.stack(each).all(0)


def coherence(source: Tensor, edited: Tensor, measured: Tensor) -> dict[str, Tensor]:
    """{"E warp": (N,), "E warp+gain": (N,)} of the ``measured`` images' edits (the others,
    e.g. unattained or not finite, and edits of zero energy are NaN: not measured)."""
    keep = measured & torch.isfinite(edited).flatten(1).all(1)
    keep &= (edited - source).flatten(1).abs().amax(1) > 0
    out = {}
    for name, gain in (("E warp", False), ("E warp+gain", True)):
        values = torch.full((len(source),), float("nan"), dtype=torch.float64)
        if keep.any():
            values[keep] = warp_explained(source[keep], edited[keep], gain=gain).double().cpu()
        out[name] = values
    return out


def bootstrap_indices(n: int, resamples: int = 2000, seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """(resamples, n) source indices drawn with replacement; share them across methods."""
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def bootstrap_ci(
    values: np.ndarray,
    statistic: Callable[[np.ndarray], float],
    indices: np.ndarray,
    keep: np.ndarray | None = None,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile interval of ``statistic`` over resampled sources (rows of ``indices``).

    With ``keep`` (N,) bool, each draw keeps only its kept sources (conditional summaries such
    as common attainment); draws with none kept are skipped.
    """
    keep = np.ones(len(values), dtype=bool) if keep is None else keep
    stats = [statistic(values[row][keep[row]]) for row in indices if keep[row].any()]
    tail = 100 * (1 - level) / 2
    return float(np.percentile(stats, tail)), float(np.percentile(stats, 100 - tail))


def summary_cell(values: np.ndarray, keep: np.ndarray, statistic, indices: np.ndarray) -> str:
    """ "point [low, high]" of ``statistic`` over the kept sources, or "n/a"."""
    if not keep.any():
        return "n/a"
    low, high = bootstrap_ci(values, statistic, indices, keep)
    return f"{statistic(values[keep]):.4g} [{low:.4g}, {high:.4g}]"


def paired_cell(
    first: np.ndarray, second: np.ndarray, keep: np.ndarray, statistic, indices: np.ndarray
) -> str:
    """ "point [low, high]" of statistic(first) - statistic(second) over the kept sources,
    both taken on the same resampled sources in every draw, or "n/a"."""
    if not keep.any():
        return "n/a"
    both = np.stack([first, second], 1)
    low, high = bootstrap_ci(both, lambda v: statistic(v[:, 0]) - statistic(v[:, 1]), indices, keep)
    point = statistic(first[keep]) - statistic(second[keep])
    return f"{point:+.4g} [{low:+.4g}, {high:+.4g}]"


# paired differences reported: (method, minus method), per statistic of the summary
PAIRS = [("csp phase", "pixel"), ("csp phase", "fourier phase"), ("csp joint", "pixel")]
STATISTICS = [  # (summary column, per-image value, statistic)
    ("driver p", "driver", np.median),
    ("resnet", "resnet", np.mean),
    ("mlp", "mlp", np.mean),
    ("both", "both", np.mean),
    ("E warp", "E warp", np.mean),
    ("E warp+gain", "E warp+gain", np.mean),
    ("l2", "l2", np.median),
]


def protocol_sources(protocol: DigitProtocol, count: int) -> tuple[Tensor, Tensor]:
    """(images (count, 1, S, S), labels (count,)) of ``protocol``'s test split: for MNIST
    count / 10 of each class (its first in the file's order), for the digits its first
    ``count``."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be an int >= 1, got {count!r}")
    x, y = getattr(data, protocol.data)("test")
    if protocol.data != "mnist":
        return x[:count], y[:count]
    if count % 10 or count > len(y):
        raise ValueError(
            f"count must be a multiple of 10 up to {len(y)} for the mnist protocol (count / 10 "
            f"images of every class), got {count}"
        )
    index = torch.cat([(y == d).nonzero().flatten()[: count // 10] for d in range(10)])
    return x[index], y[index]


def run_eval(
    count: int = 300,
    driver: str | None = None,
    protocol: str = "digits",
    steps: int = 11,
    resamples: int = 2000,
    out: str | Path | None = None,
    progress: bool = True,
) -> list[dict]:
    """Run the ``protocol`` ("mnist" or "digits", ``protocol.PROTOCOLS``) with the embedded
    model ``driver`` (default: the protocol's first); write eval.md, eval.csv and eval.png
    under ``out`` if given. Returns the summary rows (one per regime, budget and method)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {list(PROTOCOLS)}, got {protocol!r}")
    spec = PROTOCOLS[protocol]
    driver = spec.drivers[0] if driver is None else driver
    if driver not in spec.drivers:
        raise ValueError(
            f"driver must be one of {list(spec.drivers)} for the {protocol} protocol, got "
            f"{driver!r}"
        )
    driver_name, driver = driver, models.load(driver)
    judges = [models.load(name) for name in spec.judges]
    x, labels = protocol_sources(spec, count)
    pyramid = SteerablePyramid(**spec.pyramid)
    with torch.no_grad():
        target = spec.targets(driver(x), labels)
    examples, per_case = {}, {}
    runs = [(r, b, m) for r in spec.regimes for b in spec.budgets for m in METHODS]
    start = time.perf_counter()
    with Progress(len(runs), "eval morphs", enabled=progress) as bar:
        for regime, budget, (label, space, edit) in runs:
            r = morph(
                driver,
                x,
                target,
                space=space,
                edit=edit,
                regime=regime,
                steps=steps,
                budget=budget,
                chunk_size=100,
                pyramid=pyramid,
            )
            last = r.frames[-1]
            with torch.no_grad():
                ok, both = judge_success([j(last) for j in judges], target)
            reached = attained(r.distance[-1], budget) & r.attained
            per_case[(regime, budget, label)] = dict(
                attained=reached,
                driver=r.target_prob[-1],
                resnet=ok[0],
                mlp=ok[1],
                both=both,
                l2=r.distance[-1],
                **coherence(x, last, reached),
            )
            if regime == spec.regimes[0] and budget == spec.budgets[-1]:
                examples[label] = r.frames
            bar.update()
    indices = bootstrap_indices(count, resamples)
    rows, pairs = [], []
    for regime in spec.regimes:
        for paper_l2, budget in zip(MNIST_BUDGETS, spec.budgets, strict=True):
            cases = {m[0]: per_case[(regime, budget, m[0])] for m in METHODS}
            shared = common([c["attained"] for c in cases.values()]).numpy()
            values = {
                label: {k: v.double().numpy() for k, v in c.items() if k != "attained"}
                for label, c in cases.items()
            }
            key = {"driver": driver_name, "regime": regime, "mnist_budget": paper_l2}
            for label, c in cases.items():
                row = key | {
                    "budget_l2": round(budget, 4),
                    "method": label,
                    "attained": int(c["attained"].sum()),
                    "common": int(shared.sum()),
                    "n": count,
                }
                for column, name, stat in STATISTICS:
                    row[column] = summary_cell(values[label][name], shared, stat, indices)
                rows.append(row)
            for first, second in PAIRS:
                pair = key | {"difference": f"{first} - {second}"}
                for column, name, stat in STATISTICS[:-1]:
                    pair[column] = paired_cell(
                        values[first][name], values[second][name], shared, stat, indices
                    )
                pairs.append(pair)
    if out is not None:
        report = _Report(spec, driver_name, count, time.perf_counter() - start, x, target)
        report.write(Path(out), rows, pairs, examples, per_case)
    return rows


TARGET_RULES = {
    "runner-up": "the driver's runner-up class at the source",
    "not label or top-1": "the driver's most likely class at the source other than its label "
    "and the driver's top-1 (the runner-up for a correctly classified source)",
}
HEADER = [  # the summary table's columns: (heading, row key)
    ("regime", "regime"),
    ("MNIST L2", "mnist_budget"),
    ("L2 here", "budget_l2"),
    ("method", "method"),
    ("attained", "attained"),
    ("common", "common"),
    ("median driver p", "driver p"),
    ("O (resnet) ok", "resnet"),
    ("O2 (mlp) ok", "mlp"),
    ("both ok", "both"),
    ("mean E warp", "E warp"),
    ("mean E warp+gain", "E warp+gain"),
    ("median L2", "l2"),
]


class _Report:
    """eval.md, eval.csv and eval.png of one protocol run."""

    def __init__(self, spec: DigitProtocol, driver: str, count: int, seconds: float, x, target):
        self.spec, self.driver, self.count, self.seconds = spec, driver, count, seconds
        self.x, self.target = x, target

    def write(self, out: Path, rows: list[dict], pairs: list[dict], examples, per_case) -> None:
        out.mkdir(parents=True, exist_ok=True)
        write_atomic(out / "eval.csv", lambda tmp: write_csv(tmp, rows, list(rows[0])))
        cells = [
            [f"{r[k]}/{r['n']}" if k in ("attained", "common") else r[k] for _, k in HEADER]
            for r in rows
        ]
        pair_header = ["regime", "MNIST L2", "difference"] + [h for h, _ in HEADER[6:-1]]
        pair_cells = [
            [p["regime"], p["mnist_budget"], p["difference"]] + [p[k] for _, k in HEADER[6:-1]]
            for p in pairs
        ]
        extra = [
            "",
            "Paired differences (first method minus second, the same images and the same "
            "bootstrap draws for both; medians for driver p, means otherwise):",
            "",
            "| " + " | ".join(pair_header) + " |",
            "|" + "---|" * len(pair_header),
            *("| " + " | ".join(str(c) for c in row) + " |" for row in pair_cells),
        ]
        figure = (
            (lambda tmp: self._mnist_figure(tmp, examples, per_case))
            if self.spec.data == "mnist"
            else (lambda tmp: _figure(tmp, examples, self.driver))
        )
        write_report(out, self._intro(), [h for h, _ in HEADER], cells, figure, extra)

    def _intro(self) -> list[str]:
        spec, count = self.spec, self.count
        command = f"pyramid-kernels eval --protocol {spec.data}"
        command += "" if self.driver == spec.drivers[0] else f" --driver {self.driver}"
        if spec.data == "mnist":
            what = (
                f"{count} real MNIST test digits ({count // 10} per class, 28x28), driver "
                f"{self.driver}, judges O = {spec.judges[0]}, O2 = {spec.judges[1]}"
            )
            budgets = "Budgets: the paper's MNIST pixel L2 1 and 2 at 28x28."
            pyramid = ", ".join(f"{k} {v}" for k, v in spec.pyramid.items())
            budgets += f" Pyramid of the csp methods: {pyramid}."
        else:
            what = f"{count} held-out digits, driver {self.driver}"
            budgets = "Budgets: the paper's MNIST L2 budgets scaled to 32x32 (x 32/28)."
        return [
            f"# Driver/judge evaluation, {what}",
            "",
            f"Target: {TARGET_RULES[spec.target]}. {budgets} Regimes: "
            f"{', '.join(spec.regimes)}. Statistics over the commonly attained images (every "
            "method reached the budget within 1e-3), with 95% percentile source-bootstrap "
            f"intervals (2,000 resamples, seed {BOOTSTRAP_SEED}); judge columns are success "
            "rates; E is the share of the last frame's edit energy explained by a smooth warp "
            "of the source on an 8x8 control grid (pk.metrics.warp_explained), without and "
            f"with a smooth gain field. Run time {self.seconds:.0f} s. Generated by "
            f"`{command}`.",
            "",
        ]

    def _mnist_figure(self, path, examples: dict, per_case: dict) -> None:
        """One source of each class (rows): the source, then each method's last frame at the
        largest budget, captioned with the driver's p, the judges (O, O2: + reached the
        target, - not) and E warp+gain."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        regime, budget = self.spec.regimes[0], self.spec.budgets[-1]
        per_class = self.count // 10
        chosen = [d * per_class for d in range(10)]
        methods = list(examples)
        fig, axes = plt.subplots(
            len(chosen), 1 + len(methods), figsize=(1.45 * (1 + len(methods)), 1.55 * len(chosen))
        )
        for row, i in enumerate(chosen):
            tiles = [("source", self.x[i, 0], "")]
            for label in methods:
                case = per_case[(regime, budget, label)]
                judges = "".join("+" if case[j][i] else "-" for j in ("resnet", "mlp"))
                e = case["E warp+gain"][i].item()
                words = f"p={case['driver'][i].item():.2f} O,O2 {judges}\nE={e:.2f}"
                tiles.append((label, examples[label][-1, i, 0], words))
            for col, (label, tile, words) in enumerate(tiles):
                ax = axes[row, col]
                ax.imshow(tile.numpy(), cmap="gray", vmin=0, vmax=1)
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_xlabel(words, fontsize=6)
                if row == 0:
                    ax.set_title(label, fontsize=7)
                if col == 0:
                    ax.set_ylabel(f"-> {int(self.target[i])}", fontsize=7)
        fig.suptitle(
            f"MNIST morphs of {self.driver}, {regime}, L2 {budget:g}: the source (-> target "
            "class), each method's last frame\np = the driver's target probability; O, O2: "
            "judge reached the target (+) or not (-); E warp+gain",
            fontsize=7,
        )
        fig.tight_layout(rect=(0, 0, 1, 0.965))
        fig.savefig(path, format="png", dpi=110)
        plt.close(fig)


def write_report(
    out: Path, intro: list[str], header: list[str], cells, figure, extra: list[str] = ()
) -> None:
    """eval.md (``intro`` lines, then a table of ``header`` and ``cells``, then ``extra``
    lines) and eval.png (by ``figure(path)``) under ``out``, atomically."""
    lines = [*intro, "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in cells]
    lines += list(extra)
    write_atomic(out / "eval.md", lambda tmp: Path(tmp).write_text("\n".join(lines) + "\n"))
    write_atomic(out / "eval.png", figure)


def write_csv(path, rows, columns) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def _figure(path, examples: dict, driver: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    examples = {label: frames[:, :4] for label, frames in examples.items()}  # four images
    methods = list(examples)
    frames = examples[methods[0]].shape[0]
    images = examples[methods[0]].shape[1]
    fig, axes = plt.subplots(
        len(methods) * images, frames, figsize=(frames * 0.8, len(methods) * images * 0.8)
    )
    for m, label in enumerate(methods):
        for i in range(images):
            for t in range(frames):
                ax = axes[m * images + i, t]
                ax.imshow(examples[label][t, i, 0].numpy(), cmap="gray", vmin=0, vmax=1)
                ax.set_xticks([])
                ax.set_yticks([])
                if t == 0:
                    ax.set_ylabel(label if i == 0 else "", fontsize=6)
    fig.suptitle(
        f"frozen morphs of {driver} at MNIST budget 2 (L2 2.29): rows = method x image, "
        "columns = frames",
        fontsize=7,
    )
    fig.savefig(path, format="png", dpi=120)
    plt.close(fig)
