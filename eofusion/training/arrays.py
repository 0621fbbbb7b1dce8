"""In-memory multi-sensor arrays and a random-chip dataset over them.

:class:`ArrayChipDataset` is the bridge between "arrays per sensor over one area" (a demo world, a cube
slice, synthetic scenes) and the model's samples (``dict[str, SensorInput]``, unbatched). The cube-backed
dataset feeds the same :class:`SensorArray` values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import torch
from torch.utils.data import Dataset

from eofusion.errors import ConfigError
from eofusion.models.inputs import SensorInput, normalise_pixels
from eofusion.sensors import Band


@dataclass(frozen=True, eq=False)
class SensorArray:
    """One sensor over an area, normalised for the model.

    Attributes:
        pixels: ``[T, C, H, W]`` float32, normalised (see :func:`eofusion.models.normalise_pixels`).
        bands: Band of each channel.
        gsd_m: Pixel size in metres.
        sensor: Registry sensor name (for measured spectral responses), or None.
        day_of_year: ``[T]`` acquisition days of year, or None.
        valid: ``[T, H, W]`` bool validity (clouds, nodata), or None.
    """

    pixels: npt.NDArray[np.float32]
    bands: tuple[Band, ...]
    gsd_m: float
    sensor: str | None = None
    day_of_year: npt.NDArray[np.float32] | None = None
    valid: npt.NDArray[np.bool_] | None = None

    def __post_init__(self) -> None:
        if self.pixels.ndim != 4 or self.pixels.shape[1] != len(self.bands):
            raise ConfigError(
                f"SensorArray {self.sensor!r}: pixels must be [T, C, H, W] with C = {len(self.bands)} bands; "
                f"got shape {self.pixels.shape}."
            )

    @classmethod
    def from_physical(
        cls,
        physical: npt.ArrayLike,
        bands: tuple[Band, ...],
        gsd_m: float,
        sensor: str | None = None,
        *,
        day_of_year: npt.ArrayLike | None = None,
        valid: npt.ArrayLike | None = None,
        sar_units: Literal["db", "linear"] = "db",
    ) -> SensorArray:
        """Build from physical values (reflectance, metres, SAR in ``sar_units``): normalises them."""
        pixels = normalise_pixels(np.asarray(physical, dtype=np.float32), bands, sar_units=sar_units).numpy()
        doy = None if day_of_year is None else np.asarray(day_of_year, dtype=np.float32)
        ok = None if valid is None else np.asarray(valid, dtype=bool)
        return cls(pixels, bands, gsd_m, sensor, doy, ok)

    @property
    def extent_m(self) -> tuple[float, float]:
        """Ground height and width in metres."""
        return self.pixels.shape[2] * self.gsd_m, self.pixels.shape[3] * self.gsd_m


class ArrayChipDataset(Dataset[dict[str, SensorInput]]):
    """Random co-located chips of ``chip_m`` metres from arrays of several sensors over one area.

    Item ``i`` is deterministic given ``seed`` (its crop and flips come from ``rng(seed, i)``), so a
    pretraining run that draws indices from a seeded stream is reproducible and resumable.

    Args:
        arrays: Sensor key -> array; all must cover the same area with aligned upper-left corners.
        chip_m: Chip side in metres; a multiple of every sensor's pixel size.
        length: Number of items (chips are random, so any length works).
        seed: Seed of the crops.
        flips: Random horizontal/vertical flips, the same for all sensors of a chip.
    """

    def __init__(
        self,
        arrays: Mapping[str, SensorArray],
        chip_m: float,
        length: int = 1024,
        seed: int = 0,
        flips: bool = True,
    ) -> None:
        if not arrays:
            raise ConfigError("ArrayChipDataset needs at least one sensor array.")
        self.arrays = dict(arrays)
        self.chip_m, self.length, self.seed, self.flips = chip_m, length, seed, flips
        self.step_m = max(a.gsd_m for a in self.arrays.values())  # crops start on the coarsest pixel grid
        extent = min(min(a.extent_m) for a in self.arrays.values())
        for key, a in self.arrays.items():
            px = chip_m / a.gsd_m
            if abs(px - round(px)) > 1e-6 or abs(self.step_m / a.gsd_m - round(self.step_m / a.gsd_m)) > 1e-6:
                raise ConfigError(
                    f"chip_m {chip_m} m and the coarsest pixel {self.step_m} m must be multiples of sensor "
                    f"{key!r}'s pixel size {a.gsd_m} m."
                )
        if chip_m > extent:
            raise ConfigError(f"chip_m {chip_m} m is larger than the area covered ({extent:.0f} m).")
        self.positions = math.floor((extent - chip_m) / self.step_m) + 1

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, SensorInput]:
        rng = np.random.default_rng([self.seed, int(index)])
        row, col = (v * self.step_m for v in rng.integers(0, self.positions, size=2))
        flip_y, flip_x = (bool(v) for v in rng.integers(0, 2, size=2)) if self.flips else (False, False)
        sample: dict[str, SensorInput] = {}
        for key, a in self.arrays.items():
            r0, c0, n = round(row / a.gsd_m), round(col / a.gsd_m), round(self.chip_m / a.gsd_m)
            pix = a.pixels[:, :, r0 : r0 + n, c0 : c0 + n]
            val = None if a.valid is None else a.valid[:, r0 : r0 + n, c0 : c0 + n]
            axes = tuple(ax for ax, f in ((-2, flip_y), (-1, flip_x)) if f)
            if axes:
                pix = np.flip(pix, axis=axes)
                val = None if val is None else np.flip(val, axis=axes)
            sample[key] = SensorInput(
                pixels=torch.from_numpy(np.ascontiguousarray(pix)),
                bands=a.bands,
                gsd_m=a.gsd_m,
                sensor=a.sensor,
                day_of_year=None if a.day_of_year is None else torch.from_numpy(a.day_of_year),
                valid=None if val is None else torch.from_numpy(np.ascontiguousarray(val)),
            )
        return sample
