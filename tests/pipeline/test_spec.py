"""Job specs: validation with errors that name the key, hashing, path resolution."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from eofusion.errors import ConfigError, GridError
from eofusion.pipeline import load_job_spec
from eofusion.pipeline.jobs import job_tiles

BASE = {
    "name": "demo",
    "aoi": {"bbox": [1.40, 43.50, 1.43, 43.52]},
    "time": {"start": "2024-04-01", "end": "2024-09-30"},
    "catalog": {"source": "demo"},
    "sensors": ["s2", "s1"],
    "model": {"checkpoint": "model.safetensors"},
    "outputs": {"dir": "out"},
}


def write(tmp_path: Path, data: dict) -> Path:  # type: ignore[type-arg]
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_valid_spec_resolves_paths_against_the_file(tmp_path: Path) -> None:
    spec = load_job_spec(write(tmp_path, BASE))
    assert Path(spec.outputs.dir) == tmp_path / "out" and spec.model.checkpoint == tmp_path / "model.safetensors"
    assert spec.time.interval() == "2024-04-01/2024-09-30" and spec.run.workers == 1


@pytest.mark.parametrize("sensors", [["sentinel-2", "dsm"], ["s2", "DSM"], ["Sentinel-2", "elevation", "s2"]])
def test_sensor_names_are_normalised_once_at_the_edge(tmp_path: Path, sensors: list[str]) -> None:
    """``sentinel-2``, ``s2`` and ``Sentinel-2`` give the same spec: group keys, default grids, hash, tiles."""
    spec = load_job_spec(write(tmp_path, {**BASE, "sensors": sensors, "resolutions": {"Sentinel-2": 10}}))
    reference = load_job_spec(write(tmp_path, {**BASE, "sensors": ["s2", "dsm"]}))
    assert spec.sensors == ["s2", "dsm"] and spec.resolutions == {"s2": 10.0, "dsm": 1.0}
    assert spec.config_hash() == reference.config_hash()
    tiles = job_tiles(spec)
    assert tiles == job_tiles(reference) and all(set(g.resolutions) == {"s2", "dsm"} for g in tiles.values())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"outputs": {"dir": "o", "probabilites": True}}, "outputs.probabilites"),
        ({"sensors": ["s2", "modis"]}, r"sensors.*Unknown sensor group 'modis'"),
        ({"time": {"start": "2024-09-01", "end": "2024-04-01"}}, "before start"),
        ({"aoi": {"bbox": [1.43, 43.5, 1.40, 43.52]}}, "min < max"),
        ({"aoi": {"bbox": [1, 2, 3, 4], "tiles": ["x"]}}, "exactly one"),
        ({"name": "bad name!"}, "name"),
        ({"aoi": {"tiles": ["32631_2560m_x117_y1876\n"]}}, "is not a tile id"),  # trailing newline
        ({"aoi": {"tiles": ["../32631_2560m_x117_y1876"]}}, "is not a tile id"),  # path segments
        ({"aoi": {"tiles": ["32631_2560m_x117_y1876/x"]}}, "is not a tile id"),
    ],
)
def test_invalid_specs_name_the_key(tmp_path: Path, change: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError, match=message) as info:
        load_job_spec(write(tmp_path, {**BASE, **change}))
    assert str(tmp_path / "job.yaml") in str(info.value)


@pytest.mark.parametrize(
    "change",
    [
        {"tiling": {"tile_size_m": 0.001}},  # ~1e13 tiles over the bbox
        {"aoi": {"bbox": [-180, -80, 180, 80]}, "tiling": {"crs": "EPSG:3857"}},  # the whole globe
    ],
)
def test_jobs_spanning_too_many_tiles_are_refused_before_enumerating(tmp_path: Path, change: dict) -> None:  # type: ignore[type-arg]
    spec = load_job_spec(write(tmp_path, {**BASE, **change}))
    started = time.perf_counter()
    with pytest.raises(GridError, match=r"more than the limit of 10000: use a larger tile size"):
        job_tiles(spec)
    assert time.perf_counter() - started < 5  # refused at once, not after enumerating


def test_the_tile_limit_is_a_setting(tmp_path: Path) -> None:
    spec = load_job_spec(write(tmp_path, {**BASE, "tiling": {"tile_size_m": 320, "max_tiles": 2}}))
    with pytest.raises(GridError, match="limit of 2"):
        job_tiles(spec)
    wider = load_job_spec(write(tmp_path, {**BASE, "tiling": {"tile_size_m": 320, "max_tiles": 1000}}))
    assert len(job_tiles(wider)) > 2


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_job_spec(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_job_spec(bad)


def test_config_hash_ignores_scheduling_but_not_outputs(tmp_path: Path) -> None:
    a = load_job_spec(write(tmp_path, BASE))
    b = load_job_spec(write(tmp_path, {**BASE, "run": {"workers": 2}}))
    c = load_job_spec(write(tmp_path, {**BASE, "sensors": ["s2"]}))
    assert a.config_hash() == b.config_hash() != c.config_hash()


def test_every_committed_job_spec_is_valid() -> None:
    folder = Path(__file__).parents[2] / "pipelines"
    specs = sorted(set(folder.glob("*.yaml")) - set(folder.glob("*-train.yaml")))  # training specs: test_train_spec
    assert specs, "pipelines/ holds the job specs that scheduled runs use"
    for path in specs:
        spec = load_job_spec(path)
        assert spec.catalog.source.startswith(str(path.parent.parent)) or "://" in spec.catalog.source
