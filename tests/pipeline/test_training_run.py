"""`eofusion train` / `eofusion evaluate` end to end on the small demo world's cube (real Zarr, real COG labels)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from pipeline_fixtures import write_train_spec

from eofusion.cli import cli, main
from eofusion.errors import ConfigError
from eofusion.training.landcover import load_landcover_model

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def one_torch_thread():  # type: ignore[no-untyped-def]
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _is_png(path: Path) -> bool:
    return path.exists() and path.read_bytes()[:8] == PNG_SIGNATURE and path.stat().st_size > 2000


@pytest.mark.slow
def test_train_then_evaluate_reports_the_same_scores(tmp_path: Path, small_world, small_cube: Path) -> None:
    spec = write_train_spec(tmp_path / "train.yaml", small_world, small_cube)
    result = CliRunner().invoke(cli, ["train", "--config", str(spec), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    out = tmp_path / "out"
    assert report == json.loads((out / "metrics.json").read_text())
    losses = report["models"]["eofusion"]["loss_first_last"]
    assert losses[1] < losses[0]  # it learns
    assert _is_png(out / "training-curves.png") and _is_png(out / "confusion-matrix.png")
    held = report["models"]["eofusion"]
    confusion = np.asarray(held["confusion"])
    test_pixels = sum(report["class_counts"]["test"].values())  # labelled pixels of the held-out part
    assert 0.5 * test_pixels < confusion.sum() <= test_pixels  # the chips' grid covers most of it
    assert held["OA"] == pytest.approx(100 * np.trace(confusion) / confusion.sum(), abs=0.01)
    subsets = {r["sensors"]: r for r in report["subsets"]}
    assert set(subsets) >= {"S2", "S1", "aerial", "DSM", "aerial+DSM", "S2+S1", "all but DSM", "all"}
    assert subsets["all"]["OA"] == held["OA"]
    assert (out / "sensor-subsets.csv").read_text().splitlines()[0] == "sensors,OA,mIoU,F1"
    _, classes, _ = load_landcover_model(out / "model.safetensors")
    assert classes.names[0] == "building" and len(classes.ids) == confusion.shape[0]

    evaluation = CliRunner().invoke(cli, ["evaluate", "--config", str(spec), "--json"], catch_exceptions=False)
    assert evaluation.exit_code == 0, evaluation.output
    again = json.loads(evaluation.stdout)
    assert again["held_out"]["confusion"] == held["confusion"]  # the checkpoint is the model that was scored
    assert _is_png(out / "evaluation" / "confusion-matrix.png")

    # One sensor subset on its own (a map under clouds: S1 only) scores as the subset table's row does.
    only_s1 = CliRunner().invoke(cli, ["evaluate", "--config", str(spec), "--sensors", "s1", "--json"])
    assert only_s1.exit_code == 0, only_s1.output
    s1_report = json.loads(only_s1.stdout)
    assert s1_report["sensors"] == ["s1"] and s1_report["held_out"]["OA"] == subsets["S1"]["OA"]
    wrong = CliRunner().invoke(cli, ["evaluate", "--config", str(spec), "--sensors", "landsat"])
    assert isinstance(wrong.exception, ConfigError), wrong.output
    assert "landsat are not in the training spec's data.sensors (s2, s1, aerial, dsm)" in str(wrong.exception)


@pytest.mark.slow
def test_crop_types_from_parcels(tmp_path: Path, small_world, small_cube: Path) -> None:
    spec = write_train_spec(
        tmp_path / "crops.yaml",
        small_world,
        small_cube,
        name="small-crops",
        task="croptype",
        data={"cube": str(small_cube), "sensors": ["s2", "s1"]},
        labels={
            "vector": str(small_world.parcels_path),
            "column": "crop_id",
            "classes_file": str(small_world.root / "truth" / "classes.json"),
            "classes_key": "crops",
        },
        finetune={"steps": 40, "batch_size": 4, "lr": 0.005},
    )
    result = CliRunner().invoke(cli, ["train", "--config", str(spec), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    crops = report["models"]["eofusion"]
    assert crops["loss_first_last"][1] < crops["loss_first_last"][0]
    assert sum(report["class_counts"]["train"].values()) > 1000  # parcels rasterised at 10 m (cube's S2 grid)
    assert {r["sensors"] for r in report["subsets"]} == {"S2", "S1", "all"}
    assert 0 <= crops["parcels"]["OA"] <= 100  # parcel-level scores from majority votes inside the polygons
    evaluation = CliRunner().invoke(cli, ["evaluate", "--config", str(spec), "--json"], catch_exceptions=False)
    again = json.loads(evaluation.stdout)["held_out"]
    assert again["confusion"] == crops["confusion"] and again["parcels"] == crops["parcels"]


class KilledError(Exception):
    """Stands for the job being killed part way (nothing after the raise runs)."""


def test_a_killed_run_trains_only_the_models_it_had_not_finished(tmp_path: Path, small_world, small_cube: Path) -> None:
    from eofusion.pipeline.train_spec import load_train_spec
    from eofusion.pipeline.training_run import run_training

    tiny = {
        "data": {"cube": str(small_cube), "sensors": ["s2", "dsm"]},
        "chips": {"size_m": 160, "train_count": 16},
        "finetune": {"steps": 3, "batch_size": 4},
        "baselines": ["unet"],  # the forest resumes alike (test_model_results.py); it is slow to fit
    }
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    spec = load_train_spec(write_train_spec(tmp_path / "a" / "train.yaml", small_world, small_cube, **tiny))
    said: list[str] = []
    trained: list[str] = []

    def say(stage: str, message: str) -> None:
        said.append(message)

    def killed_in_the_unet(name: str, step: int, loss: float) -> None:
        if name == "unet":
            raise KilledError

    with pytest.raises(KilledError):
        run_training(spec, say, on_step=killed_in_the_unet)
    out = tmp_path / "a" / "out"
    checkpoint = out / "model.safetensors"
    assert checkpoint.exists() and not (out / "metrics.json").exists()
    before = (checkpoint.read_bytes(), checkpoint.stat().st_mtime_ns)

    report = run_training(spec, say, on_step=lambda name, step, loss: trained.append(name))
    assert "eofusion" not in trained and "unet" in trained  # the fused model was reused, the U-Net trained
    assert (checkpoint.read_bytes(), checkpoint.stat().st_mtime_ns) == before
    assert any(m.startswith("eofusion: trained by an earlier run of this spec") for m in said)
    assert {r["sensors"]: r for r in report["subsets"]}["all"]["OA"] == report["models"]["eofusion"]["OA"]

    # The same spec run once without a kill (elsewhere) reports the same models and scores.
    whole = load_train_spec(write_train_spec(tmp_path / "b" / "train.yaml", small_world, small_cube, **tiny))
    uninterrupted = run_training(whole, say)
    for key in ("models", "subsets", "class_counts", "chips"):
        if key == "models":
            for model in uninterrupted["models"].values():
                model.pop("train_seconds")
            for model in report["models"].values():
                model.pop("train_seconds")
        assert report[key] == uninterrupted[key], key

    # A forced run starts afresh: killed at once, it leaves neither the old report nor the old records.
    def killed_at_once(name: str, step: int, loss: float) -> None:
        raise KilledError

    with pytest.raises(KilledError):
        run_training(spec, say, on_step=killed_at_once, force=True)
    assert not (out / "metrics.json").exists() and not list((out / "models").glob("*.json"))


def test_errors_name_the_fix(tmp_path: Path, small_world, small_cube: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = write_train_spec(
        tmp_path / "a.yaml", small_world, small_cube, data={"cube": str(tmp_path / "nope.zarr"), "sensors": ["s2"]}
    )
    assert main(["train", "--config", str(spec)]) == 1
    assert "eofusion cube build" in capsys.readouterr().err
    labels = {"raster": str(tmp_path / "missing-*.tif"), "classes": {1: {"name": "x"}, 2: {"name": "y"}}}
    spec = write_train_spec(tmp_path / "b.yaml", small_world, small_cube, labels=labels)
    assert main(["train", "--config", str(spec)]) == 1
    assert "found nothing" in capsys.readouterr().err
    spec = write_train_spec(tmp_path / "c.yaml", small_world, small_cube)
    assert main(["evaluate", "--config", str(spec)]) == 1  # nothing trained yet
    assert "model.safetensors" in capsys.readouterr().err


def test_chips_snap_to_labels_coarser_than_the_cube(tmp_path: Path, small_world, small_cube: Path) -> None:
    from eofusion.pipeline.train_spec import load_train_spec
    from eofusion.pipeline.training_data import prepare_data

    path = write_train_spec(
        tmp_path / "aerial.yaml", small_world, small_cube, data={"cube": str(small_cube), "sensors": ["aerial"]}
    )
    data = prepare_data(load_train_spec(path), lambda stage, message: None)
    geobox = data.labels.geobox
    for window in data.train_windows[:20] + data.test_windows:
        # 1 m aerial, 2 m labels: every chip starts on a label pixel edge, so label chips are not shifted
        assert (window.left - geobox.affine.c) % 2 == 0 and (geobox.affine.f - window.top) % 2 == 0
        assert data.labels.read(window).shape == (80, 80)


@pytest.mark.slow
def test_train_data_parallel_on_two_processes_with_torchrun(tmp_path: Path, small_world, small_cube: Path) -> None:  # type: ignore[no-untyped-def]
    """`torchrun --nproc-per-node 2 -m eofusion train`: MAE pretraining, fine-tuning on 2 ranks (gloo), one report."""
    import os
    import socket
    import subprocess
    import sys

    spec = write_train_spec(tmp_path / "train.yaml", small_world, small_cube, model={"pretrain_steps": 2},
                       finetune={"steps": 4, "batch_size": 4}, baselines=[])  # fmt: skip
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
               "--master-port", str(port), "-m", "eofusion", "train", "--config", str(spec), "--device", "cpu",
               "--json"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)  # rank 0 alone prints (and writes) the report
    out = tmp_path / "out"
    assert report == json.loads((out / "metrics.json").read_text())
    assert (out / "model.safetensors").exists() and (out / "pretrain" / "last.safetensors").exists()
    assert len(report["models"]["eofusion"]["loss_first_last"]) == 2
