"""The real-data check from the CLI: Slovenia S2 time series + DEM -> land cover, spatial split, beside an RF."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from eofusion.cli import cli
from eofusion.pipeline.train_spec import load_train_spec

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "pipelines" / "slovenia-landcover-train.yaml"


@pytest.mark.slow
@pytest.mark.real_data
def test_slovenia_train_from_the_cli(tmp_path: Path, require, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    require((shared_data / "real" / "slovenia_s2_dem_lulc").exists(), "../shared/data/real/slovenia_s2_dem_lulc")
    spec = load_train_spec(SPEC).model_dump(mode="json")
    spec["data"]["cube"] = str(tmp_path / "cube.zarr")  # built from the GeoTIFFs by the run itself
    spec["model"]["pretrain_steps"] = 10
    spec["finetune"]["steps"] = 30
    spec["baselines"] = ["random_forest"]
    spec["outputs"]["dir"] = str(tmp_path / "out")
    path = tmp_path / "slovenia.yaml"
    path.write_text(yaml.safe_dump(spec))
    result = CliRunner().invoke(cli, ["train", "--config", str(path), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    left, _, right, top = report["train_area"]
    assert left % 10 == 0 and top % 10 == 0 and report["test_area"][0] == right  # snapped grid, disjoint parts
    counts = report["class_counts"]
    assert counts["test"]["forest"] > counts["test"]["artificial surface"] > 0  # reported honestly, per class
    forest_share = counts["test"]["forest"] / sum(counts["test"].values())
    models = report["models"]
    assert set(models) == {"eofusion", "random forest"}
    assert models["random forest"]["OA"] > 100 * forest_share  # the pixel RF beats "everything is forest"
    first, last = models["eofusion"]["loss_first_last"]
    assert last < first
    assert {r["sensors"] for r in report["subsets"]} == {"S2", "DSM", "all"}
