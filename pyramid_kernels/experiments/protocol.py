"""The digits protocol shared by the demo, the evaluation and the morph benchmarks: the four
methods, the driver and judge models, and the paper's MNIST budgets on 32x32 digits."""

from __future__ import annotations

METHODS = [  # (label, space, edit)
    ("pixel", "pixel", "phase"),
    ("fourier phase", "fourier", "phase"),
    ("csp phase", "csp", "phase"),
    ("csp joint", "csp", "joint"),
]
DRIVER = "digits-driver"
JUDGES = ("digits-judge-resnet", "digits-judge-mlp")
MNIST_BUDGETS = (1.0, 2.0)  # the paper's pixel-L2 budgets on 28x28 MNIST
DEMO_MNIST_BUDGET = 4.0


def mnist_budget(l2: float) -> float:
    """An MNIST pixel-L2 budget in RMS terms on our 32x32 digits: l2 x 32/28."""
    return l2 * 32 / 28
