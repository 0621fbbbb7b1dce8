"""What a build leaves out while reading is recorded where the user looks: group attributes and cube info."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from affine import Affine
from cubefactory import dt, make_item, write_tif
from odc.geo import CRS
from odc.geo.geobox import GeoBox

from eofusion.catalog import NormalizedItem
from eofusion.cube import LoadOptions, WriteOptions, build_cube, cube_info, load_aligned, open_datatree
from eofusion.cube.build import skip_records_dir
from eofusion.grid import NestedGrids

Factory = Callable[..., NormalizedItem]
BOUNDS = (600000, 4999360, 600640, 5000000)
GRID = GeoBox.from_bbox(BOUNDS, "EPSG:32631", resolution=10)


def _grids(group: str) -> NestedGrids:
    return NestedGrids(CRS("EPSG:32631"), BOUNDS, {group: 10.0})


def test_an_asset_failing_mid_build_is_recorded_in_the_cube(s2_scene: Factory, tmp_path: Path) -> None:
    item = s2_scene("cut", dt(1), size=64)
    path = Path(item.assets["B04"].href)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # the header survives (the up-front probe passes), the pixels do not
    store = tmp_path / "cube.zarr"
    options = LoadOptions(on_error="skip", chunk_size=32)
    build_cube([item], _grids("s2"), ["s2"], store, bands={"s2": ["B04", "B08"]}, options=options,
               write=WriteOptions(scheduler="threads"))  # fmt: skip
    skipped = json.loads(open_datatree(store)["s2"].attrs["eofusion:skipped"])
    assert [(s["item"], s["band"]) for s in skipped] == [("cut", "B04")]
    assert skipped[0]["reason"].startswith("unreadable") and skipped[0]["href"] == str(path)
    assert len(cube_info(store)["groups"]["s2"]["skipped"]) == 1  # what `cube info` counts
    assert not skip_records_dir(store).exists()


def test_impossible_values_are_masked_and_recorded(tmp_path: Path) -> None:
    heights = np.full((64, 64), 250.0, dtype=np.float32)
    rng = np.random.default_rng(0)
    heights[:16, :16] = np.frombuffer(rng.bytes(16 * 16 * 4), dtype=np.float32).reshape(16, 16)  # random bytes
    impossible = int((~((heights >= -500) & (heights <= 9000))).sum())  # NaN included
    outside = int(((heights < -500) | (heights > 9000)).sum())  # what the range check catches (NaN is missing)
    assert outside > 100
    dsm = write_tif(tmp_path / "dsm.tif", heights, "EPSG:32631", Affine(10, 0, 600000, 0, -10, 5000000), None)
    item = make_item("garbled", "elevation", dt(1), {"dsm": (dsm, 1)})
    store = tmp_path / "cube.zarr"
    build_cube([item], _grids("dsm"), ["dsm"], store, options=LoadOptions(chunk_size=32, resampling="nearest"),
               write=WriteOptions(scheduler="threads"))  # fmt: skip
    values = open_datatree(store)["dsm"]["data"].values[0, 0]
    assert np.isnan(values).sum() == impossible and np.nanmin(values) >= -500 and np.nanmax(values) <= 9000
    assert (values[16:, 16:] == 250.0).all()
    (entry,) = json.loads(open_datatree(store)["dsm"].attrs["eofusion:skipped"])
    assert entry["item"] == "garbled" and entry["band"] == "dsm" and entry["pixels"] == outside
    assert "physical range -500..9000 m" in entry["reason"]
    direct = load_aligned([item], GRID, "dsm", options=LoadOptions(chunk_size=32, resampling="nearest"))
    assert np.isnan(direct["data"].values).sum() == impossible  # loaded directly: masked too (logged only)
