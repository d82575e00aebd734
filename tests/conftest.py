import os

import pytest
import torch

if not torch.cuda.is_available():
    # run the Triton kernels on CPU tensors; must be set before they are defined
    os.environ.setdefault("TRITON_INTERPRET", "1")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def rel_max_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| / max |b|."""
    return ((a - b).abs().max() / b.abs().max()).item()
