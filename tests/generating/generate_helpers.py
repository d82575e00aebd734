"""Models for the generate tests' subprocesses (``--model generate_helpers:NAME``)."""

import time

from torch import nn

from pyramid_kernels import models


class SlowDriver(nn.Module):
    """The digits driver, 30 ms slower per forward: a run long enough to be killed mid-way."""

    def __init__(self) -> None:
        super().__init__()
        self.model = models.load("digits-driver")

    def forward(self, x):
        time.sleep(0.03)
        return self.model(x)


class BatchOfThreeFails(nn.Module):
    """The digits driver, raising RuntimeError on a batch of 3 images (a failure mid-run)."""

    def __init__(self) -> None:
        super().__init__()
        self.model = models.load("digits-driver")

    def forward(self, x):
        if x.shape[0] == 3:
            raise RuntimeError("CUDA out of memory (simulated)")
        return self.model(x)
