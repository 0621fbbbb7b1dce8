"""``eofusion pretrain``: synthetic data, config file, JSON summary, resume."""

from __future__ import annotations

import json

from eofusion.cli import main


def test_pretrain_cli_runs_and_resumes(tmp_path, capsys) -> None:
    config = tmp_path / "pretrain.yaml"
    config.write_text(
        "model: {preset: tiny}\n"
        "pretrain: {steps: 4, batch_size: 2, warmup_steps: 1, checkpoint_every: 2}\n"
        "data: {size_m: 160, chip_m: 80, dates: 2, length: 16}\n"
    )
    out = tmp_path / "run"
    args = ["pretrain", "--synthetic", "--config", str(config), "--out", str(out), "--seed", "3", "--json"]
    args += ["--threads", "1"]
    assert main([*args, "--steps", "2"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["steps_done"] == 2 and first["device"] == "cpu" and first["model"] == "tiny"
    assert main([*args, "--resume", str(out / "last.safetensors")]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["resumed_from"] == 2 and second["steps_done"] == 2
    assert (out / "step_0000004.safetensors").is_file()


def test_pretrain_cli_rejects_unknown_config_keys(tmp_path, capsys) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("pretrain: {stepz: 4}\n")
    assert main(["pretrain", "--synthetic", "--config", str(config), "--out", str(tmp_path / "o")]) == 1
    assert "stepz" in capsys.readouterr().err


def test_pretrain_cli_needs_a_data_source(tmp_path) -> None:
    assert main(["pretrain", "--out", str(tmp_path / "o")]) == 2
