"""Any provider's STAC item -> a :class:`NormalizedItem` with registry bands.

Rules (each one is a provider difference seen in real items):
- The sensor comes from ``platform``, then ``constellation``, then the collection id (or the caller).
- Assets are matched to registry bands by asset key (``B04``, ``red``, ``B04_10m``, ``vv``), then by the
  ``common_name`` of ``eo:bands`` / ``bands`` — never by ``eo:bands.name``, which providers spell in
  different ways. GeoTIFF/COG assets win over JPEG 2000 copies; quick-looks (``visual``) are ignored.
- Spectral facts (wavelengths, bandwidths) come from the registry; an item's own values are not read.
- Scale/offset: what the provider states (``raster:bands``, STAC 1.1 ``bands``, ``raster:scale``) is used
  as is; otherwise the registry's. Sentinel-2 reflectance whose offset is not stated gets the baseline
  >= 04.00 offset (-0.1) derived from ``s2:processing_baseline`` — so it is applied exactly once.

What was inferred rather than read is listed in ``properties["eofusion:notes"]`` (``eofusion catalog
inspect`` prints it).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, overload

import pystac

from eofusion.catalog.fields import (
    acquisition_time,
    band_entries,
    is_cloud_optimized,
    is_raster_asset,
    projection_crs,
    projection_grid,
    raster_facts,
)
from eofusion.catalog.items import BandAsset, NormalizedItem
from eofusion.catalog.providers import COLLECTION_ASSETS, detect_sensor, sentinel2_offset
from eofusion.errors import (
    AmbiguousBandError,
    ItemError,
    SkippedInputWarning,
    UnknownBandError,
    UnknownSensorError,
)
from eofusion.sensors import Band, BandKind, Sensor

logger = logging.getLogger(__name__)

OnError = Literal["raise", "skip"]
AssetMap = Mapping[str, str | Sequence[str]]  # asset key -> registry band (or one band per file band)


@dataclass(frozen=True)
class _Candidate:
    rank: tuple[int, int, int]  # (how matched, format, asset order): lowest wins
    asset_key: str
    band_index: int


@overload
def normalize_item(
    item: pystac.Item | Mapping[str, Any],
    *,
    sensor: str | Sensor | None = ...,
    bands: Sequence[str] | None = ...,
    asset_map: AssetMap | None = ...,
    on_error: Literal["raise"] = ...,
) -> NormalizedItem: ...


@overload
def normalize_item(
    item: pystac.Item | Mapping[str, Any],
    *,
    sensor: str | Sensor | None = ...,
    bands: Sequence[str] | None = ...,
    asset_map: AssetMap | None = ...,
    on_error: OnError,
) -> NormalizedItem | None: ...


def normalize_item(
    item: pystac.Item | Mapping[str, Any],
    *,
    sensor: str | Sensor | None = None,
    bands: Sequence[str] | None = None,
    asset_map: AssetMap | None = None,
    on_error: OnError = "raise",
) -> NormalizedItem | None:
    """Understand one STAC item: its sensor, and each registry band's href, scale/offset, nodata and grid.

    Args:
        item: A pystac Item or an item dict (relative hrefs are resolved against the item's self link).
        sensor: Registry sensor to use instead of detecting it from ``platform``/``constellation``/collection.
        bands: Registry bands the caller needs (names, aliases or common names); all matched bands if None.
        asset_map: Asset key -> registry band, for providers whose keys name no band (from a catalog source).
        on_error: ``"raise"`` raises :class:`ItemError`; ``"skip"`` warns with :class:`SkippedInputWarning`
            (naming the item and the reason) and returns None.
    """
    try:
        return _normalize(item, sensor, bands, asset_map)
    except (ItemError, UnknownSensorError, UnknownBandError) as err:
        if on_error == "raise":
            if isinstance(err, ItemError):
                raise
            raise ItemError(str(err)) from None
        warnings.warn(f"Skipped item: {err}", SkippedInputWarning, stacklevel=2)
        return None


def normalize_items(
    items: Sequence[pystac.Item | Mapping[str, Any]],
    *,
    sensor: str | Sensor | None = None,
    bands: Sequence[str] | None = None,
    asset_map: AssetMap | None = None,
    on_error: OnError = "raise",
) -> list[NormalizedItem]:
    """:func:`normalize_item` over many items; with ``on_error="skip"`` the bad ones are left out (warned)."""
    results = []
    for item in items:
        normalized = normalize_item(item, sensor=sensor, bands=bands, asset_map=asset_map, on_error=on_error)
        if normalized is not None:
            results.append(normalized)
    return results


def _normalize(
    item: pystac.Item | Mapping[str, Any],
    sensor_arg: str | Sensor | None,
    bands: Sequence[str] | None,
    asset_map: AssetMap | None,
) -> NormalizedItem:
    data, hrefs = _as_dict(item)
    item_id = str(data.get("id") or "?")
    props: dict[str, Any] = dict(data.get("properties") or {})
    if data.get("type") != "Feature":
        raise ItemError(
            f"Document {item_id!r} is a {data.get('type') or 'non-STAC'} object, not a STAC Item; give an item "
            "(or use `eofusion catalog search` to find the items of a collection)."
        )
    sensor = detect_sensor(data, sensor_arg)
    notes: list[str] = []
    when = acquisition_time(props)
    if when is None:
        raise ItemError(
            f"Item {item_id!r} has no datetime, start_datetime or end_datetime; it cannot be placed in time."
        )
    mapping = {**COLLECTION_ASSETS.get(str(data.get("collection")), {}), **(asset_map or {})}
    found = _match_assets(sensor, data.get("assets") or {}, mapping, notes)
    wanted = _wanted_bands(sensor, bands, item_id)
    if wanted is not None:
        missing = [b for b in wanted if b not in found]
        if missing:
            raise ItemError(
                f"Item {item_id!r} ({sensor.name}) has no asset for band(s) {', '.join(missing)}; it has "
                f"{', '.join(sorted(found)) or 'no recognised band assets'}. Ask for bands it has, or map its "
                "asset keys to registry bands in the catalog source (asset_map)."
            )
        found = {name: found[name] for name in wanted}
    if not found:
        keys = ", ".join(sorted(data.get("assets") or {})) or "none"
        raise ItemError(
            f"Item {item_id!r}: no asset matches a band of sensor {sensor.name} (assets: {keys}). Map asset "
            "keys to registry bands with asset_map, or pass the right sensor."
        )
    offset_s2 = sentinel2_offset(sensor, props, when, notes)
    assets = {
        name: _band_asset(item_id, sensor.band(name), cand, data=data, hrefs=hrefs, s2_offset=offset_s2, notes=notes)
        for name, cand in found.items()
    }
    derived = sorted(
        n
        for n, a in assets.items()
        if a.band.kind is BandKind.REFLECTANCE
        and offset_s2
        and raster_facts(data["assets"][a.asset_key], a.band_index, props).offset is None
    )
    if derived:
        notes.append(
            f"offset {offset_s2} (Sentinel-2 baseline >= 04.00) applied to {', '.join(derived)}: the provider "
            "states none"
        )
    if "earthsearch:boa_offset_applied" in props:
        notes.append(
            f"earthsearch:boa_offset_applied={props['earthsearch:boa_offset_applied']}: the offsets the "
            "provider states in raster:bands are used as is"
        )
    orbit = props.get("sat:orbit_state")
    pols = tuple(str(p).upper() for p in props.get("sar:polarizations") or ())
    if notes:
        props["eofusion:notes"] = tuple(notes)
    return NormalizedItem(
        id=item_id,
        collection=data.get("collection"),
        sensor=sensor,
        datetime=when,
        bbox=_bbox(data, item_id),
        geometry=data.get("geometry") or _bbox_polygon(_bbox(data, item_id)),
        assets=assets,
        orbit_direction=str(orbit).lower() if orbit else None,
        polarisations=pols,
        properties=props,
        href=_self_href(item, data),
    )


def _self_href(item: pystac.Item | Mapping[str, Any], data: Mapping[str, Any]) -> str | None:
    """Where the item's document lives (an API URL or a file), for ``derived_from`` links of what is made from it."""
    if isinstance(item, pystac.Item):
        return item.get_self_href()
    return next((str(ln["href"]) for ln in data.get("links") or () if ln.get("rel") == "self" and ln.get("href")), None)


def _as_dict(item: pystac.Item | Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The item as a dict plus absolute asset hrefs.

    A filesystem path that is already absolute stays as it is: pystac would otherwise glue it onto the
    item's self link (``http://api/tmp/x.tif``) when the item came from an API serving local files.
    """
    if isinstance(item, pystac.Item):
        data = item.to_dict(include_self_link=False, transform_hrefs=False)
        hrefs = {
            key: asset.href if _is_absolute(asset.href) else (asset.get_absolute_href() or asset.href)
            for key, asset in item.assets.items()
        }
        return data, hrefs
    data = dict(item)
    self_href = next((ln.get("href") for ln in data.get("links") or () if ln.get("rel") == "self"), None)
    hrefs = {}
    for key, asset in (data.get("assets") or {}).items():
        href = str(asset.get("href", ""))
        hrefs[key] = pystac.utils.make_absolute_href(href, self_href) if self_href and not _is_absolute(href) else href
    return data, hrefs


def _is_absolute(href: str) -> bool:
    return "://" in href or href.startswith("/")


def _wanted_bands(sensor: Sensor, bands: Sequence[str] | None, item_id: str) -> list[str] | None:
    if bands is None:
        return None
    try:
        return [sensor.band(b).name for b in bands]
    except UnknownBandError as err:
        raise ItemError(f"Item {item_id!r}: {err}") from None


def _lookup(sensor: Sensor, key: str) -> Band | None:
    try:
        return sensor.band(key)
    except (UnknownBandError, AmbiguousBandError):
        return None


def _match_assets(
    sensor: Sensor, assets: Mapping[str, Any], mapping: AssetMap, notes: list[str]
) -> dict[str, _Candidate]:
    """Registry band name -> the best asset for it (see the module docstring for the order)."""
    best: dict[str, _Candidate] = {}

    def offer(band: Band | None, cand: _Candidate) -> None:
        if band is not None and (band.name not in best or cand.rank < best[band.name].rank):
            best[band.name] = cand

    for order, (key, asset) in enumerate(assets.items()):
        if key in mapping:
            targets = mapping[key]
            names = [targets] if isinstance(targets, str) else list(targets)
            for index, name in enumerate(names, start=1):
                offer(_lookup(sensor, name), _Candidate((0, 0, order), key, index))
            continue
        if not is_raster_asset(key, asset):
            continue
        fmt = 0 if is_cloud_optimized(asset) else 1
        entries = band_entries(asset)
        if len(entries) <= 1:
            by_key = _lookup(sensor, key)
            if by_key is not None:
                offer(by_key, _Candidate((1, fmt, order), key, 1))
                stated = raster_facts(asset, 1).common_name
                if stated and by_key.common_name and stated.lower() != by_key.common_name.lower():
                    notes.append(
                        f"asset {key!r}: provider common_name {stated!r} differs from the registry's "
                        f"{by_key.common_name!r} for {by_key.name}; the registry is used"
                    )
                continue
        for index, _entry in enumerate(entries, start=1):
            common = raster_facts(asset, index).common_name
            if common:
                offer(_lookup(sensor, common), _Candidate((2, fmt, order), key, index))
    return best


def _band_asset(
    item_id: str,
    band: Band,
    cand: _Candidate,
    *,
    data: Mapping[str, Any],
    hrefs: Mapping[str, str],
    s2_offset: float,
    notes: list[str],
) -> BandAsset:
    props: Mapping[str, Any] = data.get("properties") or {}
    asset = (data.get("assets") or {})[cand.asset_key]
    facts = raster_facts(asset, cand.band_index, props)
    crs = projection_crs(asset, props)
    transform, shape = projection_grid(asset, props)
    if crs is None or transform is None or shape is None:
        missing = [n for n, v in (("CRS", crs), ("transform", transform), ("shape", shape)) if v is None]
        hint = (
            " Sentinel-1 GRD is in radar geometry: use a terrain-corrected collection (e.g. sentinel-1-rtc)."
            if band.kind is BandKind.BACKSCATTER
            else ""
        )
        raise ItemError(
            f"Item {item_id!r} asset {cand.asset_key!r} ({band.name}) has no {'/'.join(missing)} "
            f"(proj:code or proj:epsg, proj:transform, proj:shape on the asset or the item); eofusion cannot "
            f"place it on a grid.{hint}"
        )
    scale = facts.scale if facts.scale is not None else band.scale
    if facts.offset is not None:
        offset = facts.offset
    elif band.kind is BandKind.REFLECTANCE and s2_offset:
        offset = band.offset + s2_offset
    else:
        offset = band.offset
    nodata = facts.nodata if facts.nodata_stated else band.nodata
    dtype = facts.dtype or band.dtype
    if band.kind is BandKind.BACKSCATTER and dtype.startswith(("uint", "int")):
        notes.append(f"{band.name}: integer {dtype} backscatter is uncalibrated DN, not sigma0/gamma0")
    return BandAsset(
        asset_key=cand.asset_key,
        band=band,
        href=hrefs.get(cand.asset_key) or str(asset.get("href")),
        dtype=dtype,
        nodata=None if nodata is None else float(nodata),  # type: ignore[arg-type]
        scale=float(scale),
        offset=float(offset),
        crs=crs,
        transform=transform,
        shape=shape,
        band_index=cand.band_index,
    )


def _bbox(data: Mapping[str, Any], item_id: str) -> tuple[float, float, float, float]:
    bbox = data.get("bbox")
    if bbox and len(bbox) >= 4:
        values = [float(v) for v in bbox]
        # 3-D bboxes are (w, s, zmin, e, n, zmax).
        return (values[0], values[1], values[3], values[4]) if len(values) == 6 else tuple(values[:4])  # type: ignore[return-value]
    geometry = data.get("geometry")
    if geometry:
        import shapely.geometry

        w, s, e, n = shapely.geometry.shape(geometry).bounds
        return float(w), float(s), float(e), float(n)
    raise ItemError(f"Item {item_id!r} has neither bbox nor geometry; it cannot be placed on the map.")


def _bbox_polygon(bbox: tuple[float, float, float, float]) -> dict[str, Any]:
    w, s, e, n = bbox
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
