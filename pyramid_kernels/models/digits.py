"""Small embedded classifiers of the 32x32 digits: a driver CNN and two judges of different
architectures. Each maps (B, 1, 32, 32) images in [0, 1] to logits (B, 10)."""

from __future__ import annotations

import torch
from torch import nn


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1)


class DigitsCNN(nn.Module):
    """Driver: three conv + pool stages and a two-layer head (~90k parameters)."""

    def __init__(self) -> None:
        super().__init__()
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
            nn.Flatten(), nn.Linear(64 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10)
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
    """

    def __init__(self, width: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(32 * 32, width), nn.ReLU(), nn.Linear(width, 10)
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


ARCHITECTURES = {
    "digits-driver": DigitsCNN,
    "digits-judge-resnet": ResNetMini,
    "digits-judge-mlp": TinyMLP,
    "digits-robust": DigitsCNN,  # the driver's network, trained adversarially (L2 PGD)
}
