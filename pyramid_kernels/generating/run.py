"""``generate``: morph every image of a folder, glob or tensor toward a target class and write
frames, pictures and a manifest, resumably, on one process or on every rank torchrun starts."""

from __future__ import annotations

import dataclasses
import os
import platform
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch import Tensor, nn

from ..core.options import check_options, keyword_defaults
from ..io.progress import Progress
from ..models.class_names import model_labels
from ..morphing import MorphOptions, clear_cuda_graphs
from .batch import BatchMorpher
from .distributed import Ranks, deal, joined
from .model_input import Normalized, count_classes, parse_normalize
from .options import MORPH_OPTIONS, GenerateOptions, run_settings
from .sources import ImageSource, batch_loader
from .store import (
    RunStore,
)
from .targets import Targets

WRITER_THREADS = 2  # batches whose files are written while the next one morphs


@dataclass
class GenerateSummary:
    """What one process of :func:`pyramid_kernels.generate` did.

    Parameters
    ----------
    out_dir : Path
        The output folder.
    images : int
        Images in the run (all ranks).
    morphed : int
        This process's images morphed in this run.
    errors : int
        This process's images that got an error row in this run.
    skipped : int
        The run's images finished by an earlier run.
    seconds : float
        Wall time of this process's batch loop.
    rank, world : int
        This process's rank and the number of ranks.
    """

    out_dir: Path
    images: int
    morphed: int
    errors: int
    skipped: int
    seconds: float
    rank: int = 0
    world: int = 1

    @property
    def images_per_second(self) -> float:
        return (self.morphed + self.errors) / self.seconds if self.seconds > 0 else 0.0


