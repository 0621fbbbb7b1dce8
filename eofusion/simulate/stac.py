"""STAC items, collections and catalogs for the demo world, shaped like real providers' items.

Sentinel-2 follows Planetary Computer's ``sentinel-2-l2a`` items (asset keys ``B01``..``B12``/``SCL``,
``eo:bands`` with centre wavelength and FWHM in micrometres, ``s2:processing_baseline``) and adds
Earth Search's ``raster:bands`` scale/offset (the -0.1 offset of baseline >= 04.00 stated once, there).
Sentinel-1 follows Planetary Computer's ``sentinel-1-rtc`` (``vv``/``vh`` float32 gamma0, ``sar:*``,
``sat:*``). The aerial item follows PC's NAIP (one 4-band ``image`` asset) in Lambert-93 like IGN.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pystac
from odc.geo.geobox import GeoBox
from shapely.geometry import Polygon, mapping

from eofusion.sensors import get_sensor
from eofusion.simulate.classes import LANDCOVER_CLASSES, LANDCOVER_NODATA

COG = "image/tiff; application=geotiff; profile=cloud-optimized"
EXT = {
    "eo": "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
    "raster": "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
    "proj": "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
    "sat": "https://stac-extensions.github.io/sat/v1.0.0/schema.json",
    "sar": "https://stac-extensions.github.io/sar/v1.0.0/schema.json",
    "view": "https://stac-extensions.github.io/view/v1.0.0/schema.json",
    "classification": "https://stac-extensions.github.io/classification/v1.1.0/schema.json",
}
SIMULATED = {"eofusion:simulated": True}


def epsg(gbox: GeoBox) -> int:
    code = gbox.crs.epsg if gbox.crs is not None else None
    if code is None:
        raise ValueError(f"grid CRS {gbox.crs} has no EPSG code")
    return int(code)


def proj_fields(gbox: GeoBox) -> dict[str, Any]:
    """Asset-level projection fields (shape, 6-term transform, bbox) of a grid."""
    a = gbox.affine
    x0, y1 = a.c, a.f
    x1, y0 = x0 + a.a * gbox.shape[1], y1 + a.e * gbox.shape[0]
    return {
        "proj:shape": [int(gbox.shape[0]), int(gbox.shape[1])],
        "proj:transform": [a.a, a.b, a.c, a.d, a.e, a.f],
        "proj:bbox": [x0, y0, x1, y1],
    }


def eo_band(sensor_name: str, band_name: str, description: str | None = None) -> dict[str, Any]:
    """An ``eo:bands`` entry from the registry, wavelengths in micrometres as STAC wants."""
    band = get_sensor(sensor_name).band(band_name)
    out: dict[str, Any] = {"name": band.name}
    if band.common_name:
        out["common_name"] = band.common_name
    out["description"] = description or band.description
    if band.centre_nm is not None and band.bandwidth_nm is not None:
        out["center_wavelength"] = round(band.centre_nm / 1000.0, 4)
        out["full_width_half_max"] = round(band.bandwidth_nm / 1000.0, 4)
    return out


def new_item(
    item_id: str,
    footprint: Polygon,
    when: datetime,
    *,
    collection: str,
    properties: Mapping[str, Any],
    extensions: Sequence[str],
) -> pystac.Item:
    """An item over the world footprint (lon/lat) with the given properties."""
    item = pystac.Item(
        id=item_id,
        geometry=mapping(footprint),
        bbox=list(footprint.bounds),
        datetime=when,
        properties={**properties, **SIMULATED},
        collection=collection,
        stac_extensions=[EXT[e] for e in extensions],
    )
    return item


def add_asset(
    item: pystac.Item,
    key: str,
    *,
    href: str,
    title: str,
    gbox: GeoBox,
    raster_bands: list[dict[str, Any]],
    eo_bands: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> None:
    """A COG data asset with projection, raster and (optionally) eo band metadata."""
    fields: dict[str, Any] = {**proj_fields(gbox), "gsd": abs(gbox.affine.a)}
    if eo_bands:
        fields["eo:bands"] = eo_bands
    fields["raster:bands"] = raster_bands
    fields.update(extra)
    item.add_asset(key, pystac.Asset(href=href, media_type=COG, title=title, roles=["data"], extra_fields=fields))


def classification_classes() -> list[dict[str, Any]]:
    """The land-cover table in the STAC classification extension's form."""
    return [
        {"value": c.id, "name": c.name.replace(" ", "-"), "description": c.description,
         "color_hint": c.colour.lstrip("#").upper()}
        for c in LANDCOVER_CLASSES
    ] + [{"value": LANDCOVER_NODATA, "name": "nodata", "description": "outside the world", "nodata": True}]  # fmt: skip


def collection_for(
    collection_id: str, description: str, items: Sequence[pystac.Item], summaries: Mapping[str, Any]
) -> pystac.Collection:
    """A collection whose extent covers its items."""
    bboxes = [i.bbox for i in items if i.bbox]
    bbox = [min(b[0] for b in bboxes), min(b[1] for b in bboxes), max(b[2] for b in bboxes), max(b[3] for b in bboxes)]
    times = sorted(i.datetime for i in items if i.datetime)
    col = pystac.Collection(
        id=collection_id,
        description=description,
        extent=pystac.Extent(pystac.SpatialExtent([bbox]), pystac.TemporalExtent([[times[0], times[-1]]])),
        license="CC0-1.0",
        title=f"eofusion demo world: {collection_id}",
        summaries=pystac.Summaries(dict(summaries)),
        extra_fields=dict(SIMULATED),
    )
    for item in items:
        col.add_item(item)
    return col
