"""Ranks for ``generate``: torch.distributed when torchrun (or the caller) set it up, else one
process. Work is dealt to ranks in whole batches, round-robin."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Ranks:
    """This process's rank among ``world`` processes, and the device it morphs on."""

    rank: int
    world: int
    device: torch.device
    owns_group: bool = False  # whether setup_ranks started the process group

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        """Wait for every rank (nothing in a single process)."""
        if self.world > 1:
            dist.barrier()

    def close(self) -> None:
        """End the process group if :func:`setup_ranks` started it."""
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()


def deal(count: int, batch_size: int, rank: int, world: int) -> list[range]:
    """The batches of rank ``rank``: items [0, count) cut into batches of ``batch_size`` in
    order, batch j going to rank j mod world. Over all ranks the batches are disjoint and
    cover every item, and they do not depend on ``world``."""
    starts = range(0, count, batch_size)
    return [range(s, min(s + batch_size, count)) for j, s in enumerate(starts) if j % world == rank]


def setup_ranks(device: str | torch.device | None = None) -> Ranks:
    """Join the process group torchrun describes (WORLD_SIZE > 1 in the environment) with
    NCCL on CUDA or gloo on CPU, unless the caller already did. The device defaults to
    cuda:LOCAL_RANK when CUDA is available, else the CPU."""
    world_env = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device is None:
        device = f"cuda:{local % torch.cuda.device_count()}" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    owns = world_env > 1 and not dist.is_initialized()
    if owns and device.type == "cuda":
        dist.init_process_group("nccl", device_id=device)  # barriers know their device
    elif owns:
        dist.init_process_group("gloo")
    if dist.is_initialized():
        return Ranks(dist.get_rank(), dist.get_world_size(), device, owns)
    return Ranks(0, 1, device)


@contextmanager
def joined(device: str | torch.device | None = None) -> Iterator[Ranks]:
    """:func:`setup_ranks` for a block; the process group it started ends with the block."""
    ranks = setup_ranks(device)
    try:
        yield ranks
    finally:
        ranks.close()
