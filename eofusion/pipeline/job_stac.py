"""A job's STAC beyond its tiles: the mosaic's item and the collection of every map the job published.

Layout in ``outputs.dir`` (hrefs are relative, so the folder or prefix can be moved or served as is)::

    collection.json              the job's collection: extent, summaries, links to every item below
    mosaic.json                  the mosaic's item (derived_from: the tile items)
    tiles/<tile>/landcover.json  each tile's item (derived_from: the input items' documents)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pystac

from eofusion.mapping import MapExtras, MapFiles, MapLegend, MapSources, job_collection, map_item, write_item
from eofusion.mapping.stac import COLLECTION_FILE
from eofusion.pipeline.landcover import TILE_ITEM_NAME, map_lineage, software_versions
from eofusion.pipeline.spec import JobSpec
from eofusion.storage import Location

logger = logging.getLogger(__name__)
MOSAIC_ITEM_NAME = "mosaic.json"


@dataclass(frozen=True)
class FinishedTiles:
    """The tiles a run ends with, their published items (read once: a national job has thousands) and legend."""

    ids: list[str]
    items: dict[str, pystac.Item]  # relative href -> item
    legend: MapLegend


def published_tile_items(spec: JobSpec, tile_ids: Sequence[str]) -> dict[str, pystac.Item]:
    """The finished tiles' items as published (relative href -> item); a tile without one is left out (logged)."""
    items = {}
    for tile_id in tile_ids:
        href = f"tiles/{tile_id}/{TILE_ITEM_NAME}"
        try:
            items[href] = pystac.Item.from_dict(json.loads((spec.outputs.location / href).read_text()))
        except FileNotFoundError:
            logger.warning("tile %s has no STAC item (%s): left out of the collection", tile_id, href)
    return items


def mosaic_item(
    spec: JobSpec, files: MapFiles, legend: MapLegend, tiles: Mapping[str, pystac.Item], quicklook: Path | None
) -> pystac.Item:
    """The mosaic's item: its files as written, derived from the tile items, in the job's collection."""
    members = list(tiles.values())
    sensors = sorted({s for i in members for s in i.properties.get("eofusion:sensors") or ()})
    sources = MapSources(
        start=min(pystac.utils.str_to_datetime(i.properties["start_datetime"]) for i in members),
        end=max(pystac.utils.str_to_datetime(i.properties["end_datetime"]) for i in members),
        derived_from=list(tiles),
        lineage=f"Mosaic of {len(members)} tile maps (later tiles win where they overlap), clipped to the job's "
        f"AOI. {map_lineage(spec, sensors)}",
        software=software_versions(),
        properties={
            "config_hash": spec.config_hash(),
            "model": spec.model.checkpoint.name,
            "sensors": sensors,
            "tiles": sorted(i.id for i in members),
        },
        collection=spec.name,
        collection_href=f"./{COLLECTION_FILE}",
    )
    return map_item(f"{spec.name}-mosaic", files, legend, sources, MapExtras(quicklook=quicklook))


def write_mosaic_item(item: pystac.Item, folder: Path) -> Path:
    """Write the mosaic's item beside the mosaic (atomically)."""
    return write_item(item, folder / MOSAIC_ITEM_NAME)


def publish_collection(spec: JobSpec, finished: FinishedTiles) -> Location | None:
    """Write ``collection.json`` over the published tile items and the mosaic item; None when there is none."""
    target = spec.outputs.location / COLLECTION_FILE
    items = dict(finished.items)
    mosaic = spec.outputs.location / MOSAIC_ITEM_NAME
    if mosaic.exists():
        items[MOSAIC_ITEM_NAME] = pystac.Item.from_dict(json.loads(mosaic.read_text()))
    if not items:
        target.remove()  # an earlier run's collection must not describe maps that are gone
        return None
    description = f"Land-cover maps of job {spec.name}: one item per tile and one for the mosaic."
    collection = job_collection(spec.name, description, items, finished.legend, license=spec.outputs.license)
    target.write_text(json.dumps(collection.to_dict(include_self_link=False, transform_hrefs=False), indent=2))
    return target
