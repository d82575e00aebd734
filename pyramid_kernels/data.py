"""Embedded real data: scikit-learn's bundled handwritten digits (1,797 8x8 images, UCI),
upsampled to 32x32, with a fixed train/test split (the test split is held out from training)."""

from __future__ import annotations

from functools import lru_cache

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
    """(images (N, 1, 32, 32) float32 in [0, 1], labels (N,) int64) for split "train" or "test".

    The split is a fixed random permutation (seed 0): 597 test images, 1,200 train images.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    images, labels = _all_digits()
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(SPLIT_SEED))
    index = order[:TEST_SIZE] if split == "test" else order[TEST_SIZE:]
    return images[index].clone(), labels[index].clone()
