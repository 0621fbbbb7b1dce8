"""The notebooks' shared settings: work directory, small demo config, real-data folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from eofusion.explore import notebook_workdir, real_data_dir, small_demo_config


def test_workdir_from_env_is_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EOFUSION_NOTEBOOK_WORK", str(tmp_path / "nb"))
    assert notebook_workdir() == tmp_path / "nb" and (tmp_path / "nb").is_dir()
    monkeypatch.delenv("EOFUSION_NOTEBOOK_WORK")
    assert notebook_workdir().name == "eofusion-notebooks"


def test_small_demo_config_is_notebook_sized(tmp_path: Path) -> None:
    config = small_demo_config(tmp_path)
    assert config.out == tmp_path / "demo"
    assert config.world.world_size_m == 960.0 and config.world.aerial_resolution_m == 1.0
    assert config.pretrain_steps <= 30 and config.finetune_steps <= 40 and config.chip_m == 160.0
    assert config.tile_size_m == 960.0


def test_real_data_dir_prefers_the_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EOFUSION_REAL_DATA", str(tmp_path))
    assert real_data_dir() == tmp_path
