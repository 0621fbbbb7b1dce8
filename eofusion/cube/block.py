"""One Dask task of a load: every band of one time step over one spatial block, mosaicked and masked."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from odc.geo.geobox import GeoBox
from rasterio.enums import Resampling

from eofusion.catalog import BandAsset, NormalizedItem
from eofusion.cube.reader import read_asset
from eofusion.errors import InputDataError
from eofusion.sensors import from_db, to_db

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Slot:
    """One output time step: the items mosaicked into it, in priority order (first valid pixel wins)."""

    time: np.datetime64
    items: tuple[NormalizedItem, ...]
    orbit: str | None


@dataclass(frozen=True)
class BlockPlan:
    """Everything a block task needs; pickled once per task, so it holds no open files."""

    group: str
    geobox: GeoBox
    slots: tuple[Slot, ...]
    bands: tuple[str, ...]
    resampling: tuple[str, ...]  # per band, rasterio Resampling names
    assets: Mapping[str, Mapping[str, BandAsset]]  # item id -> readable assets
    footprints: Mapping[str, tuple[float, float, float, float]]  # item id -> bounds in the target CRS
    mask_clouds: bool
    scl_masked: frozenset[int]
    to_db: bool  # Sentinel-1: mosaic in linear power, then convert to dB
    db_items: frozenset[str]  # ids of items whose backscatter is stored in dB already
    db_floor: float
    use_overviews: bool
    on_error: str


def _intersects(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and a[2] > b[0] and a[1] < b[3] and a[3] > b[1]


def _read(plan: BlockPlan, asset: BandAsset, box: GeoBox, resampling: Resampling) -> npt.NDArray[np.float32] | None:
    try:
        return read_asset(asset, box, resampling, use_overviews=plan.use_overviews)
    except InputDataError as err:
        if plan.on_error == "raise":
            raise
        log.warning("Skipped while reading: %s", err)
        return None


def load_block(plan: BlockPlan, t: int, row0: int, col0: int, shape: tuple[int, int]) -> npt.NDArray[np.float32]:
    """Bands of time step ``t`` over the block starting at (``row0``, ``col0``): ``[1, band, y, x]`` float32."""
    h, w = shape
    box = plan.geobox[row0 : row0 + h, col0 : col0 + w]
    bbox = tuple(box.extent.boundingbox)
    out = np.full((1, len(plan.bands), h, w), np.nan, dtype=np.float32)
    for item in plan.slots[t].items:
        if not _intersects(plan.footprints[item.id], bbox):  # type: ignore[arg-type]
            continue
        assets = plan.assets[item.id]
        masked = None
        if plan.mask_clouds and "SCL" in assets:
            scl = _read(plan, assets["SCL"], box, Resampling.nearest)
            if scl is not None:
                masked = np.isin(scl, np.array(sorted(plan.scl_masked), dtype=np.float32))
        for b, name in enumerate(plan.bands):
            target = out[0, b]
            holes = np.isnan(target)
            if name not in assets or not holes.any():
                continue
            values = _read(plan, assets[name], box, Resampling[plan.resampling[b]])
            if values is None:
                continue
            if masked is not None:
                values[masked] = np.nan
            if plan.to_db and item.id in plan.db_items:
                values = from_db(values)
            np.copyto(target, values, where=holes)
        if not np.isnan(out).any():  # every pixel filled: later items cannot change the mosaic
            break
    if plan.to_db:
        out[0] = to_db(out[0], plan.db_floor)
    return out
