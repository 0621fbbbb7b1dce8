"""Fine-tuning and evaluation of land-cover models, trained on sensor subsets, with a sensor-subset table.

Sensor subsets: with probability ``sensor_dropout`` a training chip gets a subset of its sensors drawn
uniformly from all non-empty subsets (with K sensors, each of the 2^K - 1 subsets equally likely), else all
of them. Uniform over subsets, not independent per-sensor dropout: with 4 sensors and dropout 0.3,
independent dropout shows "S1 alone" in under 2 % of the steps, so the model never learns it; uniform
subsets give every single sensor 1/15 of the chips (4/15 for the single-sensor subsets together).

``subset_sampling="example"`` draws a subset per chip and hides the others by marking them invalid for
that chip (``SensorInput.valid`` False): the model must fuse by a masked mean over what is present (as
:class:`~eofusion.models.heads.SegmentationModel` does), so one batch mixes many subsets and no layer sees
the statistics of a single subset. ``"batch"`` draws one subset for the whole batch and removes the other
sensors (for models that fuse by concatenating channels, e.g. the DOFA baseline).

eofusion's model (:class:`~eofusion.models.heads.SegmentationModel`) is trained on 1 + K views of every
chip per step (K sensors), decoded from one embedding pass
(:meth:`~eofusion.models.heads.SegmentationModel.forward_views`): the sampled subset, and EACH sensor alone
(their mean loss weighted by ``single_sensor_weight``). The single-sensor maps are the hardest (and what a
user gets under clouds or from a partial archive); with uniform subsets alone each sensor would be seen on
its own in only ~5 % of the chips. Every sensor alone on every chip, rather than one sensor drawn per chip,
closed most of the gap to single-sensor models (benchmarks/bench_mapping.py's spec, two seeds, 1800 steps:
S1 alone 50.3 -> 56.4 mIoU, DSM alone 38.0 -> 41.1, aerial alone 80.2 -> 83.3, all four 84.3 -> 86.4):
with S2 in most views the model otherwise leaves half learnt the cues only the other sensors carry (canopy
texture in the DSM, backscatter). The expected loss per sensor is the same as with one sensor drawn per
chip, but its gradient comes from every chip instead of a quarter of them. The cost: ~1.8x the step time
(with four sensors the decoder runs on 5 views instead of 2; 1800 steps on one core: 2950 s instead of 1661 s).
Each sensor's own features also go through a per-pixel classifier of their own
(``SegmentationModel.sensor_classify``), whose mean loss over the sensors is weighted by ``sensor_aux_weight``
(0.25): a sensor must tell the classes apart by itself before the fusion, not only through the shared decoder.
With it and a texture residual in each sensor's embedding (head revision 3; training revision 4), the
benchmark's fused model (two seeds, 1800 steps) went from 85.4 to 87.3 mIoU on all four sensors, S2 alone
69.1 -> 71.5, S1 56.8 -> 57.7, the aerial 83.8 -> 87.0, the DSM 37.7 -> 42.6; no subset's mean fell (1800
steps took 4217-4225 s beside another training, revision 3 4691 s under similar load: no measurable cost).
Its inputs can also be augmented per sensor with band subsets (``band_dropout``, off by default: see
:mod:`eofusion.training.augment`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Sampler

from eofusion.errors import ConfigError
from eofusion.models.device import DevicePolicy
from eofusion.models.heads import SegmentationModel
from eofusion.models.inputs import SensorInput, collate_samples
from eofusion.training.allocator import advise_on_allocator
from eofusion.training.augment import augment_inputs
from eofusion.training.distributed import SINGLE, Ranks, data_parallel
from eofusion.training.metrics import IGNORE_INDEX, SegmentationMetric, SegmentationScores

logger = logging.getLogger(__name__)

SubsetSampling = Literal["example", "batch"]
# The revision of the training step: bump it when a change of this module (not of the spec) changes the
# weights a spec trains into. A finished run of another revision is retrained, not reused (its spec hash is
# the same, its model is not). 1: one sensor alone drawn per chip; 2: each sensor alone on every chip; 3: the
# land-cover head normalises each sensor before the fusion (eofusion.models.heads.HEAD_REVISION 2); 4: each
# sensor's embedding has a texture residual (HEAD_REVISION 3) and its own auxiliary classifier (sensor_aux_weight).
TRAINING_REVISION = 4
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
    sensor_dropout: float = 0.75
    subset_sampling: SubsetSampling = "example"
    single_sensor_weight: float = 0.5  # eofusion's model: weight of the mean loss of the K single-sensor views
    sensor_aux_weight: float = 0.25  # eofusion's model: weight of the mean loss of each sensor's own classifier
    band_dropout: float = 0.0  # eofusion's model: chance per sensor and step of a band subset (training/augment.py)
    band_dropout_sensors: tuple[str, ...] | None = None  # the sensors band_dropout cuts (None: every sensor)
    radiometric_jitter: float = 0.0  # eofusion's model: sigma of each chip's reflectance log-gain (training/augment.py)
    response_jitter: float = 0.0  # eofusion's model: chance per sensor and step of another camera's bands (augment.py)
    balanced_weights: bool = True
    ignore_index: int = IGNORE_INDEX
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


def nonempty_subsets(keys: Sequence[str]) -> list[tuple[str, ...]]:
    """Every non-empty subset of ``keys`` (in ``keys`` order), smallest first."""
    return [c for n in range(1, len(keys) + 1) for c in combinations(keys, n)]


def _draw_subset(keys: Sequence[str], p: float, generator: torch.Generator) -> tuple[str, ...]:
    if len(keys) == 1 or float(torch.rand((), generator=generator)) >= p:
        return tuple(keys)
    subsets = nonempty_subsets(keys)
    return subsets[int(torch.randint(len(subsets), (), generator=generator))]


def drop_sensors(inputs: dict[str, SensorInput], p: float, generator: torch.Generator) -> dict[str, SensorInput]:
    """With probability ``p``, keep only a uniformly drawn non-empty subset of the sensors (the whole batch)."""
    if p <= 0 or len(inputs) == 1:
        return inputs
    return {k: inputs[k] for k in _draw_subset(list(inputs), p, generator)}


def subset_view(keys: Sequence[str], batch: int, p: float, generator: torch.Generator) -> dict[str, Tensor]:
    """Per chip, with probability ``p``, a uniformly drawn non-empty subset of ``keys`` (else all of them)."""
    chosen = [_draw_subset(keys, p, generator) for _ in range(batch)]
    return {key: torch.tensor([key in c for c in chosen]) for key in keys}


def single_sensor_views(keys: Sequence[str], batch: int) -> list[dict[str, Tensor]]:
    """One view per sensor: that sensor alone on every chip of the batch."""
    return [{key: torch.full((batch,), key == alone) for key in keys} for alone in keys]


def mask_sensors(inputs: dict[str, SensorInput], p: float, generator: torch.Generator) -> dict[str, SensorInput]:
    """Per chip, with probability ``p``, hide all but a uniformly drawn subset (``valid`` False for the rest)."""
    keys = list(inputs)
    if p <= 0 or len(keys) == 1:
        return inputs
    view = subset_view(keys, next(iter(inputs.values())).pixels.shape[0], p, generator)
    return {key: item.keep_chips(view[key]) for key, item in inputs.items()}


class TrainingObjective(nn.Module):
    """The fine-tuning loss of a batch, as a module (so DDP, or a Lightning Trainer, can wrap it).

    eofusion's model is trained on 1 + K views of every chip from one embedding pass: the sampled sensor
    subset and each sensor alone (see the module docstring); other models on one subset per chip or per batch. Every
    random choice is drawn for the *global* batch and sliced to this rank's share, and with several ranks the
    loss is normalised by the global batch, so N processes compute the gradient one process would compute
    on the whole batch (see :mod:`eofusion.training.distributed`).
    """

    def __init__(
        self, model: nn.Module, config: FinetuneConfig, weights: Tensor | None = None, ranks: Ranks = SINGLE
    ) -> None:
        super().__init__()
        self.model = model
        self.config = config
        self.ranks = ranks
        self.register_buffer("weights", weights, persistent=False)  # moves with the module to its device

    @property
    def class_weights(self) -> Tensor | None:
        """The loss's class weights (None: all 1)."""
        weights = self.weights
        return weights if isinstance(weights, Tensor) else None

    def forward(self, inputs: dict[str, SensorInput], target: Tensor, generator: torch.Generator) -> Tensor:
        """The loss of this rank's share of a global batch."""
        config, model = self.config, self.model
        out_shape = (int(target.shape[-2]), int(target.shape[-1]))
        keys = list(inputs)
        local = int(target.shape[0])
        share = slice(self.ranks.rank * local, (self.ranks.rank + 1) * local)
        global_batch = local * self.ranks.world
        if isinstance(model, SegmentationModel):
            inputs = augment_inputs(
                inputs,
                band_dropout=config.band_dropout,
                band_dropout_sensors=config.band_dropout_sensors,
                radiometric_jitter=config.radiometric_jitter,
                response_jitter=config.response_jitter,
                generator=generator,
                share=(global_batch, share),
            )
            p = config.sensor_dropout if len(keys) > 1 else 0.0
            views = [_slice(subset_view(keys, global_batch, p, generator), share)]
            if config.single_sensor_weight > 0 and len(keys) > 1:
                views.extend(single_sensor_views(keys, local))
            aux = config.sensor_aux_weight > 0
            outputs = model.forward_training(inputs, out_shape, views, sensor_logits=aux)
            logits = outputs.views
            loss = self._cross_entropy(logits[0], target)
            if aux:
                own = [
                    self._cross_entropy(
                        each, torch.where(outputs.sensors[key].present[:, 0] > 0.5, target, config.ignore_index)
                    )
                    for key, each in outputs.sensor_logits.items()
                ]
                loss = loss + config.sensor_aux_weight * sum(own) / len(own)
            if len(logits) > 1:
                alone = sum(self._cross_entropy(each, target) for each in logits[1:]) / (len(logits) - 1)
                loss = loss + config.single_sensor_weight * alone
            return loss
        if config.subset_sampling == "example":
            if config.sensor_dropout > 0 and len(keys) > 1:  # hide all but a subset per chip (mask_sensors)
                view = _slice(subset_view(keys, global_batch, config.sensor_dropout, generator), share)
                inputs = {key: item.keep_chips(view[key]) for key, item in inputs.items()}
            return self._cross_entropy(model(inputs, out_shape), target)
        return self._cross_entropy(model(drop_sensors(inputs, config.sensor_dropout, generator), out_shape), target)

    def _cross_entropy(self, logits: Tensor, target: Tensor) -> Tensor:
        weights = self.class_weights
        ignore = self.config.ignore_index
        if not self.ranks.distributed:
            return F.cross_entropy(logits, target, weight=weights, ignore_index=ignore)
        # The global batch's weighted mean: this rank's sum over the denominator summed over ranks, times the
        # number of ranks (DDP averages the ranks' gradients).
        total = F.cross_entropy(logits, target, weight=weights, ignore_index=ignore, reduction="sum")
        counted = target != ignore
        classes = torch.where(counted, target, 0)
        per_pixel = weights[classes] if weights is not None else torch.ones_like(target, dtype=logits.dtype)
        denominator = self.ranks.sum(torch.where(counted, per_pixel, 0).sum().to(logits.dtype))
        return total * self.ranks.world / denominator.clamp_min(torch.finfo(logits.dtype).tiny)


