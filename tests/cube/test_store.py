"""write_cube / open_datatree / append_cube: schema, CF CRS, provenance, idempotence, appends, bad stores."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr
from cubefactory import dt
from odc.geo.geobox import GeoBox

from eofusion.catalog import NormalizedItem
from eofusion.cube import (
    LoadOptions,
    WriteOptions,
    append_cube,
    composite,
    cube_info,
    load_aligned,
    open_datatree,
    write_cube,
)
from eofusion.errors import CubeError, CubeSchemaError

Factory = Callable[..., NormalizedItem]
GRID = GeoBox.from_bbox((600000, 4999360, 600640, 5000000), "EPSG:32631", resolution=10)
OPTS = LoadOptions(chunk_size=32)


def _build(items: list[NormalizedItem], store: Path, overwrite: bool = False) -> None:
    ds = load_aligned(items, GRID, "s2", bands=["B04", "B08"], options=OPTS)
    write_cube({"s2": ds}, store, write=WriteOptions(scheduler="threads", overwrite=overwrite))


def test_write_open_roundtrip_with_cf_crs_and_provenance(s2_scene: Factory, tmp_path: Path) -> None:
    items = [s2_scene("a", dt(1), size=64), s2_scene("b", dt(5), size=64, seed=3)]
    store = tmp_path / "cube.zarr"
    ds = load_aligned(items, GRID, "s2", bands=["B04", "B08"], options=OPTS)
    summary = write_cube({"s2": ds}, store, write=WriteOptions(scheduler="threads"))
    assert summary.blocks_written == 2 * 2 * 2
    tree = open_datatree(store)
    s2 = tree["s2"].to_dataset()
    np.testing.assert_array_equal(s2["data"].values, ds["data"].values)
    assert s2.rio.crs.to_epsg() == 32631
    assert s2.odc.geobox == GRID
    assert list(s2["band"].values) == ["B04", "B08"] and s2["centre_nm"].values[1] == pytest.approx(832.8)
    assert json.loads(s2.attrs["eofusion:items"]) == [["a"], ["b"]]
    with warnings.catch_warnings():  # the consolidated metadata follows the append: plain xarray sees both dates
        warnings.simplefilter("error")
        assert xr.open_datatree(str(store), engine="zarr", chunks={})["s2"].sizes["time"] == 2
    assert tree.attrs["eofusion:version"] and tree.attrs["eofusion:complete"] is True
    info = cube_info(store)
    assert info["valid"] and info["groups"]["s2"]["crs"] == "EPSG:32631"
    assert info["groups"]["s2"]["chunks"] == [1, 2, 32, 32]
    # GDAL 3.12 opens the Zarr v3 array with the CRS and the geotransform.
    with rasterio.open(f'ZARR:"{store}":/s2/data:0:0') as src:
        assert src.crs.to_epsg() == 32631
        assert src.transform == GRID.transform
    with warnings.catch_warnings():  # a finished cube opens with plain xarray, consolidated, without warnings
        warnings.simplefilter("error")
        plain = xr.open_datatree(str(store), engine="zarr", chunks={})
    assert plain["s2"]["data"].shape == s2["data"].shape
    # Idempotent: a second identical build writes nothing.
    again = write_cube({"s2": ds}, store, write=WriteOptions(scheduler="threads"))
    assert again.blocks_written == 0


def test_append_adds_dates_without_rewriting(s2_scene: Factory, tmp_path: Path) -> None:
    first = [s2_scene("a", dt(1), size=64)]
    later = s2_scene("b", dt(9), size=64, seed=4)
    store = tmp_path / "cube.zarr"
    _build(first, store)
    shard = store / "s2" / "data" / "c" / "0" / "0" / "0" / "0"
    before = shard.stat().st_mtime_ns
    new = load_aligned([*first, later], GRID, "s2", bands=["B04", "B08"], options=OPTS)
    summary = append_cube({"s2": new}, store, write=WriteOptions(scheduler="threads"))
    assert summary.blocks_written == 4  # only the new date
    assert shard.stat().st_mtime_ns == before
    s2 = open_datatree(store)["s2"].to_dataset()
    assert s2.sizes["time"] == 2
    np.testing.assert_array_equal(s2["data"].values, new["data"].values)
    assert json.loads(s2.attrs["eofusion:items"]) == [["a"], ["b"]]
    assert append_cube({"s2": new}, store, write=WriteOptions(scheduler="threads")).blocks_written == 0


def test_existing_store_with_another_config_is_refused(s2_scene: Factory, tmp_path: Path) -> None:
    store = tmp_path / "cube.zarr"
    _build([s2_scene("a", dt(1), size=64)], store)
    other = [s2_scene("b", dt(2), size=64)]
    with pytest.raises(CubeError, match="overwrite"):
        _build(other, store)
    _build(other, store, overwrite=True)
    assert json.loads(open_datatree(store)["s2"].attrs["eofusion:items"]) == [["b"]]


def test_open_cube_says_what_is_wrong(s2_scene: Factory, tmp_path: Path) -> None:
    with pytest.raises(CubeSchemaError, match="does not exist"):
        open_datatree(tmp_path / "nope.zarr")
    plain = tmp_path / "plain.zarr"
    xr.Dataset({"v": ("x", np.arange(3.0))}).to_zarr(plain, zarr_format=3, consolidated=False)
    with pytest.raises(CubeSchemaError, match="eofusion:schema"):
        open_datatree(plain)
    store = tmp_path / "cube.zarr"
    _build([s2_scene("a", dt(1), size=64)], store)
    meta = store / "s2" / "data" / "zarr.json"
    doc = json.loads(meta.read_text())
    doc["attributes"].pop("grid_mapping")
    doc["dimension_names"] = ["t", "band", "y", "x"]
    meta.write_text(json.dumps(doc))
    with pytest.raises(CubeSchemaError, match="grid_mapping") as err:
        open_datatree(store)
    assert "dimensions" in str(err.value)


def test_composite_written_on_an_existing_dask_cluster(s2_scene: Factory, tmp_path: Path) -> None:
    from distributed import LocalCluster

    items = [s2_scene(f"d{d}", dt(d), size=64, seed=d, cloud_box=(0, 8, 0, 8) if d == 1 else None) for d in (1, 11)]
    ds = load_aligned(items, GRID, "s2", bands=["B04", "B08"], options=OPTS)
    median = composite(ds, "median")
    store = tmp_path / "median.zarr"
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as cluster:
        write_cube({"s2": median}, store, write=WriteOptions(scheduler=cluster.scheduler_address))
    s2 = open_datatree(store)["s2"].to_dataset()
    assert s2.sizes["time"] == 1 and s2.attrs["eofusion:composite"] == "median:all"
    assert json.loads(s2.attrs["eofusion:items"]) == [["d1", "d11"]]
    np.testing.assert_allclose(s2["data"].values[0], np.nanmedian(ds["data"].values, axis=0), atol=1e-7)
    assert np.isfinite(s2["data"].values).all()  # the cloud of d1 is filled from d11


@pytest.mark.parametrize("scheduler", ["threads", "synchronous"])
def test_progress_reports_every_block_on_local_schedulers(s2_scene: Factory, tmp_path: Path, scheduler: str) -> None:
    items = [s2_scene("a", dt(1), size=64), s2_scene("b", dt(5), size=64, seed=3)]
    ds = load_aligned(items, GRID, "s2", bands=["B04", "B08"], options=OPTS)
    seen: list[tuple[int, int]] = []
    write = WriteOptions(scheduler=scheduler, progress=lambda d, t: seen.append((d, t)))
    write_cube({"s2": ds}, tmp_path / "cube.zarr", write=write)
    assert seen == [(n, 8) for n in range(9)]  # 2 dates x 4 blocks, one call per finished block write
