"""Cubes in an S3-compatible bucket (moto): built, resumed, described and opened as on disk."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from eofusion.cube import WriteOptions, build_cube, cube_info, open_cube
from eofusion.cube.store import PROGRESS_DIR


@pytest.fixture(scope="module")
def small_world(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from eofusion.simulate import WorldConfig, simulate_world

    config = WorldConfig(seed=3, size_m=480.0, aerial_resolution_m=2.0, dsm_resolution_m=4.0)
    return simulate_world(config, tmp_path_factory.mktemp("world") / "world")


def _build(world, store: str, dtype: str = "float32") -> None:  # type: ignore[no-untyped-def]
    from eofusion.catalog import normalize_items, search
    from eofusion.cube import LoadOptions
    from eofusion.pipeline.demo import COLLECTIONS, world_grids

    items = normalize_items(search(str(world.geoparquet_path), collections=list(COLLECTIONS)))
    grids = world_grids(world, {"s2": 10.0, "s1": 10.0, "dsm": 5.0})
    options = LoadOptions(dtype=dtype)  # type: ignore[arg-type]
    build_cube(items, grids, ["s2", "s1", "dsm"], store, options=options, write=WriteOptions(scheduler="threads"))


def test_a_packed_cube_in_a_bucket_reads_as_the_same_cube_on_disk(s3_env, small_world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # In a bucket zarr writes the chunks, on disk eofusion's direct writer does: the same integers either way.
    s3_env.create_bucket("cubes-packed")
    url = "s3://cubes-packed/cube.zarr"
    _build(small_world, url, "source")
    _build(small_world, str(tmp_path / "cube.zarr"), "source")
    remote, local = open_cube(url), open_cube(tmp_path / "cube.zarr")
    assert cube_info(url)["groups"]["s2"]["dtype"] == "uint16"
    assert cube_info(url)["groups"]["s1"]["dtype"] == "float32"  # backscatter in dB is not packed
    for group in remote.groups:
        bounds = remote.groups[group].geobox.boundingbox
        np.testing.assert_array_equal(remote.read(group, bounds), local.read(group, bounds))


def test_a_cube_in_a_bucket_equals_the_same_cube_on_disk(s3_env, small_world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    s3_env.create_bucket("cubes-equal")
    url = "s3://cubes-equal/area/cube.zarr"
    _build(small_world, url)
    _build(small_world, str(tmp_path / "cube.zarr"))
    keys = s3_env.keys("cubes-equal")
    assert "area/cube.zarr/zarr.json" in keys
    assert not [k for k in keys if PROGRESS_DIR in k]  # progress records are removed once complete

    remote, local = open_cube(url), open_cube(tmp_path / "cube.zarr")
    assert remote.groups.keys() == local.groups.keys()
    for group in remote.groups:
        np.testing.assert_array_equal(remote.dataset(group)["data"].values, local.dataset(group)["data"].values)

    info = cube_info(url)
    assert info["valid"] and set(info["groups"]) == {"s2", "s1", "dsm"}

    # Plain xarray + zarr's obstore adapter open it, with consolidated metadata and without warnings.
    import obstore.store
    import zarr

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        store = zarr.storage.ObjectStore(obstore.store.from_url(url), read_only=True)
        tree = xr.open_datatree(store, engine="zarr")
    assert tree["s2"].ds["data"].shape == local.dataset("s2")["data"].shape


def test_a_build_into_a_bucket_resumes_and_a_finished_one_is_not_rewritten(s3_env, small_world) -> None:  # type: ignore[no-untyped-def]
    from eofusion.storage import Location

    s3_env.create_bucket("cubes-resume")
    url = "s3://cubes-resume/cube.zarr"
    _build(small_world, url)
    store = Location(url)
    # What a killed build leaves: the root says "not complete" and some blocks lack their records.
    attrs = json.loads((store / "zarr.json").read_text())
    attrs["attributes"]["eofusion:complete"] = False
    (store / "zarr.json").write_text(json.dumps(attrs))
    rewritten, recorded = "cube.zarr/s2/data/c/1/0/0/0", "cube.zarr/s2/data/c/0/0/0/0"
    before = s3_env.keys("cubes-resume")[rewritten]
    (store.parent / rewritten).remove()
    (store.parent / recorded).remove()  # its block is recorded as done below: a resume must not touch it
    shape = json.loads((store / "s2" / "data" / "zarr.json").read_text())["shape"]
    for t in range(shape[0]):
        if t != 1:
            (store / PROGRESS_DIR / "build" / "s2" / f"{t}.0.0.0").touch()
    _build(small_world, url)
    assert cube_info(url)["valid"]
    keys = s3_env.keys("cubes-resume")
    assert keys[rewritten] == before  # the unrecorded block was written again
    assert recorded not in keys  # the recorded one was skipped (in a real kill its chunk is complete)


def test_cube_info_cli_reads_a_bucket(s3_env, small_world) -> None:  # type: ignore[no-untyped-def]
    s3_env.create_bucket("cubes-cli")
    _build(small_world, "s3://cubes-cli/c.zarr")
    done = subprocess.run(
        [sys.executable, "-m", "eofusion", "cube", "info", "s3://cubes-cli/c.zarr", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["store"] == "s3://cubes-cli/c.zarr"
    missing = subprocess.run(
        [sys.executable, "-m", "eofusion", "cube", "info", "s3://cubes-cli/none.zarr"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert missing.returncode != 0 and "does not exist" in missing.stderr