def generate(
    model: Callable[[Tensor], Tensor],
    images,
    out_dir: str | os.PathLike,
    *,
    targets="runner-up",
    size: tuple[int, int] | None = None,
    fit: str = "crop",
    gray: bool = False,
    normalize=None,
    batch_size: int = 64,
    pictures: Sequence[str] = ("png",),
    frames_dtype: str = "uint8",
    seed: int = 0,
    workers: int = 0,
    device: str | torch.device | None = None,
    allow_mixed: bool = False,
    retry_errors: bool = False,
    progress: bool = False,
    model_name: str | None = None,
    ids: Sequence[str] | None = None,
    coherence: bool = False,
    options: GenerateOptions | None = None,
    **morph_options,
) -> GenerateSummary:
    """Morph every image toward its target class and write the results under ``out_dir``.

    Writes frames, pictures, a manifest (one row per image) and run.json (every setting, the
    model's sha256, versions, sessions). A rerun skips finished images (those with an error row
    too, unless ``retry_errors``) and refuses other settings unless ``allow_mixed``. Under
    torchrun (or an initialised process group) every rank takes its share of the batches and
    rank 0 merges the manifest. Bad arguments raise before any work; unreadable or mismatched
    files get an error row and are skipped.

    Parameters
    ----------
    model : callable
        (B, C, H, W) in [0, 1] -> logits; moved to ``device``.
    images : str, PathLike, list or Tensor
        A folder (recursively), a glob pattern, a list of files, or a (N, C, H, W) tensor in
        [0, 1] (named by ``ids``, default "00000"...).
    out_dir : str or PathLike
        The output folder.
    targets : str, int, mapping or sequence
        "runner-up" (the model's second most likely class per image), a class index or name, a
        CSV file with columns image,target, a mapping id -> class, or one per image.
    size : (int, int) or None
        Resize files to (H, W) (else every file must have the first one's size).
    fit : {"crop", "pad", "stretch"}
        How a resize keeps the aspect ratio.
    gray : bool
        Convert files to 1 channel (else 3).
    normalize : str, (mean, std) or None
        "imagenet", "MEAN,STD" or (mean, std): the model sees (x - mean) / std while the morph
        stays in [0, 1].
    batch_size : int
        Images per morph.
    pictures : sequence of {"png", "gif"}
        Pictures to write per image (captioned strips, animations).
    frames_dtype : {"uint8", "float16", "float32"}
        How frames are stored (safetensors shards).
    seed : int
        Seed of the run.
    workers : int
        DataLoader processes decoding files.
    device : str, torch.device or None
        Where to morph (default: the rank's GPU, else CPU).
    allow_mixed : bool
        Accept a rerun with other settings (run.json keeps both).
    retry_errors : bool
        Morph again the images that have an error row.
    progress : bool
        Show a progress bar.
    coherence : bool
        Also measure E of the last frame, warp only and warp + gain
        (:meth:`MorphResult.coherence_families`): captioned on the pictures, in the manifest's
        ``coherence_warp`` and ``coherence`` (warp + gain) columns (two warp fits
        per frame and image: about 0.5 s per 224x224 frame on a CPU).
    model_name : str or None
        The model's name for the records.
    ids : sequence of str or None
        Names of a tensor's images.
    options : GenerateOptions, optional
        Every setting above (from ``size`` to ``coherence``) and the morph's as one object,
        instead of the keywords (then leave those at their defaults).
    **morph_options
        Any option of :func:`pyramid_kernels.morph`; ``color`` defaults to "luminance" for RGB
        images and "rgb" for grayscale.

    Returns
    -------
    GenerateSummary
    """
    settings = dict(
        size=size, fit=fit, gray=gray, normalize=normalize, batch_size=batch_size,
        pictures=pictures, frames_dtype=frames_dtype, seed=seed, workers=workers, device=device,
        allow_mixed=allow_mixed, retry_errors=retry_errors, coherence=coherence,
    )  # fmt: skip
    run = _options_of(settings, morph_options, options)
    if isinstance(model, nn.Module) and model.training:
        raise ValueError("model is in training mode; call model.eval() first")
    if not callable(model):
        raise TypeError(f"model must be callable, got {type(model)}")
    with joined(run.device) as ranks:
        channels = 1 if run.gray else 3
        source = ImageSource(images, channels, run.size, ids, exclude=out_dir, fit=run.fit)
        # the colour rule of pk.morph, resolved for the run's records
        morph_options = dataclasses.replace(run.morph, color=run.morph.color_for(source.channels))
        run = dataclasses.replace(run, morph=morph_options)
        _check_images(source, run.morph)
        norm = parse_normalize(run.normalize) if run.normalize is not None else None
        if norm is not None:
            model = Normalized(model, *norm)
        if isinstance(model, nn.Module):
            model = model.to(ranks.device)
        classes = count_classes(model, source.channels, source.size, ranks.device)
        plan = Targets(targets, source.ids, model_labels(model))
        plan.check(classes)
        settings = run_settings(model, plan, source, norm, run)
        if run.coherence:  # only when asked: runs without it keep their settings
            settings["coherence"] = True
        store = RunStore(out_dir)
        store.check_settings(settings, run.allow_mixed)
        finished = store.finished_images(run.retry_errors)
        ranks.barrier()  # every rank has read the folder before rank 0 touches it
        if ranks.is_main:
            store.begin(
                _record(settings, model_name, len(source), ranks, run.batch_size, run.workers)
            )
        ranks.barrier()  # temporary files are cleaned before any rank writes
        todo = [n for n, image in enumerate(source.ids) if image not in finished]
        mine = [
            [todo[k] for k in r] for r in deal(len(todo), run.batch_size, ranks.rank, ranks.world)
        ]
        batches = BatchMorpher(model, source, store, plan, run)
        loader = batch_loader(source, mine, run.workers, pin=ranks.device.type == "cuda")
        total = len(source)
        morphed, errors, seconds = _morph_batches(
            batches, loader, ranks, store, mine, total, progress
        )
        for kind, images in batches.notes.items():  # once per kind, as morph says it per image
            first = source.ids[images[0]]
            print(f"note: {len(images)} image(s) {kind} (the first: {first})", file=sys.stderr)
        ranks.barrier()
        if ranks.is_main:
            images_done = store.merge_manifest(source.ids)
            record = store.read_run()
            record["sessions"][-1]["finished"] = _now()
            record["sessions"][-1]["images_done"] = images_done
            store.write_run(record)
        ranks.barrier()  # the manifest is whole when generate returns on any rank
        skipped = total - len(todo)
        return GenerateSummary(
            Path(out_dir), total, morphed, errors, skipped, seconds, ranks.rank, ranks.world
        )


