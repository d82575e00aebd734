"""The settings of a :func:`pyramid_kernels.generate` run, written once: :class:`GenerateOptions`
(validated on construction; generate's keyword arguments are its fields, a test checks the two
agree) and the record of what decides a run's outputs (compared when a run resumes)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch

from ..io.image_files import FITS
from ..morphing import MorphOptions
from .model_input import Normalized, weights_sha256
from .store import FRAME_DTYPES

PICTURES = ("png", "gif")


@dataclass(frozen=True)
class GenerateOptions:
    """Settings of :func:`pyramid_kernels.generate`, validated on construction.

    Parameters
    ----------
    size, fit, gray, normalize, batch_size, pictures, frames_dtype, seed, workers, device, \
allow_mixed, retry_errors, coherence
        As for :func:`pyramid_kernels.generate`; ``pictures`` is stored as a tuple.
    morph : MorphOptions
        What each morph does (generate's ``**morph_options``).
    """

    size: tuple[int, int] | None = None
    fit: str = "crop"
    gray: bool = False
    normalize: str | tuple | None = None
    batch_size: int = 64
    pictures: tuple[str, ...] = ("png",)
    frames_dtype: str = "uint8"
    seed: int = 0
    workers: int = 0
    device: str | torch.device | None = None
    allow_mixed: bool = False
    retry_errors: bool = False
    coherence: bool = False
    morph: MorphOptions = field(default_factory=MorphOptions)

    def __post_init__(self) -> None:
        for name, low in [("batch_size", 1), ("workers", 0)]:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed must be an int, got {self.seed!r}")
        pictures = self.pictures
        if isinstance(pictures, str) or not set(pictures) <= set(PICTURES):
            raise ValueError(f"pictures must be a list of {PICTURES} (or empty), got {pictures!r}")
        object.__setattr__(self, "pictures", tuple(pictures))
        if self.frames_dtype not in FRAME_DTYPES:
            raise ValueError(
                f"frames_dtype must be one of {tuple(FRAME_DTYPES)}, got {self.frames_dtype!r}"
            )
        if self.fit not in FITS:
            raise ValueError(f"fit must be one of {FITS}, got {self.fit!r}")
        if not isinstance(self.morph, MorphOptions):
            raise TypeError(f"morph must be MorphOptions, got {type(self.morph).__name__}")


def run_settings(model, plan, source, norm, options: GenerateOptions) -> dict:
    """Everything that decides a run's outputs (compared when a run is resumed): the model's
    class and weights, the targets, the images as read, and the options that change files."""
    unwrapped = model.model if isinstance(model, Normalized) else model
    return {
        "model": {"class": type(unwrapped).__qualname__, "sha256": weights_sha256(model)},
        "targets": plan.record,
        "channels": source.channels,
        "size": list(source.size),
        "resize": source.resize,
        "fit": source.fit if source.resize else None,
        "normalize": [list(norm[0]), list(norm[1])] if norm else None,
        "frames_dtype": options.frames_dtype,
        "pictures": sorted(set(options.pictures)),
        "seed": options.seed,
        "morph": morph_record(options.morph),
    }


def morph_record(options: MorphOptions) -> dict:
    """MorphOptions as a JSON-ready dict (the pyramid by its spec)."""
    record = options.settings()
    record["clamp"] = list(record["clamp"]) if record["clamp"] is not None else None
    if options.pyramid is not None:
        record["pyramid"] = repr(options.pyramid.spec)
    return record


MORPH_OPTIONS = tuple(f.name for f in dataclasses.fields(MorphOptions))
