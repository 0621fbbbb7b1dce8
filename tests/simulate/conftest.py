"""A small demo world rendered once per test session (fast: ~720 m, few dates).

Set ``EOFUSION_SIMULATE_TEST_SEED`` to run the suite on another seed's world.
"""

from __future__ import annotations

import os
from datetime import date

import pytest

from eofusion.simulate import DemoWorld, WorldConfig, simulate_world


def small_config(seed: int = int(os.environ.get("EOFUSION_SIMULATE_TEST_SEED", "7"))) -> WorldConfig:
    """A world small enough for tests that still holds every sensor, a cloudy date and both passes."""
    return WorldConfig(
        seed=seed,
        size_m=720.0,
        s2_dates=(date(2024, 4, 17), date(2024, 7, 21), date(2024, 8, 20)),
        s2_cloudy_dates=(date(2024, 8, 20),),
        s2_cloud_cover=0.3,
        s1_ascending_dates=(date(2024, 4, 7), date(2024, 7, 24)),
        s1_descending_dates=(date(2024, 7, 18),),
        aerial_resolution_m=0.5,
        dsm_resolution_m=1.0,
        window_px=512,  # several windows even in a small world: exercises the window seams
    )


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> DemoWorld:
    return simulate_world(small_config(), tmp_path_factory.mktemp("world") / "demo")
