"""The training tasks, land cover and crop type, behind one interface (as torchgeo's trainers are).

A training run asks its task for the model to train, how to save and load it, which sensor subsets it can
be scored on, and any task-specific scores; it never branches on the task's name. A new task is one class
here and one entry in :data:`TASKS` (and the spec's ``task`` literal).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol

from torch import nn

from eofusion.models import build_model, model_config
from eofusion.pipeline.train_spec import TrainSpec
from eofusion.pipeline.training_data import Say, TrainingData
from eofusion.training.croptype import (
    CropTypeConfig,
    CropTypeSegmenter,
    load_croptype_model,
    parcel_scores,
    save_croptype_model,
)
from eofusion.training.cube_dataset import CubeDataset
from eofusion.training.distributed import Compute
from eofusion.training.labels import polygon_ids
from eofusion.training.landcover import ClassTable, landcover_model, load_landcover_model, save_landcover_model
from eofusion.training.pretrain import PretrainConfig, pretrain


class Task(Protocol):
    """What a training run needs to know about its task."""

    name: ClassVar[str]

    def build_model(self, spec: TrainSpec, data: TrainingData, say: Say, compute: Compute) -> nn.Module:
        """The untrained (or pretrained-encoder) model for the spec's classes."""

    def save(self, path: Path, model: nn.Module, spec: TrainSpec, data: TrainingData) -> None:
        """Write the checkpoint ``eofusion evaluate`` / ``eofusion run`` read back with :meth:`load`."""

    def load(self, checkpoint: str | os.PathLike[str]) -> tuple[nn.Module, ClassTable]:
        """A checkpoint of this task: the model in eval mode and its class table."""

    def scorable(self, subsets: Mapping[str, Sequence[str]]) -> dict[str, Sequence[str]]:
        """The sensor subsets this task's model can be scored on."""

    def extra_scores(self, spec: TrainSpec, model: nn.Module, data: TrainingData) -> dict[str, float] | None:
        """Task-specific held-out scores beside the pixel ones (None: none)."""


def trained_inputs(data: TrainingData) -> dict[str, dict[str, Any]]:
    """What a checkpoint records of its training inputs: per group, the sensor, band names and pixel size."""
    return {
        key: {"sensor": g.sensor, "bands": [b.name for b in g.bands], "resolution_m": g.res}
        for key, g in data.cube.groups.items()
    }


class LandCoverTask:
    """Per-pixel land cover: the spectrum-aware encoder (MAE-pretrained when the spec asks) + a land-cover head."""

    name: ClassVar[str] = "landcover"

    def build_model(self, spec: TrainSpec, data: TrainingData, say: Say, compute: Compute) -> nn.Module:
        config = model_config(spec.model.preset)
        pretrained = spec.model.pretrained
        if pretrained is None and spec.model.pretrain_steps > 0:
            result = pretrain(
                build_model(config),
                CubeDataset(data.cube, data.train_windows),
                PretrainConfig(
                    steps=spec.model.pretrain_steps,
                    batch_size=spec.finetune.batch_size,
                    lr=spec.model.pretrain_lr,
                    seed=spec.seed,
                    checkpoint_every=0,
                    device=str(compute.policy.device),
                    amp=compute.policy.amp,
                ),
                out_dir=spec.outputs.dir / "pretrain",
                ranks=compute.ranks,
            )
            say(
                "pretrain",
                f"MAE loss {result.first_loss:.3f} -> {result.final_loss:.3f} in {result.steps_done} steps "
                f"({result.seconds:.0f}s)",
            )
            # Rank 0 wrote the checkpoint; the other ranks start from its weights anyway (DDP broadcasts them).
            pretrained = Path(result.checkpoint) if result.checkpoint else None
        return landcover_model(config, len(data.classes.ids), pretrained=pretrained, head_dim=spec.model.head_dim)

    def save(self, path: Path, model: nn.Module, spec: TrainSpec, data: TrainingData) -> None:
        # Maps are predicted with windows twice the training chip, blended over a quarter of it.
        chip = spec.chips.size_m * 2
        save_landcover_model(
            path,
            model,  # type: ignore[arg-type]
            data.classes,
            seed=spec.seed,
            bands=trained_inputs(data),
            extra={"chip_m": chip, "overlap_m": chip / 4, "trained_on": spec.name, "spec_hash": spec.config_hash()},
        )

    def load(self, checkpoint: str | os.PathLike[str]) -> tuple[nn.Module, ClassTable]:
        model, classes, _ = load_landcover_model(checkpoint)
        return model, classes

    def scorable(self, subsets: Mapping[str, Sequence[str]]) -> dict[str, Sequence[str]]:
        return dict(subsets)

    def extra_scores(self, spec: TrainSpec, model: nn.Module, data: TrainingData) -> dict[str, float] | None:
        return None


class CropTypeTask:
    """Crop types from the S1/S2 time series (temporal model), scored per pixel and, with polygons, per parcel."""

    name: ClassVar[str] = "croptype"
    TIME_SERIES: ClassVar[tuple[str, ...]] = ("s2", "s1")

    def build_model(self, spec: TrainSpec, data: TrainingData, say: Say, compute: Compute) -> nn.Module:
        return CropTypeSegmenter(CropTypeConfig(num_classes=len(data.classes.ids)))

    def save(self, path: Path, model: nn.Module, spec: TrainSpec, data: TrainingData) -> None:
        save_croptype_model(path, model, data.classes, seed=spec.seed, bands=trained_inputs(data))  # type: ignore[arg-type]

    def load(self, checkpoint: str | os.PathLike[str]) -> tuple[nn.Module, ClassTable]:
        return load_croptype_model(checkpoint)

    def scorable(self, subsets: Mapping[str, Sequence[str]]) -> dict[str, Sequence[str]]:
        # The model reads time series only: a subset without S1 or S2 gives it nothing to classify.
        return {k: v for k, v in subsets.items() if any(s in self.TIME_SERIES for s in v)}

    def extra_scores(self, spec: TrainSpec, model: nn.Module, data: TrainingData) -> dict[str, float] | None:
        """Crop types per parcel (majority vote inside each polygon), when the labels are polygons."""
        if spec.labels.vector is None:
            return None
        ids = polygon_ids(spec.labels.vector, data.labels.geobox)
        return parcel_scores(model, data.test, ids, len(data.classes.ids)).as_row(data.names)


TASKS: dict[str, Task] = {task.name: task for task in (LandCoverTask(), CropTypeTask())}


def task_of(spec: TrainSpec) -> Task:
    """The task object of a training spec (``task:`` in the YAML, validated there)."""
    return TASKS[spec.task]
