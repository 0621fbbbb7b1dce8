"""What covers each feature on a given day: endmember fractions from land cover, crop phenology and
materials, plus the per-pixel soil-moisture term. Shared by every optical renderer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import geopandas as gpd
import numpy as np
import numpy.typing as npt

from eofusion.simulate.classes import CROP, LC
from eofusion.simulate.fields import moisture_anomaly
from eofusion.simulate.scene import Material
from eofusion.simulate.spectra import EM

FloatArray = npt.NDArray[np.float64]
_K = 9.0  # days: steepness of phenological transitions

# crop -> (green in winter, green at peak, green-up doy, senescence doy, harvest doy, tillage doy,
#          dry cover before harvest, stubble cover after harvest)
CROP_PHENOLOGY: dict[int, tuple[float, float, float, float, float, float, float, float]] = {
    CROP["soft wheat"]: (0.25, 0.92, 80, 158, 188, 250, 0.85, 0.35),
    CROP["winter barley"]: (0.25, 0.90, 72, 148, 178, 240, 0.85, 0.35),
    CROP["rapeseed"]: (0.45, 0.90, 65, 150, 180, 230, 0.75, 0.30),
    CROP["maize"]: (0.0, 0.95, 168, 255, 285, 310, 0.80, 0.40),
    CROP["sunflower"]: (0.0, 0.85, 158, 218, 255, 290, 0.70, 0.30),
    CROP["soybean"]: (0.0, 0.90, 178, 245, 270, 300, 0.75, 0.30),
}


def _sig(x: FloatArray) -> FloatArray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))


@dataclass(frozen=True)
class FeatureTable:
    """Per-feature attributes as arrays indexed by ``fid`` (fast lookups from a fid raster)."""

    class_id: npt.NDArray[np.uint8]
    crop_id: npt.NDArray[np.uint8]
    material: npt.NDArray[np.int16]
    shift: FloatArray
    brightness: FloatArray
    height: FloatArray
    pitch: FloatArray
    orient: FloatArray
    cx: FloatArray
    cy: FloatArray
    length: FloatArray
    width: FloatArray

    @classmethod
    def from_features(cls, features: gpd.GeoDataFrame) -> FeatureTable:
        col = features.__getitem__
        return cls(
            class_id=col("class_id").to_numpy(np.uint8),
            crop_id=col("crop_id").to_numpy(np.uint8),
            material=col("material").to_numpy(np.int16),
            shift=col("pheno_shift").to_numpy(np.float64),
            brightness=col("brightness").to_numpy(np.float64),
            height=col("height_m").to_numpy(np.float64),
            pitch=col("pitch_deg").to_numpy(np.float64),
            orient=col("orient_rad").to_numpy(np.float64),
            cx=col("cx").to_numpy(np.float64),
            cy=col("cy").to_numpy(np.float64),
            length=col("length_m").to_numpy(np.float64),
            width=col("width_m").to_numpy(np.float64),
        )

    def __len__(self) -> int:
        return len(self.class_id)


def herbaceous_green(t: FloatArray) -> FloatArray:
    """Green cover of Mediterranean-influenced grass: spring flush, summer drought, autumn regrowth."""
    return 0.55 + 0.35 * _sig((t - 85) / _K) - 0.5 * _sig((t - 190) / 12) + 0.35 * _sig((t - 262) / 10)


def deciduous_leaf(t: FloatArray) -> FloatArray:
    """Leaf-on fraction of broad-leaved trees (bud burst mid-April, leaf fall in late October)."""
    return _sig((t - 105) / 7) * (1 - _sig((t - 300) / 10))


def crop_cover(crop: npt.NDArray, t: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(green, dry) cover of annual crops on day-of-year ``t`` (per feature)."""
    green, dry = np.zeros(len(crop)), np.zeros(len(crop))
    for cid, (g0, g1, up, down, harvest, till, dmax, stubble) in CROP_PHENOLOGY.items():
        m = crop == cid
        if not m.any():
            continue
        tt = t[m]
        green[m] = (g0 + (g1 - g0) * _sig((tt - up) / _K)) * (1 - _sig((tt - down) / _K))
        after = _sig((tt - harvest) / 3)
        dry[m] = dmax * _sig((tt - down) / _K) * (1 - after) + stubble * after * (1 - _sig((tt - till) / 4))
    return green, dry


