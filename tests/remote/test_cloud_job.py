"""The cloud rehearsal: a STAC API, assets over HTTP, outputs in a bucket, and the failures clouds produce.

Real servers on 127.0.0.1, started here: stac-fastapi-pgstac (PostgreSQL + PostGIS) loaded with Earth
Search-shaped items (recorded documents, hrefs rewritten) for the real Slovenia Sentinel-2 L1C dates and DEM
in ../shared/data; nginx serving those COGs with range requests, behind a proxy that injects faults; moto's
S3 server as the output bucket. ``eofusion cube build`` and ``eofusion run`` are run as a user runs them (the
CLI, in a subprocess, with the standard AWS_* environment).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from provider_items import collections_of, dem_item, sentinel2_items
from servers import FaultProxy, Faults, NginxServer, S3Server

pytestmark = [pytest.mark.integration, pytest.mark.real_data]

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "catalog"))
from catalog_server import missing_requirements as pgstac_missing  # noqa: E402
from catalog_server import pgstac_api  # noqa: E402

# GDAL's own HTTP retries are shortened so that a test outage outlasts them quickly and eofusion's retries
# (block reads, then tiles) are what recovers: the code path a long real outage takes.
FAST_GDAL = {"GDAL_HTTP_MAX_RETRY": "1", "GDAL_HTTP_RETRY_DELAY": "0.1"}
CLASSES = {1: "cultivated", 2: "forest", 3: "grassland", 4: "shrubland", 8: "artificial"}


@pytest.fixture(scope="module")
def proxy(nginx: NginxServer) -> Iterator[FaultProxy]:
    with FaultProxy(nginx.url) as server:
        yield server


@pytest.fixture(scope="module")
def stac_api(proxy: FaultProxy, shared_data: Path) -> Iterator[str]:
    why = pgstac_missing()
    if why is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"cannot start the STAC API server: {why}")
        pytest.skip(why)
    items = [*sentinel2_items(shared_data, proxy.url), dem_item(shared_data, proxy.url)]
    with pgstac_api(collections_of(items), items) as url:
        yield url


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    from eofusion.models import model_config
    from eofusion.training.landcover import ClassTable, landcover_model, save_landcover_model

    torch.manual_seed(0)
    classes = ClassTable.from_mapping(CLASSES, {})
    model = landcover_model(model_config("tiny"), len(classes.ids))
    path = tmp_path_factory.mktemp("model") / "landcover.safetensors"
    return save_landcover_model(path, model, classes, extra={"chip_m": 320.0, "overlap_m": 80.0})


def _aoi(shared_data: Path) -> list[float]:
    import rasterio

    with rasterio.open(shared_data / "real/slovenia_s2_dem_lulc/DEM.tif") as src:
        left, bottom, right, top = src.bounds
    return [left + 20, bottom + 20, right - 20, top - 20]


def _job(tmp: Path, stac_api: str, checkpoint: Path, aoi: list[float], out: str, on_error: str = "raise") -> Path:
    spec = {
        "name": "slovenia-cloud",
        "aoi": {"bbox": aoi, "crs": "EPSG:32633"},
        "tiling": {"crs": "EPSG:32633", "tile_size_m": 480},
        # The Copernicus DEM item is dated 2021 (its publication): the range must include it to find it.
        "time": {"start": "2015-07-01", "end": "2021-12-31"},
        "catalog": {"source": stac_api, "collections": ["sentinel-2-l1c", "cop-dem-glo-30"], "on_error": on_error},
        "sensors": ["s2", "dsm"],
        "resolutions": {"s2": 10, "dsm": 10},
        "model": {"checkpoint": str(checkpoint)},
        "outputs": {"dir": out, "staging": str(tmp / f"staging-{out.rsplit('/', 1)[-1]}")},
        "run": {"workers": 1, "threads_per_worker": 2, "retries": 2, "retry_backoff_s": 0.5},
    }
    path = tmp / f"{out.rsplit('/', 1)[-1]}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _errors(stderr: str) -> str:
    return "\n".join(line for line in stderr.splitlines() if "Retrying again" not in line)[-4000:]


def _requests(proxy: FaultProxy, fragment: str) -> str:
    return "\n".join(map(str, [r for r in proxy.faults.log if fragment in r[1]]))


def _env(s3: S3Server) -> dict[str, str]:
    return {**os.environ, **s3.env, **FAST_GDAL}


def _run(args: list[str], s3: S3Server, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eofusion", *args], env=_env(s3), capture_output=True, text=True, timeout=timeout,
        check=False,
    )  # fmt: skip


def _manifest(s3: S3Server, bucket: str, prefix: str) -> dict[str, Any]:
    from eofusion.storage import Location

    os.environ.update(s3.env)
    return dict(json.loads(Location(f"s3://{bucket}/{prefix}/run-manifest.json").read_text()))


def test_cube_from_a_stac_api_over_flaky_http_into_a_bucket_equals_the_local_build(  # type: ignore[no-untyped-def]
    s3_env, stac_api: str, proxy: FaultProxy, shared_data: Path, tmp_path: Path
) -> None:
    s3_env.create_bucket("cubes")
    proxy.faults = Faults(every_nth_503=6, slow_s=0.2, truncate_first=("B08",), outage=("B11",), outage_n=3)
    aoi = _aoi(shared_data)
    west, south, east, north = _bbox4326(aoi)
    done = _run(
        ["cube", "build", "--catalog", stac_api, "--collections", "sentinel-2-l1c,cop-dem-glo-30",
         "--aoi", f"{west},{south},{east},{north}", "--crs", "EPSG:32633", "--sensors", "s2,dsm",
         "--resolution", "s2=10,dsm=10", "--time", "2015-07-01/2021-12-31", "--out", "s3://cubes/slovenia.zarr",
         "--scheduler", "threads", "--no-progress"],
        s3_env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    provoked = dict(proxy.faults.provoked)
    assert provoked.get("503", 0) >= 3 and provoked.get("truncate") and provoked.get("slow"), provoked

    # The same items with local hrefs, built on disk: the bucket holds exactly the same pixels.
    from eofusion.catalog import normalize_items
    from eofusion.cube import WriteOptions, build_cube, open_cube
    from eofusion.grid import nested_grids

    local_docs = [*sentinel2_items(shared_data, str(shared_data)), dem_item(shared_data, str(shared_data))]
    local_items = normalize_items(local_docs)
    grids = nested_grids((west, south, east, north), {"s2": 10.0, "dsm": 10.0}, crs="EPSG:32633")
    build_cube(local_items, grids, ["s2", "dsm"], tmp_path / "local.zarr", write=WriteOptions(scheduler="threads"))
    remote, local = open_cube("s3://cubes/slovenia.zarr"), open_cube(tmp_path / "local.zarr")
    for group in ("s2", "dsm"):
        np.testing.assert_array_equal(remote.dataset(group)["data"].values, local.dataset(group)["data"].values)
    assert np.isfinite(local.dataset("s2")["data"].values).mean() > 0.5


def _bbox4326(aoi: list[float]) -> tuple[float, float, float, float]:
    from odc.geo.geom import box

    left, bottom, right, top = box(*aoi, "EPSG:32633").to_crs("EPSG:4326").boundingbox
    return (left, bottom, right, top)


def test_job_survives_flaky_http_writes_to_the_bucket_and_resumes_after_a_kill(  # type: ignore[no-untyped-def]
    s3_env, stac_api: str, proxy: FaultProxy, checkpoint: Path, shared_data: Path, tmp_path: Path
) -> None:
    s3_env.create_bucket("maps")
    aoi = _aoi(shared_data)

    # 1. Flaky HTTP (a share of 503s, slow first answers, a body cut short, a short outage of one file).
    proxy.faults = Faults(every_nth_503=6, slow_s=0.2, truncate_first=("B08",), outage=("B11",), outage_n=3)
    job = _job(tmp_path, stac_api, checkpoint, aoi, "s3://maps/flaky")
    done = _run(["run", str(job), "--json"], s3_env)
    assert done.returncode == 0, done.stdout[-3000:] + _errors(done.stderr) + _requests(proxy, "B12")
    summary = json.loads(done.stdout)
    tiles = summary["done"]
    assert len(tiles) >= 4 and not summary["failed"]
    assert summary["outputs"]["mosaic"] == "s3://maps/flaky/mosaic.tif"
    keys = s3_env.keys("maps", "flaky/")
    for tile in tiles:
        for name in ("done.json", "landcover.tif", "landcover_confidence.tif", "landcover.json"):
            assert f"flaky/tiles/{tile}/{name}" in keys
    for name in ("run-manifest.json", "mosaic.tif", "mosaic.json", "collection.json"):
        assert f"flaky/{name}" in keys
    from rio_cogeo.cogeo import cog_validate
    from stac_validation import validate_stac

    from eofusion.storage import Location

    collection = json.loads(Location("s3://maps/flaky/collection.json").read_text())
    validate_stac(collection)  # the STAC in the bucket: every member resolves relative to the collection
    for link in (k for k in collection["links"] if k["rel"] == "item"):
        validate_stac(json.loads(Location(f"s3://maps/flaky/{link['href']}").read_text()))
    assert not [k for k in keys if "cube.zarr" in k]  # the tiles' intermediate cubes stay local
    assert not list((tmp_path / "staging-flaky" / "tiles").glob("*/*"))  # and are removed once published
    mosaic = Location("s3://maps/flaky/mosaic.tif").download(tmp_path / "mosaic.tif")
    assert cog_validate(str(mosaic))[0]
    provoked = dict(proxy.faults.provoked)
    assert provoked.get("503", 0) >= 3 and provoked.get("truncate") and provoked.get("slow"), provoked

    # 2. Kill the run mid-way; the rerun skips the tiles that were published and finishes the rest.
    proxy.faults = Faults(slow_s=1.0)  # slow answers: the kill lands while tiles are in flight
    job = _job(tmp_path, stac_api, checkpoint, aoi, "s3://maps/killed")
    proc = subprocess.Popen(
        [sys.executable, "-m", "eofusion", "run", str(job)], env=_env(s3_env), start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not [k for k in s3_env.keys("maps", "killed/") if k.endswith("done.json")]:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    before = sorted(k.split("/")[2] for k in s3_env.keys("maps", "killed/") if k.endswith("done.json"))
    assert 1 <= len(before) < len(tiles), before
    proxy.faults = Faults()
    again = _run(["run", str(job), "--json"], s3_env)
    assert again.returncode == 0, again.stderr[-3000:]
    rerun = json.loads(again.stdout)
    assert sorted(rerun["skipped"]) == before and not rerun["failed"]
    assert sorted(rerun["skipped"] + rerun["done"]) == sorted(tiles)


def test_a_refused_asset_fails_its_tiles_with_a_clear_message(  # type: ignore[no-untyped-def]
    s3_env, stac_api: str, proxy: FaultProxy, checkpoint: Path, shared_data: Path, tmp_path: Path
) -> None:
    s3_env.create_bucket("denied")
    proxy.faults = Faults(deny=("S2_L1C_20150731/B03",))  # one band of one date: HTTP 403
    job = _job(tmp_path, stac_api, checkpoint, _aoi(shared_data), "s3://denied/job")
    done = _run(["run", str(job), "--json"], s3_env)
    assert done.returncode == 1
    summary = json.loads(done.stdout)
    assert summary["failed"] and not summary["done"]
    manifest = _manifest(s3_env, "denied", "job")
    errors = [manifest["tiles"][t]["error"] for t in summary["failed"]]
    assert all("403" in e and "S2_L1C_20150731/B03.tif" in e for e in errors), errors[0]
    assert not [k for k in s3_env.keys("denied") if k.endswith("done.json") or k.endswith("mosaic.tif")]
    assert proxy.faults.provoked["deny"] >= 1
