"""What ``generate`` needs to know about a model: its input normalisation, its number of
classes, and a fingerprint of its weights for run records."""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

RANGE_255 = 2.0  # statistics above this are of 0-255 pixels, not of [0, 1] ones
IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


class Normalized(nn.Module):
    """``model((x - mean) / std)``: lets a model trained on normalised inputs be morphed in
    [0, 1] pixel space. mean and std are per channel (C,) or scalars. It starts in the
    wrapped model's mode (eval for a function) and carries its class names (``labels``)."""

    def __init__(self, model: Callable[[Tensor], Tensor], mean, std) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32).reshape(-1, 1, 1))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32).reshape(-1, 1, 1))
        self.train(isinstance(model, nn.Module) and model.training)
        for name in ("labels", "label_synonyms"):
            if getattr(model, name, None) is not None:
                setattr(self, name, getattr(model, name))

    def forward(self, x: Tensor) -> Tensor:
        return self.model((x - self.mean.to(x.dtype)) / self.std.to(x.dtype))


def parse_normalize(text: str | Sequence | None) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """ "imagenet", "MEAN,STD" (each a number or channel values joined by ':', e.g.
    "0.5,0.25" or "0.485:0.456:0.406,0.229:0.224:0.225"), or a (mean, std) pair."""
    if isinstance(text, str):
        if text == "imagenet":
            return IMAGENET
        halves = text.split(",")
        try:
            if len(halves) != 2:
                raise ValueError
            mean, std = (tuple(float(v) for v in h.split(":")) for h in halves)
        except ValueError:
            raise ValueError(
                f"normalize {text!r}: use 'imagenet' or MEAN,STD with numbers or ':'-joined "
                "channel values, e.g. 0.5,0.25 or 0.485:0.456:0.406,0.229:0.224:0.225"
            ) from None
    else:
        try:
            mean, std = (tuple(float(v) for v in torch.as_tensor(h).flatten()) for h in text)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"normalize must be 'imagenet' or (mean, std), got {text!r}"
            ) from error
    values = mean + std
    if not all(math.isfinite(v) for v in values) or min(std) <= 0:
        raise ValueError(f"normalize: mean must be finite and std > 0, got {mean}, {std}")
    if len(mean) != len(std):
        raise ValueError(f"normalize: mean has {len(mean)} values but std has {len(std)}")
    if max(abs(v) for v in values) > RANGE_255:
        warnings.warn(
            f"normalize: mean {mean} and std {std} look like statistics of 0-255 pixel values, "
            "but the images here are in [0, 1]: divide them by 255 (e.g. imagenet is "
            "0.485:0.456:0.406,0.229:0.224:0.225)",
            UserWarning,
            stacklevel=2,
        )
    return mean, std


def weights_sha256(model) -> str | None:
    """sha256 over the names, dtypes, shapes and bytes of the model's state dict (None for a
    callable without one)."""
    state = getattr(model, "state_dict", None)
    if state is None:
        return None
    digest = hashlib.sha256()
    for name, value in sorted(state().items()):
        digest.update(f"{name}|{value.dtype}|{tuple(value.shape)}\n".encode())
        data = value.detach().cpu().contiguous().reshape(-1)  # 0-dim buffers too
        digest.update(data.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def count_classes(model, channels: int, size: tuple[int, int], device: torch.device) -> int:
    """The model's number of classes, from one forward of a grey (1, channels, H, W) image;
    raises ValueError naming the model's failure or output shape."""
    probe = torch.full((1, channels, *size), 0.5, device=device)
    try:
        with torch.no_grad():
            out = model(probe)
    except Exception as error:  # any failure of user code on the run's input shape
        raise ValueError(
            f"model failed on a {tuple(probe.shape)} float32 input in [0, 1] "
            f"({type(error).__name__}: {error}); check --gray/--size and --normalize"
        ) from error
    if not isinstance(out, Tensor) or out.dim() != 2 or out.shape[0] != 1 or out.shape[1] < 2:
        shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(
            f"model must map (B, C, H, W) images to logits (B, classes >= 2); for a "
            f"{tuple(probe.shape)} input it returned {shape}"
        )
    return int(out.shape[1])
