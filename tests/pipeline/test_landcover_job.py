"""The real tile job (search -> cube -> predict -> map) on the small demo world, on a real Dask scheduler."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
import yaml
from odc.geo.geom import box
from rio_cogeo.cogeo import cog_validate
from stac_validation import validate_stac

from eofusion.errors import CheckpointError, OutputLocationError
from eofusion.grid import TilingScheme
from eofusion.models import model_config
from eofusion.pipeline import TileStatus, load_job_spec
from eofusion.pipeline.jobs import job_tiles, run_spec
from eofusion.training.landcover import ClassTable, landcover_model, save_landcover_model

COLLECTIONS = ["sentinel-2-l2a", "sentinel-1-rtc", "aerial-ign", "elevation"]
TILE_M = 320.0


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory, small_world) -> Path:  # type: ignore[no-untyped-def]
    import torch

    torch.manual_seed(0)
    classes = ClassTable.from_mapping(small_world.class_names, small_world.class_colours)
    model = landcover_model(model_config("tiny"), len(classes.ids))
    path = tmp_path_factory.mktemp("model") / "landcover.safetensors"
    return save_landcover_model(path, model, classes, extra={"chip_m": 320.0, "overlap_m": 80.0})


def write_job(  # type: ignore[no-untyped-def]
    tmp: Path, world, checkpoint: Path, out: str, *, catalog: Path | None = None, collections=COLLECTIONS
) -> Path:
    s2 = world.grids["s2_10m"]
    scheme = TilingScheme(s2.crs, TILE_M)
    inside = [t for t in scheme.tiles_for(s2.extent) if s2.extent.contains(box(*scheme.bounds(t), s2.crs))]
    spec = {
        "name": "test-landcover",
        "aoi": {"tiles": inside[:2]},  # two tiles fully inside the world: one window each, fast
        "tiling": {"crs": f"EPSG:{s2.crs.epsg}", "tile_size_m": TILE_M},
        "time": {"start": "2024-01-01", "end": "2024-12-31"},
        "catalog": {"source": str(catalog or world.geoparquet_path), "collections": list(collections)},
        "sensors": ["s2", "s1", "aerial", "dsm"],
        "resolutions": {"s2": 10, "s1": 10, "aerial": 1, "dsm": 1},
        "model": {"checkpoint": str(checkpoint)},
        "outputs": {"dir": str(tmp / out)},
        "run": {"workers": 1, "threads_per_worker": 2, "retries": 0},
    }
    path = tmp / f"{out.replace('/', '_')}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture(scope="module")
def dask_client():  # type: ignore[no-untyped-def]
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None)
    with cluster, Client(cluster) as client:
        yield client


def digest(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def assert_job_stac_is_valid(out: Path, tile_ids: list[str]) -> None:
    """Every item and the collection validate (offline); every link of the collection and mosaic resolves."""
    collection = json.loads((out / "collection.json").read_text())
    validate_stac(collection)
    members = sorted(link["href"] for link in collection["links"] if link["rel"] == "item")
    assert members == sorted(["mosaic.json", *(f"tiles/{t}/landcover.json" for t in tile_ids)])
    for href in members:
        item = json.loads((out / href).read_text())
        validate_stac(item)
        assert item["collection"] == collection["id"]
        parent = next(link["href"] for link in item["links"] if link["rel"] == "collection")
        assert ((out / href).parent / parent).resolve() == (out / "collection.json").resolve()
        for asset in item["assets"].values():  # the files the item describes, as they are on disk
            assert ((out / href).parent / asset["href"]).stat().st_size == asset["file:size"]
    mosaic = json.loads((out / "mosaic.json").read_text())
    tiles = sorted(link["href"] for link in mosaic["links"] if link["rel"] == "derived_from")
    assert tiles == [f"tiles/{t}/landcover.json" for t in tile_ids]
    assert {"classes", "confidence", "classes_metadata", "classes_style", "quicklook"} <= set(mosaic["assets"])


@pytest.mark.slow
def test_job_maps_every_tile_deterministically(tmp_path: Path, small_world, checkpoint: Path, dask_client) -> None:  # type: ignore[no-untyped-def]
    spec = load_job_spec(write_job(tmp_path, small_world, checkpoint, "run1"))
    tiles = job_tiles(spec)
    assert len(tiles) == 2
    manifest = run_spec(spec, client=dask_client)
    assert manifest.ok and manifest.ids(TileStatus.DONE) == sorted(tiles)
    first = sorted(tiles)[0]
    record = manifest.tiles[first]
    assert cog_validate(record.outputs["classes"], quiet=True)[0]
    with rasterio.open(record.outputs["classes"]) as src:
        grid = tiles[first].geobox("aerial")
        assert src.transform == grid.affine and src.shape == grid.shape and src.crs.to_epsg() == grid.crs.epsg
    item = json.loads(Path(record.outputs["item"]).read_text())
    assert item["properties"]["eofusion:config_hash"] == spec.config_hash()
    inputs = [link["href"] for link in item["links"] if link["rel"] == "derived_from"]
    assert len(inputs) == record.metrics["items"] > 0
    for href in inputs:  # each input item's own document, as the catalog holds it
        assert json.loads(Path(href).read_text())["id"] in {
            i.split("/")[1] for i in item["properties"]["eofusion:input_items"]
        }
    outputs = json.loads((Path(spec.outputs.dir) / "run-manifest.json").read_text())["outputs"]
    assert cog_validate(outputs["mosaic"], quiet=True)[0] and cog_validate(outputs["mosaic_confidence"], quiet=True)[0]
    assert_job_stac_is_valid(Path(spec.outputs.dir), sorted(tiles))

    again = run_spec(spec, client=dask_client)  # a rerun computes nothing
    assert again.ids(TileStatus.SKIPPED) == sorted(tiles) and not again.ids(TileStatus.DONE)
    other = run_spec(load_job_spec(write_job(tmp_path, small_world, checkpoint, "run2")), client=dask_client)
    for tile in tiles:  # same inputs, same model: byte-identical maps
        assert digest(other.tiles[tile].outputs["classes"]) == digest(record.outputs["classes"].replace(first, tile))


@pytest.mark.slow
def test_a_tile_without_satellite_items_is_mapped_from_the_sensors_it_has(  # type: ignore[no-untyped-def]
    tmp_path: Path, small_world, checkpoint: Path, dask_client
) -> None:
    only_vhr = ["aerial-ign", "elevation"]  # no Sentinel-1/2 pass: the job still lists all four sensors
    spec = load_job_spec(write_job(tmp_path, small_world, checkpoint, "vhr", collections=only_vhr))
    manifest = run_spec(spec, client=dask_client)
    assert manifest.ok, {t: r.error for t, r in manifest.tiles.items()}
    tile, record = sorted(manifest.tiles.items())[0]
    with rasterio.open(record.outputs["classes"]) as src:
        grid = job_tiles(spec)[tile].geobox("aerial")  # the job's finest grid, as for a tile with every sensor
        assert src.transform == grid.affine and src.shape == grid.shape
        assert json.loads(src.tags()["sensors"]) == ["aerial", "dsm"]
    with rasterio.open(record.outputs["sensors"]) as src:
        bits = json.loads(src.tags()["sensor_bits"])
        assert bits == {"0": "s2", "1": "s1", "2": "aerial", "3": "dsm"}  # the job's bits, not the tile's
        assert set(np.unique(src.read(1)).tolist()) == {0b1100}


@pytest.mark.slow
def test_corrupt_input_cog_fails_tiles_with_a_clear_message(tmp_path: Path, small_world, checkpoint: Path) -> None:  # type: ignore[no-untyped-def]
    world_copy = tmp_path / "world"
    shutil.copytree(small_world.root, world_copy)
    b04 = next(world_copy.rglob("B04.tif"))
    b04.write_bytes(b04.read_bytes()[:2000])  # truncated after the header
    job = write_job(tmp_path, small_world, checkpoint, "bad", catalog=world_copy / "catalog.parquet")
    result = subprocess.run(
        [sys.executable, "-m", "eofusion", "run", str(job), "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 1, result.stderr[-2000:]
    summary = json.loads(result.stdout)
    assert summary["failed"] and not summary["done"]
    manifest = json.loads((tmp_path / "bad" / "run-manifest.json").read_text())
    errors = [t["error"] for t in manifest["tiles"].values()]
    assert all("B04" in e for e in errors), errors
    assert all("catalog.on_error: skip" in e for e in errors), errors  # the fix, in the job spec's terms
    assert "Traceback" not in result.stderr

    data = yaml.safe_load(job.read_text())
    data["catalog"]["on_error"] = "skip"  # what the message says: the tiles are made without that band
    job.write_text(yaml.safe_dump(data))
    again = subprocess.run([sys.executable, "-m", "eofusion", "run", str(job), "--json"],
                           capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    assert again.returncode == 0, again.stderr[-2000:]
    tiles = json.loads((tmp_path / "bad" / "run-manifest.json").read_text())["tiles"].values()
    for tile in tiles:
        skipped = tile["metrics"]["skipped_inputs"]
        assert [s["band"] for s in skipped] == ["B04"] and str(b04) == skipped[0]["href"]
        item = json.loads(Path(tile["outputs"]["item"]).read_text())
        assert item["properties"]["eofusion:skipped_inputs"] == skipped  # where a map's user looks


def test_unwritable_output_and_missing_model_fail_before_work(tmp_path: Path, small_world, checkpoint: Path) -> None:  # type: ignore[no-untyped-def]
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a directory")
    spec = load_job_spec(write_job(tmp_path, small_world, checkpoint, "blocker/out"))
    with pytest.raises(OutputLocationError, match="Cannot write to output location"):
        run_spec(spec)
    missing = load_job_spec(write_job(tmp_path, small_world, tmp_path / "nope.safetensors", "out3"))
    with pytest.raises(CheckpointError, match="does not exist"):
        run_spec(missing)
    assert not (tmp_path / "out3" / "tiles").exists()


@pytest.mark.slow
def test_a_changed_time_range_into_the_same_folder_replaces_tiles_and_mosaic(  # type: ignore[no-untyped-def]
    tmp_path: Path, small_world, checkpoint: Path, dask_client
) -> None:
    job = write_job(tmp_path, small_world, checkpoint, "out")
    first = run_spec(load_job_spec(job), client=dask_client)
    assert first.ok
    data = yaml.safe_load(job.read_text())
    data["time"]["start"] = "2024-05-01"  # fewer dates: other tile cubes, other maps
    job.write_text(yaml.safe_dump(data))
    spec = load_job_spec(job)
    second = run_spec(spec, client=dask_client)
    assert second.ok, {t: r.error for t, r in second.tiles.items()}  # was: "pass --overwrite" on every tile
    assert second.ids(TileStatus.DONE) == sorted(job_tiles(spec))
    manifest = json.loads((Path(spec.outputs.dir) / "run-manifest.json").read_text())
    assert manifest["config_hash"] == spec.config_hash() and Path(manifest["outputs"]["mosaic"]).exists()

    data["time"] = {"start": "2019-01-01", "end": "2019-12-31"}  # no item at all: every tile fails
    job.write_text(yaml.safe_dump(data))
    third = run_spec(load_job_spec(job), client=dask_client)
    assert len(third.ids(TileStatus.FAILED)) == len(job_tiles(spec))
    assert not (Path(spec.outputs.dir) / "mosaic.tif").exists()  # the earlier configuration's mosaic is not served
    assert not (Path(spec.outputs.dir) / "collection.json").exists()  # nor its STAC
    assert "mosaic" not in json.loads((Path(spec.outputs.dir) / "run-manifest.json").read_text())["outputs"]
