"""``eofusion simulate`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eofusion.cli import main
from eofusion.simulate import load_world

TINY = ["--size", "300", "--aerial-resolution", "2", "--dsm-resolution", "2", "--s2-dates", "2024-06-21",
        "--s1-ascending", "2024-06-24", "--s1-descending", "2024-06-18", "--no-progress"]  # fmt: skip


def test_simulate_writes_a_world_then_is_idempotent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "world"
    assert main(["simulate", "--out", str(out), "--seed", "3", *TINY, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps"] > 0 and Path(summary["out"]) == out.absolute()
    world = load_world(out)
    assert world.config.seed == 3 and world.config.aerial_resolution_m == 2.0
    assert world.s2_dates[0].isoformat() == "2024-06-21" and world.config.s2_cloudy_dates == ()

    assert main(["simulate", "--out", str(out), "--seed", "3", *TINY]) == 0
    assert "already up to date" in capsys.readouterr().out


def test_simulate_refuses_to_replace_another_world(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "world"
    assert main(["simulate", "--out", str(out), "--seed", "1", *TINY]) == 0
    assert main(["simulate", "--out", str(out), "--seed", "2", *TINY]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert main(["simulate", "--out", str(out), "--seed", "2", *TINY, "--overwrite"]) == 0
    assert load_world(out).config.seed == 2


def test_bad_dates_are_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--out", str(tmp_path / "w"), "--s2-dates", "2024-13-01"]) == 2
    assert "ISO dates" in capsys.readouterr().err
