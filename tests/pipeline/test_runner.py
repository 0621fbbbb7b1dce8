"""Resumable runs on a real Dask scheduler: skip finished tiles, isolate failures, survive SIGKILL."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from pipeline_fixtures import HERE, TILE_IDS, make_spec, tile_grids, write_inputs
from tile_processors import threshold_processor

from eofusion.pipeline import MANIFEST_NAME, TileStatus, done_record_path, run_job
from eofusion.pipeline.runner import LOCK_NAME, remove_folder_whole


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_run_then_rerun_skips_finished_tiles(tmp_path: Path, dask_client) -> None:  # type: ignore[no-untyped-def]
    write_inputs(tmp_path / "inputs")
    spec = make_spec(tmp_path, tmp_path / "inputs")
    first = run_job(spec, tile_grids(), threshold_processor, client=dask_client)
    assert first.ids(TileStatus.DONE) == sorted(TILE_IDS) and first.ok
    outputs = {t: Path(first.tiles[t].outputs["classes"]) for t in TILE_IDS}
    mtimes = {t: p.stat().st_mtime_ns for t, p in outputs.items()}
    second = run_job(spec, tile_grids(), threshold_processor, client=dask_client)
    assert second.ids(TileStatus.SKIPPED) == sorted(TILE_IDS) and not second.ids(TileStatus.DONE)
    assert {t: p.stat().st_mtime_ns for t, p in outputs.items()} == mtimes
    manifest = json.loads((Path(spec.outputs.dir) / MANIFEST_NAME).read_text())
    assert manifest["summary"]["skipped"] == 4 and manifest["config_hash"] == spec.config_hash()


def test_a_corrupt_input_fails_its_tile_and_the_others_finish(tmp_path: Path, dask_client) -> None:  # type: ignore[no-untyped-def]
    write_inputs(tmp_path / "inputs", corrupt=TILE_IDS[1])
    spec = make_spec(tmp_path, tmp_path / "inputs")
    manifest = run_job(spec, tile_grids(), threshold_processor, client=dask_client)
    assert manifest.ids(TileStatus.FAILED) == [TILE_IDS[1]]
    assert len(manifest.ids(TileStatus.DONE)) == 3 and not manifest.ok
    error = manifest.tiles[TILE_IDS[1]].error or ""
    assert "InputDataError" in error and TILE_IDS[1] in error and "replace the file" in error
    assert manifest.tiles[TILE_IDS[1]].attempts == 1  # input errors are not retried
    assert not done_record_path(Path(spec.outputs.dir), TILE_IDS[1]).exists()


def test_a_changed_configuration_recomputes(tmp_path: Path, dask_client) -> None:  # type: ignore[no-untyped-def]
    write_inputs(tmp_path / "inputs")
    spec = make_spec(tmp_path, tmp_path / "inputs")
    run_job(spec, tile_grids(), threshold_processor, client=dask_client)
    changed = spec.model_copy(update={"sensors": ["s2", "s1"]})
    again = run_job(changed, tile_grids(), threshold_processor, client=dask_client)
    assert again.ids(TileStatus.DONE) == sorted(TILE_IDS)


SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    sys.path.insert(0, {here!r})
    from pipeline_fixtures import make_spec, tile_grids
    from tile_processors import threshold_processor
    from distributed import Client, LocalCluster
    from eofusion.pipeline import run_job
    tmp = Path(sys.argv[1])
    spec = make_spec(tmp, tmp / "inputs", out=sys.argv[2])
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            manifest = run_job(spec, tile_grids(), threshold_processor, client=client)
    sys.exit(0 if manifest.ok else 1)
    """
)


