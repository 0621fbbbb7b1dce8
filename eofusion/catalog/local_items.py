"""STAC items from the facts read from a user's raster files (one item per folder, sensor and time)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pystac

from eofusion.catalog.providers import S2_OFFSET_START
from eofusion.sensors import Band, BandKind, Sensor

_EXTENSIONS = [
    "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
    "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
]


@dataclass(frozen=True)
class RasterFacts:
    """One file's facts: where, what bands, when, and on which grid."""

    path: Path
    sensor: Sensor
    bands: tuple[Band, ...]  # band i of the file is bands[i - 1]
    when: datetime
    crs: str
    transform: tuple[float, float, float, float, float, float]
    shape: tuple[int, int]
    dtype: str
    nodata: float | None
    footprint: dict[str, Any]  # GeoJSON polygon in EPSG:4326
    notes: tuple[str, ...] = ()


def safe_item_id(text: str, fallback: str) -> str:
    """``text`` usable as an item id and a file name: characters other than ``A-Za-z0-9._-`` become ``_``,
    leading dots go (no ``..``, no hidden files); ``fallback`` when nothing is left."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", text).lstrip(".")
    return cleaned or fallback


def make_item(members: list[RasterFacts], collection: str) -> pystac.Item:
    import shapely.geometry
    from shapely.ops import unary_union

    first = members[0]
    sensor, when = first.sensor, first.when
    footprint = unary_union([shapely.geometry.shape(m.footprint) for m in members])
    stems = [m.path.stem for m in members]
    prefix = _common_prefix(stems)
    if len(members) > 1:  # cut at a token boundary: ..._87_48_VH / ..._87_48_VV -> ..._87_48
        prefix = re.sub(r"[^_\-. ]*$", "", prefix)
    prefix = prefix.rstrip("_- .")
    raw_id = prefix if len(prefix) >= 8 else (first.path.parent.name if len(members) > 1 else first.path.stem)
    item_id = safe_item_id(raw_id, fallback=f"{sensor.name}-{when:%Y%m%dT%H%M%S}")
    properties: dict[str, Any] = {
        "datetime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eofusion:sensor": sensor.name,
    }
    if sensor.platforms:
        properties["platform"] = sensor.platforms[0]
    if sensor.instrument:
        properties["instruments"] = [sensor.instrument]
    units = {n for m in members for n in m.notes}
    if units:
        properties["eofusion:backscatter_units"] = sorted(units)[0]
        properties["sar:polarizations"] = [b.polarisation for m in members for b in m.bands if b.polarisation]
    assets = {}
    for member in members:
        key = member.bands[0].name if len(member.bands) == 1 else member.path.stem
        assets[key] = _asset_dict(member)
    data = {
        "type": "Feature",
        "stac_version": pystac.get_stac_version(),
        "stac_extensions": _EXTENSIONS,
        "id": item_id,
        "collection": collection,
        "geometry": shapely.geometry.mapping(footprint),
        "bbox": list(footprint.bounds),
        "properties": properties,
        "links": [],
        "assets": assets,
    }
    return pystac.Item.from_dict(data, preserve_dict=False)


def _asset_dict(raster: RasterFacts) -> dict[str, Any]:
    proj_key = "proj:code" if raster.crs.startswith("EPSG:") else "proj:wkt2"
    raster_bands, eo_bands = [], []
    for band in raster.bands:
        offset = band.offset
        if (
            band.kind is BandKind.REFLECTANCE
            and raster.sensor.family == "sentinel-2"
            and raster.when >= S2_OFFSET_START
        ):
            offset = band.offset - 0.1  # baseline >= 04.00 products (see eofusion.sensors.radiometric_offset)
        raster_bands.append(
            {
                "data_type": raster.dtype,
                "nodata": raster.nodata,
                "scale": band.scale,
                "offset": offset,
                "spatial_resolution": abs(raster.transform[0]),
            }
        )
        eo_bands.append({"name": band.name, **({"common_name": band.common_name} if band.common_name else {})})
    asset = {
        "href": str(raster.path),
        "type": pystac.MediaType.GEOTIFF,
        "roles": ["data"],
        proj_key: raster.crs,
        "proj:transform": list(raster.transform),
        "proj:shape": list(raster.shape),
        "raster:bands": raster_bands,
    }
    if any(b.is_spectral for b in raster.bands):
        asset["eo:bands"] = eo_bands
    return asset


def _common_prefix(texts: list[str]) -> str:
    if not texts:
        return ""
    first, last = min(texts), max(texts)
    size = 0
    while size < min(len(first), len(last)) and first[size] == last[size]:
        size += 1
    return first[:size]
