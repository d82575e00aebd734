"""Writing pictures atomically (temporary file in the target folder, then rename)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """(H, W) or (C, H, W) float in [0, 1] -> uint8 array (H, W) or (H, W, C)."""
    if image.dim() == 3:
        image = image.permute(1, 2, 0)
        if image.shape[-1] == 1:
            image = image[..., 0]
    array = image.detach().cpu().double().clamp(0, 1).mul(255).round().to(torch.uint8).numpy()
    return array


def write_atomic(path: str | os.PathLike, save) -> Path:
    """Call ``save(tmp_path)`` on a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        save(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def save_png(path: str | os.PathLike, image: torch.Tensor) -> Path:
    """Write a float image in [0, 1], (H, W) or (C, H, W), as PNG."""
    array = to_uint8(image)
    return write_atomic(path, lambda tmp: Image.fromarray(array).save(tmp, format="PNG"))
