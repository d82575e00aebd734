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

from ..io.image_io import save_morph
from ..io.progress import Progress
from ..models.class_names import model_labels
from ..morphing import MorphOptions, clear_cuda_graphs, morph
from .distributed import Ranks, deal, joined
from .model_input import Normalized, count_classes, parse_normalize, weights_sha256
from .sources import ImageSource, batch_loader
from .store import (
    BASE_COLUMNS,
    FRAME_DTYPES,
    RunStore,
    batch_key,
    colliding_stems,
    frame_columns,
    picture_path,
    shard_path,
)
from .targets import Targets

PICTURES = ("png", "gif")
WRITER_THREADS = 2  # batches whose files are written while the next one morphs
MORPH_OPTIONS = tuple(f.name for f in dataclasses.fields(MorphOptions))


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
    **morph_options
        Any option of :func:`pyramid_kernels.morph`; ``color`` defaults to "luminance" for RGB
        images and "rgb" for grayscale.

    Returns
    -------
    GenerateSummary
    """
    _check_arguments(batch_size, pictures, frames_dtype, seed, workers, morph_options)
    options = MorphOptions(**morph_options)
    if isinstance(model, nn.Module) and model.training:
        raise ValueError("model is in training mode; call model.eval() first")
    if not callable(model):
        raise TypeError(f"model must be callable, got {type(model)}")
    with joined(device) as ranks:
        source = ImageSource(images, 3 if not gray else 1, size, ids, exclude=out_dir, fit=fit)
        # the colour rule of pk.morph, resolved for the run's records
        options = dataclasses.replace(options, color=options.color_for(source.channels))
        _check_images(source, options)
        norm = parse_normalize(normalize) if normalize is not None else None
        if norm is not None:
            model = Normalized(model, *norm)
        if isinstance(model, nn.Module):
            model = model.to(ranks.device)
        classes = count_classes(model, source.channels, source.size, ranks.device)
        plan = Targets(targets, source.ids, model_labels(model))
        plan.check(classes)
        settings = _settings(model, plan, source, norm, frames_dtype, pictures, seed, options)
        if coherence:  # only when asked: runs without it keep their settings
            settings["coherence"] = True
        store = RunStore(out_dir)
        store.check_settings(settings, allow_mixed)
        finished = store.finished_images(retry_errors)
        ranks.barrier()  # every rank has read the folder before rank 0 touches it
        if ranks.is_main:
            store.begin(_record(settings, model_name, len(source), ranks, batch_size, workers))
        ranks.barrier()  # temporary files are cleaned before any rank writes
        todo = [n for n, image in enumerate(source.ids) if image not in finished]
        mine = [[todo[k] for k in r] for r in deal(len(todo), batch_size, ranks.rank, ranks.world)]
        run = _Batch(model, source, store, plan, options, frames_dtype, pictures, seed, coherence)
        loader = batch_loader(source, mine, workers, pin=ranks.device.type == "cuda")
        total = len(source)
        morphed, errors, seconds = _morph_batches(run, loader, ranks, store, mine, total, progress)
        for kind, images in run.notes.items():  # once per kind, as morph says it per image
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


def _settings(model, plan, source, norm, frames_dtype, pictures, seed, options) -> dict:
    """Everything that decides a run's outputs (compared when a run is resumed)."""
    return {
        "model": {"class": type(_unwrapped(model)).__qualname__, "sha256": weights_sha256(model)},
        "targets": plan.record,
        "channels": source.channels,
        "size": list(source.size),
        "resize": source.resize,
        "fit": source.fit if source.resize else None,
        "normalize": [list(norm[0]), list(norm[1])] if norm else None,
        "frames_dtype": frames_dtype,
        "pictures": sorted(set(pictures)),
        "seed": seed,
        "morph": _morph_record(options),
    }


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


@dataclass
class _Morphed:
    """One batch, morphed and on the host: everything its files need."""

    key: str
    ids: list[str]
    errors: dict[str, str]
    good: list[str]
    frames: Tensor | None = None  # (T, B_good, C, H, W) float, on the CPU
    captions: tuple | None = None  # MorphResult.captions() of the good images
    rows: dict[str, dict] = dataclasses.field(default_factory=dict)

    @property
    def morphed(self) -> int:
        return len(self.good)


