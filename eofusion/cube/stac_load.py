"""One call from STAC items to aligned xarray Datasets, one per sensor group (in the spirit of ``odc.stac.load``).

    grids = eofusion.nested_grids(bbox, {"s2": 10, "aerial": 1})
    data = eofusion.load(items, grids)          # {"s2": Dataset, "aerial": Dataset}, lazy (Dask)
    data = eofusion.load(items)                  # grids from the items' extent, default pixel sizes

Each Dataset is what :func:`eofusion.cube.load_aligned` returns (``data[time, band, y, x]`` float32 in
physical units, band identity as coordinates); :func:`eofusion.build_cube` writes the same to Zarr.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import xarray as xr
from odc.geo.geobox import GeoBox

from eofusion.catalog import NormalizedItem
from eofusion.catalog.coerce import ItemsLike, as_normalized_items
from eofusion.cube.groups import default_resolution, group_key, group_keys, item_group
from eofusion.cube.load import LoadOptions, load_aligned
from eofusion.errors import ConfigError
from eofusion.grid import NestedGrids, nested_grids


def item_groups(items: Sequence[NormalizedItem]) -> tuple[str, ...]:
    """The cube groups the items belong to, in the usual order (s2, s1, landsat, aerial, dsm)."""
    present = {g for g in (item_group(i) for i in items) if g is not None}
    return tuple(g for g in ("s2", "s1", "landsat", "aerial", "dsm") if g in present)


def items_grids(
    items: Sequence[NormalizedItem], groups: Sequence[str], resolutions: Mapping[str, float], crs: Any = None
) -> NestedGrids:
    """Nested grids over the union of the items' footprints (UTM of its centre unless ``crs`` is given)."""
    members = [i for i in items if item_group(i) in groups]
    bbox = (
        min(i.bbox[0] for i in members),
        min(i.bbox[1] for i in members),
        max(i.bbox[2] for i in members),
        max(i.bbox[3] for i in members),
    )
    res = {g: float(resolutions.get(g, default_resolution(g))) for g in groups}
    return nested_grids(bbox, res, crs=crs)


def load(
    items: ItemsLike,
    grids: NestedGrids | GeoBox | None = None,
    *,
    sensors: Sequence[str] | None = None,
    bands: Mapping[str, Sequence[str]] | None = None,
    resolutions: Mapping[str, float] | None = None,
    crs: Any = None,
    options: LoadOptions | None = None,
) -> dict[str, xr.Dataset]:
    """STAC items -> one lazy, aligned Dataset per sensor group.

    Args:
        items: pystac Items, an ItemCollection, item dicts, a pystac-client search, or NormalizedItems.
        grids: Target grids (one per group, nested); a single GeoBox serves every group; default: nested
            grids over the items' extent at ``resolutions`` in ``crs``.
        sensors: Groups or aliases to load (``s2``, ``Sentinel-1``, ``naip``...); default: every group found.
        bands: Per group, the bands to load (names or aliases); default: every non-mask band present.
        resolutions: Pixel size per group when ``grids`` is not given (default: the group's usual size).
        crs: CRS of the grids when ``grids`` is not given (default: the UTM zone of the items' centre).
        options: Resampling, masking, units, chunking and error policy.

    Raises:
        ConfigError: No items, or a requested group without items.
        CubeError: Items that do not intersect the grid, or a band in no item.
    """
    normalised = as_normalized_items(items)
    if not normalised:
        raise ConfigError("No STAC items to load; check the search (collections, bbox, datetime).")
    found = item_groups(normalised)
    groups = group_keys(sensors) if sensors is not None else found
    missing = [g for g in groups if g not in found]
    if missing:
        raise ConfigError(f"No item of sensor group(s) {missing} among the items (they hold {list(found)}).")
    wanted = {group_key(k): list(v) for k, v in (bands or {}).items()}
    if grids is None:
        grids = items_grids(normalised, groups, {group_key(k): v for k, v in (resolutions or {}).items()}, crs)
    return {g: load_aligned(normalised, grids, g, wanted.get(g), options) for g in groups}