@pytest.mark.slow
def test_sigkill_mid_run_then_rerun_gives_identical_outputs(tmp_path: Path) -> None:
    write_inputs(tmp_path / "inputs")
    script = tmp_path / "run.py"
    script.write_text(SCRIPT.format(here=str(HERE)))
    env = {**os.environ, "EOFUSION_TEST_TILE_DELAY": "1.0"}
    reference = subprocess.run([sys.executable, str(script), str(tmp_path), "reference"], env=env, timeout=300,
                               check=True)  # fmt: skip
    assert reference.returncode == 0

    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path), "killed"], env=env, start_new_session=True)
    out = tmp_path / "killed"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(done_record_path(out, t).exists() for t in TILE_IDS):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    finished = [t for t in TILE_IDS if done_record_path(out, t).exists()]
    assert 1 <= len(finished) < len(TILE_IDS), "the kill should land mid-run"
    before = {t: (out / "tiles" / t / "landcover.tif").stat().st_mtime_ns for t in finished}

    subprocess.run([sys.executable, str(script), str(tmp_path), "killed"], env=env, timeout=300, check=True)
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    skipped = sorted(t for t, r in manifest["tiles"].items() if r["status"] == "skipped")
    assert skipped == sorted(finished)
    assert {t: (out / "tiles" / t / "landcover.tif").stat().st_mtime_ns for t in finished} == before
    for t in TILE_IDS:
        assert digest(out / "tiles" / t / "landcover.tif") == digest(
            tmp_path / "reference" / "tiles" / t / "landcover.tif"
        )
    leftovers = [p.name for p in out.rglob(".*") if p.is_file() and p.name != LOCK_NAME]  # the lock file stays
    assert leftovers == [], leftovers


def test_gpu_jobs_ask_each_tile_for_a_worker_gpu(tmp_path: Path, dask_client) -> None:  # type: ignore[no-untyped-def]
    """run.gpu: tiles go only to workers offering the GPU resource; without one the job says how to start them."""
    from distributed import Client, LocalCluster, get_task_stream

    from eofusion.errors import ConfigError

    write_inputs(tmp_path / "inputs")
    plain = make_spec(tmp_path, tmp_path / "inputs")
    spec = plain.model_copy(update={"run": plain.run.model_copy(update={"gpu": True, "device": "cpu"})})
    with pytest.raises(ConfigError, match="--resources GPU=1"):  # the test cluster's worker offers none
        run_job(spec, tile_grids(), threshold_processor, client=dask_client)
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None, resources={"GPU": 1}
        ) as cluster,  # fmt: skip
        Client(cluster) as client,
    ):
        with get_task_stream(client) as stream:
            done = run_job(spec, tile_grids(), threshold_processor, client=client)
        assert done.ok and done.ids(TileStatus.DONE) == sorted(TILE_IDS)
    # Each tile held the worker's one GPU: never two tiles at once, although the worker has 2 threads.
    spans = sorted(
        (step["start"], step["stop"])
        for task in stream.data
        if str(task["key"]).startswith("tile-")
        for step in task["startstops"]
        if step["action"] == "compute"
    )
    assert len(spans) == len(TILE_IDS)
    assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(spans))


def test_a_worker_loads_the_job_model_once_and_again_when_it_changes(tmp_path: Path) -> None:
    import os

    import torch

    from eofusion.models import model_config
    from eofusion.pipeline import landcover
    from eofusion.training.landcover import ClassTable, landcover_model, save_landcover_model

    torch.manual_seed(0)
    classes = ClassTable.from_mapping({1: "a", 2: "b"}, {1: "#ff0000", 2: "#00ff00"})
    path = save_landcover_model(tmp_path / "m.safetensors", landcover_model(model_config("tiny"), 2), classes)
    first = landcover.worker_model(path, "cpu")[0]
    assert landcover.worker_model(path, "cpu")[0] is first  # the second tile on this worker: no new load
    save_landcover_model(path, landcover_model(model_config("tiny"), 2), classes)  # retrained in place
    os.utime(path, ns=(1, 1))  # whatever the clock's resolution, the file's stamp changed
    assert landcover.worker_model(path, "cpu")[0] is not first


def test_a_tile_folder_removal_killed_midway_leaves_no_half_deleted_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The working folder of a published tile is whole or gone: a rerun never finds half a cube there."""
    folder = tmp_path / "tiles" / "t1"
    (folder / "cube.zarr" / "s2").mkdir(parents=True)
    (folder / "cube.zarr" / "zarr.json").write_text("{}")
    (folder / "cube.zarr" / "s2" / "zarr.json").write_text("{}")

    def killed(path: Path, ignore_errors: bool = False) -> None:
        if Path(path).exists():
            raise KeyboardInterrupt  # the process dies while deleting

    monkeypatch.setattr("eofusion.pipeline.runner.shutil.rmtree", killed)
    with pytest.raises(KeyboardInterrupt):
        remove_folder_whole(folder)
    assert not folder.exists()  # renamed away before any file was deleted
    monkeypatch.undo()
    folder.mkdir()  # the rerun makes the tile again, then publishes and removes it
    remove_folder_whole(folder)
    assert list((tmp_path / "tiles").iterdir()) == []  # the earlier leftover went too
    remove_folder_whole(folder)  # absent is fine