def _slice(view: dict[str, Tensor], share: slice) -> dict[str, Tensor]:
    return {key: chosen[share] for key, chosen in view.items()}


def class_weights(labels: Tensor | np.ndarray, num_classes: int, ignore_index: int = IGNORE_INDEX) -> Tensor:
    """Inverse square-root frequency weights (classes absent from the labels get weight 0)."""
    values = torch.as_tensor(np.asarray(labels)).flatten().long()
    values = values[values != ignore_index]
    counts = torch.bincount(values, minlength=num_classes)[:num_classes].double()
    weights = torch.where(counts > 0, 1.0 / counts.clamp_min(1).sqrt(), torch.zeros_like(counts))
    present = counts > 0
    return (weights / weights[present].mean()).float() if bool(present.any()) else torch.ones(num_classes)


def lr_factor(config: FinetuneConfig, step: int) -> float:
    """The learning-rate multiplier at ``step``: linear warm-up, then cosine decay to 0."""
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


class _ShardedBatches(Sampler[list[int]]):
    """This rank's share of each global batch; the global batches are those one process would draw.

    The global order comes from a DataLoader over the indices with the run's seeded generator, exactly as
    a single-process run shuffles, so one process on a batch of B and N processes on B / N each see the same
    chips in the same steps.
    """

    def __init__(self, size: int, config: FinetuneConfig, ranks: Ranks) -> None:
        self.order: DataLoader[int] = DataLoader(
            range(size),  # type: ignore[arg-type]
            batch_size=config.batch_size,
            shuffle=True,
            drop_last=size > config.batch_size,
            generator=torch.Generator().manual_seed(config.seed),
        )
        self.share = ranks.local_batch(config.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        for indices in self.order:
            yield indices[self.share].tolist()

    def __len__(self) -> int:
        return len(self.order)


def _batches(loader: DataLoader[LabelledSample]) -> Iterator[Batch]:
    while True:
        yield from loader


def finetune(
    model: nn.Module,
    dataset: Dataset[LabelledSample],
    config: FinetuneConfig,
    *,
    weights: Tensor | None = None,
    policy: DevicePolicy | None = None,
    ranks: Ranks = SINGLE,
    on_step: Callable[[int, float], None] | None = None,
) -> FinetuneResult:
    """Train ``model(inputs, out_shape) -> logits`` on labelled chips for ``config.steps`` steps.

    ``config.batch_size`` is the global batch: with several ranks (``torchrun``) each takes its share and
    the step is the one a single process would take on the whole batch (see
    :mod:`eofusion.training.distributed`). ``policy`` places the model (default: the CPU).
    """
    if config.steps < 1:
        raise ConfigError(f"steps must be >= 1, got {config.steps}.")
    policy = policy or DevicePolicy(torch.device("cpu"))
    advise_on_allocator(policy.device.type)
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    workers = policy.loader_workers(config.num_workers)
    loader: DataLoader[LabelledSample] = DataLoader(
        dataset,
        batch_sampler=_ShardedBatches(len(dataset), config, ranks),  # type: ignore[arg-type]
        collate_fn=collate_labelled,
        num_workers=workers,
        pin_memory=policy.pin_memory,
        generator=torch.Generator().manual_seed(config.seed),  # worker seeds; never the global generator
        persistent_workers=workers > 0,
    )
    model.train()
    device = policy.device
    objective = TrainingObjective(model, config, weights, ranks)
    trained = data_parallel(objective, policy, ranks)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(config, step))
    scaler = policy.grad_scaler()
    result = FinetuneResult()
    started = time.perf_counter()
    for step, (batch_inputs, batch_target) in zip(range(config.steps), _batches(loader), strict=False):
        inputs = {k: v.to(device, non_blocking=policy.pin_memory) for k, v in batch_inputs.items()}
        with policy.autocast():
            loss = trained(inputs, batch_target.to(device, non_blocking=policy.pin_memory), generator)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()  # type: ignore[no-untyped-call]
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(optimizer)
        scaler.update()
        schedule.step()
        value = float(ranks.sum(loss.detach())) / ranks.world  # the global batch's loss (this loss in one process)
        result.losses.append(value)
        if on_step and ranks.is_main:
            on_step(step, value)
        if config.log_every and step % config.log_every == 0 and ranks.is_main:
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
    policy: DevicePolicy | None = None,
    ignore_index: int = IGNORE_INDEX,
) -> SegmentationScores:
    """Scores of ``model`` on every chip of ``dataset``, using only ``sensors`` (default: all)."""
    policy = policy or DevicePolicy(torch.device("cpu"))
    model.to(policy.device).eval()
    metric = SegmentationMetric(num_classes, ignore_index)
    loader: DataLoader[LabelledSample] = DataLoader(
        dataset, batch_size=batch_size, collate_fn=collate_labelled, pin_memory=policy.pin_memory
    )
    for inputs, target in loader:
        chosen = inputs if sensors is None else {k: v for k, v in inputs.items() if k in sensors}
        if not chosen:
            raise ConfigError(f"None of the sensors {list(sensors or [])} is in the data ({list(inputs)}).")
        with policy.autocast():
            logits = model({k: v.to(policy.device) for k, v in chosen.items()}, tuple(target.shape[-2:]))
        metric.update(logits.float(), target)
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
