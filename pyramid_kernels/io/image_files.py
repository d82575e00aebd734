"""Finding image files (a folder, a glob, a list) and decoding them to float tensors, with one
documented rule for every mode and bit depth."""

from __future__ import annotations

import contextlib
import glob
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

IMAGE_SUFFIXES = (
    ".png",
    ".jpg",
    ".jpeg",
    ".bmp",
    ".gif",
    ".tif",
    ".tiff",
    ".webp",
    ".pgm",
    ".ppm",
    ".pnm",
)
FITS = ("crop", "pad", "stretch")  # how a resize keeps the aspect ratio (resize_images)
GRAY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")  # PIL's one-channel modes
LUMA = (0.299, 0.587, 0.114)  # ITU-R 601, as PIL's "L" conversion
ORIENTATION = 0x0112  # EXIF tag: values 5-8 turn the stored image by 90 degrees
MIN_RESIZE_SIDE = 16  # an image resized for a model must have sides of at least this
# the most pixels decoded from one file (a 2^27-pixel image is 1.5 GB as float32 RGB); a
# larger JPEG read at a smaller size is decoded reduced (by 2, 4 or 8) below it
MAX_PIXELS = 2**27


class ImageFileError(ValueError):
    """An image file that cannot be read or converted; the message says why."""


def list_images(
    images: str | os.PathLike | Sequence[str | os.PathLike],
    exclude: str | os.PathLike | None = None,
) -> list[tuple[str, Path]]:
    """(id, path) pairs sorted by id.

    A folder: every file below it (recursively) with a suffix in IMAGE_SUFFIXES, id = its
    POSIX path relative to the folder; hidden files and folders (names starting with '.')
    are left out. A glob pattern (``*``, ``?``, ``[``): the matching files, id = the path as
    matched. A file: that file. A list of files: ids = the paths as given. Files below
    ``exclude`` (an output folder inside the input folder) are left out of folders and globs.
    Raises ValueError when nothing is found or a listed file does not exist.
    """
    skip = Path(exclude).resolve() if exclude is not None else None

    def kept(path: Path) -> bool:
        return skip is None or not path.resolve().is_relative_to(skip)

    if isinstance(images, (str, os.PathLike)):
        text = os.fspath(images)
        root = Path(text)
        if root.is_dir():
            found = [
                (p.relative_to(root).as_posix(), p)
                for p in root.rglob("*")
                if p.suffix.lower() in IMAGE_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(root).parts)
                and p.is_file()
                and kept(p)
            ]
            if not found:
                raise ValueError(
                    f"images {text!r}: the folder holds no image files "
                    f"(looked for {', '.join(IMAGE_SUFFIXES)} below it)"
                )
            return sorted(found)
        if glob.has_magic(text):
            found = [
                (p, Path(p))
                for p in glob.glob(text, recursive=True)
                if Path(p).is_file() and kept(Path(p))
            ]
            if not found:
                raise ValueError(f"images {text!r}: the pattern matches no files")
            return sorted(found)
        if root.is_file():
            return [(root.name, root)]
        raise ValueError(f"images {text!r}: no such file or folder (nor a glob pattern)")
    paths = [os.fspath(p) for p in images]
    if not paths:
        raise ValueError("images: the list of files is empty")
    missing = [p for p in paths if not Path(p).is_file()]
    if missing:
        raise ValueError(f"images: {len(missing)} listed files do not exist, e.g. {missing[:3]}")
    if len(set(paths)) != len(paths):
        raise ValueError("images: the list names a file twice")
    return sorted((p, Path(p)) for p in paths)


def _decoded(picture: Image.Image) -> np.ndarray:
    """(H, W, 1 or 3) float64 in [0, 1]. Alpha is composited over black (a transparent pixel
    is 0); 16-bit images are scaled by 1/65535; 8-bit modes by 1/255."""
    mode = picture.mode
    if mode.startswith("I;16") or mode == "I":
        array = np.asarray(picture).astype(np.float64)
        if array.size and (array.min() < 0 or array.max() > 65535):
            raise ImageFileError(f"32-bit integer image with values outside [0, 65535] ({mode})")
        return array[..., None] / 65535.0
    if mode == "F":
        array = np.asarray(picture).astype(np.float64)
        if array.size and not (np.isfinite(array).all() and 0 <= array.min() <= array.max() <= 1):
            raise ImageFileError("32-bit float image with values outside [0, 1]")
        return array[..., None]
    alpha = "A" in picture.getbands() or "transparency" in picture.info
    if alpha:
        array = np.asarray(picture.convert("RGBA")).astype(np.float64) / 255.0
        return array[..., :3] * array[..., 3:]
    if mode in ("1", "L"):
        return np.asarray(picture.convert("L")).astype(np.float64)[..., None] / 255.0
    return np.asarray(picture.convert("RGB")).astype(np.float64) / 255.0


