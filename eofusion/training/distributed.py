"""Data-parallel training on torch.distributed, launched by ``torchrun`` (one or several nodes).

Why torch.distributed + torchrun rather than Lightning's Trainer for eofusion's own loops: the loops are
deterministic step by step (a run resumed from a checkpoint repeats the same steps) and train two views per
chip from one embedding pass; DDP around a module that computes that objective keeps both, and ``torchrun``
is the launcher Lightning, SLURM and Kubernetes set-ups already speak. Lightning users get
:mod:`eofusion.training.lightning` instead (their Trainer, their strategy).

How a global batch is shared: every rank draws the same global batch (same seed) and takes its contiguous
share; the per-chip random choices (sensor subsets, MAE masks) are drawn for the whole global batch on every
rank and sliced the same way. Losses are normalised by the global batch (the denominators are summed over
ranks), so with N ranks and global batch B a step computes the gradient one process would compute on B
chips. Exceptions: BatchNorm statistics are per rank on the CPU (``SyncBatchNorm`` needs CUDA; on GPUs the
model's BatchNorm layers are converted to it), and the MAE loss is pooled per rank (equal when every token
is valid).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn

from eofusion.errors import ConfigError
from eofusion.models.device import DevicePolicy

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ranks:
    """This process's place among the training processes (rank 0 of 1 without torchrun)."""

    rank: int = 0
    world: int = 1

    @property
    def distributed(self) -> bool:
        """More than one process trains."""
        return self.world > 1

    @property
    def is_main(self) -> bool:
        """The process that writes checkpoints, reports and logs."""
        return self.rank == 0

    def local_batch(self, global_batch: int) -> slice:
        """This rank's contiguous share of a global batch.

        Raises:
            ConfigError: The global batch does not split evenly over the ranks.
        """
        if global_batch % self.world:
            raise ConfigError(
                f"batch_size {global_batch} does not split over {self.world} processes; use a multiple of "
                f"{self.world} (the batch size is the global batch: each process takes batch_size / processes)."
            )
        size = global_batch // self.world
        return slice(self.rank * size, (self.rank + 1) * size)

    def barrier(self) -> None:
        """Wait for every rank (a no-op in one process)."""
        if self.distributed:
            dist.barrier()

    def sum(self, value: torch.Tensor) -> torch.Tensor:
        """``value`` summed over ranks (no gradient; a copy in one process)."""
        total = value.detach().clone()
        if self.distributed:
            dist.all_reduce(total, op=dist.ReduceOp.SUM)
        return total


SINGLE = Ranks()


def ranks_from_env() -> Ranks:
    """The ranks ``torchrun`` announces (``RANK`` / ``WORLD_SIZE``), or one process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return Ranks(int(os.environ.get("RANK", "0")), world) if world > 1 else SINGLE


def init_distributed(policy: DevicePolicy, timeout_s: float = 3600.0) -> Ranks:
    """Join the process group when launched by ``torchrun`` (NCCL on GPUs, gloo on CPUs); else one process.

    The timeout is long: rank 0 builds the training cube while the others wait for it.
    """
    ranks = ranks_from_env()
    if not ranks.distributed or dist.is_initialized():
        return ranks
    if policy.is_cuda:
        torch.cuda.set_device(policy.device)
    backend = "nccl" if policy.is_cuda else "gloo"
    dist.init_process_group(backend=backend, timeout=timedelta(seconds=timeout_s))
    logger.info("rank %d of %d joined (%s, %s)", ranks.rank, ranks.world, backend, policy.device)
    return ranks


def shutdown_distributed() -> None:
    """Leave the process group (at the end of a torchrun'd command)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def data_parallel(module: nn.Module, policy: DevicePolicy, ranks: Ranks) -> nn.Module:
    """``module`` on the policy's device, wrapped for data-parallel training when several ranks train.

    Unused parameters are allowed: a step that hides a sensor leaves that sensor's embedding without a
    gradient on that rank.
    """
    module.to(policy.device)
    if not ranks.distributed:
        return module
    if policy.is_cuda:
        module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
    ids = [policy.device.index] if policy.is_cuda else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids, find_unused_parameters=True)


@dataclass(frozen=True)
class Compute:
    """Where a training command runs: the device policy and the ranks training together."""

    policy: DevicePolicy
    ranks: Ranks = SINGLE

    @classmethod
    def cpu(cls) -> Compute:
        """One process on the CPU (the default of every training function)."""
        return cls(DevicePolicy(torch.device("cpu")))

    @classmethod
    def start(cls, device: str = "auto", amp: str = "off") -> Compute:
        """Resolve ``--device`` / ``--amp`` and join the process group when launched by ``torchrun``."""
        policy = DevicePolicy.resolve(device, amp)
        return cls(policy, init_distributed(policy))


@contextmanager
def main_first(ranks: Ranks) -> Iterator[None]:
    """Run the block on rank 0 first (e.g. a cube build), then on the others (which find it done)."""
    if not ranks.is_main:
        ranks.barrier()
    yield
    if ranks.is_main:
        ranks.barrier()
