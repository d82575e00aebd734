"""Retrain the embedded digit models deterministically and report held-out accuracy.

    python -m pyramid_kernels.models.train [NAME ...]

Each model (``EMBEDDED``) trains on its data's train split only (``data.mnist("train")`` or
``data.digits("train")``; random shifts of up to 2 pixels), from its own seed, is evaluated on
the held-out test split, and writes weights/<name>.pt and its entry in weights/metrics.json.
The robust models ("mnist-robust", "digits-robust") are the driver's architecture trained
adversarially (Madry et al.): every batch is replaced by its L2 PGD images (radius, steps,
from a random start in the ball); every model's metrics add its accuracy under a 20-step L2
PGD attack of radius 2.
"""

from __future__ import annotations

import json

import torch
import torch.nn.functional as F

from .. import data
from ..io.image_io import write_atomic
from . import EMBEDDED, WEIGHTS
from .attack import pgd_l2, robust_accuracy

EPOCHS = 40
BATCH = 64
ATTACK_EPS = 2.0  # the reported robust accuracy: 20-step L2 PGD of this radius


def split(name: str, which: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``which`` split ("train" / "test") of the data the model ``name`` learns."""
    return getattr(data, EMBEDDED[name].data)(which)


def _shift(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    height, width = images.shape[-2:]
    padded = F.pad(images, (2, 2, 2, 2))
    dy, dx = torch.randint(0, 5, (2,), generator=generator).tolist()
    return padded[..., dy : dy + height, dx : dx + width]


def train(name: str) -> tuple[torch.nn.Module, float]:
    """Train the embedded model ``name`` from its seed; (model in eval mode, test accuracy)."""
    entry = EMBEDDED[name]
    torch.manual_seed(entry.seed)
    generator = torch.Generator().manual_seed(entry.seed)
    images, labels = split(name, "train")
    model = entry.network()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, EPOCHS)
    for _ in range(EPOCHS):
        model.train()
        order = torch.randperm(len(labels), generator=generator)
        for start in range(0, len(order), BATCH):
            idx = order[start : start + BATCH]
            batch = _shift(images[idx], generator)
            if entry.adversarial is not None:
                batch = pgd_l2(model, batch, labels[idx], generator=generator, **entry.adversarial)
            loss = F.cross_entropy(model(batch), labels[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        schedule.step()
    model.eval()
    test_images, test_labels = split(name, "test")
    with torch.no_grad():
        accuracy = (model(test_images).argmax(1) == test_labels).float().mean().item()
    return model, accuracy


def main(names: list[str] | None = None) -> dict:
    """Train ``names`` (default: every embedded digit model) and record their metrics."""
    torch.set_num_threads(min(torch.get_num_threads(), 2))
    WEIGHTS.mkdir(exist_ok=True)
    record = WEIGHTS / "metrics.json"
    metrics = json.loads(record.read_text()) if record.exists() else {}
    for name in names or EMBEDDED:
        model, accuracy = train(name)
        write_atomic(WEIGHTS / f"{name}.pt", lambda tmp, m=model: torch.save(m.state_dict(), tmp))
        params = sum(p.numel() for p in model.parameters())
        test_images, test_labels = split(name, "test")
        robust = robust_accuracy(model, test_images, test_labels, eps=ATTACK_EPS)
        metrics[name] = {
            "test_accuracy": round(accuracy, 4),
            "pgd_l2_2_accuracy": round(robust, 4),
            "parameters": params,
        }
        print(
            f"{name}: held-out accuracy {accuracy:.4f}, under L2 PGD (eps {ATTACK_EPS}, 20 "
            f"steps) {robust:.4f} ({params} parameters)",
            flush=True,
        )
    write_atomic(record, lambda tmp: open(tmp, "w").write(json.dumps(metrics, indent=2) + "\n"))
    return metrics


if __name__ == "__main__":
    import sys

    unknown = sorted(set(sys.argv[1:]) - set(EMBEDDED))
    if unknown:
        sys.exit(f"unknown models {unknown}; choose from {sorted(EMBEDDED)}")
    main(sys.argv[1:])
