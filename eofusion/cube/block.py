"""One Dask task of a load: every band of one time step over one spatial block, mosaicked and masked."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from odc.geo.geobox import GeoBox
from rasterio.enums import Resampling

from eofusion.catalog import BandAsset, NormalizedItem
from eofusion.cube.masking import MaskRule
from eofusion.cube.reader import read_assets
from eofusion.errors import InputDataError, TransientInputError
from eofusion.sensors import from_db, to_db
from eofusion.storage import Location

log = logging.getLogger(__name__)

Float32Array = npt.NDArray[np.float32]


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
    cloud_mask: MaskRule | None  # None: no cloud masking (switched off, or a group without a quality band)
    to_db: bool  # Sentinel-1: mosaic in linear power, then convert to dB
    db_items: frozenset[str]  # ids of items whose backscatter is stored in dB already
    db_floor: float
    use_overviews: bool
    on_error: str
    skip_records: str | None = None  # folder for what this load left out (see record_skip); None: log only


def _intersects(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and a[2] > b[0] and a[1] < b[3] and a[3] > b[1]


def record_skip(plan: BlockPlan, entry: Mapping[str, Any]) -> None:
    """Note an input left out (unreadable asset, impossible values) where the cube build collects it.

    One small JSON file per (item, band, reason, block), written atomically into ``plan.skip_records``: block
    tasks run in any worker process, and files are what they share with the build (see
    :func:`collect_skips`).
    """
    log.warning("Skipped: item %s band %s: %s", entry.get("item"), entry.get("band"), entry.get("reason"))
    if plan.skip_records is None:
        return
    key = json.dumps(entry, sort_keys=True, default=str)
    name = hashlib.sha256(key.encode()).hexdigest()[:24]
    (Location(plan.skip_records) / f"{name}.json").write_text(key)


def collect_skips(folder: str | Location) -> list[dict[str, Any]]:
    """What the block tasks recorded: one entry per (item, band, reason), pixel counts summed over blocks."""
    merged: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    records = Location(folder)
    for name in records.names():
        if not name.endswith(".json"):
            continue
        entry = json.loads((records / name).read_text())
        key = (entry["item"], entry["band"], entry["href"], entry["reason"])
        into = merged.setdefault(key, {k: entry[k] for k in ("item", "band", "href", "reason")})
        if "pixels" in entry:
            into["pixels"] = into.get("pixels", 0) + int(entry["pixels"])
    return list(merged.values())


def _read(
    plan: BlockPlan,
    assets: list[BandAsset],
    box: GeoBox,
    resampling: Resampling,
    out: Float32Array | None,
    *,
    item_id: str,
) -> list[Float32Array | None]:
    """The assets read onto ``box`` (one GDAL warp per source grid); None for those skipped on error."""
    try:
        return list(read_assets(assets, box, resampling, use_overviews=plan.use_overviews, out=out))
    except InputDataError as err:
        # A network failure that outlived the retries is not the input's fault: never leave the input out
        # for it (the cube would silently miss data); the build fails and the job retries the tile.
        if plan.on_error == "raise" or isinstance(err, TransientInputError):
            raise
        if out is not None:
            out[...] = np.nan  # a read that failed half-way leaves nothing behind
        if len(assets) > 1:  # read them one by one: only the unreadable ones are left out
            return [_read(plan, [a], box, resampling, None, item_id=item_id)[0] for a in assets]
        asset = assets[0]
        reason = f"unreadable: {err}"
        record_skip(plan, {"item": item_id, "band": asset.band.name, "href": asset.href, "reason": reason})
        return [None]


def _mask_impossible(plan: BlockPlan, values: Float32Array, asset: BandAsset, item_id: str, block: str) -> None:
    """Values outside the band's physical range (a decoding gone wrong) become NaN, and are recorded."""
    limits = asset.band.physical_range
    if limits is None:
        return
    low, high = limits
    with np.errstate(invalid="ignore"):
        bad = (values < low) | (values > high)
    count = int(bad.sum())
    if count:
        values[bad] = np.nan
        record_skip(plan, {
            "item": item_id, "band": asset.band.name, "href": asset.href, "block": block, "pixels": count,
            "reason": f"values outside the physical range {low:g}..{high:g} {asset.band.units} (masked); check "
                      "the file and the band's scale and offset",
        })  # fmt: skip


def _cloud_mask(
    plan: BlockPlan, assets: Mapping[str, BandAsset], box: GeoBox, item_id: str
) -> npt.NDArray[np.bool_] | None:
    """Pixels of one item to mask, from its quality band (SCL, QA_PIXEL); None when it has none."""
    rule = plan.cloud_mask
    if rule is None or rule.band not in assets:
        return None
    quality = _read(plan, [assets[rule.band]], box, Resampling.nearest, None, item_id=item_id)[0]
    return None if quality is None else rule.masked(quality)


def _wanted(plan: BlockPlan, assets: Mapping[str, BandAsset], out: Float32Array, filled: list[bool]) -> list[int]:
    """Bands this item has and the mosaic still misses somewhere."""
    return [b for b, name in enumerate(plan.bands) if name in assets and not (filled[b] and not np.isnan(out[b]).any())]


def load_block(plan: BlockPlan, t: int, row0: int, col0: int, shape: tuple[int, int]) -> Float32Array:
    """Bands of time step ``t`` over the block starting at (``row0``, ``col0``): ``[1, band, y, x]`` float32."""
    h, w = shape
    box = plan.geobox[row0 : row0 + h, col0 : col0 + w]
    bbox = tuple(box.extent.boundingbox)
    out = np.full((1, len(plan.bands), h, w), np.nan, dtype=np.float32)
    filled = [False] * len(plan.bands)  # False: the band is all NaN yet, so the first read goes straight in
    for item in plan.slots[t].items:
        if not _intersects(plan.footprints[item.id], bbox):  # type: ignore[arg-type]
            continue
        assets = plan.assets[item.id]
        masked = _cloud_mask(plan, assets, box, item.id)
        by_resampling: dict[str, list[int]] = {}
        for b in _wanted(plan, assets, out[0], filled):
            by_resampling.setdefault(plan.resampling[b], []).append(b)
        for method, bands in by_resampling.items():
            # Bands read for the first time go straight into the output when they are adjacent in it.
            direct = not any(filled[b] for b in bands) and bands == list(range(bands[0], bands[0] + len(bands)))
            into = out[0, bands[0] : bands[-1] + 1] if direct else None
            values = _read(plan, [assets[plan.bands[b]] for b in bands], box, Resampling[method], into, item_id=item.id)
            for b, v in zip(bands, values, strict=True):
                if v is None:
                    continue
                if plan.to_db and item.id in plan.db_items:
                    v[...] = from_db(v)  # backscatter checked and mosaicked as linear power
                _mask_impossible(plan, v, assets[plan.bands[b]], item.id, f"t{t}_r{row0}_c{col0}")
                if masked is not None:
                    v[masked] = np.nan
                if filled[b]:
                    np.copyto(out[0, b], v, where=np.isnan(out[0, b]))
                elif not np.may_share_memory(v, out):  # not read straight into the output
                    out[0, b] = v
                filled[b] = True
        if all(filled) and not np.isnan(out).any():  # every pixel filled: later items cannot change the mosaic
            break
    if plan.to_db:
        out[0] = to_db(out[0], plan.db_floor)
    return out
