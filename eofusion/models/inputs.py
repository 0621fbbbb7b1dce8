"""The model's input type :class:`SensorInput`, input normalisation and batching.

This is the API the training and mapping stages build on. A sample is a ``dict[str, SensorInput]``: one
entry per sensor covering the SAME ground footprint, each on its own native grid. The dict keys are
free labels (``"s2"``, ``"aerial"``...): the model never uses them for weights or order; bands are
identified by their :class:`~eofusion.sensors.Band` (and descriptor) only.

Tensor layout of one ``SensorInput`` (batched):

- ``pixels``: ``[B, T, C, H, W]`` float, normalised with :func:`normalise_pixels` (NaN = missing).
  T = 1 for single-date sensors (aerial, DSM); C = ``len(bands)``; ``H * gsd_m`` is the footprint.
- ``day_of_year``: ``[B, T]`` float (1..366) or None (dates unknown / single date).
- ``valid``: ``[B, T, H, W]`` bool or None (everything valid); pixels that are NaN are invalid anyway.

Datasets yield unbatched samples (``pixels [T, C, H, W]``, ``day_of_year [T]``, ``valid [T, H, W]``);
:func:`collate_samples` stacks them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor

from eofusion.errors import ConfigError
from eofusion.models.descriptors import band_descriptors
from eofusion.sensors import Band, BandKind

# SAR linear power is floored here before log10 (speckle reaches 0).
_DB_FLOOR = -50.0


@dataclass(frozen=True, eq=False)
class SensorInput:
    """One sensor's data for the model (see the module docstring for shapes).

    Attributes:
        pixels: Normalised values, ``[B, T, C, H, W]`` (or ``[T, C, H, W]`` in an unbatched sample).
        bands: The band of each channel, in channel order (any order: tokens do not depend on it).
        gsd_m: Ground sampling distance in metres of this sensor's grid.
        sensor: Registry name of the sensor, so descriptors use its measured spectral responses;
            None for an ad-hoc sensor (Gaussian responses from centre and FWHM).
        day_of_year: Acquisition day of year per date, ``[B, T]``, or None.
        valid: Pixel validity (clouds, nodata), ``[B, T, H, W]`` bool, or None for all valid.
    """

    pixels: Tensor
    bands: tuple[Band, ...]
    gsd_m: float
    sensor: str | None = None
    day_of_year: Tensor | None = None
    valid: Tensor | None = None

    def __post_init__(self) -> None:
        if len(self.bands) == 0:
            raise ConfigError(f"SensorInput for sensor {self.sensor!r} has no bands; give at least one.")
        if self.pixels.shape[-3] != len(self.bands):
            raise ConfigError(
                f"SensorInput for sensor {self.sensor!r}: pixels have {self.pixels.shape[-3]} channels "
                f"but {len(self.bands)} bands were given ({', '.join(b.name for b in self.bands)})."
            )
        if self.gsd_m <= 0:
            raise ConfigError(f"SensorInput for sensor {self.sensor!r}: gsd_m must be positive, got {self.gsd_m}.")

    @property
    def footprint_m(self) -> tuple[float, float]:
        """Ground height and width covered, in metres."""
        return self.pixels.shape[-2] * self.gsd_m, self.pixels.shape[-1] * self.gsd_m

    def descriptors(self) -> Tensor:
        """Band descriptors ``[C, DESCRIPTOR_DIM]`` on the pixels' device."""
        return band_descriptors(self.bands, self.sensor).to(self.pixels.device)

    def to(self, device: torch.device | str, non_blocking: bool = False) -> SensorInput:
        """A copy with every tensor on ``device`` (``non_blocking`` from pinned memory to a GPU)."""
        return replace(
            self,
            pixels=self.pixels.to(device, non_blocking=non_blocking),
            day_of_year=None if self.day_of_year is None else self.day_of_year.to(device, non_blocking=non_blocking),
            valid=None if self.valid is None else self.valid.to(device, non_blocking=non_blocking),
        )

    def keep_chips(self, keep: Tensor) -> SensorInput:
        """A copy in which the chips where ``keep [B]`` is False have no valid pixel (the sensor is absent there)."""
        if bool(keep.all()):
            return self
        pixels = self.pixels if self.pixels.ndim == 5 else self.pixels.unsqueeze(1)
        b, t, _, h, w = pixels.shape
        valid = torch.ones(b, t, h, w, dtype=torch.bool, device=pixels.device)
        if self.valid is not None:
            valid = self.valid.reshape(b, t, h, w)
        return replace(self, valid=valid & keep.to(valid.device)[:, None, None, None])

    def select(self, keys: Sequence[str]) -> SensorInput:
        """A copy with only the bands named in ``keys`` (name, alias or common name), in that order."""
        wanted = [k.lower() for k in keys]
        index = []
        for key in wanted:
            hits = [i for i, b in enumerate(self.bands) if key in {k.lower() for k in Band.keys(b)}]
            if not hits:
                raise ConfigError(f"Sensor {self.sensor!r} input has no band {key!r}.")
            index.append(hits[0])
        return replace(self, pixels=self.pixels[..., index, :, :], bands=tuple(self.bands[i] for i in index))


