"""CF packed storage (LoadOptions(dtype="source")): the provider's integers with scale_factor / add_offset."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from affine import Affine
from cubefactory import dt, make_item, write_tif
from odc.geo.geobox import GeoBox

from eofusion.catalog import NormalizedItem
from eofusion.cube import LoadOptions, WriteOptions, append_cube, cube_info, load_aligned, open_cube, write_cube
from eofusion.cube.packing import Packing, SourceEncoding, source_packing
from eofusion.errors import CubeError

Factory = Callable[..., NormalizedItem]
GRID = GeoBox.from_bbox((600000, 4999360, 600640, 5000000), "EPSG:32631", resolution=10)
BANDS = ["B02", "B04", "B08", "B11"]  # B11 is 20 m: bilinear values between the provider's integers
THREADS = WriteOptions(scheduler="threads")
QUANTUM = 1e-4  # the factory's Sentinel-2 scale


def _cube(items: list[NormalizedItem], store: Path, dtype: str) -> Path:
    ds = load_aligned(items, GRID, "s2", bands=BANDS, options=LoadOptions(chunk_size=32, dtype=dtype))  # type: ignore[arg-type]
    write_cube({"s2": ds}, store, write=THREADS)
    return store


def _data_bytes(store: Path) -> int:
    return sum(f.stat().st_size for f in (store / "s2" / "data").rglob("c/**/*") if f.is_file())


def test_source_dtype_stores_the_providers_integers_and_reads_back_the_same_values(
    s2_scene: Factory, tmp_path: Path
) -> None:
    items = [s2_scene("a", dt(1), size=64), s2_scene("b", dt(5), size=64, seed=3, cloud_box=(4, 12, 4, 20))]
    floats = _cube(items, tmp_path / "float.zarr", "float32")
    packed = _cube(items, tmp_path / "packed.zarr", "source")

    info = cube_info(packed)["groups"]["s2"]
    assert cube_info(packed)["valid"] and info["dtype"] == "uint16"
    assert info["packing"] == {"dtype": "uint16", "scale_factor": 1e-4, "add_offset": -0.1, "fill": 0}
    assert cube_info(floats)["groups"]["s2"]["dtype"] == "float32"
    assert _data_bytes(packed) < 0.75 * _data_bytes(floats)

    bounds = GRID.boundingbox
    want = open_cube(floats).read("s2", bounds)
    cube = open_cube(packed)
    got = cube.read("s2", bounds)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))  # clouds and edges stay no data
    assert np.isnan(want).any()
    assert np.nanmax(np.abs(got - want)) <= QUANTUM / 2 + 1e-6  # rounded to the provider's quantum, no more
    assert np.nanmax(np.abs(got - want)) > 0  # B11's bilinear values were rounded: the packed path really ran
    through_zarr = open_cube(packed)
    through_zarr.direct_chunks = False
    np.testing.assert_array_equal(through_zarr.read("s2", bounds), got)
    # Plain xarray decodes the CF attributes by itself.
    decoded = xr.open_zarr(packed, group="s2")["data"].values
    np.testing.assert_allclose(decoded, got, atol=1e-6)


def test_float_files_stay_float32_whatever_the_catalog_says(tmp_path: Path) -> None:
    # The catalog states Sentinel-2's uint16 (the registry's default) but the files hold float reflectance:
    # rounding them to integers would destroy them, so the file's own data type decides.
    files = {}
    for name in ("B04", "B08"):
        refl = np.random.default_rng(1).uniform(0.01, 0.6, (64, 64)).astype(np.float32)
        files[name] = (
            write_tif(tmp_path / f"{name}.tif", refl, "EPSG:32631", Affine(10, 0, 600000, 0, -10, 5e6), None),
            1,
        )
    item = make_item("float-refl", "sentinel-2a", dt(1), files)
    assert item.assets["B04"].dtype == "uint16"
    ds = load_aligned([item], GRID, "s2", bands=["B04", "B08"], options=LoadOptions(chunk_size=32, dtype="source"))
    assert "eofusion:packing" not in ds.attrs
    write_cube({"s2": ds}, tmp_path / "cube.zarr", write=THREADS)
    assert cube_info(tmp_path / "cube.zarr")["groups"]["s2"]["dtype"] == "float32"


def test_packed_and_float_builds_are_different_builds_and_appends_must_match(s2_scene: Factory, tmp_path: Path) -> None:
    first, later = s2_scene("a", dt(1), size=64), s2_scene("b", dt(9), size=64, seed=5)
    store = _cube([first], tmp_path / "cube.zarr", "source")
    with pytest.raises(CubeError, match="another build"):
        _cube([first], store, "float32")
    float_dates = load_aligned([later], GRID, "s2", bands=BANDS, options=LoadOptions(chunk_size=32))
    with pytest.raises(CubeError, match=r"float32.*LoadOptions\(dtype"):
        append_cube({"s2": float_dates}, store, write=THREADS)
    packed_dates = load_aligned([later], GRID, "s2", bands=BANDS, options=LoadOptions(chunk_size=32, dtype="source"))
    append_cube({"s2": packed_dates}, store, write=THREADS)
    cube = open_cube(store)
    assert len(cube.groups["s2"].times) == 2
    assert np.isfinite(cube.read("s2", GRID.boundingbox)[1]).mean() > 0.9


def test_packing_rounds_clips_and_keeps_no_data_apart() -> None:
    packing = Packing("uint16", 1e-4, -0.1, 0)
    values = np.array([np.nan, -0.1, -0.09996, 0.12344, 0.12346, 9.0], dtype=np.float32)
    stored = packing.encode(values)
    # NaN -> fill; -0.1 would be DN 0 (the fill): kept valid as DN 1; beyond uint16 -> its maximum
    assert stored.tolist() == [0, 1, 1, 2234, 2235, 65535]
    back = packing.decode(stored)
    assert np.isnan(back[0]) and np.isfinite(back[1:]).all()
    np.testing.assert_allclose(back[3:5], values[3:5], atol=5e-5 + 1e-7)  # rounded to the nearest quantum
    inside = Packing("int16", 0.01, 0.0, -9999)  # a fill inside the range is avoided too
    assert inside.encode(np.array([-99.99, np.nan], dtype=np.float32)).tolist() == [-9998, -9999]


def test_source_packing_decides_per_group() -> None:
    s2 = SourceEncoding("uint16", 0.0, 1e-4, -0.1)
    assert source_packing("s2", [s2, s2]) == Packing("uint16", 1e-4, -0.1, 0)
    older_baseline = SourceEncoding("uint16", 0.0, 1e-4, 0.0)
    assert source_packing("s2", [s2, older_baseline]) is None  # one scale/offset per array: stays float32
    assert source_packing("dsm", [SourceEncoding("float32", None, 1.0, 0.0)]) is None
    assert source_packing("aerial", [SourceEncoding("uint8", None, 1 / 255, 0.0)]) == Packing(
        "uint16", 1 / 255, 0.0, 65535
    )  # every uint8 is a valid value: one wider type keeps one for no data
    assert source_packing("x", [SourceEncoding("uint16", None, 1.0, 0.0)]) is None
    assert source_packing("x", []) is None
