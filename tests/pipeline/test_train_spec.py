"""Training specs: validation at the edge (errors name the key), path resolution, the example specs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from eofusion.config import short_hash
from eofusion.errors import ConfigError
from eofusion.pipeline.train_spec import load_train_spec, train_spec_from_dict
from eofusion.pipeline.training_data import class_table
from eofusion.pipeline.training_run import _check_sensors, default_subsets, finetune_config, finished_report
from eofusion.training.finetune import TRAINING_REVISION

REPO = Path(__file__).resolve().parents[2]
ONE = {1: {"name": "x"}}


def _spec(**changes: object) -> dict:
    base = {
        "name": "t",
        "data": {"cube": "cube.zarr", "sensors": ["s2", "dsm"]},
        "labels": {"raster": "labels.tif", "classes": {1: {"name": "forest"}, 2: {"name": "crops"}}},
        "chips": {"size_m": 160},
        "outputs": {"dir": "out"},
    }
    base.update(changes)
    return base


def test_relative_paths_resolve_against_the_spec_file(tmp_path: Path) -> None:
    path = tmp_path / "specs" / "t.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(_spec()))
    spec = load_train_spec(path)
    assert spec.data.cube == (tmp_path / "specs" / "cube.zarr").resolve()
    assert spec.outputs.dir == (tmp_path / "specs" / "out").resolve()
    assert spec.labels.raster == str(tmp_path / "specs" / "labels.tif")
    assert class_table(spec).ids == (1, 2) and class_table(spec).names == ("forest", "crops")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"chips": {"size_m": 160, "train_cuont": 3}}, r"chips\.train_cuont"),
        ({"labels": {"raster": "a.tif", "vector": "b.gpkg", "column": "c", "classes": ONE}}, "one of raster or vector"),
        ({"labels": {"vector": "b.gpkg", "classes": ONE}}, "need `column`"),
        ({"labels": {"raster": "a.tif"}}, "classes"),
        ({"baselines": ["unet", "resnet"]}, r"baselines\.1"),
        ({"finetune": {"sensor_dropout": 1.5}}, r"finetune\.sensor_dropout"),
        ({"data": {"cube": "c.zarr", "sensors": ["s2"], "build": {"bbox": [0, 0, 1, 1]}}}, "one of catalog or rasters"),
        ({"data": {"cube": "c.zarr", "sensors": ["s2", "modis"]}}, r"data\.sensors.*'modis'"),
        ({"subsets": {"radar": ["s1"]}}, r"subset 'radar' names \['s1'\]"),
        ({"finetune": {"band_dropout_sensors": ["s1"]}}, r"band_dropout_sensors names \['s1'\]"),
        ({"finetune": {"band_dropout_sensors": ["landsat-99"]}}, r"finetune\.band_dropout_sensors.*'landsat-99'"),
    ],
)  # fmt: skip
def test_invalid_specs_name_the_key(change: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        train_spec_from_dict(_spec(**change))


@pytest.mark.parametrize("names", [["sentinel-2", "dsm"], ["s2", "DSM"], ["Sentinel-2", "elevation"]])
def test_sensor_names_are_normalised_once_at_the_edge(names: list[str]) -> None:
    """Aliases become cube group keys in the spec, its subsets, its grids and the evaluate --sensors choice."""
    build = {"catalog": "demo", "bbox": [0, 0, 1, 1], "resolutions": {names[0]: 10}}
    data = {"cube": "cube.zarr", "sensors": names, "build": build}
    spec = train_spec_from_dict(_spec(data=data, subsets={"optical": [names[0]], "both": names}))
    reference = train_spec_from_dict(
        _spec(
            data={**data, "sensors": ["s2", "dsm"], "build": {**build, "resolutions": {"s2": 10}}},
            subsets={"optical": ["s2"], "both": ["s2", "dsm"]},
        )
    )
    assert spec.data.sensors == ["s2", "dsm"] and spec.subsets == {"optical": ["s2"], "both": ["s2", "dsm"]}
    assert spec.data.build is not None and spec.data.build.resolutions == {"s2": 10.0}
    assert spec.config_hash() == reference.config_hash()
    assert _check_sensors([names[1], names[0]], spec.data.sensors) == ("s2", "dsm")


def test_hash_ignores_where_outputs_go() -> None:
    a = train_spec_from_dict(_spec())
    b = train_spec_from_dict(_spec(outputs={"dir": "elsewhere"}))
    c = train_spec_from_dict(_spec(seed=1))
    assert a.config_hash() == b.config_hash() != c.config_hash()


def test_radiometric_jitter_off_keeps_the_hash_of_runs_made_before_it() -> None:
    before = train_spec_from_dict(_spec())
    off = train_spec_from_dict(_spec(finetune={"radiometric_jitter": 0.0}))
    on = train_spec_from_dict(_spec(finetune={"radiometric_jitter": 0.1}))
    assert before.config_hash() == off.config_hash() != on.config_hash()
    options = {"num_workers", "radiometric_jitter", "response_jitter", "band_dropout_sensors"}  # hashed before them
    assert before.config_hash() == short_hash(
        before.model_dump(mode="json", exclude={"outputs": True, "finetune": options})
    )
    recast = train_spec_from_dict(_spec(finetune={"response_jitter": 0.5}))
    assert recast.config_hash() not in (before.config_hash(), on.config_hash())


def test_band_dropout_sensors_are_group_keys_and_change_the_hash_only_when_given() -> None:
    every = train_spec_from_dict(_spec(finetune={"band_dropout": 0.3}))
    named = train_spec_from_dict(_spec(finetune={"band_dropout": 0.3, "band_dropout_sensors": ["Sentinel-2"]}))
    assert named.finetune.band_dropout_sensors == ["s2"]
    unset = train_spec_from_dict(_spec(finetune={"band_dropout": 0.3, "band_dropout_sensors": None}))
    assert every.config_hash() == unset.config_hash() != named.config_hash()
    off = train_spec_from_dict(_spec(finetune={"band_dropout": 0.0, "band_dropout_sensors": ["s2"]}))
    assert off.config_hash() == train_spec_from_dict(_spec()).config_hash()  # nothing cut: the runs made before
    assert finetune_config(named, 0.75, "example").band_dropout_sensors == ("s2",)
    assert finetune_config(every, 0.75, "example").band_dropout_sensors is None


def test_a_run_of_another_training_revision_is_not_reused(tmp_path: Path) -> None:
    spec = train_spec_from_dict(_spec(outputs={"dir": str(tmp_path)}))
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    said: list[str] = []

    def finished(**report: object) -> dict | None:
        report = {"spec_hash": spec.config_hash(), "checkpoint": str(tmp_path / "model.safetensors"), **report}
        (tmp_path / "metrics.json").write_text(json.dumps(report))
        return finished_report(spec, lambda stage, message: said.append(message))

    assert finished(training_revision=TRAINING_REVISION) is not None
    assert finished(training_revision=TRAINING_REVISION - 1) is None
    assert finished() is None  # made before runs recorded their revision: revision 1
    assert f"trained by revision 1 of the training step, not {TRAINING_REVISION}" in said[-1]
    assert finished(training_revision=TRAINING_REVISION, spec_hash="other") is None


def test_default_subsets_are_every_nonempty_subset() -> None:
    subsets = default_subsets(["s2", "s1", "aerial", "dsm"])
    assert subsets["S2"] == ("s2",) and subsets["aerial+DSM"] == ("aerial", "dsm")
    assert subsets["S1+DSM"] == ("s1", "dsm")
    assert subsets["all but S1"] == ("s2", "aerial", "dsm") and subsets["all"] == ("s2", "s1", "aerial", "dsm")
    assert len(subsets) == len(set(subsets.values())) == 2**4 - 1
    assert list(subsets)[:4] == ["S2", "S1", "aerial", "DSM"] and list(subsets)[-1] == "all"
    assert default_subsets(["s2", "dsm"]) == {"S2": ("s2",), "DSM": ("dsm",), "all": ("s2", "dsm")}


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "pipelines").glob("*-train.yaml")))
def test_example_specs_are_valid(name: str) -> None:
    spec = load_train_spec(REPO / "pipelines" / name)
    assert spec.chips.size_m > 0 and spec.data.sensors


def test_build_bbox_in_a_projected_crs_is_the_cube_grid(small_world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """data.build with a projected crs: the cube covers exactly that box; another build at the path is refused."""
    from eofusion.cube import open_cube
    from eofusion.errors import CubeError
    from eofusion.pipeline.training_data import ensure_cube

    s2 = small_world.grids["s2_10m"]
    left, bottom, *_ = s2.boundingbox
    box = (left + 40, bottom + 60, left + 200, bottom + 220)  # a 160 m square inside the world, on 10 m edges

    def spec(resolution: float, replace: bool) -> Any:
        build = {"catalog": str(small_world.geoparquet_path), "collections": ["sentinel-2-l2a"], "bbox": list(box),
                 "crs": f"EPSG:{s2.crs.epsg}", "resolutions": {"s2": resolution}, "replace": replace}  # fmt: skip
        return train_spec_from_dict(_spec(data={"cube": str(tmp_path / "c.zarr"), "sensors": ["s2"], "build": build}))

    store = ensure_cube(spec(10.0, replace=False), lambda stage, message: None)
    cube = open_cube(store)
    assert cube.crs.epsg == s2.crs.epsg and cube.bounds == box
    with pytest.raises(CubeError, match="another build"):
        ensure_cube(spec(20.0, replace=False), lambda stage, message: None)
    ensure_cube(spec(20.0, replace=True), lambda stage, message: None)
    assert open_cube(store).groups["s2"].res == 20.0
