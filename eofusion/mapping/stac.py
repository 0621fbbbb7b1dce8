"""The STAC item of a map (a tile or the mosaic): what was written, on which grid, from what, by what.

Everything an item says is read back from the written files (grid, data types, nodata, sizes, checksums),
so the item cannot disagree with the map. Extensions: projection (grid), raster and file (per asset),
classification (class ids and names; the availability layer's bits), processing (software, lineage).
Inputs are ``derived_from`` links to the input items' own documents (API URLs or JSON files); an input
without a document (an in-memory item) is still named in ``eofusion:input_items``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pystac
import rasterio
from odc.geo.geobox import GeoBox
from pystac.extensions.classification import Classification
from pystac.extensions.projection import ProjectionExtension

from eofusion.atomic import write_text_atomic
from eofusion.mapping.cog import MapFiles
from eofusion.mapping.legend import CLASS_NODATA, MapLegend
from eofusion.mapping.stac_assets import (
    add_availability_asset,
    add_class_map_asset,
    add_png_asset,
    add_raster_asset,
    add_sidecar_asset,
)

PROCESSING_SCHEMA = "https://stac-extensions.github.io/processing/v1.2.0/schema.json"
COLLECTION_FILE = "collection.json"  # in a job's outputs folder, beside the mosaic and tiles/


@dataclass(frozen=True)
class MapSources:
    """What a map was made from and by: input items, the model, the software; and where it belongs."""

    start: datetime
    end: datetime
    derived_from: Sequence[str] = ()  # hrefs of the input items' documents
    input_items: Sequence[str] = ()  # "collection/id" of every input item
    lineage: str = ""  # one sentence: how the map was made
    software: Mapping[str, str] = field(default_factory=dict)  # name -> version
    properties: Mapping[str, Any] = field(default_factory=dict)  # written as eofusion:<key>
    collection: str | None = None  # the job's collection id
    collection_href: str | None = None  # relative to the item file


@dataclass(frozen=True)
class MapExtras:
    """A map's files besides the class COG: the sensor-availability layer and the quicklook."""

    availability: Path | None = None
    sensors: Sequence[str] = ()  # bit i of the availability layer = sensors[i]
    quicklook: Path | None = None


def stac_class_name(name: str) -> str:
    """A class name as the classification extension allows it (letters, digits, ``-``, ``_``)."""
    return re.sub(r"[^0-9A-Za-z_-]+", "_", name).strip("_") or "class"


def map_classes(legend: MapLegend) -> list[Classification]:
    """The legend as classification-extension classes, the nodata value included."""
    classes = [
        Classification.create(value=c.value, name=stac_class_name(c.name), title=c.name, color_hint=c.hex[1:])
        for c in legend.classes
    ]
    classes.append(Classification.create(value=CLASS_NODATA, name="nodata", title="no data", nodata=True))
    return classes


def _written_grid(path: Path) -> GeoBox:
    with rasterio.open(path) as src:
        return GeoBox((src.height, src.width), src.transform, src.crs)


def map_item(
    item_id: str,
    files: MapFiles,
    legend: MapLegend,
    sources: MapSources,
    extras: MapExtras | None = None,
) -> pystac.Item:
    """Build a map's item; asset hrefs are file names (the item is written beside the COGs)."""
    extras = extras or MapExtras()
    geobox = _written_grid(files.classes)
    crs = geobox.crs
    if crs is None:
        raise ValueError(f"{files.classes} has no CRS; a map is always georeferenced.")
    footprint = geobox.extent.to_crs("EPSG:4326")
    properties: dict[str, Any] = {
        "start_datetime": sources.start.isoformat(),
        "end_datetime": sources.end.isoformat(),
        "created": datetime.now(UTC).isoformat(),
        "gsd": abs(geobox.resolution.x),
        "processing:lineage": sources.lineage,
        "processing:software": dict(sources.software),
        "processing:datetime": datetime.now(UTC).isoformat(),
    }
    if sources.input_items:
        properties["eofusion:input_items"] = list(sources.input_items)
    properties.update({f"eofusion:{k}": v for k, v in sources.properties.items()})
    item = pystac.Item(
        id=item_id,
        geometry=footprint.json,
        bbox=list(footprint.boundingbox),
        datetime=None,
        properties=properties,
        collection=sources.collection,
    )
    item.stac_extensions.append(PROCESSING_SCHEMA)
    proj = ProjectionExtension.ext(item, add_if_missing=True)
    proj.code = f"EPSG:{crs.epsg}" if crs.epsg else None
    if proj.code is None:
        proj.wkt2 = crs.to_wkt()
    proj.shape = [geobox.height, geobox.width]
    proj.transform = list(geobox.affine)[:6]
    add_class_map_asset(item, "classes", files.classes, map_classes(legend), "land-cover classes")
    if files.confidence is not None:
        title = "confidence of the winning class, percent"
        add_raster_asset(item, "confidence", files.confidence, title, unit="percent")
    if files.probabilities is not None:
        title = "per-class probability, percent (band i = class i of the legend)"
        add_raster_asset(item, "probabilities", files.probabilities, title, unit="percent")
    for sidecar in files.sidecars:
        add_sidecar_asset(item, "classes_style" if sidecar.suffix == ".qml" else "classes_metadata", sidecar)
    if extras.availability is not None:
        add_availability_asset(item, "sensors", extras.availability, extras.sensors)
    if extras.quicklook is not None:
        add_png_asset(item, "quicklook", extras.quicklook, "quicklook with legend")
    for href in sources.derived_from:
        item.add_link(pystac.Link("derived_from", href, media_type=pystac.MediaType.JSON))
    if sources.collection_href is not None:
        for rel in ("collection", "parent", "root"):
            item.add_link(pystac.Link(rel, sources.collection_href, media_type=pystac.MediaType.JSON))
    return item


def write_item(item: pystac.Item | pystac.Collection, path: str | Path) -> Path:
    """Write an item's (or a collection's) JSON atomically (temporary name, then rename); hrefs stay as given."""
    return write_text_atomic(path, json.dumps(item.to_dict(include_self_link=False, transform_hrefs=False), indent=2))
