"""Readable summaries of grids, cubes and job specs."""

from __future__ import annotations

from pathlib import Path

import pytest

from eofusion.explore import Summary, summarize, summarize_grids
from eofusion.grid import NestedGrids
from eofusion.pipeline import job_spec_from_dict


def test_grid_summary_lists_each_sensor_grid() -> None:
    grids = NestedGrids("EPSG:32631", (396000.0, 4805000.0, 396960.0, 4805960.0), {"s2": 10.0, "aerial": 1.0})
    summary = summarize(grids)
    rows = summary.as_dict()
    assert rows["crs"] == "EPSG:32631" and rows["extent"] == "0.96 km x 0.96 km"
    assert rows["s2"] == "10 m, 96 x 96 px" and rows["aerial"] == "1 m, 960 x 960 px"
    assert str(summary).splitlines()[0] == "NestedGrids" and "<table>" in summary._repr_html_()
    assert summarize_grids(grids) == summary


def test_job_summary() -> None:
    spec = job_spec_from_dict(
        {
            "name": "demo-landcover",
            "aoi": {"bbox": [1.0, 43.0, 1.01, 43.01]},
            "time": {"start": "2024-01-01", "end": "2024-12-31"},
            "catalog": {"source": "catalog.parquet", "collections": ["sentinel-2-l2a"]},
            "sensors": ["s2"],
            "model": {"checkpoint": "model.safetensors"},
            "outputs": {"dir": "out"},
        }
    )
    rows = summarize(spec).as_dict()
    assert rows["sensors"] == "s2 @ 10.0 m" and rows["time"] == "2024-01-01 .. 2024-12-31"
    assert rows["aoi"].startswith("bbox (1.0, 43.0, 1.01, 43.01)")


def test_cube_summary(small_cube: Path) -> None:
    from eofusion.cube import open_datatree

    rows = summarize(small_cube).as_dict()
    assert rows["valid"] == "yes"
    assert rows["s2"].startswith("12 bands [B01") and "10 m, 96 x 96 px" in rows["s2"]
    assert "1 m, 960 x 960 px" in rows["aerial"]
    opened = summarize(open_datatree(small_cube)).as_dict()
    assert set(opened) == {"s2", "s1", "aerial", "dsm"}


def test_unknown_objects_are_refused() -> None:
    with pytest.raises(TypeError, match="No summary for int"):
        summarize(3)
    assert isinstance(Summary("t", ()), Summary)