def read_image(
    path: str | os.PathLike, channels: int, size: tuple[int, int] | None = None, fit: str = "crop"
) -> torch.Tensor:
    """An image file -> (channels, H, W) float32 in [0, 1].

    The EXIF orientation is applied (the image as viewers show it). Modes: grayscale, RGB,
    palette, CMYK and the other 8-bit modes, 16-bit grayscale, and alpha (composited over
    black). channels=1 takes the ITU-R 601 luminance of colour images;
    channels=3 repeats a grayscale image. ``size`` (H, W) resizes by ``fit`` (see
    resize_images; in float, after the conversion). Raises ImageFileError for a file that is
    not a readable image, is truncated, or has a mode without a well-defined conversion.
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    try:
        with _open(path) as opened:
            if size is not None and opened.format == "JPEG":
                # decode at 1/2, 1/4 or 1/8 scale when that still covers ``size``
                side = max(size)  # either orientation: EXIF may turn it after
                opened.draft(opened.mode, _decode_size(opened.size, (side, side), fit))
            if opened.width * opened.height > MAX_PIXELS:
                raise ImageFileError(
                    f"it is {opened.width}x{opened.height} "
                    f"({opened.width * opened.height / 1e6:.0f} megapixels), more than the "
                    f"{MAX_PIXELS / 1e6:.0f} read at once: resize it first"
                )
            picture = ImageOps.exif_transpose(opened)  # upright, as viewers show it
            array = _decoded(picture)
    except ImageFileError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise ImageFileError(f"cannot read it as an image ({error})") from error
    image = torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1)
    if channels == 1 and image.shape[0] == 3:
        image = (torch.tensor(LUMA, dtype=image.dtype)[:, None, None] * image).sum(0, keepdim=True)
    elif channels == 3 and image.shape[0] == 1:
        image = image.expand(3, -1, -1)
    if size is not None and tuple(image.shape[-2:]) != tuple(size):
        image = resize_images(image[None], size, fit)[0]
    return image.float().clamp(0, 1).contiguous()


def load_image(
    path: str | os.PathLike,
    size: int | tuple[int, int] | None = None,
    gray: bool = False,
    fit: str = "crop",
) -> torch.Tensor:
    """An image file as a batch of one, ready for ``pk.morph`` or a model.

    Parameters
    ----------
    path : str or PathLike
        Any image PIL reads (PNG, JPEG, GIF's first frame, TIFF, WebP, PNM, ...); the EXIF
        orientation is applied and transparency composited over black.
    size : int, (int, int) or None
        Resize to (H, W) (an int: square), keeping the aspect ratio by ``fit``; None keeps
        the file's size.
    gray : bool
        One channel (ITU-R 601 luminance) instead of RGB.
    fit : {"crop", "pad", "stretch"}
        How a resize keeps the aspect ratio.

    Returns
    -------
    Tensor
        (1, C, H, W) float32 in [0, 1], C = 1 with ``gray`` else 3.

    Raises
    ------
    ImageFileError
        (a ValueError) naming why the file cannot be read: missing, not an image, truncated,
        too large.
    """
    if isinstance(size, int) and not isinstance(size, bool):
        size = (size, size)
    if size is not None and not (
        isinstance(size, (tuple, list))
        and len(size) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in size)
    ):
        raise ValueError(f"size must be None, an int or (H, W) ints >= 1, got {size!r}")
    if fit not in FITS:
        raise ValueError(f"fit must be one of {FITS}, got {fit!r}")
    return read_image(path, 1 if gray else 3, None if size is None else tuple(size), fit)[None]


@contextlib.contextmanager
def _open(path: str | os.PathLike):
    """PIL's Image.open without its DecompressionBombWarning: sizes are checked by name here
    (MAX_PIXELS), and a file beyond PIL's own limit still raises DecompressionBombError."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(path) as picture:
            yield picture


def _decode_size(stored: tuple[int, int], size: tuple[int, int], fit: str) -> tuple[int, int]:
    """The smallest (W, H) a reduced JPEG decode may have so that a resize to ``size`` (H, W)
    by ``fit`` still only shrinks: with "crop" the image's shorter side (relative to the
    target's aspect) must cover the target, with "pad"/"stretch" both sides."""
    width, height = stored
    target_h, target_w = size
    if fit == "crop":
        scale = max(target_h / height, target_w / width)  # the crop keeps the larger ratio
        return (max(1, round(width * scale)), max(1, round(height * scale)))
    return (target_w, target_h)


def input_notes(path: str | os.PathLike, size: tuple[int, int] | None, channels: int) -> list[str]:
    """The one check of an image file that morph, probe and generate run before any model
    work: ImageFileError for a file that cannot be read or is too small to resize to
    ``size``; otherwise the notes to tell the user (upscaled more than 2x, transparency
    composited over black, grayscale repeated over 3 channels).

    Parameters
    ----------
    path : str or PathLike
        The image file.
    size : (int, int) or None
        (H, W) it is resized to, or None.
    channels : int
        1 or 3, the channels it is read as.

    Returns
    -------
    dict of str to str
        Notes by kind ("upscaled more than 2x", "with transparency", "grayscale for RGB"),
        each "is ...: ..." to follow the file's name.
    """
    stored = image_size(path)
    if stored is None:  # unreadable: the reader says why
        read_image(path, channels)
        raise ImageFileError("cannot read its header")
    notes = {}
    if size is not None:
        (h, w), (th, tw) = stored, size
        if min(h, w) < MIN_RESIZE_SIDE:
            raise ImageFileError(
                f"it is {h}x{w}: too small to resize to {th}x{tw} (its sides must be at least "
                f"{MIN_RESIZE_SIDE} pixels)"
            )
        factor = max(th / h, tw / w)
        if factor > 2:
            notes["upscaled more than 2x"] = f"is {h}x{w}: upscaled {factor:.1f}x to {th}x{tw}"
    if channels == 3 and is_grayscale(path):
        notes["grayscale for RGB"] = "is grayscale: repeated over 3 channels for an RGB model"
    if has_alpha(path):
        notes["with transparency"] = "has transparency: composited over black"
    return notes


def has_alpha(path: str | os.PathLike) -> bool:
    """Whether the file's image has an alpha channel or a transparent colour (read_image
    composites it over black); False for a file that cannot be opened."""
    try:
        with _open(path) as picture:
            return "A" in picture.getbands() or "transparency" in picture.info
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return False


def resize_images(images: torch.Tensor, size: tuple[int, int], fit: str = "crop") -> torch.Tensor:
    """(N, C, H, W) -> (N, C, *size), bilinear with antialiasing: the one resize rule for files
    and tensors. ``fit``: "crop" keeps the aspect ratio and cuts the centre to the new aspect
    (nothing squashed), "pad" keeps the aspect ratio and the whole image, padding the borders
    with black, "stretch" resizes each side on its own (the aspect changes)."""
    if fit not in FITS:
        raise ValueError(f"fit must be one of {FITS}, got {fit!r}")
    height, width = images.shape[-2:]
    target_h, target_w = size
    if fit == "crop" and height * target_w != width * target_h:
        keep_h = min(height, round(width * target_h / target_w))
        keep_w = min(width, round(height * target_w / target_h))
        top, left = (height - keep_h) // 2, (width - keep_w) // 2
        images = images[..., top : top + keep_h, left : left + keep_w]
    if fit == "pad" and height * target_w != width * target_h:
        scale = min(target_h / height, target_w / width)
        inner = (max(1, round(height * scale)), max(1, round(width * scale)))
        inner_images = _interpolate(images, inner)
        top, left = (target_h - inner[0]) // 2, (target_w - inner[1]) // 2
        pads = (left, target_w - inner[1] - left, top, target_h - inner[0] - top)
        return F.pad(inner_images, pads, value=0.0)
    return _interpolate(images, (target_h, target_w))


def _interpolate(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(images.shape[-2:]) == tuple(size):
        return images
    return F.interpolate(images, size=size, mode="bilinear", antialias=True, align_corners=False)


def is_grayscale(path: str | os.PathLike) -> bool:
    """Whether the file holds a grayscale image (any bit depth, with or without alpha); False
    for a file that cannot be opened (read_image reports it)."""
    try:
        with _open(path) as picture:
            return picture.mode in GRAY_MODES
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return False


def image_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """(H, W) from the file's header, upright (EXIF orientation), or None when it cannot be
    read."""
    try:
        with _open(path) as picture:
            turned = picture.getexif().get(ORIENTATION, 1) in (5, 6, 7, 8)
            return (picture.width, picture.height) if turned else (picture.height, picture.width)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None