def normalise_pixels(
    physical: Tensor | npt.ArrayLike,
    bands: Sequence[Band],
    channel_axis: int = -3,
    sar_units: Literal["db", "linear"] = "db",
) -> Tensor:
    """Physical values -> model input: ``(x - band.norm_mean) / band.norm_std`` per band, SAR in dB.

    Args:
        physical: Values in physical units (reflectance, kelvin, metres; SAR backscatter in dB as cubes
            store it, or linear power with ``sar_units="linear"``), bands along ``channel_axis``; NaN
            marks missing data and stays NaN.
        bands: The band of each channel.
        channel_axis: Axis of the bands (default ``-3``: ``[..., C, H, W]``).
        sar_units: How SAR bands are given; linear power is converted to dB (floored at -50 dB).

    Returns:
        A float32 tensor of the same shape.

    Raises:
        ConfigError: Channel count differs from ``bands``, or SAR values contradict ``sar_units``
            (negative "linear" power, or "dB" values that are all within 0..1 like linear power).
    """
    x = torch.as_tensor(np.asarray(physical) if not isinstance(physical, Tensor) else physical).float()
    if x.shape[channel_axis] != len(bands):
        raise ConfigError(f"normalise_pixels: {x.shape[channel_axis]} channels but {len(bands)} bands.")
    shape = [1] * x.ndim
    shape[channel_axis] = len(bands)
    sar = torch.tensor([b.kind is BandKind.BACKSCATTER for b in bands]).reshape(shape)
    mean = torch.tensor([b.norm_mean for b in bands], dtype=torch.float32).reshape(shape)
    std = torch.tensor([b.norm_std for b in bands], dtype=torch.float32).reshape(shape)
    if bool(sar.any()):
        values = x.masked_select(sar.expand_as(x))
        values = values[torch.isfinite(values)]
        if sar_units == "linear":
            if values.numel() and bool((values < 0).any()):
                raise ConfigError("SAR values are negative, so they are dB, not linear power: pass sar_units='db'.")
            db = (10.0 * torch.log10(x.clamp_min(0.0))).clamp_min(_DB_FLOOR)
            x = torch.where(sar & ~torch.isnan(x), db, x)
        elif values.numel() > 16 and bool((values >= 0).all()) and float(values.median()) < 1.0:
            raise ConfigError("SAR values are all within 0..1, which is linear power, not dB: pass sar_units='linear'.")
    return (x - mean) / std


def collate_samples(samples: Sequence[Mapping[str, SensorInput]]) -> dict[str, SensorInput]:
    """Stack unbatched samples (``pixels [T, C, H, W]``) into one batch (``[B, T, C, H, W]``).

    Every sample must have the same sensors, bands and shapes (crop to one size in the dataset).
    """
    if not samples:
        raise ConfigError("collate_samples needs at least one sample.")
    batch: dict[str, SensorInput] = {}
    for key, first in samples[0].items():
        items = [s[key] for s in samples]
        if any(i.bands != first.bands for i in items):
            raise ConfigError(f"Samples disagree on the bands of sensor {key!r}; batch them separately.")
        batch[key] = SensorInput(
            pixels=torch.stack([i.pixels for i in items]),
            bands=first.bands,
            gsd_m=first.gsd_m,
            sensor=first.sensor,
            day_of_year=None if first.day_of_year is None else torch.stack([i.day_of_year for i in items]),  # type: ignore[misc]
            valid=None if first.valid is None else torch.stack([i.valid for i in items]),  # type: ignore[misc]
        )
    return batch


class GroupLike(Protocol):
    """What a sample needs of one cube group (:class:`eofusion.cube.CubeGroup` has it)."""

    @property
    def bands(self) -> tuple[Band, ...]: ...
    @property
    def res(self) -> float: ...
    @property
    def sensor(self) -> str: ...
    @property
    def day_of_year(self) -> npt.NDArray[np.float32]: ...


class WindowSource(Protocol):
    """Anything that reads co-located windows per group (:class:`eofusion.cube.Cube` does)."""

    @property
    def groups(self) -> Mapping[str, GroupLike]: ...
    def read(self, group: str, window: Any, *, boundless: bool = False) -> npt.NDArray[np.float32]: ...


def read_sample(source: WindowSource, window: Any, *, boundless: bool = False) -> dict[str, SensorInput]:
    """One co-located sample of every group of ``source`` in ``window``, normalised for the model.

    Args:
        source: A cube (or a view of some of its groups and bands).
        window: A ground window (:class:`eofusion.grid.ChipWindow` or bounds) on the groups' pixel edges.
        boundless: Pad the parts outside the source as no-data (pixels 0, ``valid`` False).
    """
    sample: dict[str, SensorInput] = {}
    for name, group in source.groups.items():
        pixels, valid = model_pixels(source.read(name, window, boundless=boundless), group.bands)
        doy = group.day_of_year
        sample[name] = SensorInput(
            pixels=pixels,
            bands=group.bands,
            gsd_m=group.res,
            sensor=group.sensor,
            day_of_year=torch.from_numpy(doy.copy()) if len(doy) > 1 else None,
            valid=valid,
        )
    return sample


def model_pixels(block: npt.NDArray[np.float32], bands: tuple[Band, ...]) -> tuple[Tensor, Tensor]:
    """Normalised pixels (NaN -> 0) and validity ``[T, h, w]`` of a freshly read block (overwritten in place)."""
    missing = np.isnan(block)
    valid = torch.from_numpy(~missing.any(axis=1))
    if any(b.kind is BandKind.BACKSCATTER for b in bands):  # dB conversion and its checks
        return torch.nan_to_num(normalise_pixels(block, bands), nan=0.0), valid
    # the same (x - mean) / std as normalise_pixels, in place: no temporaries on the loader's hot path
    block -= np.array([b.norm_mean for b in bands], dtype=np.float32).reshape(1, -1, 1, 1)
    block /= np.array([b.norm_std for b in bands], dtype=np.float32).reshape(1, -1, 1, 1)
    np.copyto(block, np.float32(0.0), where=missing)
    return torch.from_numpy(block), valid
