"""Device constants (mask tables, parameter buffers) made once per key and cached.

A CUDA graph records the addresses of the constants its kernels read, not references to
them. Were a constant evicted from its bounded cache while a graph that reads it lives, its
memory would be freed and reused under the graph, which would then compute silently wrong
results. So a constant fetched while the current CUDA stream is capturing (an explicit
capture, ``torch.compile(mode="reduce-overhead")``, a captured morph) is pinned: kept for the
life of the process, one set per captured shape and spec.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import torch
from torch import Tensor

T = TypeVar("T")

_PINNED: dict[int, Tensor] = {}  # id -> constant read by some captured graph


def _tensors(value) -> list[Tensor]:
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _tensors(v)]
    return []


def capturing(tensors: list[Tensor]) -> bool:
    """Whether a stream is capturing a CUDA graph on the device of ``tensors`` (its current
    stream: captures run there)."""
    device = next((t.device for t in tensors if t.is_cuda), None)
    if device is None:
        return False
    if device.index is not None and device.index != torch.cuda.current_device():
        with torch.cuda.device(device):
            return torch.cuda.is_current_stream_capturing()
    return torch.cuda.is_current_stream_capturing()


def pinned_count() -> int:
    """How many constants are pinned by captured graphs."""
    return len(_PINNED)


def device_constants(maxsize: int) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """``functools.lru_cache(maxsize)`` for functions returning tensors (or tuples of them),
    whose results fetched during a CUDA-graph capture are pinned (see the module doc)."""

    def wrap(make: Callable[..., T]) -> Callable[..., T]:
        cached = functools.lru_cache(maxsize=maxsize)(make)

        @functools.wraps(make)
        def get(*args):
            value = cached(*args)
            tensors = _tensors(value)
            if capturing(tensors):
                _PINNED.update((id(t), t) for t in tensors)
            return value

        get.cache_clear = cached.cache_clear
        get.cache_info = cached.cache_info
        return get

    return wrap
