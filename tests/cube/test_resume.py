"""A build killed with SIGKILL half-way, then rerun, yields the same bytes as an uninterrupted build."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from cubefactory import dt
from odc.geo.geobox import GeoBox

from eofusion.catalog import NormalizedItem
from eofusion.cube import LoadOptions, WriteOptions, append_cube, load_aligned, open_datatree, write_cube
from eofusion.cube.store import PROGRESS_DIR, root_attrs

GRID = GeoBox.from_bbox((600000, 4997440, 602560, 5000000), "EPSG:32631", resolution=10)
OPTS = LoadOptions(chunk_size=32)
SCRIPT = """
import pickle, sys
from odc.geo.geobox import GeoBox
from eofusion.cube import LoadOptions, WriteOptions, append_cube, load_aligned, open_datatree, write_cube
items = pickle.load(open(sys.argv[1], "rb"))
grid = GeoBox.from_bbox((600000, 4997440, 602560, 5000000), "EPSG:32631", resolution=10)
ds = load_aligned(items, grid, "s2", options=LoadOptions(chunk_size=32))
write_cube({"s2": ds}, sys.argv[2], write=WriteOptions(scheduler="threads"))
"""


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_sigkill_then_rerun_equals_uninterrupted_build(s2_scene: Callable[..., NormalizedItem], tmp_path: Path) -> None:
    items = [s2_scene(f"d{d}", dt(d), size=256, seed=d, bands=("B04", "B08")) for d in (1, 6, 11)]
    pickled = tmp_path / "items.pkl"
    pickled.write_bytes(pickle.dumps(items))
    script = tmp_path / "build.py"
    script.write_text(SCRIPT)
    killed = tmp_path / "killed.zarr"
    proc = subprocess.Popen(
        [sys.executable, str(script), str(pickled), str(killed)], start_new_session=True, cwd=tmp_path
    )
    markers = killed / PROGRESS_DIR / "build" / "s2"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if markers.exists() and sum(1 for _ in markers.iterdir()) >= 20:
            break
        time.sleep(0.002)
    assert proc.poll() is None, "the build finished before it could be killed; make it bigger"
    os.killpg(proc.pid, signal.SIGKILL)  # a real kill of the build and anything it started
    proc.wait()
    done_at_kill = sum(1 for _ in markers.iterdir())
    assert 0 < done_at_kill < 3 * 8 * 8 * 1
    assert not (root_attrs(killed) or {}).get("eofusion:complete")

    ds = load_aligned(items, GRID, "s2", options=OPTS)
    resumed = write_cube({"s2": ds}, killed, write=WriteOptions(scheduler="threads"))
    assert resumed.blocks_skipped >= done_at_kill - 2  # at most the in-flight ones are redone
    assert resumed.blocks_written + resumed.blocks_skipped == resumed.blocks_total
    fresh = tmp_path / "fresh.zarr"
    write_cube({"s2": ds}, fresh, write=WriteOptions(scheduler="threads"))
    assert _files(killed) == _files(fresh)


APPEND_SCRIPT = """
import pickle, sys
from odc.geo.geobox import GeoBox
from eofusion.cube import LoadOptions, WriteOptions, append_cube, load_aligned, write_cube
items = pickle.load(open(sys.argv[1], "rb"))
grid = GeoBox.from_bbox((600000, 4997440, 602560, 5000000), "EPSG:32631", resolution=10)
opts = LoadOptions(chunk_size=32)
threads = WriteOptions(scheduler="threads")
write_cube({"s2": load_aligned(items[:1], grid, "s2", options=opts)}, sys.argv[2], write=threads)
print("built", flush=True)
append_cube({"s2": load_aligned(items, grid, "s2", options=opts)}, sys.argv[2], write=threads)
"""


@pytest.mark.slow
def test_sigkill_during_append_then_rerun_completes_it(s2_scene: Callable[..., NormalizedItem], tmp_path: Path) -> None:
    items = [s2_scene(f"d{d}", dt(d), size=256, seed=d, bands=("B04", "B08")) for d in (1, 6, 11)]
    pickled = tmp_path / "items.pkl"
    pickled.write_bytes(pickle.dumps(items))
    script = tmp_path / "append.py"
    script.write_text(APPEND_SCRIPT)
    store = tmp_path / "cube.zarr"
    proc = subprocess.Popen([sys.executable, str(script), str(pickled), str(store)], start_new_session=True)
    deadline = time.monotonic() + 60
    markers: list[Path] = []
    while time.monotonic() < deadline and proc.poll() is None:
        markers = list((store / PROGRESS_DIR).glob("append-*/s2/*"))
        if len(markers) >= 10:
            break
        time.sleep(0.002)
    assert proc.poll() is None, "the append finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (root_attrs(store) or {}).get("eofusion:append_pending")

    full = load_aligned(items, GRID, "s2", options=OPTS)
    resumed = append_cube({"s2": full}, store, write=WriteOptions(scheduler="threads"))
    assert resumed.blocks_skipped >= len(markers) - 2 and resumed.blocks_total == 2 * 64
    cube = open_datatree(store)["s2"].to_dataset()
    np.testing.assert_array_equal(cube["time"].values, full["time"].values)
    np.testing.assert_array_equal(cube["data"].values, full["data"].values)
    assert json.loads(cube.attrs["eofusion:items"]) == [["d1"], ["d6"], ["d11"]]
