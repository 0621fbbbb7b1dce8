"""Torch datasets over a cube: co-located multi-sensor chips (and labels) for the model.

Pixels come from :meth:`eofusion.cube.Cube.read` (chunk-aligned Zarr reads with a per-process cache, no
warping: the cube is already aligned) and are normalised by :func:`eofusion.models.inputs.read_sample`.
Each sample is the model's input, ``dict[str, SensorInput]`` with one entry per cube group, every group
cut to the same ground window. Cubes and datasets are picklable, so a ``DataLoader`` with
``num_workers > 0`` gives every worker its own Zarr handles and chunk cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
from odc.geo.geobox import GeoBox
from torch.utils.data import Dataset

from eofusion.cube import Cube
from eofusion.errors import ConfigError
from eofusion.grid import ChipWindow, pixel_window
from eofusion.models.inputs import SensorInput, read_sample
from eofusion.training.metrics import IGNORE_INDEX


@dataclass(frozen=True)
class LabelRaster:
    """Class ids on a grid nested with the cube's (same bounds), e.g. rasterised ground truth."""

    values: npt.NDArray[np.uint8]
    geobox: GeoBox

    def read(self, window: ChipWindow) -> torch.Tensor:
        """The label chip, ``[h, w]`` int64 (IGNORE_INDEX where unknown or outside the raster)."""
        win = pixel_window(self.geobox, window.bounds)
        r0, c0, nh, nw = int(win.row_off), int(win.col_off), int(win.height), int(win.width)
        h, w = self.values.shape
        out = np.full((nh, nw), IGNORE_INDEX, dtype=np.int64)
        y0, y1, x0, x1 = max(r0, 0), min(r0 + nh, h), max(c0, 0), min(c0 + nw, w)
        if y1 > y0 and x1 > x0:
            out[y0 - r0 : y1 - r0, x0 - c0 : x1 - c0] = self.values[y0:y1, x0:x1]
        return torch.from_numpy(out)


class CubeDataset(Dataset[dict[str, SensorInput]]):
    """Unlabelled chips for pretraining: item ``i`` is the chip at ``windows[i]``."""

    def __init__(self, cube: Cube, windows: Sequence[ChipWindow]) -> None:
        if not windows:
            raise ConfigError("CubeDataset needs at least one chip window.")
        self.cube, self.windows = cube, list(windows)

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> dict[str, SensorInput]:
        return read_sample(self.cube, self.windows[index])


class LabelledCubeDataset(Dataset[tuple[dict[str, SensorInput], torch.Tensor]]):
    """Chips with their label chip, for fine-tuning and evaluation."""

    def __init__(self, cube: Cube, labels: LabelRaster, windows: Sequence[ChipWindow]) -> None:
        if not windows:
            raise ConfigError("LabelledCubeDataset needs at least one chip window.")
        self.cube, self.labels, self.windows = cube, labels, list(windows)

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> tuple[dict[str, SensorInput], torch.Tensor]:
        window = self.windows[index]
        return read_sample(self.cube, window), self.labels.read(window)
