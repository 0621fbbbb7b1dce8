"""Sentinel-1 RTC renderer: VV and VH gamma0 per pass from a water-cloud model, mixed at sub-pixel
scale, with multiplicative gamma-distributed speckle.

Per class: bare and vegetated soil follow the water-cloud model (soil term driven by the same soil-moisture
field the optical renderers use, attenuated and topped up by vegetation that grows with each crop's
phenology); woods, water, roads and buildings have their own means (double bounce for buildings, specular
darkness for water and asphalt). Output is linear power (float32), as Planetary Computer's RTC assets.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import numpy.typing as npt
from affine import Affine
from odc.geo.geobox import GeoBox

from eofusion.simulate.classes import CROP, LC
from eofusion.simulate.config import WorldConfig
from eofusion.simulate.fields import hash_uniform, sampled, stride_for, texture
from eofusion.simulate.grids import FeatureRasteriser, iter_windows, sentinel_grid, world_coords
from eofusion.simulate.scene import Material
from eofusion.simulate.surface import FeatureTable, crop_cover, deciduous_leaf, herbaceous_green, soil_moisture

POLARISATIONS = ("VV", "VH")
# orbit state -> (relative orbit, UTC time of the pass, incidence angle at the world, degrees)
PASSES = {"ascending": (30, (17, 49, 12), 39.0), "descending": (110, (6, 5, 41), 43.0)}
_WINDOW = 256  # 10 m pixels per window side
# Water-cloud vegetation parameters: (A_VV, A_VH, B_VV, B_VH).
_VEG = {"wheat": (0.05, 0.015, 1.2, 0.6), "broad": (0.14, 0.06, 0.6, 0.45), "rapeseed": (0.12, 0.045, 0.6, 0.4),
        "grass": (0.06, 0.015, 0.5, 0.4), "vine": (0.08, 0.025, 0.4, 0.3), "shrub": (0.15, 0.05, 0.8, 0.6)}  # fmt: skip
_CROP_VEG = {CROP["soft wheat"]: "wheat", CROP["winter barley"]: "wheat", CROP["rapeseed"]: "rapeseed",
             CROP["maize"]: "broad", CROP["sunflower"]: "broad", CROP["soybean"]: "broad"}  # fmt: skip
# Soil roughness term (dB) by class; soil VV = -18 dB + 28 dB per m3/m3 of moisture + roughness, VH 9 dB lower.
_ROUGH = {LC["plowed land"]: 2.5, LC["bare soil"]: 1.0, LC["pervious surface"]: 1.0}


@dataclass(frozen=True)
class S1Acquisition:
    """One Sentinel-1 pass (dual polarisation VV+VH)."""

    day: date
    orbit_state: str
    index: int

    @property
    def relative_orbit(self) -> int:
        return PASSES[self.orbit_state][0]

    @property
    def incidence_deg(self) -> float:
        return PASSES[self.orbit_state][2]

    @property
    def start(self) -> datetime:
        h, m, s = PASSES[self.orbit_state][1]
        return datetime(self.day.year, self.day.month, self.day.day, h, m, s, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=25)

    @property
    def absolute_orbit(self) -> int:
        # S1A: 175 orbits per 12-day cycle; anchored on a real orbit number (53034 on 2024-03-20).
        return 53034 + round((self.day - date(2024, 3, 20)).days * 175 / 12)


def s1_acquisitions(config: WorldConfig) -> tuple[S1Acquisition, ...]:
    """The world's Sentinel-1 passes in time order."""
    return tuple(S1Acquisition(d, o, i) for i, (d, o) in enumerate(config.s1_acquisitions))


