"""One call from items and an AOI to a finished cube: nested grids, one aligned load per group, write."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace

import zarr

from eofusion.catalog.coerce import ItemsLike, as_normalized_items
from eofusion.cube.block import collect_skips
from eofusion.cube.groups import default_resolution, group_key, group_keys
from eofusion.cube.load import LoadOptions, load_aligned
from eofusion.cube.store import CubeSummary, WriteOptions, consolidate, write_cube
from eofusion.grid import AOILike, NestedGrids, nested_grids
from eofusion.storage import Location


def build_cube(
    items: ItemsLike,
    aoi: AOILike | NestedGrids,
    sensors: Sequence[str],
    store: str | os.PathLike[str],
    *,
    resolutions: Mapping[str, float] | None = None,
    bands: Mapping[str, Sequence[str]] | None = None,
    options: LoadOptions | None = None,
    write: WriteOptions | None = None,
) -> CubeSummary:
    """Build (or resume) a cube of the given sensor groups over an AOI.

    Args:
        items: STAC items of any sensors (pystac Items, an ItemCollection, dicts or NormalizedItems; items
            of other groups are ignored).
        aoi: Ready nested grids, or an AOI (bbox in EPSG:4326, GeoJSON, GeoDataFrame): the cube is then in
            the AOI's UTM zone (for another CRS pass ``eofusion.grid.nested_grids(aoi, resolutions, crs=...)``).
        sensors: Group names (``s2``, ``s1``, ``aerial``, ``dsm``...).
        store: Output Zarr directory.
        resolutions: Group -> pixel size (default :data:`DEFAULT_RESOLUTIONS`).
        bands: Group -> bands to load (default: all non-mask bands present).
        options: Loading options shared by all groups.
        write: Scheduler, overwrite, progress, worker memory (see :class:`eofusion.cube.WriteOptions`).
    """
    normalised = as_normalized_items(items)
    groups = group_keys(sensors)
    user = {group_key(k): float(v) for k, v in (resolutions or {}).items()}
    res = {g: user.get(g, default_resolution(g)) for g in groups}
    grids = aoi if isinstance(aoi, NestedGrids) else nested_grids(aoi, res)
    records = skip_records_dir(store)
    options = replace(options or LoadOptions(), skip_records=str(records))
    datasets = {g: load_aligned(normalised, grids, g, (bands or {}).get(g), options) for g in groups}
    summary = write_cube(datasets, store, write=write)
    record_skips(store, records)
    return summary


def skip_records_dir(store: str | os.PathLike[str]) -> Location:
    """Where a build's block tasks note what they leave out (beside the store; emptied into it at the end)."""
    path = Location(store)
    return path.with_name(f".{path.name}.skipped")


def record_skips(store: str | os.PathLike[str], records: Location) -> None:
    """Add what the block tasks left out to each group's ``eofusion:skipped`` (what ``cube info`` counts).

    Kept across a killed build (the folder outlives the process), merged once the build is complete.
    """
    entries = collect_skips(records)
    if entries:
        root = zarr.open_group(Location(store).zarr_store(), mode="r+", zarr_format=3)
        for group in root.group_keys():
            grp = root[group]
            items = {i for slot in json.loads(str(grp.attrs.get("eofusion:items", "[]"))) for i in slot}
            mine = [e for e in entries if e["item"] in items]
            if not mine:
                continue
            known = json.loads(str(grp.attrs.get("eofusion:skipped", "[]")))
            seen = {json.dumps(e, sort_keys=True) for e in known}
            known += [e for e in mine if json.dumps(e, sort_keys=True) not in seen]
            grp.attrs["eofusion:skipped"] = json.dumps(known)
        consolidate(Location(store))  # the groups' attributes changed: keep the consolidated copy true
    records.remove()
