"""The images of a ``generate`` run: files (decoded in DataLoader workers) or a tensor, with
the run's channel count and size, read one batch per loader item."""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from ..io.image_files import (
    FITS,
    ImageFileError,
    image_size,
    input_notes,
    list_images,
    read_image,
    resize_images,
)


class ImageSource:
    """ids (sorted, unique) and a way to read image n as (C, H, W) float32 in [0, 1].

    images: a folder, a glob pattern, a list of files, or a (N, C, H, W) tensor in [0, 1]
    (ids "00000", "00001", ... unless ``ids`` are given). ``size`` (H, W): every file is
    resized to it; without it the run's size is the first readable file's and files of
    another size are reported as errors; ``fit`` says how a resize keeps the aspect ratio
    ("crop", "pad" or "stretch": see ``resize_images``). ``channels`` is 1 or 3 (files are
    converted).
    Files below ``exclude`` (the output folder) are not images of the run.
    """

    def __init__(
        self,
        images,
        channels: int,
        size: tuple[int, int] | None = None,
        ids: Sequence[str] | None = None,
        exclude: str | os.PathLike | None = None,
        fit: str = "crop",
    ) -> None:
        if fit not in FITS:
            raise ValueError(f"fit must be one of {FITS}, got {fit!r}")
        self.channels, self.fit = channels, fit
        self.resize = size is not None
        if size is not None and (len(size) != 2 or min(size) < 4):
            raise ValueError(f"size must be (H, W) with both sides >= 4, got {size!r}")
        if isinstance(images, Tensor):
            if images.dim() != 4 or not images.is_floating_point():
                raise ValueError(
                    f"images as a tensor must be floating (N, C, H, W), got {images.dtype} "
                    f"{tuple(images.shape)}"
                )
            self.tensor = images.detach().cpu().float().contiguous()
            count = images.shape[0]
            self.ids = list(ids) if ids is not None else [f"{n:05d}" for n in range(count)]
            if len(self.ids) != count or len(set(self.ids)) != count:
                raise ValueError(f"ids must be {count} distinct names, one per image")
            self.paths = None
            self.channels = images.shape[1]
            if size is not None and tuple(size) != tuple(images.shape[-2:]):
                self.tensor = resize_images(self.tensor, size, fit).clamp(0, 1)
            self.size = tuple(self.tensor.shape[-2:])
            return
        if ids is not None:
            raise ValueError("ids name the images of a tensor; files are named by their paths")
        listed = list_images(images, exclude)
        self.tensor = None
        self.ids = [i for i, _ in listed]
        self.paths = [os.fspath(p) for _, p in listed]
        if size is None:  # the first file that decodes, not only one whose header reads
            size = next(filter(None, map(self._decoded_size, self.paths)), None)
            if size is None:
                raise ValueError(f"images {images!r}: none of the {len(self.paths)} files opens")
        self.size = tuple(size)

    def _decoded_size(self, path: str) -> tuple[int, int] | None:
        """(H, W) of the file when it decodes whole (a header can declare a size its data do
        not hold: a truncated file must not set the run's size), else None."""
        if image_size(path) is None:
            return None
        try:
            return tuple(read_image(path, self.channels).shape[-2:])
        except ImageFileError:
            return None

    def __len__(self) -> int:
        return len(self.ids)

    def read(self, n: int) -> tuple[Tensor, dict[str, str]]:
        """(image n as (C, H, W) float32, notes on what was done to it: ``input_notes``, the
        check morph and probe run too); raises ImageFileError for a bad file, one too small to
        resize included."""
        if self.tensor is not None:
            return self.tensor[n], {}
        notes = input_notes(self.paths[n], self.size if self.resize else None, self.channels)
        image = read_image(
            self.paths[n], self.channels, self.size if self.resize else None, self.fit
        )
        if tuple(image.shape[-2:]) != self.size:
            height, width = image.shape[-2:]
            raise ImageFileError(
                f"size {height}x{width} differs from the run's {self.size[0]}x{self.size[1]}; "
                "pass --size H W (size=) to resize every image"
            )
        return image, notes


class _Batches(Dataset):
    """Item j: the images of batch j, read: {"index": [n, ...], "images": (b, C, H, W) of the
    readable ones, "errors": {n: message}, "notes": {n: {kind: note}}}."""

    def __init__(self, source: ImageSource, batches: Sequence[Sequence[int]]) -> None:
        self.source, self.batches = source, batches

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, j: int) -> dict:
        images, errors, notes = [], {}, {}
        for n in self.batches[j]:
            try:
                image, said = self.source.read(n)
            except ImageFileError as error:
                errors[n] = str(error)
                continue
            images.append(image)
            if said:
                notes[n] = said
        shape = (0, self.source.channels, *self.source.size)
        return {
            "index": list(self.batches[j]),
            "images": torch.stack(images) if images else torch.empty(shape),
            "errors": errors,
            "notes": notes,
        }


def batch_loader(
    source: ImageSource, batches: Sequence[Sequence[int]], workers: int, pin: bool
) -> DataLoader:
    """Batches in order, decoded by ``workers`` processes (0: in this process) ahead of use."""
    return DataLoader(
        _Batches(source, batches),
        batch_size=None,
        num_workers=workers,
        pin_memory=pin,
        prefetch_factor=2 if workers else None,
        persistent_workers=False,
    )
