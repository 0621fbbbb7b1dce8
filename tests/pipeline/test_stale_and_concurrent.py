"""A rerun serves only results of the same model and inputs; a second run of the same job is refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
from pipeline_fixtures import HERE, TILE_IDS, make_spec, tile_grids, write_inputs
from test_runner import SCRIPT
from tile_processors import threshold_inputs, threshold_processor

from eofusion.errors import OutputLockedError
from eofusion.pipeline import MANIFEST_NAME, TileStatus, done_record_path, run_job


def _run(spec, client):  # type: ignore[no-untyped-def]
    return run_job(spec, tile_grids(), threshold_processor, inputs_of=threshold_inputs, client=client)


def test_a_model_retrained_into_the_same_file_recomputes_every_tile(tmp_path: Path, dask_client) -> None:  # type: ignore[no-untyped-def]
    write_inputs(tmp_path / "inputs")
    spec = make_spec(tmp_path, tmp_path / "inputs")
    checkpoint = spec.model.checkpoint
    checkpoint.write_bytes(b"weights of the first training")
    assert _run(spec, dask_client).ids(TileStatus.DONE) == sorted(TILE_IDS)
    os.utime(checkpoint)  # touched, same content: still the same model
    assert _run(spec, dask_client).ids(TileStatus.SKIPPED) == sorted(TILE_IDS)
    checkpoint.write_bytes(b"weights of a retraining")  # same path, other weights
    again = _run(spec, dask_client)
    assert again.ids(TileStatus.DONE) == sorted(TILE_IDS) and not again.ids(TileStatus.SKIPPED)


def test_a_rewritten_input_file_recomputes_its_tile_only(tmp_path: Path, dask_client) -> None:  # type: ignore[no-untyped-def]
    inputs = tmp_path / "inputs"
    write_inputs(inputs)
    spec = make_spec(tmp_path, inputs)
    first = _run(spec, dask_client)
    changed = TILE_IDS[2]
    path = inputs / f"{changed}.tif"
    with rasterio.open(path) as src:
        profile = src.profile
    with rasterio.open(path, "w", **profile) as dst:  # the same file name, other values
        dst.write(np.zeros((profile["height"], profile["width"]), np.float32), 1)
    again = _run(spec, dask_client)
    assert again.ids(TileStatus.DONE) == [changed]
    assert again.ids(TileStatus.SKIPPED) == sorted(t for t in TILE_IDS if t != changed)
    with rasterio.open(first.tiles[changed].outputs["classes"]) as src:
        assert (src.read(1) == 1).all()  # the map follows the new input (all zeros -> class "low")


@pytest.mark.slow
def test_a_second_run_into_the_same_folder_is_refused_until_the_first_ends(tmp_path: Path, dask_client) -> None:  # type: ignore[no-untyped-def]
    write_inputs(tmp_path / "inputs")
    script = tmp_path / "run.py"
    script.write_text(SCRIPT.format(here=str(HERE)))
    env = {**os.environ, "EOFUSION_TEST_TILE_DELAY": "2.0"}
    first = subprocess.Popen([sys.executable, str(script), str(tmp_path), "out"], env=env, start_new_session=True)
    out = tmp_path / "out"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (out / MANIFEST_NAME).exists():
        time.sleep(0.05)
    spec = make_spec(tmp_path, tmp_path / "inputs")
    with pytest.raises(OutputLockedError, match=f"Another eofusion process is writing the job outputs folder {out}"):
        _run(spec, dask_client)
    os.killpg(first.pid, signal.SIGKILL)  # killed while holding the lock: the OS frees it
    first.wait(timeout=30)
    manifest = _run(spec, dask_client)
    assert manifest.ok and len(manifest.ids(TileStatus.DONE) + manifest.ids(TileStatus.SKIPPED)) == len(TILE_IDS)
    assert all(done_record_path(out, t).exists() for t in TILE_IDS)
