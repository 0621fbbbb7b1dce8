"""Shared test set-up: paths to ../shared data, and the CI rule for optional resources."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# Helpers shared by test folders (stac_validation.py) are imported by name under --import-mode=importlib.
sys.path.insert(0, str(Path(__file__).resolve().parent))

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# Nothing in the test suite may wait on a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def require_or_skip(available: bool, reason: str) -> None:
    """Skip when a resource is missing on a developer's machine; fail in CI, where it must be there."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{reason} (required in CI)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def require():  # type: ignore[no-untyped-def]
    """The skip-locally / fail-in-CI rule, for conftests below this one."""
    return require_or_skip


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, beside the repository (read-only)."""
    require_or_skip(SHARED_DATA.is_dir(), f"{SHARED_DATA} is not there")
    return SHARED_DATA


# ---------------------------------------------------------------- a small demo world and its cube
SMALL_RESOLUTIONS = {"s2": 10.0, "s1": 10.0, "aerial": 1.0, "dsm": 1.0}
SENSOR_COLLECTIONS = ["sentinel-2-l2a", "sentinel-1-rtc", "aerial-ign", "elevation"]


@pytest.fixture(scope="session")
def small_world(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A 960 m demo world (aerial at 1 m), rendered once per session."""
    from eofusion.simulate import WorldConfig, simulate_world

    config = WorldConfig(seed=3, size_m=960.0, aerial_resolution_m=1.0)
    return simulate_world(config, tmp_path_factory.mktemp("small-world") / "world")


@pytest.fixture(scope="session")
def small_cube(small_world, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    """The small world's s2/s1/aerial/dsm cube on nested 10/10/1/1 m grids."""
    from eofusion.catalog import normalize_items, search
    from eofusion.cube import WriteOptions, build_cube
    from eofusion.grid import NestedGrids

    items = normalize_items(search(small_world.geoparquet_path, collections=SENSOR_COLLECTIONS), on_error="raise")
    s2 = small_world.grids["s2_10m"]
    grids = NestedGrids(s2.crs, tuple(s2.boundingbox), SMALL_RESOLUTIONS)
    store = tmp_path_factory.mktemp("small-cube") / "cube.zarr"
    build_cube(items, grids, list(SMALL_RESOLUTIONS), store, write=WriteOptions(scheduler="threads"))
    return store
