"""Fine-tuning and evaluation of land-cover models, with sensor dropout and a sensor-subset table.

Sensor dropout: during fine-tuning each sensor of a chip is dropped with probability ``sensor_dropout``
(at least one is always kept), so one model learns to map from any subset of the sensors it was trained
with — the property the sensor-subset table measures.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from eofusion.errors import ConfigError
from eofusion.models.inputs import SensorInput, collate_samples
from eofusion.training.metrics import SegmentationMetric, SegmentationScores

logger = logging.getLogger(__name__)

LabelledSample = tuple[dict[str, SensorInput], Tensor]
Batch = tuple[dict[str, SensorInput], Tensor]


@dataclass(frozen=True)
class FinetuneConfig:
    """Fine-tuning settings (stored with checkpoints)."""

    steps: int = 300
    batch_size: int = 8
    lr: float = 2e-3
    weight_decay: float = 0.01
    warmup_steps: int = 20
    sensor_dropout: float = 0.3
    balanced_weights: bool = True
    ignore_index: int = 255
    seed: int = 0
    num_workers: int = 0
    log_every: int = 10


@dataclass
class FinetuneResult:
    """Loss curve and timing of a fine-tuning run."""

    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0


def collate_labelled(batch: Sequence[LabelledSample]) -> Batch:
    """Stack samples and their label chips."""
    return collate_samples([b[0] for b in batch]), torch.stack([b[1] for b in batch])


def drop_sensors(inputs: dict[str, SensorInput], p: float, generator: torch.Generator) -> dict[str, SensorInput]:
    """Drop each sensor with probability ``p`` (the whole batch), keeping at least one."""
    if p <= 0 or len(inputs) == 1:
        return inputs
    keys = list(inputs)
    keep = [k for k in keys if float(torch.rand((), generator=generator)) >= p]
    if not keep:
        keep = [keys[int(torch.randint(len(keys), (), generator=generator))]]
    return {k: inputs[k] for k in keep}


def class_weights(labels: Tensor | np.ndarray, num_classes: int, ignore_index: int = 255) -> Tensor:
    """Inverse square-root frequency weights (classes absent from the labels get weight 0)."""
    values = torch.as_tensor(np.asarray(labels)).flatten().long()
    values = values[values != ignore_index]
    counts = torch.bincount(values, minlength=num_classes)[:num_classes].double()
    weights = torch.where(counts > 0, 1.0 / counts.clamp_min(1).sqrt(), torch.zeros_like(counts))
    present = counts > 0
    return (weights / weights[present].mean()).float() if bool(present.any()) else torch.ones(num_classes)


def _batches(loader: DataLoader[LabelledSample]) -> Iterator[Batch]:
    while True:
        yield from loader


def finetune(
    model: nn.Module,
    dataset: Dataset[LabelledSample],
    config: FinetuneConfig,
    *,
    weights: Tensor | None = None,
    device: torch.device | str = "cpu",
    on_step: Callable[[int, float], None] | None = None,
) -> FinetuneResult:
    """Train ``model(inputs, out_shape) -> logits`` on labelled chips for ``config.steps`` steps."""
    if config.steps < 1:
        raise ConfigError(f"steps must be >= 1, got {config.steps}.")
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    loader: DataLoader[LabelledSample] = DataLoader(
        dataset,
        batch_size=config.batch_size,
        shuffle=True,
        drop_last=len(dataset) > config.batch_size,  # type: ignore[arg-type]
        collate_fn=collate_labelled,
        num_workers=config.num_workers,
        generator=torch.Generator().manual_seed(config.seed),
        persistent_workers=config.num_workers > 0,
    )
    model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)

    def lr_at(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * progress))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    loss_weights = None if weights is None else weights.to(device)
    result = FinetuneResult()
    started = time.perf_counter()
    for step, (batch_inputs, batch_target) in zip(range(config.steps), _batches(loader), strict=False):
        kept = drop_sensors(batch_inputs, config.sensor_dropout, generator)
        inputs = {k: v.to(device) for k, v in kept.items()}
        target = batch_target.to(device)
        logits = model(inputs, tuple(target.shape[-2:]))
        loss = F.cross_entropy(logits, target, weight=loss_weights, ignore_index=config.ignore_index)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        value = float(loss.detach())
        result.losses.append(value)
        if on_step:
            on_step(step, value)
        if config.log_every and step % config.log_every == 0:
            logger.info("fine-tune step %d/%d loss %.4f", step + 1, config.steps, value)
    result.seconds = time.perf_counter() - started
    return result


@torch.no_grad()
def evaluate(
    model: nn.Module,
    dataset: Dataset[LabelledSample],
    num_classes: int,
    *,
    sensors: Sequence[str] | None = None,
    batch_size: int = 8,
    device: torch.device | str = "cpu",
    ignore_index: int = 255,
) -> SegmentationScores:
    """Scores of ``model`` on every chip of ``dataset``, using only ``sensors`` (default: all)."""
    model.to(device).eval()
    metric = SegmentationMetric(num_classes, ignore_index)
    loader: DataLoader[LabelledSample] = DataLoader(dataset, batch_size=batch_size, collate_fn=collate_labelled)
    for inputs, target in loader:
        chosen = inputs if sensors is None else {k: v for k, v in inputs.items() if k in sensors}
        if not chosen:
            raise ConfigError(f"None of the sensors {list(sensors or [])} is in the data ({list(inputs)}).")
        logits = model({k: v.to(device) for k, v in chosen.items()}, tuple(target.shape[-2:]))
        metric.update(logits, target)
    return metric.compute()


def subset_table(
    model: nn.Module,
    dataset: Dataset[LabelledSample],
    num_classes: int,
    subsets: Mapping[str, Sequence[str]],
    names: Mapping[int, str] | None = None,
    **kwargs: object,
) -> list[dict[str, object]]:
    """One row per sensor subset: ``{"sensors": "s2+s1", "OA": ..., "mIoU": ..., "IoU <class>": ...}``."""
    rows: list[dict[str, object]] = []
    for label, sensors in subsets.items():
        scores = evaluate(model, dataset, num_classes, sensors=sensors, **kwargs)  # type: ignore[arg-type]
        rows.append({"sensors": label, **scores.as_row(names)})
    return rows
