"""eofusion's model and chips in Lightning: a LightningModule and a LightningDataModule, torchgeo-style batches.

For users who train with their own ``lightning.Trainer`` (callbacks, loggers, strategies such as DDP or
FSDP, precision plugins): :class:`LandcoverTask` trains any eofusion land-cover model with the same objective
as ``eofusion train`` (sensor subsets per chip, each sensor alone on every chip, class weights; see
:mod:`eofusion.training.finetune`) and logs held-out OA / mIoU; :class:`ChipDataModule` serves labelled
chip datasets (``eofusion.pipeline.lightning_data`` makes one from a training spec).

Batches are dicts, as torchgeo's are: ``inputs`` (one :class:`~eofusion.models.inputs.SensorInput` per
sensor, each on its own grid), ``mask`` (labels ``[B, H, W]``) and ``image``: one sensor's pixels as a plain
``[B, T*C, H, W]`` tensor (the ``image_sensor``, default the finest), so torchgeo / kornia transforms written
for ``image`` / ``mask`` apply (they need both on one grid: labels at that sensor's pixel size).
:func:`with_image` writes a transformed ``image`` back into that sensor's input (a geometric transform must
then be applied to the other sensors too: eofusion's own augmentations do that; a plain torchgeo one sees a
single sensor).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from eofusion.models.inputs import SensorInput, collate_samples
from eofusion.training.finetune import FinetuneConfig, LabelledSample, TrainingObjective, lr_factor
from eofusion.training.metrics import SegmentationMetric

Batch = dict[str, Any]


def image_of(inputs: Mapping[str, SensorInput], sensor: str) -> Tensor:
    """One sensor's pixels ``[B, T, C, H, W]`` as a torchgeo ``image`` ``[B, T*C, H, W]``."""
    pixels = inputs[sensor].pixels
    b, t, c, h, w = pixels.shape
    return pixels.reshape(b, t * c, h, w)


def with_image(inputs: Mapping[str, SensorInput], sensor: str, image: Tensor) -> dict[str, SensorInput]:
    """``inputs`` with ``sensor``'s pixels taken from a (transformed) ``image`` ``[B, T*C, H', W']``."""
    item = inputs[sensor]
    b, t, c = item.pixels.shape[:3]
    h, w = image.shape[-2:]
    if item.pixels.shape[-2:] != (h, w):
        raise ValueError(f"The image of {sensor} changed size ({tuple(item.pixels.shape[-2:])} -> {(h, w)}).")
    return {**inputs, sensor: replace(item, pixels=image.reshape(b, t, c, h, w))}


def finest_sensor(inputs: Mapping[str, SensorInput]) -> str:
    """The sensor with the most pixels per chip (the ``image`` of a batch by default)."""
    return max(inputs, key=lambda k: int(inputs[k].pixels.shape[-1]))


class TorchgeoBatches:
    """Collate labelled chips into torchgeo-style dict batches (``inputs``, ``image``, ``mask``)."""

    def __init__(self, image_sensor: str | None = None) -> None:
        self.image_sensor = image_sensor

    def __call__(self, samples: Sequence[LabelledSample]) -> Batch:
        inputs = collate_samples([s[0] for s in samples])
        sensor = self.image_sensor or finest_sensor(inputs)
        return {"inputs": inputs, "image": image_of(inputs, sensor), "mask": torch.stack([s[1] for s in samples])}


class ChipDataModule(L.LightningDataModule):
    """Labelled chip datasets (train / held-out) as a LightningDataModule with torchgeo-style batches."""

    def __init__(
        self,
        train: Dataset[LabelledSample],
        test: Dataset[LabelledSample],
        *,
        batch_size: int = 8,
        num_workers: int = 0,
        image_sensor: str | None = None,
    ) -> None:
        super().__init__()
        self.train, self.test = train, test
        self.batch_size, self.num_workers = batch_size, num_workers
        self.collate = TorchgeoBatches(image_sensor)

    def train_dataloader(self) -> DataLoader[Batch]:
        return DataLoader(
            self.train,  # type: ignore[arg-type]
            batch_size=self.batch_size,
            shuffle=True,
            drop_last=len(self.train) > self.batch_size,  # type: ignore[arg-type]
            num_workers=self.num_workers,
            collate_fn=self.collate,
        )

    def val_dataloader(self) -> DataLoader[Batch]:
        return DataLoader(
            self.test,  # type: ignore[arg-type]
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            collate_fn=self.collate,
        )


class LandcoverTask(L.LightningModule):
    """An eofusion land-cover model trained by a Lightning Trainer with eofusion's objective.

    Args:
        model: ``model(inputs, out_shape) -> logits`` (e.g. :func:`eofusion.training.landcover_model`).
        num_classes: Number of classes (for the held-out scores).
        config: Objective and optimiser settings (``steps`` sets the cosine schedule's length).
        weights: Class weights of the loss (e.g. :func:`eofusion.training.class_weights`).
    """

    def __init__(
        self,
        model: nn.Module,
        num_classes: int,
        config: FinetuneConfig | None = None,
        weights: Tensor | None = None,
    ) -> None:
        super().__init__()
        self.config = config or FinetuneConfig()
        self.objective = TrainingObjective(model, self.config, weights)  # holds the model: its weights once
        self.num_classes = num_classes
        self.generator = torch.Generator().manual_seed(self.config.seed)
        self.held_out = SegmentationMetric(num_classes, self.config.ignore_index)

    @property
    def model(self) -> nn.Module:
        """The land-cover model being trained."""
        return self.objective.model

    def forward(self, inputs: dict[str, SensorInput], out_shape: tuple[int, int]) -> Tensor:
        """Class logits ``[B, K, H, W]``."""
        return self.model(inputs, out_shape)  # type: ignore[no-any-return]

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        loss = self.objective(batch["inputs"], batch["mask"], self.generator)
        self.log("train_loss", loss, prog_bar=True, batch_size=int(batch["mask"].shape[0]))
        return loss

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        target = batch["mask"]
        self.held_out.update(self(batch["inputs"], tuple(target.shape[-2:])), target)

    def on_validation_epoch_end(self) -> None:
        scores = self.held_out.compute()
        self.log_dict({"val_OA": scores.overall_accuracy, "val_mIoU": scores.miou})
        self.held_out = SegmentationMetric(self.num_classes, self.config.ignore_index)

    def configure_optimizers(self) -> Any:
        config = self.config
        optimizer = torch.optim.AdamW(self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay)

        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(config, step))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
