"""L2 projected gradient descent (PGD): the attack that trains and tests the robust driver."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def pgd_l2(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    *,
    eps: float,
    steps: int,
    step_size: float | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Images within L2 distance ``eps`` of ``images`` (and in [0, 1]) that raise the model's
    cross-entropy on ``labels``: ``steps`` normalised-gradient ascent steps, each followed by a
    projection onto the L2 ball and the [0, 1] box.

    Parameters
    ----------
    model : nn.Module
        (B, C, H, W) images in [0, 1] -> logits (B, classes); its mode is left as it is.
    images : Tensor
        (B, C, H, W) float in [0, 1].
    labels : Tensor
        (B,) int64 true classes.
    eps : float
        L2 radius per image (pixel units of the whole image).
    steps : int
        Ascent steps.
    step_size : float or None
        L2 length of each step (default 2.5 * eps / steps).
    generator : torch.Generator or None
        With a generator the attack starts at a random point of the ball (uniform direction,
        radius eps * U^(1/d)); without, at the images.

    Returns
    -------
    Tensor
        (B, C, H, W) adversarial images, detached.
    """
    step_size = 2.5 * eps / steps if step_size is None else step_size
    flat = images.flatten(1)
    delta = torch.zeros_like(flat)
    if generator is not None:
        direction = torch.randn(flat.shape, generator=generator).to(flat)
        radius = torch.rand(flat.shape[0], 1, generator=generator).to(flat) ** (1 / flat.shape[1])
        delta = direction / direction.norm(dim=1, keepdim=True) * radius * eps
    for _ in range(steps):
        delta.requires_grad_(True)
        adversarial = (flat + delta).clamp(0, 1).view_as(images)
        loss = F.cross_entropy(model(adversarial), labels)
        (grad,) = torch.autograd.grad(loss, delta)
        with torch.no_grad():
            delta = delta + step_size * grad / grad.norm(dim=1, keepdim=True).clamp_min(1e-12)
            delta = delta * (eps / delta.norm(dim=1, keepdim=True).clamp_min(eps))
            delta = (flat + delta).clamp(0, 1) - flat
    return (flat + delta).view_as(images).detach()


def robust_accuracy(
    model: nn.Module, images: Tensor, labels: Tensor, *, eps: float, steps: int = 20
) -> float:
    """Accuracy on ``pgd_l2`` adversarial images (no random start), batches of 256.

    Parameters
    ----------
    model : nn.Module
        A classifier in eval mode.
    images : Tensor
        (N, C, H, W) in [0, 1].
    labels : Tensor
        (N,) int64.
    eps : float
        L2 radius.
    steps : int
        Attack steps.

    Returns
    -------
    float
        The share of adversarial images still classified as their label.
    """
    correct = 0
    for start in range(0, len(labels), 256):
        x, y = images[start : start + 256], labels[start : start + 256]
        adversarial = pgd_l2(model, x, y, eps=eps, steps=steps)
        with torch.no_grad():
            correct += int((model(adversarial).argmax(1) == y).sum())
    return correct / len(labels)
