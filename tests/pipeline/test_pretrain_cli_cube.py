"""`eofusion pretrain --cube`: MAE pretraining on chips of any cube, read by the cube's chip reader."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from eofusion.cli import main


def test_pretrain_cli_on_a_cube(small_cube: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("pretrain: {steps: 3, batch_size: 2, warmup_steps: 1, checkpoint_every: 0}\n"
                      "data: {chip_m: 80, length: 8}\n")  # fmt: skip
    args = ["pretrain", "--cube", str(small_cube), "--config", str(config), "--threads", "1"]
    assert main([*args, "--out", str(tmp_path / "run"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps_done"] == 3 and np.isfinite(summary["final_loss"])
    assert Path(summary["checkpoint"]).exists()


def test_pretrain_cli_wants_one_data_source(small_cube: Path, tmp_path: Path) -> None:
    args = ["pretrain", "--cube", str(small_cube), "--synthetic", "--out", str(tmp_path / "run")]
    assert main(args) == 2