class _Batch:
    """Morphs one loaded batch (``morph``, on the device) and writes its files (``write``, on
    a writer thread while the next batch morphs): frames, pictures, then the manifest part."""

    def __init__(
        self, model, source, store, plan, options, frames_dtype, pictures, seed, coherence
    ):
        self.model, self.source, self.store, self.plan = model, source, store, plan
        self.options, self.dtype = options, FRAME_DTYPES[frames_dtype]
        self.pictures, self.seed = set(pictures), seed
        self.coherence = coherence  # measure E of every frame
        self.columns = list(BASE_COLUMNS) + frame_columns(options.steps + 1)
        self.keep_suffix = colliding_stems(source.ids)  # their pictures keep ".jpg" in the name
        self.notes: dict[str, list[int]] = {}  # what the input check said: kind -> images

    def morph(self, item: dict, device: torch.device) -> _Morphed:
        ids = [self.source.ids[n] for n in item["index"]]
        errors = {self.source.ids[n]: message for n, message in item["errors"].items()}
        batch = _Morphed(batch_key(ids), ids, errors, [i for i in ids if i not in errors])
        batch.rows = {i: {"image": i, "status": "error", "error": errors[i]} for i in errors}
        if batch.good:
            self._morph(batch, item["images"].to(device, non_blocking=True))
        return batch

    def write(self, batch: _Morphed) -> None:
        if batch.frames is not None:
            frames = batch.frames
            self.store.write_frames(
                batch.key, batch.good, _stored(frames.transpose(0, 1), self.dtype)
            )
            root = self.store.root
            headings, texts = batch.captions
            for b, image in enumerate(batch.good):
                if batch.rows[image]["status"] != "ok":
                    continue  # not finite: no picture of NaN as black
                captions = ([headings[b]], [texts[b]])
                for kind, folder in (("png", "strips"), ("gif", "gifs")):
                    if kind in self.pictures:
                        keep = image in self.keep_suffix
                        path = picture_path(root / folder, image, f".{kind}", keep)
                        save_morph(path, frames[:, b : b + 1], captions=captions)
        self.store.write_part(batch.key, [batch.rows[i] for i in batch.ids], self.columns)

    def _morph(self, batch: _Morphed, x: Tensor) -> None:
        torch.manual_seed(self.seed)
        logits = None
        if self.plan.fixed is None and self.plan.per_image is None:
            with torch.no_grad():
                logits = self.model(x)
        ids = batch.good
        target = self.plan.for_batch(ids, logits if logits is not None else x.new_empty(0, 0))
        result = morph(self.model, x, target.to(x.device), options=self.options)
        batch.frames = frames = result.frames.detach().cpu()  # (T, B, C, H, W)
        finite = torch.isfinite(frames).flatten(2).all(2).all(0)
        prob, dist = result.target_prob.cpu(), result.distance.cpu()  # one copy each, not
        step, attained = result.step.cpu(), result.attained.cpu()  # a sync per image
        source, target = result.source.cpu(), result.target.cpu()
        final = result.top1[-1].cpu()
        explained = result.coherence_families() if self.coherence else None
        batch.captions = result.captions(explained)
        for b, image in enumerate(ids):
            row = {
                "image": image,
                "status": "ok" if finite[b] else "nonfinite",
                "error": "",
                "source": int(source[b]),
                "target": int(target[b]),
                "attained": int(attained[b]),
                "step": f"{float(step[b]):.9g}",
                "shard": shard_path(batch.key),
                "row": b,
                "source_name": result.class_name(int(source[b])),
                "target_name": result.class_name(int(target[b])),
                "final_class": int(final[b]),
                "final_name": result.class_name(int(final[b])),
                "reached_target": int(final[b] == target[b]),
                **_coherence_columns(explained, b),
            }
            row.update({f"target_prob_{k}": f"{float(v):.9g}" for k, v in enumerate(prob[:, b])})
            row.update({f"l2_{k}": f"{float(v):.9g}" for k, v in enumerate(dist[:, b])})
            batch.rows[image] = row


def _coherence_columns(explained: dict | None, b: int) -> dict[str, str]:
    """The manifest's E columns of image ``b``: the last frame's warp only and warp + gain."""
    if explained is None:
        return {"coherence_warp": "", "coherence": ""}
    warp, with_gain = explained["warp"][-1, b], explained["warp+gain"][-1, b]
    return {"coherence_warp": f"{float(warp):.6g}", "coherence": f"{float(with_gain):.6g}"}


def _stored(frames: Tensor, dtype: torch.dtype) -> Tensor:
    """Frames as written: uint8 rounds [0, 1] x 255 like the pictures (NaN -> 0)."""
    if dtype == torch.uint8:
        return frames.double().nan_to_num(0.0).clamp(0, 1).mul(255).round().to(torch.uint8)
    return frames.to(dtype)


def _morph_record(options: MorphOptions) -> dict:
    record = options.settings()
    record["clamp"] = list(record["clamp"]) if record["clamp"] is not None else None
    if options.pyramid is not None:
        record["pyramid"] = repr(options.pyramid.spec)
    return record


def _unwrapped(model):
    return model.model if isinstance(model, Normalized) else model


def _check_arguments(batch_size, pictures, frames_dtype, seed, workers, morph_options) -> None:
    for name, value, low in [("batch_size", batch_size, 1), ("workers", workers, 0)]:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int, got {seed!r}")
    if isinstance(pictures, str) or not set(pictures) <= set(PICTURES):
        raise ValueError(f"pictures must be a list of {PICTURES} (or empty), got {pictures!r}")
    if frames_dtype not in FRAME_DTYPES:
        raise ValueError(f"frames_dtype must be one of {tuple(FRAME_DTYPES)}, got {frames_dtype!r}")
    unknown = sorted(set(morph_options) - set(MORPH_OPTIONS))
    if unknown:
        raise TypeError(
            f"unknown options {unknown}: generate takes its own arguments and those of "
            f"pyramid_kernels.morph ({', '.join(MORPH_OPTIONS)})"
        )


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
