"""Very-high-resolution renderers: aerial RGB+NIR (uint8) and DSM/DTM (float32 m), on any grid.

The aerial image mixes the same endmember spectra as Sentinel-2, through the bands of an aerial camera
from the registry (:class:`Camera`: the IGN-like one on Lambert-93, or a second one with NAIP's bands on
the world's UTM grid), and adds what only very high resolution shows: roof planes and tree crowns shaded
by the sun (illumination from the DSM's slopes), cast shadows of buildings and trees (ray-marched over the
DSM toward the sun), vine rows, fine texture and a little sensor noise. Each window is rendered with a halo
as wide as the longest shadow, so windows join seamlessly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
from odc.geo.geobox import GeoBox
from rasterio import features as rio_features
from shapely.geometry import Polygon

from eofusion.sensors.elevation import ELEVATION_NODATA
from eofusion.simulate.classes import LC
from eofusion.simulate.config import WorldConfig
from eofusion.simulate.fields import sampled, stride_for, texture
from eofusion.simulate.grids import RASTERIZE_LOCK, FeatureRasteriser, padded, world_coords
from eofusion.simulate.heights import MAX_OBJECT_HEIGHT_M, surface_model
from eofusion.simulate.spectra import EM, band_table
from eofusion.simulate.sun import solar_position, toward_sun
from eofusion.simulate.surface import FeatureTable, fractions, soil_moisture, wetness

AERIAL_BANDS = ("red", "green", "blue", "nir")  # IGN's (and NAIP's) RGBN order
# Like a delivered ortho, DNs are gamma-encoded: DN = 255 * (radiance-equivalent reflectance / 0.6) ** (1 / 2.2).
AERIAL_WHITE = 0.6
AERIAL_GAMMA = 2.2
DIFFUSE = 0.25  # share of skylight: what shadows still receive


@dataclass(frozen=True)
class Camera:
    """An aerial camera of the world.

    Attributes:
        sensor: Registry sensor whose band responses the image records (bands :data:`AERIAL_BANDS`).
        time_utc: Time of the flight on ``WorldConfig.aerial_date`` (it places the sun and the shadows).
        noise_stream: Seed stream of the sensor noise, so two cameras' noise is independent.
    """

    sensor: str
    time_utc: tuple[int, int, int]
    noise_stream: int


IGN_CAMERA = Camera("aerial-ign", (10, 30, 0), 3)
# Flown earlier the same morning: where a cube mosaics both cameras, the newest survey (IGN) wins.
NAIP_CAMERA = Camera("naip", (9, 45, 0), 5)


def aerial_datetime(config: WorldConfig, camera: Camera = IGN_CAMERA) -> datetime:
    d = config.aerial_date
    return datetime(d.year, d.month, d.day, *camera.time_utc, tzinfo=UTC)


class VhrRenderer:
    """Renders aerial (of one camera), DSM and DTM windows of the world."""

    def __init__(
        self, config: WorldConfig, table: FeatureTable, rasteriser: FeatureRasteriser, camera: Camera = IGN_CAMERA
    ) -> None:
        self.config = config
        self.table = table
        self.rasteriser = rasteriser
        self.camera = camera
        self.zenith, self.azimuth = solar_position(*config.centre_lonlat, aerial_datetime(config, camera))

    def _halo(self, res: float) -> int:
        reach = MAX_OBJECT_HEIGHT_M * math.tan(math.radians(self.zenith))
        return math.ceil(reach / res) + 2

    def aerial(self, win: GeoBox, window_index: int) -> npt.NDArray[np.uint8]:
        """RGBN DNs, shape ``[4, rows, cols]``."""
        res = abs(win.affine.a)
        halo = self._halo(res)
        g = padded(win, halo)
        fid = self.rasteriser.fid(g)
        x, y = world_coords(g, self.config.world_crs)
        _, dsm = surface_model(fid, x, y, self.table, self.config.seed, res=res)
        light = self._illumination(dsm, res) * np.float32(1 - DIFFUSE)
        light[_cast_shadow(dsm, res, self.azimuth, self.zenith)] = 0.0
        light += np.float32(DIFFUSE)
        safe = np.where(fid < 0, 0, fid)
        cls = self.table.class_id[safe]
        day = self.config.aerial_date
        E = band_table(self.camera.sensor, AERIAL_BANDS)
        F = fractions(self.table, day)
        R = F @ E
        green = F[:, EM.GREEN_VEG, None] * E[EM.GREEN_VEG][None, :]
        seed = self.config.seed
        moist = sampled(lambda a, b: soil_moisture(a, b, seed, day), x, y, stride_for(87.0, res))
        wet = wetness(moist) * F[safe, EM.SOIL_DRY]
        dE = E[EM.SOIL_WET] - E[EM.SOIL_DRY]
        rows = np.zeros(fid.shape, dtype=np.float32)
        vines = cls == LC["vineyard"]
        if vines.any():
            rows[vines] = self._vine_rows(x[vines], y[vines], safe[vines])
        # About one sample per metre (0.6 m pixels: every second one; rounding keeps 0.2/0.5/1 m as they were).
        fine = 1.0 + 0.08 * sampled(lambda a, b: texture(a, b, seed, 6.0, "aerial-fine"), x, y, max(1, round(1 / res)))
        fine *= 1.0 + 0.06 * sampled(lambda a, b: texture(a, b, seed, 40.0, "s2-texture"), x, y, stride_for(10.0, res))
        rng = np.random.default_rng([self.config.seed, self.camera.noise_stream, window_index])
        out = np.empty((len(AERIAL_BANDS), *win.shape), dtype=np.uint8)
        core = (slice(halo, halo + win.shape[0]), slice(halo, halo + win.shape[1]))
        shade = (fine * light)[core].astype(np.float32)
        safe, rows, wet = safe[core], rows[core], wet[core].astype(np.float32)
        for j in range(len(AERIAL_BANDS)):
            refl = (
                R[:, j].astype(np.float32)[safe] + green[:, j].astype(np.float32)[safe] * rows + wet * np.float32(dE[j])
            )
            noise = rng.standard_normal(size=win.shape, dtype=np.float32) * np.float32(1.2)
            linear = np.clip(refl * shade / np.float32(AERIAL_WHITE), 0.0, 1.0)
            dn = np.float32(255.0) * linear ** np.float32(1 / AERIAL_GAMMA) + noise
            out[j] = np.clip(np.rint(dn), 0, 255).astype(np.uint8)
        return out

    def _vine_rows(self, x: npt.NDArray, y: npt.NDArray, fid: npt.NDArray) -> npt.NDArray[np.float64]:
        """-1..+1 modulation of vine cover across rows 2.5 m apart, along each parcel's orientation."""
        o = self.table.orient[fid]
        across = -x * np.sin(o) + y * np.cos(o)
        return np.cos(2 * np.pi * across / 2.5)

    def _illumination(self, dsm: npt.NDArray[np.float64], res: float) -> npt.NDArray[np.float64]:
        """Direct-light factor from surface slope (1 on flat ground), clipped to [0, 1.6]."""
        dz_row, dz_col = np.gradient(dsm.astype(np.float32), np.float32(res))
        dzdx, dzdy = dz_col, -dz_row  # rows run south
        ex, ny = toward_sun(self.azimuth)
        zen = math.radians(self.zenith)
        sx, sy, sz = ex * math.sin(zen), ny * math.sin(zen), math.cos(zen)
        cos_i = (-dzdx * sx - dzdy * sy + sz) / np.sqrt(1 + dzdx**2 + dzdy**2)
        return np.clip(cos_i / np.float32(sz), 0.0, 1.6).astype(np.float32)

    def elevation(self, win: GeoBox, window_index: int, footprint: Polygon) -> tuple[npt.NDArray, npt.NDArray]:
        """(DSM, DTM) float32 over one window; nodata outside the survey footprint."""
        fid = self.rasteriser.fid(win)
        x, y = world_coords(win, self.config.world_crs)
        dtm, dsm = surface_model(fid, x, y, self.table, self.config.seed, res=abs(win.affine.a))
        rng = np.random.default_rng([self.config.seed, 4, window_index])
        dsm = dsm + rng.normal(0.0, 0.03, size=dsm.shape)  # lidar height noise
        with RASTERIZE_LOCK:
            inside = rio_features.geometry_mask([footprint], out_shape=win.shape, transform=win.affine, invert=True)
        dsm = np.where(inside, dsm, ELEVATION_NODATA).astype(np.float32)
        dtm = np.where(inside, dtm, ELEVATION_NODATA).astype(np.float32)
        return dsm, dtm


