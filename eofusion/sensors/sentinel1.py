"""Sentinel-1 C-band SAR: polarisations, linear power vs dB, GRD and RTC products."""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import numpy.typing as npt

from eofusion.sensors.model import Band, BandKind, Sensor

# Centre frequency of the Sentinel-1 C-SAR instrument (wavelength ~5.55 cm).
C_BAND_FREQUENCY_GHZ = 5.405
# Backscatter in dB is floored here before log: speckle and no-return areas reach 0 in linear power.
DB_FLOOR = -50.0


class SarProduct(StrEnum):
    """The backscatter conventions eofusion reads.

    GRD: Level-1 ground range detected; calibrated to sigma0 on the ellipsoid (after calibration).
    RTC: radiometrically terrain corrected gamma0 (terrain-flattened), as Planetary Computer serves it.
    Both are stored as linear power; dB is derived.
    """

    GRD = "GRD"
    RTC = "RTC"


class OrbitDirection(StrEnum):
    """Pass direction (STAC ``sat:orbit_state``)."""

    ASCENDING = "ascending"
    DESCENDING = "descending"


def to_db(linear: npt.ArrayLike, floor_db: float = DB_FLOOR) -> npt.NDArray[np.floating]:
    """Linear power -> decibels, floored at ``floor_db``; NaN stays NaN."""
    arr = np.asarray(linear, dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        db = 10.0 * np.log10(arr)
    return np.where(np.isnan(arr), np.nan, np.maximum(db, floor_db)).astype(np.float32)


def from_db(db: npt.ArrayLike) -> npt.NDArray[np.floating]:
    """Decibels -> linear power."""
    return np.power(10.0, np.asarray(db, dtype=np.float32) / 10.0).astype(np.float32)


# Typical land backscatter in dB (mean, std); used to standardise model inputs.
_NORM_DB = {"VV": (-11.0, 4.5), "VH": (-18.0, 4.5), "HH": (-10.0, 4.5), "HV": (-18.0, 4.5)}


def _sar_band(pol: str) -> Band:
    mean, std = _NORM_DB[pol]
    return Band(
        name=pol,
        kind=BandKind.BACKSCATTER,
        resolution_m=10.0,
        dtype="float32",
        units="linear power",
        aliases=(pol.lower(),),
        polarisation=pol,
        frequency_ghz=C_BAND_FREQUENCY_GHZ,
        nodata=None,  # NaN: float rasters mark missing data with NaN
        norm_mean=mean,
        norm_std=std,
        description=f"C-band backscatter, {pol[0]} transmit / {pol[1]} receive; normalisation stats in dB",
    )


SENTINEL1 = Sensor(
    name="sentinel-1",
    family="sentinel-1",
    bands=tuple(_sar_band(p) for p in ("VV", "VH", "HH", "HV")),
    instrument="c-sar",
    platforms=("sentinel-1", "sentinel-1a", "sentinel-1b", "sentinel-1c", "S1A", "S1B", "S1C"),
    description="Sentinel-1 C-SAR, IW mode GRD / RTC backscatter at 10 m pixel spacing",
)