def _morph_batches(
    run, loader, ranks: Ranks, store, mine, total, progress
) -> tuple[int, int, float]:
    """Morph this rank's batches; each batch's files are written on a writer thread while the
    next one morphs. Returns (images morphed, error rows, seconds)."""
    note = None
    if ranks.world > 1 and ranks.is_main:
        note = lambda: f"(all ranks {sum(store.finished().values())}/{total})"  # noqa: E731
    label = f"generate rank {ranks.rank}/{ranks.world}" if ranks.world > 1 else "generate"
    count = sum(len(b) for b in mine)
    morphed = errors = 0
    start = time.perf_counter()
    try:
        with (
            Progress(count, label, enabled=progress, unit="images", note=note) as bar,
            ThreadPoolExecutor(WRITER_THREADS) as writers,
        ):
            pending: deque[Future] = deque()
            for item in loader:
                batch = run.morph(item, ranks.device)
                pending.append(writers.submit(run.write, batch))
                while len(pending) > WRITER_THREADS:  # bounded: at most this many batches held
                    pending.popleft().result()  # raises a failed write here
                morphed, errors = morphed + batch.morphed, errors + len(batch.errors)
                bar.update(batch.morphed + len(batch.errors))
                for n, said in item["notes"].items():
                    for kind in said:
                        run.notes.setdefault(kind, []).append(n)
            for job in pending:
                job.result()
    finally:  # the batch shape's CUDA graph (pk.morph's replay) holds the morph's peak memory
        if ranks.device.type == "cuda":
            clear_cuda_graphs()
    return morphed, errors, time.perf_counter() - start


def _options_of(settings: dict, morph_options: dict, options: GenerateOptions | None):
    """``options``, or GenerateOptions of the keyword ``settings`` and ``morph_options``
    (only one of the two)."""
    unknown = sorted(set(morph_options) - set(MORPH_OPTIONS))
    if unknown:
        raise TypeError(
            f"unknown options {unknown}: generate takes its own arguments and those of "
            f"pyramid_kernels.morph ({', '.join(MORPH_OPTIONS)})"
        )
    if options is None:
        return GenerateOptions(**settings, morph=MorphOptions(**morph_options))
    check_options(options, GenerateOptions, settings, keyword_defaults(generate), morph_options)
    return options


def _check_images(source: ImageSource, options: MorphOptions) -> None:
    """What pk.morph would reject in every batch, before any work: luminance edits of
    grayscale images, and images outside the clamp range (files are in [0, 1])."""
    if options.color == "luminance" and source.channels != 3:
        raise ValueError(
            "color='luminance' needs RGB images; drop --gray (gray=True) or use color='rgb'"
        )
    if options.clamp is None:
        return
    low, high = (0.0, 1.0)
    if source.tensor is not None and source.tensor.numel():
        low, high = source.tensor.min().item(), source.tensor.max().item()
    if low < options.clamp[0] or high > options.clamp[1]:
        raise ValueError(
            f"the images have values in [{low:.4g}, {high:.4g}], outside clamp={options.clamp}; "
            "pass a clamp range that holds them, or clamp=None"
        )


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _record(settings, model_name, images, ranks: Ranks, batch_size, workers) -> dict:
    from .._version import __version__

    return {
        "format": 1,
        "settings": settings,
        "model_name": model_name,
        "images": images,
        "versions": {
            "pyramid_kernels": __version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
        "sessions": [
            {
                "started": _now(),
                "world_size": ranks.world,
                "device": str(ranks.device),
                "batch_size": batch_size,
                "workers": workers,
            }
        ],
    }