def _cast_shadow(dsm: npt.NDArray[np.float64], res: float, azimuth: float, zenith: float) -> npt.NDArray[np.bool_]:
    """1 where a higher surface toward the sun blocks direct light (ray march over the DSM), else 0."""
    ex, ny = toward_sun(azimuth)
    rise = 1.0 / math.tan(math.radians(zenith))  # metres of ray height per metre toward the sun
    reach = MAX_OBJECT_HEIGHT_M / rise
    step = max(res, 0.25)
    z = dsm.astype(np.float32)
    rows, cols = z.shape
    shadow = np.zeros(z.shape, dtype=bool)
    seen: set[tuple[int, int]] = set()
    for k in range(1, int(reach / step) + 1):
        dist = k * step
        dc, dr = round(ex * dist / res), round(-ny * dist / res)
        if (dr, dc) in seen or (dc == 0 and dr == 0) or abs(dr) >= rows or abs(dc) >= cols:
            continue
        seen.add((dr, dc))
        # Compare each pixel with the surface ``dist`` toward the sun (slices, no copies).
        here = (slice(max(0, -dr), rows - max(0, dr)), slice(max(0, -dc), cols - max(0, dc)))
        ahead = (slice(max(0, dr), rows - max(0, -dr)), slice(max(0, dc), cols - max(0, -dc)))
        shadow[here] |= z[ahead] > z[here] + np.float32(dist * rise + 0.2)
    return shadow
