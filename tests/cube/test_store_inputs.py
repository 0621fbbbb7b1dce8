"""A cube store matches its inputs: other files under the same item ids rebuild, one writer at a time,
and a store that lacks a group it records is rebuilt instead of failing every rerun."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from cubefactory import dt
from odc.geo.geobox import GeoBox

from eofusion.catalog import NormalizedItem
from eofusion.cube import LoadOptions, WriteOptions, load_aligned, open_datatree, write_cube
from eofusion.errors import OutputLockedError
from eofusion.locking import exclusive_writer

Factory = Callable[..., NormalizedItem]
GRID = GeoBox.from_bbox((600000, 4999360, 600640, 5000000), "EPSG:32631", resolution=10)
OPTS = LoadOptions(chunk_size=32)


def _dataset(items: list[NormalizedItem]) -> xr.Dataset:
    return load_aligned(items, GRID, "s2", bands=["B04", "B08"], options=OPTS)


def test_other_files_under_the_same_item_ids_rebuild_the_cube(s2_scene: Factory, tmp_path: Path) -> None:
    item = s2_scene("a", dt(1), size=64)
    store = tmp_path / "cube.zarr"
    write_cube({"s2": _dataset([item])}, store, write=WriteOptions(scheduler="threads"))
    before = open_datatree(store)["s2"]["data"].values.copy()
    b04 = Path(item.assets["B04"].href)
    other = s2_scene("other", dt(1), size=64, seed=9)  # the same bands, other pixels
    shutil.copyfile(other.assets["B04"].href, b04)  # the item keeps its id and href; its file changed
    again = write_cube({"s2": _dataset([item])}, store, write=WriteOptions(scheduler="threads", overwrite=True))
    assert again.blocks_written > 0
    after = open_datatree(store)["s2"]["data"].values
    assert not np.allclose(after[:, 0], before[:, 0]) and np.allclose(after[:, 1], before[:, 1], equal_nan=True)


def test_a_second_writer_of_the_same_store_gets_a_clear_error(s2_scene: Factory, tmp_path: Path) -> None:
    store = tmp_path / "cube.zarr"
    ds = _dataset([s2_scene("a", dt(1), size=64)])
    with exclusive_writer(store, "the cube store"), pytest.raises(OutputLockedError, match="Another eofusion process"):
        write_cube({"s2": ds}, store, write=WriteOptions(scheduler="threads"))
    assert not store.exists()
    write_cube({"s2": ds}, store, write=WriteOptions(scheduler="threads"))  # released: the build goes ahead
    assert open_datatree(store).attrs["eofusion:complete"] is True


def test_a_store_missing_a_group_it_records_is_rebuilt(s2_scene: Factory, tmp_path: Path) -> None:
    store = tmp_path / "cube.zarr"
    ds = _dataset([s2_scene("a", dt(1), size=64)])
    write_cube({"s2": ds}, store, write=WriteOptions(scheduler="threads"))
    expected = open_datatree(store)["s2"]["data"].values.copy()
    shutil.rmtree(store / "s2")  # root attributes say "complete", the group is gone
    summary = write_cube({"s2": ds}, store, write=WriteOptions(scheduler="threads"))
    assert summary.blocks_written == summary.blocks_total > 0
    np.testing.assert_array_equal(open_datatree(store)["s2"]["data"].values, expected)
