"""The STAC item that describes a map: classes, grid, inputs (derived_from links) and the model that made it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pystac
from odc.geo.geobox import GeoBox
from pystac.extensions.classification import Classification, ClassificationExtension
from pystac.extensions.projection import ProjectionExtension

from eofusion.atomic import write_text_atomic
from eofusion.mapping.cog import MapFiles
from eofusion.mapping.legend import CLASS_NODATA, MapLegend

COG_MEDIA_TYPE = pystac.MediaType.COG


def map_item(
    item_id: str,
    files: MapFiles,
    geobox: GeoBox,
    legend: MapLegend,
    *,
    time_range: tuple[datetime, datetime] | None = None,
    inputs: Sequence[str] = (),
    provenance: Mapping[str, Any] | None = None,
    quicklook: Path | None = None,
) -> pystac.Item:
    """Build the map's item; asset hrefs are relative to the item file (written beside the COGs).

    Args:
        item_id: Item id (e.g. the job name and tile id).
        files: The map's COGs.
        geobox: The map grid (the cube's grid, unchanged).
        legend: Class ids, names and colours.
        time_range: Start and end of the input acquisitions.
        inputs: Hrefs or ids of the STAC items the map was made from (``derived_from`` links).
        provenance: Model name, eofusion version, configuration hash, sensors used...
        quicklook: A PNG preview to attach.
    """
    if geobox.crs is None:
        raise ValueError("A map grid always has a CRS.")
    crs = geobox.crs
    footprint = geobox.extent.to_crs("EPSG:4326")
    start, end = time_range or (datetime.now(UTC), datetime.now(UTC))
    properties: dict[str, Any] = {"start_datetime": start.isoformat(), "end_datetime": end.isoformat()}
    properties.update({f"eofusion:{k}": v for k, v in (provenance or {}).items()})
    item = pystac.Item(
        id=item_id,
        geometry=footprint.json,
        bbox=list(footprint.boundingbox),
        datetime=None,
        properties=properties,
    )
    proj = ProjectionExtension.ext(item, add_if_missing=True)
    proj.code = f"EPSG:{crs.epsg}" if crs.epsg else None
    if proj.code is None:
        proj.wkt2 = crs.to_wkt()
    proj.shape = [geobox.height, geobox.width]
    proj.transform = list(geobox.affine)[:6]
    classes = [
        Classification.create(value=c.value, name=c.name.replace(" ", "_"), description=c.name, color_hint=c.hex[1:])
        for c in legend.classes
    ]
    classes.append(Classification.create(value=CLASS_NODATA, name="nodata", description="no data", nodata=True))
    asset = pystac.Asset(files.classes.name, media_type=COG_MEDIA_TYPE, roles=["data"], title="land-cover classes")
    item.add_asset("classes", asset)
    ClassificationExtension.ext(asset, add_if_missing=True).classes = classes
    if files.confidence is not None:
        item.add_asset(
            "confidence",
            pystac.Asset(
                files.confidence.name,
                media_type=COG_MEDIA_TYPE,
                roles=["data"],
                title="confidence of the winning class, percent",
            ),
        )
    if files.probabilities is not None:
        title = "per-class probability, percent"
        asset = pystac.Asset(files.probabilities.name, media_type=COG_MEDIA_TYPE, roles=["data"], title=title)
        item.add_asset("probabilities", asset)
    if quicklook is not None:
        item.add_asset(
            "quicklook",
            pystac.Asset(
                quicklook.name, media_type=pystac.MediaType.PNG, roles=["overview"], title="quicklook with legend"
            ),
        )
    for href in inputs:
        item.add_link(pystac.Link("derived_from", href, media_type=pystac.MediaType.JSON))
    return item


def write_item(item: pystac.Item, path: str | Path) -> Path:
    """Write the item JSON atomically (temporary name, then rename)."""
    return write_text_atomic(path, json.dumps(item.to_dict(include_self_link=False, transform_hrefs=False), indent=2))
