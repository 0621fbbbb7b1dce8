"""Pretraining on a (small) simulated demo world, through the CLI: sensors aligned by the cube loader."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eofusion.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")]


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory):
    from eofusion.simulate import WorldConfig, simulate_world

    out = tmp_path_factory.mktemp("demo") / "world"
    d = WorldConfig()
    s2 = d.s2_dates[2:5]  # three dates, one of them cloudy: enough for series, clouds and validity
    cfg = WorldConfig(
        seed=2,
        size_m=240,
        s2_dates=s2,
        s2_cloudy_dates=tuple(x for x in d.s2_cloudy_dates if x in s2),
        s1_ascending_dates=d.s1_ascending_dates[:2],
        s1_descending_dates=d.s1_descending_dates[:1],
    )
    simulate_world(cfg, out)
    return out


def test_demo_world_arrays_are_co_located(world_dir) -> None:
    from eofusion.pipeline.demo_arrays import demo_world_arrays

    arrays = demo_world_arrays(world_dir, aerial_m=1.0)
    assert set(arrays) == {"s2", "s1", "aerial", "dsm"}
    extents = {k: a.extent_m for k, a in arrays.items()}
    assert len(set(extents.values())) == 1, extents
    s2, s1 = arrays["s2"], arrays["s1"]
    assert s2.day_of_year is not None and s2.valid is not None and s2.valid.mean() > 0.5
    assert s1.bands[0].name == "VV" and abs(float(np.nanmean(s1.pixels))) < 3  # dB standardised, not log(dB)


def test_pretrain_cli_on_demo_world(world_dir, tmp_path, capsys) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("pretrain: {steps: 3, batch_size: 2, warmup_steps: 1}\ndata: {chip_m: 80, length: 8}\n")
    args = ["pretrain", "--demo", str(world_dir), "--aerial-m", "1", "--config", str(config)]
    assert main([*args, "--out", str(tmp_path / "run"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps_done"] == 3 and np.isfinite(summary["final_loss"])
