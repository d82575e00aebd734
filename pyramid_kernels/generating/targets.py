"""Target classes for ``generate``: the model's runner-up class, one class for every image, or
one per image (a CSV file with columns image,target, a mapping, or a sequence). A class is an
index or, for a model with class names (``labels``), a name."""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import Tensor

from ..models.class_names import RUNNER_UP, class_index, runner_up


class Targets:
    """A checked target rule. ``record`` describes it for run.json (a CSV by its sha256)."""

    def __init__(self, targets, ids: Sequence[str], names=None) -> None:
        """``names``: the model's (labels, synonyms) (``model_labels``), for class names."""
        self.fixed: int | None = None
        self.per_image: dict[str, int] | None = None
        if isinstance(targets, str) and targets == RUNNER_UP:
            self.record = RUNNER_UP
        elif isinstance(targets, bool):
            raise TypeError("targets must be 'runner-up', a class index or per-image classes")
        elif isinstance(targets, int) or (isinstance(targets, str) and targets.isdigit()):
            self.fixed = int(targets)
            self.record = self.fixed
        elif isinstance(targets, str) and not Path(targets).is_file():
            if names is None:
                raise ValueError(
                    f"targets {targets!r}: not runner-up, a class index or an existing CSV "
                    "file, and the model has no class names (a `labels` attribute) to look "
                    "it up by name"
                )
            self.fixed = _class(targets, "targets", names)
            self.record = self.fixed
        elif isinstance(targets, (str, os.PathLike)):
            self.per_image, digest = _read_csv(Path(targets), names)
            self.record = {"csv": os.fspath(targets), "sha256": digest}
        elif isinstance(targets, Mapping):
            self.per_image = {
                str(k): _class(v, f"targets[{k!r}]", names) for k, v in targets.items()
            }
            self.record = {"mapping_sha256": _digest(self.per_image)}
        else:
            values = targets.tolist() if isinstance(targets, Tensor) else list(targets)
            if len(values) != len(ids):
                raise ValueError(f"targets has {len(values)} entries for {len(ids)} images")
            self.per_image = {
                i: _class(v, f"targets[{n}]", names)
                for n, (i, v) in enumerate(zip(ids, values, strict=True))
            }
            self.record = {"mapping_sha256": _digest(self.per_image)}
        if self.per_image is not None:
            missing = [i for i in ids if i not in self.per_image]
            if missing:
                raise ValueError(
                    f"targets: no target class for {len(missing)} images, e.g. {missing[:3]}; "
                    "add rows for them (column image as in the manifest) or leave them out"
                )

    def check(self, classes: int) -> None:
        """Raise ValueError when a target is not a class of a model with ``classes`` logits."""
        values = [self.fixed] if self.fixed is not None else list((self.per_image or {}).values())
        bad = sorted({v for v in values if not 0 <= v < classes})
        if bad:
            raise ValueError(
                f"targets: classes {bad[:5]} are not in [0, {classes}) for a model with "
                f"{classes} classes"
            )

    def for_batch(self, ids: Sequence[str], logits: Tensor) -> Tensor:
        """(B,) int64 targets of the images ``ids`` whose source logits are (B, classes)."""
        if self.fixed is not None:
            return torch.full((len(ids),), self.fixed, dtype=torch.int64, device=logits.device)
        if self.per_image is not None:
            return torch.tensor([self.per_image[i] for i in ids], device=logits.device)
        return runner_up(logits, "targets")


def _class(value, name: str, names=None) -> int:
    """A class index from an int, an integral number or string, or a class name."""
    if isinstance(value, str) and names is not None:
        text = value.strip()
        if not text.lstrip("-").isdigit():
            return class_index(text, *names, argument=name)
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = float("nan")
        if not number.is_integer():
            kind = "class index or name" if names is not None else "integer class index"
            raise ValueError(f"{name} must be an {kind}, got {value!r}")
        value = int(number)
    return value


def _digest(mapping: dict[str, int]) -> str:
    text = "\n".join(f"{k}\t{v}" for k, v in sorted(mapping.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def _read_csv(path: Path, names=None) -> tuple[dict[str, int], str]:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ValueError(f"targets {os.fspath(path)!r}: cannot read the CSV ({error})") from error
    rows = list(csv.DictReader(data.decode("utf-8-sig").splitlines()))
    if not rows or not {"image", "target"} <= set(rows[0]):
        raise ValueError(
            f"targets {os.fspath(path)!r}: needs a header with columns image,target and a row "
            "per image"
        )
    mapping: dict[str, int] = {}
    for n, row in enumerate(rows, start=2):
        if row["image"] in mapping:
            raise ValueError(f"targets {os.fspath(path)!r} line {n}: image {row['image']!r} twice")
        mapping[row["image"]] = _class(
            row["target"], f"targets {os.fspath(path)!r} line {n}", names
        )
    return mapping, hashlib.sha256(data).hexdigest()