class S1Renderer:
    """Renders VV and VH for the world's Sentinel-1 passes, window by window."""

    def __init__(self, config: WorldConfig, table: FeatureTable, rasteriser: FeatureRasteriser) -> None:
        self.config = config
        self.table = table
        self.rasteriser = rasteriser
        self.grid = sentinel_grid(config, config.s1_resolution_m)
        self.acquisitions = s1_acquisitions(config)

    def windows(self) -> Iterator[tuple[int, GeoBox]]:
        for i, (_, g) in enumerate(iter_windows(self.grid, _WINDOW)):
            yield i, g

    def _tables(self, acq: S1Acquisition, pol: int) -> tuple[npt.NDArray, npt.NDArray, npt.NDArray]:
        """Per feature: backscatter not from soil (linear), two-way soil transmissivity, soil roughness (dB)."""
        kind, veg = self._vegetation(acq)
        soil_like = kind != ""
        cos = np.cos(np.radians(acq.incidence_deg))
        fixed, trans = np.zeros(len(kind)), np.zeros(len(kind))
        for name, params in _VEG.items():  # water-cloud model: canopy volume + attenuated soil
            m = kind == name
            a, b = params[pol], params[2 + pol]
            tau2 = np.exp(-2 * b * veg[m] / cos)
            fixed[m] = a * veg[m] * cos * (1 - tau2)
            trans[m] = tau2
        db = self._class_means_db(acq, pol)
        means = ~np.isnan(db) & ~soil_like
        fixed[means] = 10 ** (db[means] / 10)
        rough = np.zeros(len(kind))
        for c, r in _ROUGH.items():
            rough[self.table.class_id == c] = r
        return fixed, trans, rough

    def _vegetation(self, acq: S1Acquisition) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.float64]]:
        """Per feature: vegetation kind ("" where soil is not seen) and amount (0..1) on the day."""
        t = self.table
        cls, doy = t.class_id, acq.day.timetuple().tm_yday - t.shift
        kind = np.full(len(t), "", dtype=object)
        veg = np.zeros(len(t))
        green, dry = crop_cover(t.crop_id, doy)
        crops = cls == LC["agricultural land"]
        veg[crops] = (green + 0.6 * dry)[crops]
        for cid, name in _CROP_VEG.items():
            kind[crops & (t.crop_id == cid)] = name
        herb = herbaceous_green(doy)
        none = np.zeros(len(t))
        for c, name, amount in (
            (LC["herbaceous vegetation"], "grass", herb + 0.3 * (0.92 - herb)),
            (LC["vineyard"], "vine", 0.45 * deciduous_leaf(doy) + 0.1),
            (LC["brushwood"], "shrub", 0.5 + 0.2 * herb),
            (LC["pervious surface"], "grass", none + 0.1),
            (LC["plowed land"], "grass", none + 0.03),
            (LC["bare soil"], "grass", none),
        ):
            m = cls == c
            veg[m], kind[m] = amount[m], name
        return kind, veg

    def _class_means_db(self, acq: S1Acquisition, pol: int) -> npt.NDArray[np.float64]:
        """Per feature: mean backscatter (dB) of woods, water, paved surfaces and buildings; NaN elsewhere."""
        t, seed = self.table, self.config.seed
        cls, n = t.class_id, len(t)
        vv = pol == 0
        leaf_off = 1 - deciduous_leaf(acq.day.timetuple().tm_yday - t.shift)
        db = np.full(n, np.nan)
        decid = cls == LC["deciduous"]
        db[decid] = (-7.5 - 1.0 * leaf_off if vv else -12.5 - 1.5 * leaf_off)[decid]
        db[cls == LC["coniferous"]] = -7.0 if vv else -12.0
        wind = 2.0 * (hash_uniform(np.array([acq.index]), np.array([7]), seed)[0] - 0.5)  # roughens water
        db[(cls == LC["water"]) | (cls == LC["swimming pool"])] = (-22.0 if vv else -29.0) + wind
        paved = cls == LC["impervious surface"]
        asphalt = t.material == Material.ASPHALT
        db[paved & asphalt] = -16.0 if vv else -25.0
        db[paved & ~asphalt] = -13.0 if vv else -22.0
        # Double bounce depends on the walls' orientation to the radar: a per-building offset.
        bld = cls == LC["building"]
        spread = 10.0 * (hash_uniform(np.arange(n), np.full(n, 11), seed) - 0.5)
        db[bld] = ((1.0 if vv else -7.0) + spread)[bld]
        return db

    def render(self, acq: S1Acquisition, window_index: int, win: GeoBox) -> dict[str, npt.NDArray[np.float32]]:
        """VV and VH linear gamma0 over one window, speckled."""
        sub = max(1, round(self.config.s1_resolution_m / (10.0 / self.config.s2_subpixels)))
        res = self.config.s1_resolution_m / sub
        a = win.affine
        fine = GeoBox((win.shape[0] * sub, win.shape[1] * sub), Affine(res, 0, a.c, 0, -res, a.f), win.crs)
        fid = self.rasteriser.fid(fine)
        x, y = world_coords(fine, self.config.world_crs)
        seed = self.config.seed
        mv = sampled(lambda a, b: soil_moisture(a, b, seed, acq.day), x, y, stride_for(87.0, res))
        cls = self.table.class_id[fid]
        woods = (cls == LC["deciduous"]) | (cls == LC["coniferous"])
        tex = 1.0 + 0.25 * woods * sampled(
            lambda a, b: texture(a, b, seed, 25.0, "s1-texture"), x, y, stride_for(6.0, res)
        )
        rng = np.random.default_rng([self.config.seed, 1, acq.index, window_index])
        out: dict[str, npt.NDArray[np.float32]] = {}
        for p, pol in enumerate(POLARISATIONS):
            fixed, trans, rough = self._tables(acq, p)
            soil_db = -18.0 + 28.0 * mv + rough[fid] - (0.0 if p == 0 else 9.0)
            sigma = (fixed[fid] + trans[fid] * 10 ** (soil_db / 10)) * tex
            mean = sigma.reshape(win.shape[0], sub, win.shape[1], sub).mean(axis=(1, 3))
            looks = self.config.s1_looks
            speckle = rng.gamma(shape=looks, scale=1.0 / looks, size=mean.shape)
            out[pol] = (mean * speckle).astype(np.float32)
        return out
