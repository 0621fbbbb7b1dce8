"""Open a cube and check it has the eofusion schema; summarise it for ``eofusion cube info``."""

from __future__ import annotations

import json
import os
from typing import Any

import xarray as xr
import zarr
from odc.geo import CRS

from eofusion.cube.packing import PACKABLE_DTYPES
from eofusion.cube.store import BAND_COORDS, DIMS, SCHEMA, root_attrs
from eofusion.errors import CubeError, CubeSchemaError
from eofusion.storage import Location


def _group_problems(store: Any, group: str) -> list[str]:
    try:
        grp = zarr.open_group(store, path=group, mode="r")
    except (FileNotFoundError, KeyError, ValueError, zarr.errors.NodeTypeValidationError) as err:
        return [f"group {group!r} is listed in the root attributes but missing ({err})"]
    problems = []
    members = dict(grp.members())
    if "data" not in members or not isinstance(members["data"], zarr.Array):
        return [f"group {group!r} has no 'data' array (found: {', '.join(sorted(members)) or 'nothing'})"]
    data = members["data"]
    dims = tuple(data.metadata.dimension_names or ())  # type: ignore[union-attr]
    if dims != DIMS:
        problems.append(f"{group}/data has dimensions {dims}, expected {DIMS}")
    packed = str(data.dtype) in PACKABLE_DTYPES
    if packed and not {"scale_factor", "_FillValue"} <= set(data.attrs):
        problems.append(f"{group}/data is {data.dtype} without the CF attributes scale_factor and _FillValue")
    elif not packed and str(data.dtype) != "float32":
        problems.append(
            f"{group}/data is {data.dtype}, expected float32 (physical units, NaN = no data) or an integer of at "
            "most 2 bytes packed with CF scale_factor / add_offset / _FillValue"
        )
    if data.attrs.get("grid_mapping") != "spatial_ref":
        problems.append(f"{group}/data lacks the CF attribute grid_mapping='spatial_ref'")
    ref = members.get("spatial_ref")
    if ref is None or "crs_wkt" not in ref.attrs:
        problems.append(f"group {group!r} has no 'spatial_ref' coordinate with a crs_wkt attribute")
    for name in ("time", "band", "x", "y", *BAND_COORDS):
        if name not in members:
            problems.append(f"group {group!r} lacks the coordinate {name!r}")
    return problems


def validate_cube(store: str | os.PathLike[str]) -> list[str]:
    """Everything that is wrong with a store as an eofusion cube (empty when it is valid)."""
    path = Location(store)
    attrs = root_attrs(path)
    if attrs is None and not path.exists():
        return [f"{path} does not exist"]
    if attrs is None:
        return [f"{path} is not a Zarr v3 store (no zarr.json at its root)"]
    if attrs.get("eofusion:schema") != SCHEMA:
        return [
            f"{path} has root attribute eofusion:schema={attrs.get('eofusion:schema')!r}, expected {SCHEMA!r} "
            "(not a cube written by eofusion, or an unfinished one)"
        ]
    problems = []
    if not attrs.get("eofusion:complete"):
        problems.append(f"{path} is an unfinished build; rerun the same `eofusion cube build` to complete it")
    if attrs.get("eofusion:append_pending"):
        problems.append(f"{path} has an unfinished append; rerun it to complete it")
    for group in attrs.get("eofusion:groups", []):
        problems.extend(_group_problems(path.zarr_store(read_only=True), group))
    return problems


def open_datatree(store: str | os.PathLike[str], *, validate: bool = True) -> xr.DataTree:
    """Open a cube's store as a DataTree (one node per sensor group), CRS decoded from ``spatial_ref``.

    Raises:
        CubeSchemaError: The store is missing, not an eofusion cube, unfinished, or a group is malformed;
            the message lists every problem found.
    """
    if validate:
        problems = validate_cube(store)
        if problems:
            raise CubeSchemaError(f"{store} is not a valid eofusion cube: " + "; ".join(problems) + ".")
    try:
        return xr.open_datatree(
            Location(store).zarr_store(read_only=True),
            engine="zarr",
            consolidated=False,
            decode_coords="all",
            chunks={},
        )
    except (OSError, ValueError, KeyError) as err:
        raise CubeSchemaError(f"{store} cannot be opened as a cube: {err}") from err


def _crs_name(ds: xr.Dataset) -> str | None:
    wkt = ds["spatial_ref"].attrs.get("crs_wkt") if "spatial_ref" in ds.coords else None
    if not wkt:
        return None
    crs = CRS(wkt)
    return f"EPSG:{crs.epsg}" if crs.epsg else crs.to_wkt()


def cube_info(store: str | os.PathLike[str]) -> dict[str, Any]:
    """A JSON-ready summary: groups, grids, bands, dates, chunking, provenance, and schema problems."""
    path = Location(store)
    problems = validate_cube(path.raw)
    attrs = root_attrs(path) or {}
    if not attrs:
        raise CubeError(f"{path} is not a Zarr v3 store: " + "; ".join(problems))
    info: dict[str, Any] = {
        "store": str(path),
        "valid": not problems,
        "problems": problems,
        "attrs": attrs,
        "groups": {},
    }
    for group in attrs.get("eofusion:groups", []):
        try:
            ds = xr.open_zarr(path.zarr_store(read_only=True), group=group, consolidated=False, decode_coords="all")
        except (OSError, ValueError, KeyError):
            continue
        data = ds["data"]
        arr = zarr.open_array(path.zarr_store(read_only=True), path=f"{group}/data", mode="r")
        x, y = ds["x"].values, ds["y"].values
        res = float(abs(x[1] - x[0])) if len(x) > 1 else float(ds.attrs.get("eofusion:resolution", 0))
        info["groups"][group] = {
            "shape": dict(data.sizes),
            "bands": [str(b) for b in ds["band"].values],
            "times": [str(t)[:19] for t in ds["time"].values],
            "crs": _crs_name(ds),
            "resolution": res,
            "bounds": [
                float(x.min() - res / 2),
                float(y.min() - res / 2),
                float(x.max() + res / 2),
                float(y.max() + res / 2),
            ],
            "shards": list(arr.shards or arr.chunks),
            "chunks": list(arr.chunks),
            "dtype": str(arr.dtype),
            "packing": json.loads(str(ds.attrs["eofusion:packing"])) if "eofusion:packing" in ds.attrs else None,
            "items": sum(len(s) for s in json.loads(str(ds.attrs.get("eofusion:items", "[]")))),
            "skipped": json.loads(str(ds.attrs.get("eofusion:skipped", "[]"))),
            "config_hash": ds.attrs.get("eofusion:config_hash"),
        }
    return info
