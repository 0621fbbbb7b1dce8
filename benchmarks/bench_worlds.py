"""The Sentinel-2-only demo world the cube and loader benchmarks share (imported by them, not a benchmark)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any


def s2_world(folder: Path, size_m: float, dates: int) -> Any:
    """A demo world whose S2 dates are 10 days apart and cloud-free (aerial/DSM kept tiny), simulated once."""
    from eofusion.simulate import WorldConfig, load_world, simulate_world

    if (folder / "world.json").exists():
        return load_world(folder)
    config = WorldConfig(
        seed=0,
        size_m=size_m,
        s2_dates=tuple(date(2024, 5, 3) + timedelta(days=10 * i) for i in range(dates)),
        s2_cloudy_dates=(),
        s1_ascending_dates=(),
        s1_descending_dates=(),
        aerial_resolution_m=1.0,
        aerial_size_m=120.0,
        dsm_resolution_m=2.0,
    )
    return simulate_world(config, folder)
