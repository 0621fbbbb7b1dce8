"""Training: datasets of model samples, MAE pretraining, checkpoints.

Public API:

- :class:`SensorArray`, :class:`ArrayChipDataset` — in-memory multi-sensor arrays -> random co-located chips.
- :func:`synthetic_scene` — spectrally plausible arrays from the registry (tests, smoke runs).
- :class:`PretrainConfig`, :func:`pretrain`, :class:`PretrainResult`, :class:`StepInfo`, :func:`pick_device`.
- :func:`save_checkpoint`, :func:`load_checkpoint`, :func:`load_model`, :func:`read_state_dict`,
  :func:`convert_smarties_checkpoint`.
- :class:`ChipWindow`, :func:`grid_windows`, :func:`random_windows`, :func:`split_bounds` — chip layouts.
- :class:`CubeDataset`, :class:`LabelledCubeDataset`, :class:`LabelRaster` — chips of a :class:`eofusion.cube.Cube`.
- :class:`CubeGeoDataset`, :func:`collate_geo_samples` — a cube as a torchgeo GeoDataset (imported on first use).
"""

from __future__ import annotations

from typing import Any

from eofusion.models.device import pick_device
from eofusion.training.arrays import ArrayChipDataset, SensorArray
from eofusion.training.checkpoints import (
    Checkpoint,
    convert_smarties_checkpoint,
    load_checkpoint,
    load_model,
    read_state_dict,
    restore_model,
    save_checkpoint,
)
from eofusion.training.chips import ChipWindow, grid_windows, random_windows, split_bounds
from eofusion.training.cube_dataset import CubeDataset, LabelledCubeDataset, LabelRaster
from eofusion.training.metrics import IGNORE_INDEX
from eofusion.training.pretrain import PretrainConfig, PretrainResult, StepInfo, pretrain
from eofusion.training.synthetic import synthetic_scene

__all__ = [
    "IGNORE_INDEX",
    "ArrayChipDataset",
    "Checkpoint",
    "ChipWindow",
    "CubeDataset",
    "CubeGeoDataset",
    "LabelRaster",
    "LabelledCubeDataset",
    "PretrainConfig",
    "PretrainResult",
    "SensorArray",
    "StepInfo",
    "collate_geo_samples",
    "convert_smarties_checkpoint",
    "grid_windows",
    "load_checkpoint",
    "load_model",
    "pick_device",
    "pretrain",
    "random_windows",
    "read_state_dict",
    "restore_model",
    "save_checkpoint",
    "split_bounds",
    "synthetic_scene",
]


def __getattr__(name: str) -> Any:
    # The torchgeo adapter imports geopandas and matplotlib (seconds): load it on first use only.
    if name in ("CubeGeoDataset", "collate_geo_samples"):
        from eofusion.training import geodataset

        return getattr(geodataset, name)
    raise AttributeError(f"module 'eofusion.training' has no attribute {name!r}")
