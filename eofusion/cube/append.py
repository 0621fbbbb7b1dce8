"""Appending new dates to a finished cube: only the new time steps are written, resumably."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

import numpy as np
import xarray as xr
import zarr

from eofusion.cube.store import (
    PROGRESS_DIR,
    CubeSummary,
    WriteOptions,
    build_hash_of,
    check_dataset,
    consolidate,
    drop_abandoned_partials,
    pending_tasks,
    root_attrs,
    run_block_tasks,
)
from eofusion.errors import CubeError
from eofusion.locking import exclusive_writer
from eofusion.storage import Location


def append_cube(
    datasets: Mapping[str, xr.Dataset],
    store: str | os.PathLike[str],
    *,
    write: WriteOptions | None = None,
) -> CubeSummary:
    """Append new dates to the time-series groups of a complete cube, without rewriting what is there.

    Dates already in a group are dropped from ``datasets``; new dates must be later than the cube's last
    date. Resumable like :func:`write_cube`.

    Raises:
        CubeSchemaError: The store is not a complete eofusion cube.
        CubeError: A group is missing, or its grid or bands differ, or a new date precedes the cube's last one.
    """
    path = Location(store)
    with exclusive_writer(str(path), "the cube store"):
        return _append_locked(datasets, path, write or WriteOptions())


def _append_locked(datasets: Mapping[str, xr.Dataset], path: Location, write: WriteOptions) -> CubeSummary:
    attrs = root_attrs(path) or {}
    pending = attrs.get("eofusion:append_pending")
    new: dict[str, xr.Dataset] = {}
    offsets: dict[str, int] = {}
    for group, ds in datasets.items():
        check_dataset(group, ds)
        old = xr.open_zarr(path.zarr_store(), group=group, consolidated=False, decode_coords="all")
        _check_compatible(group, old, ds)
        old_times = old["time"].values
        if pending and group in pending["offsets"]:
            base = pending["offsets"][group]
            keep = ds["time"].values > old_times[base - 1] if base else np.ones(ds.sizes["time"], bool)
        else:
            base = len(old_times)
            keep = ~np.isin(ds["time"].values, old_times)
        fresh = ds.isel(time=np.flatnonzero(keep))
        if fresh.sizes["time"] == 0:
            continue
        if base and fresh["time"].values.min() <= old_times[base - 1]:
            raise CubeError(
                f"Group {group!r}: new date {fresh['time'].values.min()} is not after the cube's last date "
                f"{old_times[base - 1]}; appending keeps time sorted, so build a new cube for earlier dates."
            )
        all_items = json.loads(str(ds.attrs.get("eofusion:items", "[]")))
        fresh.attrs["eofusion:items"] = json.dumps([all_items[i] for i in np.flatnonzero(keep)] if all_items else [])
        new[group], offsets[group] = fresh, base
    append_hash = build_hash_of(new) if new else ""
    if pending and pending["hash"] != append_hash:
        raise CubeError(f"{path} has an unfinished append of other items ({pending['hash']}); rerun that append first.")
    if not new:
        return CubeSummary(str(path), (), 0, 0, 0, append_hash)
    store = path.zarr_store()
    root = zarr.open_group(store, mode="r+", zarr_format=3)
    if not pending:
        root.attrs.update({"eofusion:append_pending": {"hash": append_hash, "offsets": offsets}})
        (path / PROGRESS_DIR).mkdir()
        for group, ds in new.items():
            old_attrs = dict(zarr.open_group(store, path=group, mode="r").attrs)
            ds.to_zarr(store, group=group, mode="a", append_dim="time", compute=False, consolidated=False)
            items = json.loads(str(old_attrs.get("eofusion:items", "[]"))) + json.loads(ds.attrs["eofusion:items"])
            appended = [*old_attrs.get("eofusion:appended", []), ds.attrs.get("eofusion:config_hash")]  # type: ignore[misc]
            grp = zarr.open_group(store, path=group, mode="r+")
            grp.attrs.put({**old_attrs, "eofusion:items": json.dumps(items), "eofusion:appended": appended})
    tasks, total, done = pending_tasks(path, new, f"append-{append_hash}", offsets)
    written = run_block_tasks(tasks, total, done, scheduler=write.scheduler, progress=write.progress,
                   memory_limit=write.memory_limit)  # fmt: skip
    attrs_now = dict(root.attrs)
    attrs_now.pop("eofusion:append_pending", None)
    root.attrs.put(attrs_now)
    drop_abandoned_partials(path)
    (path / PROGRESS_DIR).remove()
    consolidate(path)  # the time axis grew: plain xarray readers must see the new length
    return CubeSummary(str(path), tuple(new), total, written, done, append_hash)


def _check_compatible(group: str, old: xr.Dataset, new: xr.Dataset) -> None:
    for coord in ("x", "y"):
        if old.sizes[coord] != new.sizes[coord] or not np.allclose(old[coord].values, new[coord].values):
            raise CubeError(f"Group {group!r}: the new data's {coord} grid differs from the cube's; use the same grid.")
    old_packing, new_packing = old.attrs.get("eofusion:packing"), new.attrs.get("eofusion:packing")
    if old_packing != new_packing:
        raise CubeError(
            f"Group {group!r}: the cube stores {old_packing or 'float32'} values, the new dates would be "
            f"{new_packing or 'float32'}; load them with the dtype the cube was built with (LoadOptions(dtype=...), "
            "`--dtype`), or build a new cube."
        )
    if list(old["band"].values) != list(new["band"].values):
        raise CubeError(
            f"Group {group!r}: bands {list(new['band'].values)} differ from the cube's {list(old['band'].values)}."
        )
