"""A job's STAC collection: every tile item and the mosaic item, with extent and summaries taken from them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import pystac
from pystac.extensions.classification import ClassificationExtension

from eofusion.mapping.legend import MapLegend
from eofusion.mapping.stac import map_classes


def _times(items: Sequence[pystac.Item]) -> tuple[datetime, datetime]:
    starts = [pystac.utils.str_to_datetime(i.properties["start_datetime"]) for i in items]
    ends = [pystac.utils.str_to_datetime(i.properties["end_datetime"]) for i in items]
    return min(starts), max(ends)


def _union_bbox(items: Sequence[pystac.Item]) -> list[float]:
    boxes = [i.bbox for i in items if i.bbox]
    return [min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)]


def job_collection(
    job: str,
    description: str,
    items: Mapping[str, pystac.Item],
    legend: MapLegend,
    license: str = "other",
) -> pystac.Collection:
    """The job's collection, linking each item by its href (relative to the collection file).

    Args:
        job: The job name (the collection id; items carry it as their ``collection``).
        description: What the maps are.
        items: Relative href -> item (the tile items and the mosaic item).
        legend: The maps' classes (summarised, and described for the ``classes`` asset of every item).
        license: SPDX identifier of the maps' licence, or ``other``.
    """
    if not items:
        raise ValueError(f"Job {job} has no finished map: no collection to write.")
    members = list(items.values())
    start, end = _times(members)
    collection = pystac.Collection(
        id=job,
        description=description,
        extent=pystac.Extent(pystac.SpatialExtent([_union_bbox(members)]), pystac.TemporalExtent([[start, end]])),
        license=license,
        title=f"{job}: land-cover maps",
    )
    classes = map_classes(legend)
    ClassificationExtension.summaries(collection, add_if_missing=True).classes = classes
    collection.summaries.add("proj:code", sorted({str(i.properties.get("proj:code")) for i in members}))
    collection.summaries.add("gsd", sorted({float(i.properties["gsd"]) for i in members}))
    sensors = sorted({s for i in members for s in i.properties.get("eofusion:sensors") or ()})
    if sensors:
        collection.summaries.add("eofusion:sensors", sensors)
    collection.item_assets = {
        "classes": pystac.ItemAssetDefinition.create(
            title="land-cover classes",
            description=None,
            media_type=pystac.MediaType.COG,
            roles=["data"],
            extra_fields={"classification:classes": [c.to_dict() for c in classes]},
        )
    }
    for href in items:
        collection.add_link(pystac.Link(pystac.RelType.ITEM, href, media_type=pystac.MediaType.GEOJSON))
    return collection
