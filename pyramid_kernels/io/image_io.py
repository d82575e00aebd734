"""Writing pictures atomically (temporary file in the target folder, then rename)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """(H, W) or (C, H, W) float in [0, 1] -> uint8 array (H, W) or (H, W, C)."""
    if image.dim() == 3:
        image = image.permute(1, 2, 0)
        if image.shape[-1] == 1:
            image = image[..., 0]
    array = image.detach().cpu().double().clamp(0, 1).mul(255).round().to(torch.uint8).numpy()
    return array


def check_writable(path: str | os.PathLike, folder: bool = False) -> Path:
    """``path`` if a file (``folder``: a folder) can be written there, else an OSError that
    names it: its nearest existing ancestor must be a writable folder, and ``path`` itself,
    if it exists, a file (a folder)."""
    path = Path(path)
    kind = "folder" if folder else "file"
    if path.exists() and path.is_dir() != folder:
        raise IsADirectoryError(
            f"cannot write the {kind} {path}: it is a {'file' if folder else 'folder'}"
        )
    ancestor = path if folder and path.exists() else path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise NotADirectoryError(
            f"cannot write the {kind} {path}: {ancestor} is a file, not a folder"
        )
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write the {kind} {path}: {ancestor} is not writable")
    return path


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name one file: the same path written another way, a symlink to it or
    a hard link of it (same device and inode); paths that do not exist compare resolved."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(a).resolve() == Path(b).resolve()


def check_not_input(
    out: str | os.PathLike, inputs: Iterable[str | os.PathLike], argument: str = "--out"
) -> None:
    """ValueError naming ``argument`` when ``out`` is one of the ``inputs`` (see same_file):
    writing it would replace or mix with the input, before any work is done."""
    for source in inputs:
        if same_file(out, source):
            raise ValueError(
                f"{argument} {os.fspath(out)!r} is the input {os.fspath(source)!r} (the same "
                "file or folder): choose an output path that is not an input"
            )


def make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing ancestors; the folders created, deepest first (for
    remove_folders after a failure)."""
    created = []
    missing = folder
    while not missing.exists() and missing != missing.parent:
        created.append(missing)
        missing = missing.parent
    folder.mkdir(parents=True, exist_ok=True)
    return created


def remove_folders(created: list[Path]) -> None:
    """Remove the folders make_folders created, deepest first, as long as they are empty."""
    for folder in created:
        try:
            folder.rmdir()
        except OSError:
            return


def write_atomic(path: str | os.PathLike, save) -> Path:
    """Call ``save(tmp_path)`` on a temporary file beside ``path``, then rename it into place.
    On failure nothing is left: no file, and no folder this call created. OSErrors of the
    folder or the temporary file name ``path``."""
    path = check_writable(path)
    created: list[Path] = []
    try:
        created = make_folders(path.parent)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    except OSError as error:
        remove_folders(created)
        raise OSError(error.errno, f"cannot write {path}: {error.strerror}") from error
    os.close(fd)
    try:
        save(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual file mode
        os.replace(tmp, path)
    except BaseException as error:
        if os.path.exists(tmp):
            os.unlink(tmp)
        remove_folders(created)
        if isinstance(error, OSError) and error.strerror:  # name the path asked for, not tmp
            raise OSError(error.errno, f"cannot write {path}: {error.strerror}") from error
        raise
    return path


def save_png(path: str | os.PathLike, image: torch.Tensor) -> Path:
    """Write a float image in [0, 1], (H, W) or (C, H, W), as PNG."""
    array = to_uint8(image)
    return write_atomic(path, lambda tmp: Image.fromarray(array).save(tmp, format="PNG"))


def _tile(image, scale: int):
    """(C, H, W) float -> uint8 array upscaled by an integer factor (nearest)."""
    array = to_uint8(image)
    return np.kron(array, np.ones((scale, scale) + (1,) * (array.ndim - 2), dtype=np.uint8))


CAPTION = 12  # pixels per caption line (PIL's default bitmap font)


def save_morph(
    path: str | os.PathLike,
    frames: torch.Tensor,
    scale: int | None = None,
    captions: tuple[list[str], list[list[str]]] | None = None,
) -> Path:
    """Frames (T, B, C, H, W) in [0, 1] -> .gif (animation, the batch side by side) or .png
    (one row per image, one column per frame), written atomically. ``captions`` (a heading per
    image, a caption per image and frame) are written under the tiles, the heading above each
    PNG row and in each GIF frame's caption."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".gif", ".png"):
        raise ValueError(f"path must end in .gif or .png, got {path.name!r}")
    height = frames.shape[-2]
    scale = scale or max(1, 128 // height)
    count, batch = frames.shape[0], frames.shape[1]
    tiles = [[_tile(frames[t, b], scale) for b in range(batch)] for t in range(count)]
    if captions is not None:
        headings, texts = captions
        tiles = [[_captioned(tiles[t][b], texts[b][t]) for b in range(batch)] for t in range(count)]
    if suffix == ".png":
        rows = [np.concatenate([tiles[t][b] for t in range(count)], axis=1) for b in range(batch)]
        if captions is not None:
            rows = [_headed(row, heading) for row, heading in zip(rows, headings, strict=True)]
        picture = Image.fromarray(np.concatenate(rows, axis=0))
        return write_atomic(path, lambda tmp: picture.save(tmp, format="PNG"))
    if captions is not None:
        tiles = [[_headed(tiles[t][b], headings[b]) for b in range(batch)] for t in range(count)]
    pictures = [Image.fromarray(np.concatenate(row, axis=1)) for row in tiles]
    return write_atomic(
        path,
        lambda tmp: pictures[0].save(
            tmp, format="GIF", save_all=True, append_images=pictures[1:], duration=150, loop=0
        ),
    )


def _text_band(width: int, text: str, channels: int) -> np.ndarray:
    """A white band ``CAPTION`` pixels high with ``text`` in black, cut to the width."""
    band = Image.new("L", (width, CAPTION), 255)
    draw = ImageDraw.Draw(band)
    while text and draw.textlength(text) > width - 2:
        text = text[:-1]
    draw.text((1, 0), text, fill=0)
    array = np.asarray(band)
    return np.repeat(array[..., None], channels, -1) if channels > 1 else array


def _captioned(tile: np.ndarray, text: str) -> np.ndarray:
    channels = tile.shape[2] if tile.ndim == 3 else 1
    return np.concatenate([tile, _text_band(tile.shape[1], text, channels)], axis=0)


def _headed(row: np.ndarray, text: str) -> np.ndarray:
    channels = row.shape[2] if row.ndim == 3 else 1
    return np.concatenate([_text_band(row.shape[1], text, channels), row], axis=0)
