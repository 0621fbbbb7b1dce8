"""Reading the STAC fields normalisation needs, across STAC 1.0 and 1.1 and the providers' variants.

Projection: ``proj:code`` (STAC 1.1) or ``proj:epsg`` (1.0), else ``proj:wkt2`` / ``proj:projjson``; asset
fields win over item fields. Raster facts: ``raster:bands[i]`` (raster extension 1.x), STAC 1.1 ``bands[i]``
and asset-level ``raster:scale`` / ``raster:offset`` / ``nodata`` / ``data_type``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eofusion.catalog.items import Transform

_UNSET = object()


@dataclass(frozen=True)
class RasterFacts:
    """What an asset states about one band; ``None`` means the provider did not say."""

    dtype: str | None = None
    nodata: float | object | None = _UNSET  # _UNSET: not stated (None is a stated "no nodata")
    scale: float | None = None
    offset: float | None = None
    common_name: str | None = None

    @property
    def nodata_stated(self) -> bool:
        """True when the provider states a nodata value (or explicitly none)."""
        return self.nodata is not _UNSET


def band_entries(asset: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Per-band metadata of an asset: ``raster:bands`` merged with ``eo:bands`` / STAC 1.1 ``bands``."""
    raster = list(asset.get("raster:bands") or [])
    eo = list(asset.get("eo:bands") or [])
    bands11 = list(asset.get("bands") or [])
    count = max(len(raster), len(eo), len(bands11))
    merged: list[Mapping[str, Any]] = []
    for i in range(count):
        entry: dict[str, Any] = {}
        for source in (bands11, eo, raster):
            if i < len(source) and isinstance(source[i], Mapping):
                entry.update(source[i])
        merged.append(entry)
    return merged


def raster_facts(asset: Mapping[str, Any], band_index: int, properties: Mapping[str, Any] | None = None) -> RasterFacts:
    """The stated dtype, nodata, scale, offset and common name of the asset's ``band_index`` (1-based).

    Item-level ``raster:bands`` given as a mapping (Planetary Computer's 3DEP items) are the last resort.
    """
    entries = band_entries(asset)
    entry: Mapping[str, Any] = entries[band_index - 1] if band_index <= len(entries) else {}
    item_level = (properties or {}).get("raster:bands")
    fallback: Mapping[str, Any] = item_level if isinstance(item_level, Mapping) else {}

    def first(*keys: str) -> Any:
        for source in (entry, asset, fallback):
            for key in keys:
                if key in source:
                    return source[key]
        return _UNSET

    dtype = first("data_type", "raster:data_type")
    nodata = first("nodata", "raster:nodata")
    scale = first("scale", "raster:scale")
    offset = first("offset", "raster:offset")
    common = entry.get("common_name") or entry.get("eo:common_name")
    return RasterFacts(
        dtype=str(dtype).lower() if dtype is not _UNSET and dtype is not None else None,
        nodata=_UNSET if nodata is _UNSET else _number_or_none(nodata),
        scale=None if scale is _UNSET or scale is None else float(scale),
        offset=None if offset is _UNSET or offset is None else float(offset),
        common_name=str(common) if common else None,
    )


def _number_or_none(value: Any) -> float | None:
    # float() also reads the "nan" / "inf" strings some providers write (e.g. 3DEP's "nodata": "nan").
    return None if value is None else float(value)


def projection_crs(asset: Mapping[str, Any], properties: Mapping[str, Any]) -> str | None:
    """``EPSG:xxxx`` (or another authority code, or WKT) from asset then item projection fields."""
    for source in (asset, properties):
        code = source.get("proj:code")
        if code:
            return str(code)
        epsg = source.get("proj:epsg")
        if epsg is not None:
            return f"EPSG:{int(epsg)}"
        for key in ("proj:wkt2", "proj:projjson"):
            if source.get(key):
                return _crs_from_definition(source[key])
    return None


def _crs_from_definition(definition: Any) -> str:
    from pyproj import CRS

    crs = CRS.from_json(json.dumps(definition)) if isinstance(definition, Mapping) else CRS(definition)
    authority = crs.to_authority(min_confidence=90)
    if authority:
        return f"{authority[0]}:{authority[1]}"
    return str(crs.to_wkt())


def projection_grid(
    asset: Mapping[str, Any], properties: Mapping[str, Any]
) -> tuple[Transform | None, tuple[int, int] | None]:
    """(transform, shape) from ``proj:transform`` / ``proj:shape`` (asset first), else from ``proj:bbox``."""
    shape_raw = asset.get("proj:shape") or properties.get("proj:shape")
    shape = (int(shape_raw[0]), int(shape_raw[1])) if shape_raw and len(shape_raw) == 2 else None
    transform_raw = asset.get("proj:transform") or properties.get("proj:transform")
    if transform_raw and len(transform_raw) >= 6:
        a, b, c, d, e, f = (float(v) for v in transform_raw[:6])
        return (a, b, c, d, e, f), shape
    bbox = asset.get("proj:bbox") or properties.get("proj:bbox")
    if bbox and len(bbox) == 4 and shape:
        # A north-up grid is the only one proj:bbox + proj:shape can describe.
        west, south, east, north = (float(v) for v in bbox)
        rows, cols = shape
        return ((east - west) / cols, 0.0, west, 0.0, -(north - south) / rows, north), shape
    return None, shape


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 (or ``YYYY-MM-DD HH:MM:SS+00:00``) string -> aware UTC datetime; None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        parsed = datetime.fromisoformat(str(value).strip().replace(" ", "T").replace("z", "Z"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def acquisition_time(properties: Mapping[str, Any]) -> datetime | None:
    """``datetime``, else ``start_datetime`` (what STAC APIs sort and filter on), else ``end_datetime``."""
    for key in ("datetime", "start_datetime", "end_datetime"):
        parsed = parse_time(properties.get(key))
        if parsed is not None:
            return parsed
    return None


def is_raster_asset(key: str, asset: Mapping[str, Any]) -> bool:
    """True for data rasters; False for thumbnails, previews, RGB quick-looks, metadata and tile services."""
    roles = {str(r).lower() for r in asset.get("roles") or ()}
    if roles & {"thumbnail", "overview", "visual", "metadata", "tiles"}:
        return False
    if key.lower().split("-")[0] in {"visual", "tci", "preview", "thumbnail", "rendered_preview", "tilejson"}:
        return False
    media = str(asset.get("type") or "").lower()
    if media and not any(m in media for m in ("tiff", "jp2", "geotiff", "zarr", "netcdf", "octet-stream")):
        return False
    return bool(asset.get("href"))


def is_cloud_optimized(asset: Mapping[str, Any]) -> bool:
    """True for (cloud-optimized) GeoTIFF assets, preferred over JPEG 2000 copies of the same band."""
    return "tiff" in str(asset.get("type") or "image/tiff").lower()
