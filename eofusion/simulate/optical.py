"""The surface every optical satellite sensor of the world sees, and the clouds above it.

Sentinel-2 and Landsat record the same ground: per 60 m window, a fine sub-pixel grid
(``WorldConfig.s2_subpixels`` per 10 m) holds each sub-pixel's feature, the endmember fractions of every
feature on the day, the wet-soil weight and a within-class texture (:class:`FineSurface`). A sensor band is
that surface mixed through the band's endmember table (:func:`eofusion.simulate.spectra.band_table`) and
area-averaged to the band's pixel, so two sensors differ only by their spectral responses and pixel sizes.
Clouds are one field per date (:func:`cloud_layers`): two sensors passing on the same day see the same
clouds, each with the shadows of its own sun.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import numpy.typing as npt
from affine import Affine
from odc.geo.geobox import GeoBox

from eofusion.simulate.classes import LC
from eofusion.simulate.config import WorldConfig
from eofusion.simulate.fields import cloud_optical, fbm, field_key, sampled, stride_for, texture
from eofusion.simulate.grids import FeatureRasteriser, iter_windows, sentinel_grid, world_coords
from eofusion.simulate.spectra import EM
from eofusion.simulate.sun import toward_sun
from eofusion.simulate.surface import FeatureTable, fractions, soil_moisture, wetness


@dataclass(frozen=True)
class OpticalAcquisition:
    """One overpass of an optical satellite over the world (Sentinel-2, Landsat)."""

    day: date
    platform: str  # registry sensor name: sentinel-2a, landsat-9...
    cloudy: bool
    cloud_threshold: float
    utc_time: tuple[int, int, int]  # (hour, minute, second) of the overpass

    @property
    def datetime(self) -> datetime:
        return datetime(self.day.year, self.day.month, self.day.day, *self.utc_time, tzinfo=UTC)


FloatArray = npt.NDArray[np.float64]
CLOUD_HEIGHT_M = 1500.0
_WINDOW_60M = 32  # 60 m pixels per render window side (1920 m)
# Multiplicative within-class texture amplitude by land-cover class.
_TEXTURE = {LC["agricultural land"]: 0.06, LC["herbaceous vegetation"]: 0.08, LC["deciduous"]: 0.1,
            LC["coniferous"]: 0.1, LC["brushwood"]: 0.12, LC["vineyard"]: 0.06, LC["plowed land"]: 0.08,
            LC["bare soil"]: 0.08, LC["water"]: 0.03}  # fmt: skip


@dataclass(frozen=True)
class FineSurface:
    """The sub-pixel surface of one 60 m window on one day.

    Attributes:
        fid: Feature id of each sub-pixel, ``[rows, cols]``.
        fractions: Endmember fractions per feature, ``[features, len(EM)]`` (soil in ``SOIL_DRY``).
        wet: Weight of the wet-soil endmember per sub-pixel (soil fraction x wetness).
        texture: Multiplicative within-class texture per sub-pixel.
        res: Sub-pixel size in metres.
    """

    fid: npt.NDArray[np.int32]
    fractions: FloatArray
    wet: FloatArray
    texture: FloatArray
    res: float

    def bands(self, table: FloatArray, layers: Sequence[tuple[int, float]]) -> list[FloatArray]:
        """Reflectance layers mixed through an endmember table, each area-averaged to its pixel size.

        Args:
            table: Band-effective endmember reflectance, ``[len(EM), bands]`` (from ``band_table``).
            layers: (column of ``table``, pixel size in metres) per layer wanted.
        """
        mixed = self.fractions @ table  # [features, bands]
        d_wet = table[EM.SOIL_WET] - table[EM.SOIL_DRY]
        return [
            block_mean((mixed[self.fid, j] + self.wet * d_wet[j]) * self.texture, round(res / self.res))
            for j, res in layers
        ]


class OpticalSurface:
    """Builds the :class:`FineSurface` of any 60 m window of the world on any day."""

    def __init__(self, config: WorldConfig, table: FeatureTable, rasteriser: FeatureRasteriser) -> None:
        self.config = config
        self.table = table
        self.rasteriser = rasteriser
        amp = np.zeros(256)
        for cid, v in _TEXTURE.items():
            amp[cid] = v
        self._amplitude = amp

    def windows(self) -> Iterator[GeoBox]:
        """The 60 m sub-grids that tile the world (every optical band's window nests in one)."""
        for _, g in iter_windows(sentinel_grid(self.config, 60.0), _WINDOW_60M):
            yield g

    def at(self, day: date, win60: GeoBox) -> FineSurface:
        """The surface of one 60 m window on ``day``."""
        fine_res = 10.0 / self.config.s2_subpixels
        k = round(60.0 / fine_res)
        a = win60.affine
        fine = GeoBox((win60.shape[0] * k, win60.shape[1] * k), Affine(fine_res, 0, a.c, 0, -fine_res, a.f), win60.crs)
        fid = self.rasteriser.fid(fine)
        x, y = world_coords(fine, self.config.world_crs)
        f = fractions(self.table, day)
        seed = self.config.seed
        moist = sampled(lambda a, b: soil_moisture(a, b, seed, day), x, y, stride_for(87.0, fine_res))
        wet = wetness(moist) * f[:, EM.SOIL_DRY][fid]
        tex = 1.0 + self._amplitude[self.table.class_id[fid]] * sampled(
            lambda a, b: texture(a, b, seed, 40.0, "s2-texture"), x, y, stride_for(10.0, fine_res)
        )
        return FineSurface(fid, f, wet, tex, fine_res)


def cloud_threshold(config: WorldConfig, day: date) -> float:
    """The cloud-noise level above which ``day`` is cloudy, giving ``s2_cloud_cover`` over the world."""
    x, y = world_coords(sentinel_grid(config, 60.0), config.world_crs)
    n = fbm(x, y, 700.0, field_key(config.seed, f"cloud{day.toordinal()}"), octaves=5, gain=0.55)
    return float(np.quantile(n, 1.0 - config.s2_cloud_cover)) - 0.09


def cloud_layers(
    config: WorldConfig, win60: GeoBox, res: float, day: date, *, sun: tuple[float, float], threshold: float
) -> tuple[FloatArray, FloatArray]:
    """(cloud fraction, cloud-shadow fraction) at ``res`` over one 60 m window.

    Args:
        sun: (zenith, azimuth) in degrees at the acquisition: it places the shadows.
        threshold: :func:`cloud_threshold` of ``day``.
    """
    a = win60.affine
    k = round(60 / res)
    g = GeoBox((win60.shape[0] * k, win60.shape[1] * k), Affine(res, 0, a.c, 0, -res, a.f), win60.crs)
    x, y = world_coords(g, config.world_crs)
    zen, az = sun
    ex, ny = toward_sun(az)
    d = CLOUD_HEIGHT_M * np.tan(np.radians(zen))
    key = day.toordinal()
    c = cloud_optical(x, y, config.seed, key, threshold)
    s = cloud_optical(x + ex * d, y + ny * d, config.seed, key, threshold)
    return c, s * (1 - c)


def under_clouds(surface: FloatArray, cloud: FloatArray, shadow: FloatArray, cloud_refl: float) -> FloatArray:
    """Reflectance seen through clouds (``cloud_refl`` where opaque) and darkened in their shadows."""
    return surface * (1 - 0.7 * shadow) * (1 - cloud) + cloud_refl * cloud


def block_mean(a: FloatArray, k: int) -> FloatArray:
    """Means of ``k`` x ``k`` blocks (area-averaging to a k times coarser pixel)."""
    if k == 1:
        return a
    r, c = a.shape
    return a.reshape(r // k, k, c // k, k).mean(axis=(1, 3))
