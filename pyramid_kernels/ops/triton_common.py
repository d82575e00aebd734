"""Helpers shared by the Triton kernels: complex tiles, output allocation, block sizes.

Complex data travels as ``view_as_real`` [..., 2] tiles: element i of a complex tensor is the
pair (2 i, 2 i + 1) of its real view.
"""

from __future__ import annotations

import contextlib

import torch
import triton
import triton.language as tl


@triton.jit
def load_complex(ptr, idx, valid):
    """(re, im) of complex elements ``idx`` (zeros where not ``valid``)."""
    tile = tl.load(
        ptr + 2 * idx[:, None] + tl.arange(0, 2)[None, :], mask=valid[:, None], other=0.0
    )
    return tl.split(tile)


@triton.jit
def store_complex(ptr, idx, re, im, valid):
    """Write re + i im to complex elements ``idx`` where ``valid``."""
    tl.store(
        ptr + 2 * idx[:, None] + tl.arange(0, 2)[None, :], tl.join(re, im), mask=valid[:, None]
    )


def on_device(t: torch.Tensor) -> contextlib.AbstractContextManager:
    """Make ``t``'s GPU current around a launch: Triton launches on the current device (and
    its current stream), so a tensor on another GPU would be read from the wrong one."""
    if t.device.type == "cuda" and t.device.index != torch.cuda.current_device():
        return torch.cuda.device(t.device)
    return contextlib.nullcontext()


def block_size(numel: int, device: torch.device) -> int:
    """Elements per program: 1024 on a GPU; few, large programs in the CPU interpreter."""
    if device.type == "cpu":
        return min(triton.next_power_of_2(numel), 1 << 16)
    return 1024


def alloc(like: torch.Tensor, shape) -> torch.Tensor:
    """Uninitialised output; every element is written by a kernel (tests poison it with NaN)."""
    return like.new_empty(shape)


def as_real(t: torch.Tensor) -> torch.Tensor:
    """The real view (..., 2) of a complex tensor, made contiguous and conj-resolved (the
    checks cost no dispatch for the fresh FFT outputs the launchers pass)."""
    if t.is_conj():
        t = t.resolve_conj()
    if not t.is_contiguous():
        t = t.contiguous()
    return torch.view_as_real(t)
