"""Crop-type models for training: a config for checkpoints, an adapter to the fine-tuning loop, parcel votes.

:class:`~eofusion.models.heads.CropTypeModel` classifies every pixel of the S1/S2 time-series grid with
temporal attention. :class:`CropTypeSegmenter` gives it the ``forward(inputs, out_shape)`` signature of
the land-cover models, so :func:`~eofusion.training.finetune.finetune` and ``evaluate`` train and score it
unchanged (only time-series sensors are passed to it). Parcel-level results come from a majority vote of
the pixel predictions inside each parcel (:func:`parcel_votes`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from eofusion.config import short_hash
from eofusion.errors import CheckpointError, ConfigError
from eofusion.grid import pixel_window
from eofusion.models.heads import CropTypeModel
from eofusion.models.inputs import SensorInput, collate_samples
from eofusion.training.checkpoints import load_checkpoint, save_checkpoint
from eofusion.training.cube_dataset import LabelledCubeDataset
from eofusion.training.landcover import ClassTable
from eofusion.training.metrics import IGNORE_INDEX, SegmentationMetric, SegmentationScores

TASK = "croptype"
TIME_SERIES_SENSORS = ("s2", "s1")


@dataclass(frozen=True)
class CropTypeConfig:
    """Architecture of a crop-type model (stored in its checkpoint)."""

    num_classes: int
    dim: int = 64
    heads: int = 4

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def config_hash(self) -> str:
        return short_hash(self.to_dict())


class CropTypeSegmenter(nn.Module):
    """``forward(inputs, out_shape) -> logits [B, K, H, W]``: crop types per pixel from the time series."""

    def __init__(self, config: CropTypeConfig) -> None:
        super().__init__()
        self.config = config
        self.model = CropTypeModel(config.num_classes, dim=config.dim, heads=config.heads)

    def forward(self, inputs: dict[str, SensorInput], out_shape: tuple[int, int]) -> Tensor:
        series = {k: v for k, v in inputs.items() if k in TIME_SERIES_SENSORS}
        if not series:
            raise ConfigError(
                f"A crop-type model needs S2 and/or S1 time series; got only {', '.join(inputs) or 'nothing'}."
            )
        logits = self.model(series)
        if tuple(logits.shape[-2:]) != tuple(out_shape):
            logits = F.interpolate(logits, out_shape, mode="bilinear", align_corners=False)
        return logits


def save_croptype_model(
    path: str | os.PathLike[str],
    model: CropTypeSegmenter,
    classes: ClassTable,
    *,
    seed: int | None = None,
    bands: Mapping[str, Any] | None = None,
) -> Path:
    """Write a crop-type checkpoint (weights + config + class table + the inputs it was trained on), atomically."""
    return save_checkpoint(path, model, seed=seed, bands=bands, extra={"task": TASK, "classes": classes.to_json()})


def load_croptype_model(path: str | os.PathLike[str]) -> tuple[CropTypeSegmenter, ClassTable]:
    """Rebuild a crop-type model from its checkpoint (eval mode) and its class table."""
    ckpt = load_checkpoint(path)
    extra = ckpt.metadata.get("extra", {})
    if extra.get("task") != TASK:
        raise CheckpointError(f"{path} is not a crop-type checkpoint (task {extra.get('task')!r}).")
    model = CropTypeSegmenter(CropTypeConfig(**ckpt.metadata["model_config"]))
    missing, unexpected = model.load_state_dict(ckpt.model_state, strict=False)
    if missing or unexpected:
        raise CheckpointError(f"{path} does not fit the crop-type model: {missing[:3]} {unexpected[:3]}.")
    return model.eval(), ClassTable.from_json(extra["classes"])


def parcel_votes(
    predicted: npt.NDArray[np.integer], reference: npt.NDArray[np.integer], parcel_ids: npt.NDArray[np.integer]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(majority reference, majority prediction) per parcel; ``parcel_ids`` 0 means no parcel."""
    ref_out: list[int] = []
    pred_out: list[int] = []
    for parcel in np.unique(parcel_ids[parcel_ids > 0]):
        inside = parcel_ids == parcel
        ref_out.append(int(np.bincount(reference[inside].astype(np.int64)).argmax()))
        pred_out.append(int(np.bincount(predicted[inside].astype(np.int64)).argmax()))
    return np.asarray(ref_out, dtype=np.int64), np.asarray(pred_out, dtype=np.int64)


@torch.no_grad()
def parcel_scores(
    model: nn.Module,
    dataset: LabelledCubeDataset,
    parcel_ids: npt.NDArray[np.int32],
    num_classes: int,
    ignore_index: int = IGNORE_INDEX,
) -> SegmentationScores:
    """Parcel-level scores: each parcel's majority predicted class vs its majority reference class.

    ``parcel_ids`` is on the label grid of ``dataset.labels`` (see :func:`~eofusion.training.labels.polygon_ids`);
    only the parcels' pixels inside the dataset's chips count (a parcel cut by the split is judged on its part).
    """
    model.eval()
    geobox = dataset.labels.geobox
    preds, refs, parcels = [], [], []
    for index, window in enumerate(dataset.windows):
        inputs, target = dataset[index]
        batch = collate_samples([inputs])
        pred = model(batch, tuple(target.shape[-2:])).argmax(1)[0].numpy()
        ids = parcel_ids[pixel_window(geobox, window.bounds).toslices()]
        labelled = (target.numpy() != ignore_index) & (ids > 0)
        preds.append(pred[labelled])
        refs.append(target.numpy()[labelled])
        parcels.append(ids[labelled])
    ref, vote = parcel_votes(np.concatenate(preds), np.concatenate(refs), np.concatenate(parcels))
    metric = SegmentationMetric(num_classes, ignore_index)
    metric.update(torch.from_numpy(vote)[None, None], torch.from_numpy(ref)[None, None])
    return metric.compute()
