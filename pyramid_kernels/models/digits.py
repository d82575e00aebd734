"""Small embedded digit classifiers: a driver CNN and two judges of different architectures,
for real MNIST (28x28) and for the upsampled scikit-learn digits (32x32). Each maps
(B, 1, S, S) images in [0, 1] to logits (B, 10); ``EMBEDDED`` lists them with their data."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1)


class DigitsCNN(nn.Module):
    """Driver: three conv + pool stages and a two-layer head (~90k parameters at 32x32).

    Parameters
    ----------
    size : int
        The images' side (32: the upsampled digits; 28: MNIST).
    """

    def __init__(self, size: int = 32) -> None:
        super().__init__()
        side = size // 8  # three 2x2 poolings, each rounding down
        self.features = nn.Sequential(
            _conv(1, 16),
            nn.ReLU(),
            nn.MaxPool2d(2),
            _conv(16, 32),
            nn.ReLU(),
            nn.MaxPool2d(2),
            _conv(32, 64),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * side * side, 64), nn.ReLU(), nn.Linear(64, 10)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch.

        Parameters
        ----------
        x : Tensor
            (B, 1, H, W) images in [0, 1].

        Returns
        -------
        Tensor
            (B, 10) logits.
        """
        return self.head(self.features(2 * x - 1))


class _Residual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv(cin, cout, stride),
            nn.BatchNorm2d(cout),
            nn.ReLU(),
            _conv(cout, cout),
            nn.BatchNorm2d(cout),
        )
        self.skip = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


class ResNetMini(nn.Module):
    """Judge: a small ResNet (width 16-32, batch norm, global average pooling).

    Parameters
    ----------
    width : int
        Channels of the first stage.
    """

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        self.net = nn.Sequential(
            _conv(1, width),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            _Residual(width, width, 1),
            _Residual(width, 2 * width, 2),
            _Residual(2 * width, 2 * width, 2),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(2 * width, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch.

        Parameters
        ----------
        x : Tensor
            (B, 1, H, W) images in [0, 1].

        Returns
        -------
        Tensor
            (B, 10) logits.
        """
        return self.net(2 * x - 1)


class TinyMLP(nn.Module):
    """Judge: a one-hidden-layer perceptron on the raw pixels.

    Parameters
    ----------
    width : int
        Hidden units.
    size : int
        The images' side.
    """

    def __init__(self, width: int = 128, size: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(size * size, width), nn.ReLU(), nn.Linear(width, 10)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch.

        Parameters
        ----------
        x : Tensor
            (B, 1, H, W) images in [0, 1].

        Returns
        -------
        Tensor
            (B, 10) logits.
        """
        return self.net(2 * x - 1)


@dataclass(frozen=True)
class EmbeddedDigits:
    """An embedded digit classifier: its network, the data it is trained and tested on, and
    how (``models.train``).

    Parameters
    ----------
    network : callable
        () -> the untrained nn.Module.
    data : {"mnist", "digits"}
        ``pk.data.mnist`` (28x28) or ``pk.data.digits`` (32x32).
    seed : int
        The training run's seed (initialisation, order, shifts).
    adversarial : dict or None
        L2 PGD training attack (``eps``, ``steps``) for a robust model, or None.
    """

    network: Callable[[], nn.Module]
    data: str
    seed: int = 0
    adversarial: dict | None = None

    @property
    def size(self) -> int:
        """The images' side."""
        return 28 if self.data == "mnist" else 32


EMBEDDED = {
    # real MNIST, as the paper's MNIST experiment: driver G, judges O (ResNetMini width 32) and
    # O2 (TinyMLP width 512), each from its own seed, and a robust driver (L2 PGD training)
    "mnist-driver": EmbeddedDigits(functools.partial(DigitsCNN, 28), "mnist", seed=1),
    "mnist-judge-resnet": EmbeddedDigits(functools.partial(ResNetMini, 32), "mnist", seed=2),
    "mnist-judge-mlp": EmbeddedDigits(functools.partial(TinyMLP, 512, 28), "mnist", seed=3),
    "mnist-robust": EmbeddedDigits(
        functools.partial(DigitsCNN, 28), "mnist", seed=4, adversarial={"eps": 2.0, "steps": 7}
    ),
    # scikit-learn's 8x8 digits upsampled to 32x32 (fast tests, the earlier tables)
    "digits-driver": EmbeddedDigits(DigitsCNN, "digits"),
    "digits-judge-resnet": EmbeddedDigits(ResNetMini, "digits"),
    "digits-judge-mlp": EmbeddedDigits(TinyMLP, "digits"),
    # the driver's network, trained adversarially (L2 PGD)
    "digits-robust": EmbeddedDigits(DigitsCNN, "digits", adversarial={"eps": 2.0, "steps": 7}),
}
ARCHITECTURES = {name: model.network for name, model in EMBEDDED.items()}
