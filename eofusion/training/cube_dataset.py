"""Torch datasets over a Zarr cube: co-located multi-sensor chips (and labels) for the model.

Pixels are read straight from the Zarr arrays (no Dask, no warping: the cube is already aligned), so a
chip costs the decode of the few 256-px chunks it touches. Each sample is the model's input,
``dict[str, SensorInput]`` with one entry per cube group, every group cut to the same ground window.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
import xarray as xr
import zarr
from odc.geo.geobox import GeoBox
from torch.utils.data import Dataset

from eofusion.cube import open_cube
from eofusion.errors import ConfigError, CubeSchemaError, UnknownBandError
from eofusion.models.inputs import SensorInput, normalise_pixels
from eofusion.sensors import Band, get_band
from eofusion.training.chips import Bounds, ChipWindow

# Ignore index of label chips (torch's CrossEntropyLoss default is -100; we keep uint8-friendly 255).
IGNORE_INDEX = 255


@dataclass(frozen=True)
class GroupMeta:
    """What the reader needs about one cube group."""

    name: str
    left: float
    top: float
    res: float
    shape: tuple[int, int]
    bands: tuple[Band, ...]
    band_index: tuple[int, ...]
    sensor: str
    day_of_year: npt.NDArray[np.float32]


def _group_meta(name: str, ds: xr.Dataset, wanted: Sequence[str] | None) -> GroupMeta:
    x, y = ds["x"].values, ds["y"].values
    res = float(abs(x[1] - x[0])) if len(x) > 1 else float(abs(y[1] - y[0]))
    band_names = [str(b) for b in ds["band"].values]
    sensors = [str(s) for s in ds["sensor"].values]
    picked = range(len(band_names)) if wanted is None else [_index_of(name, band_names, sensors, w) for w in wanted]
    bands = tuple(get_band(sensors[i], band_names[i]) for i in picked)
    doy = ds["time"].dt.dayofyear.values.astype(np.float32)
    return GroupMeta(
        name, float(x[0] - res / 2), float(y[0] + res / 2), res, (len(y), len(x)), bands, tuple(picked), sensors[0], doy
    )


def _index_of(group: str, names: list[str], sensors: list[str], wanted: str) -> int:
    for i, (name, sensor) in enumerate(zip(names, sensors, strict=True)):
        try:
            if get_band(sensor, wanted).name == name:
                return i
        except UnknownBandError:
            break
    raise ConfigError(f"Cube group {group!r} has no band {wanted!r}; it has {', '.join(names)}.")


class CubeChipReader:
    """Reads co-located chips of every (or the chosen) group of a cube."""

    def __init__(
        self,
        store: str | os.PathLike[str],
        groups: Sequence[str] | None = None,
        bands: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        tree = open_cube(store)
        available = [k for k in tree.children]
        chosen = list(groups) if groups is not None else available
        missing = [g for g in chosen if g not in available]
        if missing:
            raise CubeSchemaError(f"Cube {store} has no group(s) {missing}; it has {available}.")
        self.store = str(store)
        self.groups = {g: _group_meta(g, tree[g].to_dataset(), (bands or {}).get(g)) for g in chosen}
        # Nested grids share one CRS; keep it for the outputs (maps are written on the cube's grid).
        self.crs: str = str(tree[chosen[0]].to_dataset()["spatial_ref"].attrs["crs_wkt"])
        self._arrays = {g: zarr.open_array(self.store, path=f"{g}/data", mode="r") for g in chosen}
        first = next(iter(self.groups.values()))
        self.bounds: Bounds = (
            first.left,
            first.top - first.shape[0] * first.res,
            first.left + first.shape[1] * first.res,
            first.top,
        )
        self.coarsest_m = max(m.res for m in self.groups.values())

    def read(self, window: ChipWindow) -> dict[str, SensorInput]:
        """One chip of every group, normalised for the model (NaN and clouds marked invalid)."""
        sample: dict[str, SensorInput] = {}
        for name, meta in self.groups.items():
            r0 = round((meta.top - window.top) / meta.res)
            c0 = round((window.left - meta.left) / meta.res)
            n = round(window.size_m / meta.res)
            if r0 < 0 or c0 < 0 or r0 + n > meta.shape[0] or c0 + n > meta.shape[1]:
                raise ConfigError(f"Chip {window.bounds} lies outside the cube's {name!r} grid.")
            block = np.asarray(self._arrays[name][:, :, r0 : r0 + n, c0 : c0 + n], dtype=np.float32)
            block = block[:, list(meta.band_index)]
            valid = ~np.isnan(block).any(axis=1)
            pixels = normalise_pixels(block, meta.bands)
            sample[name] = SensorInput(
                pixels=torch.nan_to_num(pixels, nan=0.0),
                bands=meta.bands,
                gsd_m=meta.res,
                sensor=meta.sensor,
                day_of_year=torch.from_numpy(meta.day_of_year.copy()) if len(meta.day_of_year) > 1 else None,
                valid=torch.from_numpy(valid),
            )
        return sample


@dataclass(frozen=True)
class LabelRaster:
    """Class ids on a grid nested with the cube's (same bounds), e.g. rasterised ground truth."""

    values: npt.NDArray[np.uint8]
    geobox: GeoBox

    def read(self, window: ChipWindow) -> torch.Tensor:
        """The label chip, ``[h, w]`` int64 (IGNORE_INDEX where unknown)."""
        res = abs(self.geobox.affine.a)
        r0 = round((self.geobox.affine.f - window.top) / res)
        c0 = round((window.left - self.geobox.affine.c) / res)
        n = round(window.size_m / res)
        return torch.from_numpy(self.values[r0 : r0 + n, c0 : c0 + n].astype(np.int64))


class CubeDataset(Dataset[dict[str, SensorInput]]):
    """Unlabelled chips for pretraining: item ``i`` is the chip at ``windows[i]``."""

    def __init__(self, reader: CubeChipReader, windows: Sequence[ChipWindow]) -> None:
        if not windows:
            raise ConfigError("CubeDataset needs at least one chip window.")
        self.reader, self.windows = reader, list(windows)

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> dict[str, SensorInput]:
        return self.reader.read(self.windows[index])


class LabelledCubeDataset(Dataset[tuple[dict[str, SensorInput], torch.Tensor]]):
    """Chips with their label chip, for fine-tuning and evaluation."""

    def __init__(self, reader: CubeChipReader, labels: LabelRaster, windows: Sequence[ChipWindow]) -> None:
        if not windows:
            raise ConfigError("LabelledCubeDataset needs at least one chip window.")
        self.reader, self.labels, self.windows = reader, labels, list(windows)

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> tuple[dict[str, SensorInput], torch.Tensor]:
        window = self.windows[index]
        return self.reader.read(window), self.labels.read(window)
