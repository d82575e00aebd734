"""The output folder of a ``generate`` run, written so that a kill at any moment leaves it
consistent: every file appears whole (temporary name, then rename), and a batch's manifest
part is written after its frames and pictures, so the parts say which images are finished.

    OUT/run.json                      settings, model fingerprint, versions, seed, sessions
    OUT/manifest.csv                  one row per image (merged from parts/ at the end)
    OUT/parts/<key>.n<count>.csv      the rows of one finished batch
    OUT/frames/<key>.safetensors      "frames" (B, T, C, H, W) uint8/float16/float32 of a batch;
                                      metadata "images": JSON list of the B image ids
    OUT/strips/<id>.png, OUT/gifs/<id>.gif   per image, when asked for
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from ..io.image_io import write_atomic

FRAME_DTYPES = {"uint8": torch.uint8, "float16": torch.float16, "float32": torch.float32}
BASE_COLUMNS = (
    *("image", "status", "error", "source", "target", "attained", "step", "shard", "row"),
    *("source_name", "target_name", "final_class", "final_name", "reached_target"),
    "coherence_warp",  # E (warp only) of the last frame, when the run measures it
    "coherence",  # E (warp + gain) of the last frame, when the run measures it
)
# typed by read_manifest; "attained": the last frame reached the pixel budget (budget runs),
# "reached_target": the model's top-1 at the last frame is the target
INT_COLUMNS = ("source", "target", "attained", "row", "final_class", "reached_target")
FLOAT_PREFIXES = ("step", "target_prob_", "l2_", "coherence")
PART = re.compile(r"^(?P<key>[0-9a-f]{16})\.n(?P<count>\d+)\.csv$")
OWN_FOLDERS = ("parts", "frames", "strips", "gifs")


def frame_columns(frames: int) -> list[str]:
    """The per-frame manifest columns: target_prob_0.., then l2_0.."""
    return [f"target_prob_{k}" for k in range(frames)] + [f"l2_{k}" for k in range(frames)]


def batch_key(ids: Sequence[str]) -> str:
    """A name for a batch's files from its image ids (stable across runs and world sizes)."""
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]


def shard_path(key: str) -> str:
    """The frames file of batch ``key``, relative to the output folder."""
    return f"frames/{key}.safetensors"


def picture_path(root: Path, image_id: str, suffix: str, keep: bool = False) -> Path:
    """root / the image id made safe as a relative path (no '..', no leading '/'), its file
    suffix replaced by ``suffix`` ("cat.jpg" -> "cat.gif"), or kept before it with ``keep``
    ("cat.jpg" -> "cat.jpg.gif": for ids whose stems collide, see :func:`colliding_stems`)."""
    parts = [
        p.replace("..", "__") for p in image_id.replace("\\", "/").split("/") if p not in ("", ".")
    ]
    name = parts[-1] if keep else Path(parts[-1]).stem or parts[-1]
    return root.joinpath(*parts).with_name(name + suffix)


def colliding_stems(ids: Sequence[str]) -> set[str]:
    """The ids that share their path without suffix with another id ("a/x.jpg", "a/x.png"):
    their pictures keep the suffix so that they do not overwrite each other."""
    by_stem: dict[str, list[str]] = {}
    for image_id in ids:
        by_stem.setdefault(str(Path(image_id).with_suffix("")), []).append(image_id)
    return {i for group in by_stem.values() if len(group) > 1 for i in group}


