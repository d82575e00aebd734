"""Retrain the embedded digits models deterministically and report held-out accuracy.

    python -m pyramid_kernels.models.train

Trains on ``data.digits("train")`` only (random shifts of up to 2 pixels), evaluates on the
held-out ``data.digits("test")``, and writes weights/<name>.pt and weights/metrics.json.
"""

from __future__ import annotations

import json

import torch
import torch.nn.functional as F

from ..data import digits
from ..io.image_io import write_atomic
from . import ARCHITECTURES, WEIGHTS

EPOCHS = 40
BATCH = 64
SEED = 0


def _shift(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    padded = F.pad(images, (2, 2, 2, 2))
    dy, dx = torch.randint(0, 5, (2,), generator=generator).tolist()
    return padded[..., dy : dy + 32, dx : dx + 32]


def train(name: str) -> tuple[torch.nn.Module, float]:
    torch.manual_seed(SEED)
    generator = torch.Generator().manual_seed(SEED)
    images, labels = digits("train")
    model = ARCHITECTURES[name]()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, EPOCHS)
    for _ in range(EPOCHS):
        model.train()
        order = torch.randperm(len(labels), generator=generator)
        for start in range(0, len(order), BATCH):
            idx = order[start : start + BATCH]
            loss = F.cross_entropy(model(_shift(images[idx], generator)), labels[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        schedule.step()
    model.eval()
    test_images, test_labels = digits("test")
    with torch.no_grad():
        accuracy = (model(test_images).argmax(1) == test_labels).float().mean().item()
    return model, accuracy


def main() -> dict:
    torch.set_num_threads(min(torch.get_num_threads(), 2))
    WEIGHTS.mkdir(exist_ok=True)
    metrics = {}
    for name in ARCHITECTURES:
        model, accuracy = train(name)
        write_atomic(WEIGHTS / f"{name}.pt", lambda tmp, m=model: torch.save(m.state_dict(), tmp))
        params = sum(p.numel() for p in model.parameters())
        metrics[name] = {"test_accuracy": round(accuracy, 4), "parameters": params}
        print(f"{name}: held-out accuracy {accuracy:.4f} ({params} parameters)", flush=True)
    write_atomic(
        WEIGHTS / "metrics.json",
        lambda tmp: open(tmp, "w").write(json.dumps(metrics, indent=2) + "\n"),
    )
    return metrics


if __name__ == "__main__":
    main()