def fractions(table: FeatureTable, day: date) -> FloatArray:
    """Endmember fractions per feature, shape ``[n_features, len(EM)]``, soil in ``SOIL_DRY``.

    The soil column is split into dry and wet soil per pixel by :func:`wetness` (moisture varies in space).
    Rows are scaled by each feature's brightness (moisture, roughness, variety differences).
    """
    n = len(table)
    f = np.zeros((n, len(EM)))
    doy = float(day.timetuple().tm_yday)
    t = doy - table.shift
    cls, mat = table.class_id, table.material

    def put(mask: npt.NDArray[np.bool_], **cover: FloatArray | float) -> None:
        for name, value in cover.items():
            f[mask, EM[name]] = value[mask] if isinstance(value, np.ndarray) else value

    put(cls == LC["building"], ROOF_TILE=(mat == Material.ROOF_TILE) * 1.0, ROOF_GREY=(mat == Material.ROOF_GREY) * 1.0)
    put(cls == LC["impervious surface"], ASPHALT=(mat == Material.ASPHALT) * 1.0,
        CONCRETE=(mat != Material.ASPHALT) * 1.0)  # fmt: skip
    put(cls == LC["pervious surface"], GRAVEL=0.75, DRY_VEG=0.1, GREEN_VEG=0.05, SOIL_DRY=0.1)
    put(cls == LC["bare soil"], SOIL_DRY=1.0)
    put(cls == LC["plowed land"], SOIL_DRY=0.95, DRY_VEG=0.05)
    put(cls == LC["water"], WATER=1.0)
    put(cls == LC["swimming pool"], POOL=1.0)
    put(cls == LC["coniferous"], CONIFER=0.85, BARK_LITTER=0.1, GREEN_VEG=0.05)
    leaf = deciduous_leaf(t)
    put(cls == LC["deciduous"], BROADLEAF=0.9 * leaf, BARK_LITTER=0.95 - 0.9 * leaf, GREEN_VEG=0.05)
    herb = herbaceous_green(t)
    mown = np.where(table.crop_id == CROP["grassland"], 0.5 * np.exp(-(((t - 152) / 8) ** 2)), 0.0)
    put(cls == LC["brushwood"], GREEN_VEG=0.2 + 0.25 * herb, CONIFER=0.25, DRY_VEG=0.35 - 0.25 * herb, SOIL_DRY=0.2)
    vine = 0.42 * _sig((t - 125) / 8) * (1 - _sig((t - 290) / 10))
    put(cls == LC["vineyard"], GREEN_VEG=vine + 0.15 * herb, SOIL_DRY=0.85 - vine - 0.15 * herb, DRY_VEG=0.0)
    g_herb = herb * (1 - mown)
    put(cls == LC["herbaceous vegetation"], GREEN_VEG=g_herb, DRY_VEG=0.92 - g_herb, SOIL_DRY=0.08)
    crops = cls == LC["agricultural land"]
    green, dry = crop_cover(table.crop_id, t)
    put(crops, GREEN_VEG=green, DRY_VEG=dry, SOIL_DRY=np.clip(1 - green - dry, 0, 1))
    return f * table.brightness[:, None]


def moisture_mean(day: date) -> float:
    """Regional topsoil moisture (m3/m3) through the season: wet spring, dry summer, rain in autumn."""
    t = float(day.timetuple().tm_yday)
    seasonal = 0.30 - 0.17 * _sig(np.array((t - 150) / 20)) + 0.12 * _sig(np.array((t - 265) / 8))
    rain = 0.06 * np.exp(-(((t - 122) / 4) ** 2)) + 0.05 * np.exp(-(((t - 196) / 3) ** 2))
    return float(seasonal + rain)


def soil_moisture(x: FloatArray, y: FloatArray, seed: int, day: date) -> FloatArray:
    """Topsoil volumetric moisture (m3/m3) at world coordinates on ``day``."""
    return np.clip(moisture_mean(day) + moisture_anomaly(x, y, seed), 0.03, 0.45)


def wetness(moisture: FloatArray) -> FloatArray:
    """Weight of the wet-soil endmember for a moisture (0 at 0.05 m3/m3, 1 at 0.40 m3/m3)."""
    return np.clip((moisture - 0.05) / 0.35, 0.0, 1.0)
