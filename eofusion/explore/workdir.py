"""Small, shared settings for the notebooks: one work directory, the demo world and its cube made once.

The notebooks call these so they agree on sizes (a 960 m world with aerial at 1 m, few training steps:
each notebook runs in well under two minutes on 2 CPU cores) and reuse each other's outputs — every step
below is skipped when its result is already in the work directory.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from eofusion.catalog import normalize_items, search
from eofusion.cube import build_cube
from eofusion.errors import GridError
from eofusion.grid import NestedGrids
from eofusion.simulate import DemoWorld, WorldConfig, load_world, simulate_world

if TYPE_CHECKING:
    from eofusion.pipeline.demo import DemoConfig

WORK_ENV = "EOFUSION_NOTEBOOK_WORK"
REAL_DATA_ENV = "EOFUSION_REAL_DATA"


def notebook_workdir() -> Path:
    """``$EOFUSION_NOTEBOOK_WORK`` or ``<tmp>/eofusion-notebooks``, created if needed."""
    work = Path(os.environ.get(WORK_ENV) or Path(tempfile.gettempdir()) / "eofusion-notebooks")
    work.mkdir(parents=True, exist_ok=True)
    return work


def small_demo_config(work: Path | None = None, pretrain_steps: int = 20, finetune_steps: int = 40) -> DemoConfig:
    """The demo job at notebook size, writing under ``<work>/demo``.

    A 960 m world with aerial at 1 m, 160 m chips and batches of 4 (the README demo: 1920 m, 320 m, 8):
    fine-tuning predicts at the finest (1 m) grid, so its cost grows with the pixels per chip.
    """
    # The demo module imports torch: load it only when asked (``import eofusion.explore`` stays light).
    from eofusion.pipeline.demo import DemoConfig

    return DemoConfig(
        out=(work or notebook_workdir()) / "demo",
        world=WorldConfig(size_m=960.0, aerial_resolution_m=1.0),
        pretrain_steps=pretrain_steps,
        finetune_steps=finetune_steps,
        chip_m=160.0,
        batch_size=4,
        tile_size_m=960.0,
    )


def demo_world(config: DemoConfig) -> DemoWorld:
    """The demo world of ``config`` (rendered on first use, then loaded), where the demo job keeps it."""
    root = config.out / "world"
    if (root / "world.json").exists():
        return load_world(root)
    return simulate_world(replace(config.world, seed=config.seed), root)


def demo_grids(config: DemoConfig, world: DemoWorld) -> NestedGrids:
    """The nested grids of the demo's training cube: the world's extent at the demo resolutions."""
    s2 = world.grids["s2_10m"]
    if s2.crs is None:  # pragma: no cover - the simulator always writes projected grids
        raise GridError("The demo world's Sentinel-2 grid has no CRS.")
    left, bottom, right, top = s2.boundingbox
    return NestedGrids(s2.crs, (left, bottom, right, top), config.resolutions)


def demo_bbox(world: DemoWorld) -> tuple[float, float, float, float]:
    """The world's extent as an EPSG:4326 bbox (for catalog searches)."""
    left, bottom, right, top = world.grids["s2_10m"].extent.to_crs("EPSG:4326").boundingbox
    return (left, bottom, right, top)


def demo_cube(config: DemoConfig, scheduler: str | None = "threads") -> Path:
    """The demo's training cube (``<out>/train-cube.zarr``): search -> normalise -> build (resumable)."""
    from eofusion.pipeline.demo import COLLECTIONS, SENSORS

    world = demo_world(config)
    items = search(world.geoparquet_path, collections=list(COLLECTIONS), bbox=demo_bbox(world))
    store = config.out / "train-cube.zarr"
    build_cube(
        normalize_items(items, on_error="skip"),
        demo_grids(config, world),
        list(SENSORS),
        store,
        resolutions=config.resolutions,
        scheduler=scheduler,
        overwrite=True,  # as the demo's: derived from the world alone
    )
    return store


def real_data_dir() -> Path | None:
    """The shared real-data folder (``$EOFUSION_REAL_DATA``, else ``../shared/data/real`` next to the repo)."""
    candidates = [os.environ.get(REAL_DATA_ENV), Path(__file__).resolve().parents[3] / "shared" / "data" / "real"]
    candidates.append(Path.cwd().parent / "shared" / "data" / "real")
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None