class RunStore:
    """Reads and writes the files of one output folder (see the module docstring)."""

    def __init__(self, out_dir: str | os.PathLike) -> None:
        self.root = Path(out_dir)
        if self.root.exists() and not self.root.is_dir():
            raise ValueError(f"out_dir {os.fspath(out_dir)!r} exists and is not a folder")
        self.run_file = self.root / "run.json"

    def read_run(self) -> dict | None:
        """run.json, or None for a new folder."""
        if not self.run_file.exists():
            return None
        try:
            return json.loads(self.run_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ValueError(f"{self.run_file} is not readable JSON ({error})") from error

    def check_settings(self, settings: dict, allow_mixed: bool) -> None:
        """Raise ValueError when the folder holds a run with other settings (unless
        ``allow_mixed``), or finished images without a run.json."""
        run = self.read_run()
        if run is None:
            if self.finished():  # not a killed write's hidden temporary (".name.XXXX.csv")
                raise ValueError(
                    f"{self.root} holds manifest parts but no run.json; use another out_dir"
                )
            return
        before = _flat(run.get("settings", {}))
        now = _flat(json.loads(json.dumps(settings)))
        changed = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
        if changed and not allow_mixed:
            diff = "; ".join(f"{k}: {before.get(k)!r} -> {now.get(k)!r}" for k in changed)
            raise ValueError(
                f"{self.root} holds a run with other settings ({diff}); use another out_dir, "
                "or allow_mixed=True (--allow-mixed) to add to it (run.json keeps both)"
            )

    def begin(self, record: dict) -> None:
        """Delete temporary files a killed run left, and write run.json: ``record`` with the
        sessions of earlier runs in this folder kept (call on one rank only)."""
        self.root.mkdir(parents=True, exist_ok=True)
        stale = [
            self.root / n
            for n in os.listdir(self.root)
            if n.startswith((".run.json.", ".manifest.csv."))
        ]
        for folder in OWN_FOLDERS:
            if (self.root / folder).is_dir():
                stale += [p for p in (self.root / folder).rglob(".*") if p.is_file()]
        for path in stale:
            path.unlink(missing_ok=True)
        earlier = self.read_run() or {}
        record = json.loads(json.dumps(record))  # as it will read back
        record["sessions"] = earlier.get("sessions", []) + record.get("sessions", [])
        kept = earlier.get("earlier_settings", [])
        if earlier.get("settings") not in (None, record["settings"]):
            kept = kept + [earlier["settings"]]
        if kept:
            record["earlier_settings"] = kept
        self.write_run(record)

    def write_run(self, record: dict) -> None:
        text = json.dumps(record, indent=2, sort_keys=True) + "\n"
        write_atomic(self.run_file, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))

    def finished(self) -> dict[str, int]:
        """{part key: image count} of the batches whose manifest part is written."""
        folder = self.root / "parts"
        if not folder.is_dir():
            return {}
        matches = (PART.match(n) for n in os.listdir(folder))
        return {m["key"]: int(m["count"]) for m in matches if m}

    def finished_images(self, retry_errors: bool = False) -> set[str]:
        """Ids of every image with a row in a manifest part; with ``retry_errors``, only those
        with a row that is not an error."""
        return {r["image"] for r in self._part_rows() if not retry_errors or r["status"] != "error"}

    def _part_rows(self) -> list[dict]:
        """Every part's rows, oldest part first."""
        paths = [self.root / "parts" / f"{k}.n{n}.csv" for k, n in self.finished().items()]
        rows = []
        for path in sorted(paths, key=lambda p: (p.stat().st_mtime_ns, p.name)):
            rows += list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
        return rows

    def _latest_rows(self) -> list[dict]:
        """One row per image: its newest row that is not an error, else its newest error."""
        best: dict[str, dict] = {}
        for row in self._part_rows():
            old = best.get(row["image"])
            if old is None or row["status"] != "error" or old["status"] == "error":
                best[row["image"]] = row
        return list(best.values())

    def write_frames(self, key: str, ids: Sequence[str], frames: Tensor) -> str:
        """Write frames (B, T, C, H, W) of images ``ids``; returns the shard's relative path."""
        from safetensors.torch import save_file

        relative = shard_path(key)
        tensors = {"frames": frames.detach().cpu().contiguous()}
        metadata = {"images": json.dumps(list(ids))}
        write_atomic(self.root / relative, lambda tmp: save_file(tensors, tmp, metadata))
        return relative

    def write_part(self, key: str, rows: list[dict], columns: Sequence[str]) -> None:
        """Write a batch's manifest rows: the last file of a batch, marking it finished."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        text = buffer.getvalue()
        path = self.root / "parts" / f"{key}.n{len(rows)}.csv"
        write_atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))

    def merge_manifest(self, order: Sequence[str] = ()) -> int:
        """manifest.csv from every part, one row per image (see _latest_rows): images in
        ``order`` first (in that order), then any others by id; columns of the widest part.
        Written atomically (call on one rank). Returns its number of images."""
        rows = self._latest_rows()
        position = {image: n for n, image in enumerate(order)}
        rows.sort(key=lambda r: (position.get(r["image"], len(position)), r["image"]))
        columns = list(BASE_COLUMNS)
        for row in rows:
            columns += [c for c in row if c not in columns]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        text = buffer.getvalue()
        write_atomic(
            self.root / "manifest.csv", lambda tmp: Path(tmp).write_text(text, encoding="utf-8")
        )
        return len(rows)


def _flat(settings: dict, prefix: str = "") -> dict:
    """Nested settings as {"a.b": value}, so a difference names the setting that changed."""
    out = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def read_manifest(out_dir: str | os.PathLike) -> list[dict]:
    """The rows of a run's manifest, typed.

    Parameters
    ----------
    out_dir : str or PathLike
        The output folder of :func:`pyramid_kernels.generate`.

    Returns
    -------
    list of dict
        One dict per image (the columns of manifest.csv): ``source``, ``target``,
        ``attained`` (1 if the last frame reached the pixel budget), ``row``, ``final_class``
        and ``reached_target`` (1 if the last frame's top-1 is the target) as int; ``step``,
        ``target_prob_k``, ``l2_k`` and ``coherence`` as float; names, ``status``, ``error``
        and ``shard`` as str. A value an image does not have (an image that failed, or E in a
        run that did not measure it) is None.
    """
    text = (Path(out_dir) / "manifest.csv").read_text(encoding="utf-8")
    return [_typed(row) for row in csv.DictReader(io.StringIO(text))]


def _typed(row: dict[str, str]) -> dict:
    out: dict = {}
    for key, value in row.items():
        if key in INT_COLUMNS:
            out[key] = int(value) if value != "" else None
        elif key.startswith(FLOAT_PREFIXES):
            out[key] = float(value) if value != "" else None
        else:
            out[key] = value
    return out


def load_frames(out_dir: str | os.PathLike, image: str) -> Tensor:
    """The frames of one image, without loading the rest of its shard.

    Parameters
    ----------
    out_dir : str or PathLike
        The output folder of :func:`pyramid_kernels.generate`.
    image : str
        The image's name (its manifest row's ``image``).

    Returns
    -------
    Tensor
        (T, C, H, W) as stored (uint8, float16 or float32).
    """
    from safetensors import safe_open

    rows = [r for r in read_manifest(out_dir) if r["image"] == image]
    if not rows or not rows[0]["shard"]:
        status = rows[0]["status"] if rows else "not in the manifest"
        raise KeyError(f"image {image!r} has no frames ({status})")
    with safe_open(Path(out_dir) / rows[0]["shard"], framework="pt") as shard:
        return shard.get_slice("frames")[int(rows[0]["row"])]
