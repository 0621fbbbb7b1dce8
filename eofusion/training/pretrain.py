"""MAE pretraining loop over any torch Dataset of model samples, resumable and deterministic.

Determinism: step ``s`` draws its sample indices, masks and mixup from a generator seeded with
``(seed, s)``, and dataset items are deterministic in their index (as :class:`ArrayChipDataset` is). So a
run resumed from the checkpoint of step ``s`` (model, AdamW state, step) takes exactly the same steps as an
uninterrupted run, and ends with the same weights on the same device.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from eofusion.errors import ConfigError
from eofusion.models import SensorInput, SpectralMAE, collate_samples
from eofusion.models.device import DevicePolicy
from eofusion.training.allocator import advise_on_allocator
from eofusion.training.checkpoints import (
    load_checkpoint,
    restore_model,
    restore_optimizer,
    save_checkpoint,
)
from eofusion.training.distributed import SINGLE, Ranks, data_parallel

log = logging.getLogger(__name__)
Sample = Mapping[str, SensorInput]


@dataclass(frozen=True)
class PretrainConfig:
    """Optimisation settings of a pretraining run.

    Attributes:
        steps: Total optimisation steps.
        batch_size: Samples per step.
        lr: Peak learning rate (AdamW), reached after ``warmup_steps``, then cosine decay to 10 %.
        weight_decay: AdamW weight decay.
        warmup_steps: Linear warm-up steps.
        grad_clip: Gradient norm clip (0 disables).
        checkpoint_every: Write a checkpoint every this many steps (0: only at the end).
        seed: Seed of everything random in the run.
        device: ``"auto"`` (CUDA when present, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
        amp: ``"off"``, ``"bf16"`` (autocast, GPUs and recent CPUs) or ``"fp16"`` (CUDA, with loss scaling).
    """

    steps: int = 200
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_steps: int = 10
    grad_clip: float = 1.0
    checkpoint_every: int = 100
    seed: int = 0
    device: str = "auto"
    amp: str = "off"

    def __post_init__(self) -> None:
        if self.amp not in ("off", "bf16", "fp16"):
            raise ConfigError(f"amp must be 'off', 'bf16' or 'fp16', not {self.amp!r}.")
        if self.steps < 1 or self.batch_size < 1:
            raise ConfigError("steps and batch_size must be >= 1.")


@dataclass(frozen=True)
class StepInfo:
    """What a progress callback receives after each step."""

    step: int
    total: int
    loss: float
    sensor_loss: dict[str, float]
    lr: float
    seconds: float


@dataclass(frozen=True)
class PretrainResult:
    """Summary of a run (also the CLI's ``--json`` output)."""

    steps_done: int
    first_loss: float | None
    final_loss: float | None
    losses: list[float] = field(repr=False)
    checkpoint: str | None
    device: str
    seconds: float
    resumed_from: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return asdict(self)


def step_generator(seed: int, step: int) -> torch.Generator:
    """The generator of one step: a pure function of (seed, step), so resumed runs repeat it."""
    return torch.Generator().manual_seed((seed * 1_000_003 + step) % (2**63))


def learning_rate(config: PretrainConfig, step: int) -> float:
    """Linear warm-up then cosine decay to 10 % of the peak."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return config.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def band_identities(sample: Sample) -> dict[str, Any]:
    """Sensor and band names plus descriptors of a sample (stored in checkpoints)."""
    return {
        key: {
            "sensor": item.sensor,
            "gsd_m": item.gsd_m,
            "bands": [b.name for b in item.bands],
            "descriptors": item.descriptors().tolist(),
        }
        for key, item in sample.items()
    }


def pretrain(
    model: SpectralMAE,
    dataset: Dataset[Sample],
    config: PretrainConfig,
    *,
    out_dir: str | Path | None = None,
    resume: str | Path | None = None,
    callback: Callable[[StepInfo], None] | None = None,
    ranks: Ranks = SINGLE,
) -> PretrainResult:
    """Pretrain ``model`` with the MAE objective on samples of ``dataset``.

    Args:
        model: The model (trained in place; moved to the chosen device).
        dataset: Yields unbatched samples ``dict[str, SensorInput]`` of equal shapes.
        config: Optimisation settings.
        out_dir: Where checkpoints go (``step_XXXXXXX.safetensors`` and ``last.safetensors``); None: none.
        resume: A checkpoint to continue from (model, optimizer and step are restored).
        callback: Called after every step with a :class:`StepInfo` (progress bars, logging; rank 0 only).
        ranks: The processes training together (``torchrun``): each takes its share of every step's global
            batch (``config.batch_size``) and the masks drawn for it; rank 0 writes the checkpoints.

    Returns:
        A :class:`PretrainResult`.
    """
    policy = DevicePolicy.resolve(config.device, config.amp)
    device = policy.device
    advise_on_allocator(device.type)
    share = ranks.local_batch(config.batch_size)
    torch.manual_seed(config.seed)
    model.to(device).train()
    optimizer = _optimizer(model, config)
    start = 0
    if resume is not None:
        ckpt = load_checkpoint(resume)
        restore_model(model, ckpt, resume)
        restore_optimizer(optimizer, ckpt)
        if ckpt.rng_state is not None:
            torch.set_rng_state(ckpt.rng_state)
        start = ckpt.step
        log.info("resuming from %s at step %d", resume, start)
    trained = data_parallel(model, policy, ranks)  # after a resume: DDP starts every rank from rank 0's weights
    scaler = policy.grad_scaler()
    out = Path(out_dir) if out_dir is not None and ranks.is_main else None
    losses: list[float] = []
    last_ckpt: str | None = None
    identities = band_identities(dataset[0])
    t0 = time.perf_counter()
    for step in range(start, config.steps):
        gen = step_generator(config.seed, step)
        indices = torch.randint(len(dataset), (config.batch_size,), generator=gen).tolist()  # type: ignore[arg-type]
        samples = [dataset[i] for i in indices[share]]
        batch = {k: v.to(device, non_blocking=policy.pin_memory) for k, v in collate_samples(samples).items()}
        lr = learning_rate(config, step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        with policy.autocast():
            output = trained(batch, generator=gen, shard=(share.start, config.batch_size))
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(output.loss).backward()
        if config.grad_clip > 0:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        loss = float(ranks.sum(output.loss.detach())) / ranks.world  # the ranks' mean (the loss itself here)
        losses.append(loss)
        done = step + 1
        if callback is not None and ranks.is_main:
            sensor_loss = {k: float(v.detach()) for k, v in output.sensor_loss.items()}
            callback(StepInfo(done, config.steps, loss, sensor_loss, lr, time.perf_counter() - t0))
        periodic = config.checkpoint_every > 0 and done % config.checkpoint_every == 0
        if out is not None and (periodic or done == config.steps):
            last_ckpt = _save(out, model, optimizer, done, config, identities)
    return PretrainResult(
        steps_done=config.steps - start,
        first_loss=losses[0] if losses else None,
        final_loss=_tail_mean(losses),
        losses=losses,
        checkpoint=last_ckpt,
        device=str(device),
        seconds=time.perf_counter() - t0,
        resumed_from=start,
    )


def _optimizer(model: SpectralMAE, config: PretrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on biases, norms and tokens)."""
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "token" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "token" not in n)]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.lr,
        betas=(0.9, 0.95),
    )


def _save(
    out: Path,
    model: SpectralMAE,
    optimizer: torch.optim.Optimizer,
    done: int,
    config: PretrainConfig,
    identities: dict[str, Any],
) -> str:
    """Write the step's checkpoint and ``last.safetensors`` (model, optimizer, step: enough to resume)."""
    kwargs: dict[str, Any] = {
        "optimizer": optimizer,
        "step": done,
        "seed": config.seed,
        "bands": identities,
        "extra": {"pretrain": asdict(config)},
    }
    path = save_checkpoint(out / f"step_{done:07d}.safetensors", model, **kwargs)
    save_checkpoint(out / "last.safetensors", model, **kwargs)
    return str(path)


def _tail_mean(losses: Sequence[float], n: int = 5) -> float | None:
    """Mean of the last ``n`` losses (a less noisy 'final' loss)."""
    return sum(losses[-n:]) / len(losses[-n:]) if losses else None
