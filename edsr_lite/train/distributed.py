"""Several processes under ``torchrun`` (DistributedDataParallel), and one process without it.

Each process trains on its own shard of the images with its share of the global minibatch;
DDP averages the gradients, so every replica makes the same update. Only rank 0 validates and
writes files. Without torchrun, every helper here is a no-op around a single process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
from torch import nn


@dataclass
class Dist:
    """Where this process stands: rank, number of processes, device."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup_distributed(device: str) -> Dist:
    """Read torchrun's environment; join the process group when there are several processes.

    gloo on the CPU, nccl on GPUs (one GPU per process, ``LOCAL_RANK``). Without torchrun this
    is a single process on ``device``.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda" and world_size > 1:
        dev = torch.device("cuda", local_rank)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return Dist(rank, world_size, dev)


@contextmanager
def leaving_process_group() -> Iterator[None]:
    """Leave, on the way out, the process group this block joined (if it joined one), so that
    no group is left behind for the next run in the same process."""
    joined_here = not dist.is_initialized()
    try:
        yield
    finally:
        if joined_here and dist.is_initialized():
            dist.destroy_process_group()


def wrap_ddp(model: nn.Module, ctx: Dist, find_unused_parameters: bool) -> nn.Module:
    """``model`` in DistributedDataParallel under torchrun; ``model`` itself otherwise.

    ``find_unused_parameters``: MDSR's branches of the other scales get no gradient in a step,
    and DDP must be told to look for such parameters instead of waiting for their gradients.
    """
    if not ctx.enabled:
        return model
    device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(
        model, device_ids=device_ids, find_unused_parameters=find_unused_parameters
    )


def all_reduce_sum(values: list[float], ctx: Dist) -> list[float]:
    """Sum ``values`` over all processes (a no-op for one process)."""
    if not ctx.enabled:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=ctx.device)
    dist.all_reduce(t)
    return t.tolist()


def any_process(flag: bool, ctx: Dist) -> bool:
    """True on every process if ``flag`` is true on any one: all stop together."""
    return all_reduce_sum([float(flag)], ctx)[0] > 0
