"""One batch of a generate run: morphed on the device (:meth:`BatchMorpher.morph`), then its
files written on a writer thread while the next batch morphs (:meth:`BatchMorpher.write`):
frames, pictures, then its part of the manifest."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import Tensor

from ..io.image_io import save_morph
from ..morphing import morph
from .options import GenerateOptions
from .store import (
    BASE_COLUMNS,
    FRAME_DTYPES,
    batch_key,
    colliding_stems,
    frame_columns,
    picture_path,
    shard_path,
)


@dataclass
class MorphedBatch:
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


class BatchMorpher:
    """Morphs one loaded batch (``morph``, on the device) and writes its files (``write``, on
    a writer thread while the next batch morphs): frames, pictures, then the manifest part."""

    def __init__(self, model, source, store, plan, run: GenerateOptions):
        self.model, self.source, self.store, self.plan = model, source, store, plan
        self.options, self.dtype = run.morph, FRAME_DTYPES[run.frames_dtype]
        self.pictures, self.seed = set(run.pictures), run.seed
        self.coherence = run.coherence  # measure E of the last frame
        self.columns = list(BASE_COLUMNS) + frame_columns(run.morph.steps + 1)
        self.keep_suffix = colliding_stems(source.ids)  # their pictures keep ".jpg" in the name
        self.notes: dict[str, list[int]] = {}  # what the input check said: kind -> images

    def morph(self, item: dict, device: torch.device) -> MorphedBatch:
        ids = [self.source.ids[n] for n in item["index"]]
        errors = {self.source.ids[n]: message for n, message in item["errors"].items()}
        batch = MorphedBatch(batch_key(ids), ids, errors, [i for i in ids if i not in errors])
        batch.rows = {i: {"image": i, "status": "error", "error": errors[i]} for i in errors}
        if batch.good:
            self._morph(batch, item["images"].to(device, non_blocking=True))
        return batch

    def write(self, batch: MorphedBatch) -> None:
        if batch.frames is not None:
            frames = batch.frames
            self.store.write_frames(
                batch.key, batch.good, stored(frames.transpose(0, 1), self.dtype)
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

    def _morph(self, batch: MorphedBatch, x: Tensor) -> None:
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
                **coherence_columns(explained, b),
            }
            row.update({f"target_prob_{k}": f"{float(v):.9g}" for k, v in enumerate(prob[:, b])})
            row.update({f"l2_{k}": f"{float(v):.9g}" for k, v in enumerate(dist[:, b])})
            batch.rows[image] = row


def coherence_columns(explained: dict | None, b: int) -> dict[str, str]:
    """The manifest's E columns of image ``b``: the last frame's warp only and warp + gain."""
    if explained is None:
        return {"coherence_warp": "", "coherence": ""}
    warp, with_gain = explained["warp"][-1, b], explained["warp+gain"][-1, b]
    return {"coherence_warp": f"{float(warp):.6g}", "coherence": f"{float(with_gain):.6g}"}


def stored(frames: Tensor, dtype: torch.dtype) -> Tensor:
    """Frames as written: uint8 rounds [0, 1] x 255 like the pictures (NaN -> 0)."""
    if dtype == torch.uint8:
        return frames.double().nan_to_num(0.0).clamp(0, 1).mul(255).round().to(torch.uint8)
    return frames.to(dtype)
