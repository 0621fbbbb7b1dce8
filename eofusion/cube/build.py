"""One call from items and an AOI to a finished cube: nested grids, one aligned load per group, write."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from eofusion.catalog import NormalizedItem
from eofusion.cube.groups import group_key
from eofusion.cube.load import LoadOptions, load_aligned
from eofusion.cube.store import CubeSummary, ProgressFn, write_cube
from eofusion.grid import AOILike, NestedGrids, nested_grids

# Pixel size per group when none is given: native S1/S2, 1 m elevation, 0.2 m aerial (all nested).
DEFAULT_RESOLUTIONS: Mapping[str, float] = {"s2": 10.0, "s1": 10.0, "landsat": 30.0, "dsm": 1.0, "aerial": 0.2}


def build_cube(
    items: Sequence[NormalizedItem],
    aoi: AOILike | NestedGrids,
    sensors: Sequence[str],
    store: str | os.PathLike[str],
    *,
    resolutions: Mapping[str, float] | None = None,
    crs: Any = None,
    bands: Mapping[str, Sequence[str]] | None = None,
    options: LoadOptions | None = None,
    scheduler: str | None = None,
    overwrite: bool = False,
    progress: ProgressFn | None = None,
    memory_limit: str = "4GiB",
) -> CubeSummary:
    """Build (or resume) a cube of the given sensor groups over an AOI.

    Args:
        items: Normalised items of any sensors (those of other groups are ignored).
        aoi: An AOI (bbox in EPSG:4326, GeoJSON, GeoDataFrame) or ready nested grids.
        sensors: Group names (``s2``, ``s1``, ``aerial``, ``dsm``...).
        store: Output Zarr directory.
        resolutions: Group -> pixel size (default :data:`DEFAULT_RESOLUTIONS`).
        crs: Target CRS (default: the AOI's UTM zone).
        bands: Group -> bands to load (default: all non-mask bands present).
        options: Loading options shared by all groups.
        scheduler: See :func:`eofusion.cube.write_cube`.
        overwrite: Replace a store built from another configuration.
        progress: Called with (blocks done, blocks total).
        memory_limit: Worker memory limit of a new LocalCluster.
    """
    groups = [group_key(s) for s in sensors]
    res = {g: float((resolutions or {}).get(g, DEFAULT_RESOLUTIONS.get(g, 10.0))) for g in groups}
    grids = aoi if isinstance(aoi, NestedGrids) else nested_grids(aoi, res, crs=crs)
    datasets = {g: load_aligned(items, grids, g, (bands or {}).get(g), options) for g in groups}
    return write_cube(
        datasets, store, scheduler=scheduler, overwrite=overwrite, progress=progress, memory_limit=memory_limit
    )
