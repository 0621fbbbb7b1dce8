"""Sentinel-2 L2A renderer: per-class spectra through each band's spectral response, mixed at sub-pixel
scale, with clouds, cloud shadows and an SCL layer.

Pixels are area averages of a fine sub-grid (``WorldConfig.s2_subpixels`` per 10 m), so field edges give
mixed pixels as in real data. No random noise is added (the MSI's SNR makes it negligible beside the
modelled within-field variability), so :meth:`S2Renderer.reflectance` is exactly what the files encode,
to within the DN quantisation of 0.5e-4.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import numpy.typing as npt
from affine import Affine
from odc.geo.geobox import GeoBox

from eofusion.sensors.sentinel2 import REFLECTANCE_SCALE
from eofusion.simulate.classes import LC
from eofusion.simulate.config import WorldConfig
from eofusion.simulate.fields import cloud_optical, fbm, field_key, sampled, stride_for, texture
from eofusion.simulate.grids import FeatureRasteriser, iter_windows, sentinel_grid, world_coords
from eofusion.simulate.spectra import EM, band_table
from eofusion.simulate.sun import solar_position, toward_sun
from eofusion.simulate.surface import FeatureTable, fractions, soil_moisture, wetness

S2_BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")
BAND_RES = {"B01": 60, "B02": 10, "B03": 10, "B04": 10, "B05": 20, "B06": 20, "B07": 20, "B08": 10,
            "B8A": 20, "B09": 60, "B11": 20, "B12": 20}  # fmt: skip
DN_OFFSET = 1000  # processing baseline >= 04.00: DN = 10000 * reflectance + 1000
PROCESSING_BASELINE = "05.10"
ACQUISITION_TIME = (10, 56, 19)  # UTC, relative orbit 51 over the Toulouse area
CLOUD_HEIGHT_M = 1500.0
_WINDOW_60M = 32  # 60 m pixels per render window side (1920 m)
# Multiplicative within-class texture amplitude by land-cover class.
_TEXTURE = {LC["agricultural land"]: 0.06, LC["herbaceous vegetation"]: 0.08, LC["deciduous"]: 0.1,
            LC["coniferous"]: 0.1, LC["brushwood"]: 0.12, LC["vineyard"]: 0.06, LC["plowed land"]: 0.08,
            LC["bare soil"]: 0.08, LC["water"]: 0.03}  # fmt: skip


@dataclass(frozen=True)
class S2Acquisition:
    """One Sentinel-2 overpass of the world."""

    day: date
    platform: str  # registry sensor name: sentinel-2a / sentinel-2b
    cloudy: bool
    cloud_threshold: float

    @property
    def datetime(self) -> datetime:
        return datetime(self.day.year, self.day.month, self.day.day, *ACQUISITION_TIME, tzinfo=UTC)


@dataclass(frozen=True)
class S2Window:
    """Everything rendered for one window: reflectance per band (native grid) and SCL (20 m)."""

    reflectance: dict[str, npt.NDArray[np.float64]]
    scl: npt.NDArray[np.uint8]


def to_dn(reflectance: npt.NDArray[np.floating]) -> npt.NDArray[np.uint16]:
    """Reflectance -> L2A DN with the baseline-04.00 offset (0 is nodata, so DN >= 1)."""
    dn = np.rint(reflectance / REFLECTANCE_SCALE) + DN_OFFSET
    return np.clip(dn, 1, 65535).astype(np.uint16)


def s2_acquisitions(config: WorldConfig) -> tuple[S2Acquisition, ...]:
    """The world's Sentinel-2 overpasses; S2A and S2B alternate every 5 days from the first date."""
    if not config.s2_dates:
        return ()
    first = min(config.s2_dates)
    return tuple(
        S2Acquisition(
            day=d,
            platform="sentinel-2a" if ((d - first).days // 5) % 2 == 0 else "sentinel-2b",
            cloudy=d in config.s2_cloudy_dates,
            cloud_threshold=_cloud_threshold(config, d),
        )
        for d in sorted(config.s2_dates)
    )


def _cloud_threshold(config: WorldConfig, day: date) -> float:
    # Threshold the cloud noise at the quantile that gives the requested cover over the world.
    x, y = world_coords(sentinel_grid(config, 60.0), config.world_crs)
    n = fbm(x, y, 700.0, field_key(config.seed, f"cloud{day.toordinal()}"), octaves=5, gain=0.55)
    return float(np.quantile(n, 1.0 - config.s2_cloud_cover)) - 0.09


class S2Renderer:
    """Renders Sentinel-2 L2A bands for the world's acquisitions, window by window."""

    def __init__(self, config: WorldConfig, table: FeatureTable, rasteriser: FeatureRasteriser) -> None:
        self.config = config
        self.table = table
        self.rasteriser = rasteriser
        self.grids = {b: sentinel_grid(config, BAND_RES[b]) for b in S2_BANDS}
        self.grid_20m = sentinel_grid(config, 20.0)
        self.lonlat = config.centre_lonlat
        self.acquisitions = s2_acquisitions(config)

    def acquisition(self, day: date) -> S2Acquisition:
        for acq in self.acquisitions:
            if acq.day == day:
                return acq
        raise KeyError(day)

    def sun(self, acq: S2Acquisition) -> tuple[float, float]:
        """(zenith, azimuth) of the sun at acquisition, degrees."""
        return solar_position(*self.lonlat, acq.datetime)

    def windows(self) -> Iterator[GeoBox]:
        """The 60 m sub-grids that tile the world (every band's window nests in one)."""
        for _, g in iter_windows(sentinel_grid(self.config, 60.0), _WINDOW_60M):
            yield g

    def render(self, acq: S2Acquisition, win60: GeoBox) -> S2Window:
        """Reflectance of every band and the SCL over one 60 m window."""
        sub = self.config.s2_subpixels
        fine_res = 10.0 / sub
        k = round(60.0 / fine_res)
        a = win60.affine
        fine = GeoBox((win60.shape[0] * k, win60.shape[1] * k), Affine(fine_res, 0, a.c, 0, -fine_res, a.f), win60.crs)
        fid = self.rasteriser.fid(fine)
        x, y = world_coords(fine, self.config.world_crs)
        E = band_table(acq.platform, S2_BANDS)
        F = fractions(self.table, acq.day)
        R = F @ E  # [features, bands]
        soil = F[:, EM.SOIL_DRY]
        seed = self.config.seed
        moist = sampled(lambda a, b: soil_moisture(a, b, seed, acq.day), x, y, stride_for(87.0, fine_res))
        wet = wetness(moist) * soil[fid]
        amp = np.zeros(256)
        for cid, v in _TEXTURE.items():
            amp[cid] = v
        tex = 1.0 + amp[self.table.class_id[fid]] * sampled(
            lambda a, b: texture(a, b, seed, 40.0, "s2-texture"), x, y, stride_for(10.0, fine_res)
        )
        dE = E[EM.SOIL_WET] - E[EM.SOIL_DRY]
        out: dict[str, npt.NDArray[np.float64]] = {}
        for j, band in enumerate(S2_BANDS):
            refl = (R[fid, j] + wet * dE[j]) * tex
            out[band] = _block_mean(refl, round(BAND_RES[band] / fine_res))
        red20 = _block_mean((R[fid, 3] + wet * dE[3]) * tex, round(20 / fine_res))
        green20 = _block_mean((R[fid, 2] + wet * dE[2]) * tex, round(20 / fine_res))
        cloud20 = shadow20 = np.zeros(red20.shape)
        if acq.cloudy:
            for band in S2_BANDS:
                out[band], _, _ = self._clouds(acq, win60, BAND_RES[band], out[band], E[EM.CLOUD, S2_BANDS.index(band)])
            _, cloud20, shadow20 = self._clouds(acq, win60, 20, red20, 0.0)
        scl = _scene_classification(out["B8A"], red20, green20, cloud20, shadow20)
        return S2Window(out, scl)

    def _clouds(
        self, acq: S2Acquisition, win60: GeoBox, res: int, surface: npt.NDArray[np.float64], cloud_refl: float
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        a = win60.affine
        k = 60 // res
        g = GeoBox((win60.shape[0] * k, win60.shape[1] * k), Affine(res, 0, a.c, 0, -res, a.f), win60.crs)
        x, y = world_coords(g, self.config.world_crs)
        zen, az = self.sun(acq)
        ex, ny = toward_sun(az)
        d = CLOUD_HEIGHT_M * np.tan(np.radians(zen))
        key = acq.day.toordinal()
        c = cloud_optical(x, y, self.config.seed, key, acq.cloud_threshold)
        s = cloud_optical(x + ex * d, y + ny * d, self.config.seed, key, acq.cloud_threshold)
        s = s * (1 - c)
        refl = surface * (1 - 0.7 * s) * (1 - c) + cloud_refl * c
        return refl, c, s


def _block_mean(a: npt.NDArray[np.float64], k: int) -> npt.NDArray[np.float64]:
    if k == 1:
        return a
    r, c = a.shape
    return a.reshape(r // k, k, c // k, k).mean(axis=(1, 3))


def _scene_classification(
    nir: npt.NDArray[np.float64],
    red: npt.NDArray[np.float64],
    green: npt.NDArray[np.float64],
    cloud: npt.NDArray[np.float64],
    shadow: npt.NDArray[np.float64],
) -> npt.NDArray[np.uint8]:
    """An SCL-like classification at 20 m: clouds and shadows from the cloud model, surfaces by index."""
    ndvi = (nir - red) / np.maximum(nir + red, 1e-6)
    ndwi = (green - nir) / np.maximum(green + nir, 1e-6)
    scl = np.full(nir.shape, 5, dtype=np.uint8)  # not vegetated
    scl[ndvi > 0.35] = 4
    scl[ndwi > 0.2] = 6
    scl[(shadow > 0.3) & (cloud <= 0.15)] = 3
    scl[(cloud > 0.15) & (cloud <= 0.5)] = 8
    scl[cloud > 0.5] = 9
    return scl
