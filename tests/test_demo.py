"""The README's main command, end to end (a smaller world and fewer steps than the default)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import rasterio
from rio_cogeo.cogeo import cog_validate
from stac_validation import validate_stac


@pytest.mark.slow
def test_demo_runs_end_to_end_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    command = [
        sys.executable,
        "-m",
        "eofusion",
        "demo",
        "--out",
        str(out),
        "--world-size",
        "960",
        "--pretrain-steps",
        "4",
        "--finetune-steps",
        "4",
        "--json",
    ]
    first = subprocess.run(command, capture_output=True, text=True, timeout=1200, check=False)
    assert first.returncode == 0, first.stderr[-3000:]
    summary = json.loads(first.stdout)
    assert cog_validate(summary["map"], quiet=True)[0]
    with rasterio.open(summary["map"]) as src:
        assert src.crs.to_epsg() == 32631 and src.res == (1.0, 1.0) and src.colormap(1)
        assert src.shape == (960, 960)  # clipped to the world, not the union of the job's tiles
    assert Path(summary["quicklook"]).read_bytes()[:4] == b"\x89PNG"
    mosaic_item = json.loads(Path(summary["map"]).with_name("mosaic.json").read_text())
    validate_stac(mosaic_item)  # the demo's main output has a valid item (offline schemas, see stac_validation)
    assert mosaic_item["assets"]["classes"]["href"] == Path(summary["map"]).name
    validate_stac(json.loads(Path(summary["map"]).with_name("collection.json").read_text()))
    accuracy = summary["held_out_map_accuracy"]
    assert 0 <= accuracy["mIoU"] <= accuracy["OA"] <= 100
    subsets = {row["sensors"] for row in summary["evaluation"]["subsets"]}
    assert subsets >= {"S2", "S1", "aerial", "DSM", "aerial+DSM", "S2+S1", "all", "all but S1"}
    assert (out / "model" / "sensor-subsets.md").read_text().startswith("| sensors")
    assert (out / "model" / "training-curves.png").read_bytes()[:4] == b"\x89PNG"
    assert not summary["failed_tiles"]

    # One orchestration path: the specs the demo ran are what the CLI runs; its job spec, run by
    # `eofusion run`, finds every tile done (same configuration, model and inputs) and maps nothing again.
    job = subprocess.run(
        [sys.executable, "-m", "eofusion", "run", summary["job_spec"], "--json"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert job.returncode == 0, job.stderr[-3000:]
    run = json.loads(job.stdout)
    assert len(run["skipped"]) > 0 and not run["done"] and not run["failed"], run
    assert run["outputs"]["mosaic"] == summary["map"]
    assert Path(summary["train_spec"]).read_text().count("build:") == 1  # the cube is built by the training run

    second = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)  # resumes: all done
    assert second.returncode == 0, second.stderr[-3000:]
    again = json.loads(second.stdout)
    assert again["map"] == summary["map"] and again["seconds"] < summary["seconds"]
