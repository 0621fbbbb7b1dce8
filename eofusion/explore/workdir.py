"""Small, shared settings for the notebooks: one work directory, the demo world and its cube made once.

The notebooks call these so they agree on sizes (a 960 m world with aerial at 1 m, few training steps:
each notebook runs in well under two minutes on 2 CPU cores) and reuse each other's outputs — every step
below is skipped when its result is already in the work directory.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from eofusion.grid import NestedGrids
from eofusion.simulate import DemoWorld, WorldConfig

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


def _quiet(stage: str, message: str) -> None:
    """A notebook shows results, not the demo's stage log."""


def demo_world(config: DemoConfig) -> DemoWorld:
    """The demo world of ``config`` (rendered on first use, then loaded), where the demo job keeps it."""
    from eofusion.pipeline.demo import prepare_world

    return prepare_world(config, _quiet)


def demo_grids(config: DemoConfig, world: DemoWorld) -> NestedGrids:
    """The nested grids of the demo's training cube: the world's extent at the demo resolutions."""
    from eofusion.pipeline.demo import world_grids

    return world_grids(world, config.resolutions)


def demo_bbox(world: DemoWorld) -> tuple[float, float, float, float]:
    """The world's extent as an EPSG:4326 bbox (for catalog searches)."""
    from eofusion.pipeline.demo import world_bbox4326

    return world_bbox4326(world)


def demo_cube(config: DemoConfig) -> Path:
    """The demo's training cube (``<out>/train-cube.zarr``), built by the demo's own training spec (resumable)."""
    from eofusion.pipeline.demo import training_cube

    return training_cube(config, demo_world(config), _quiet)


def real_data_dir() -> Path | None:
    """The shared real-data folder (``$EOFUSION_REAL_DATA``, else ``../shared/data/real`` next to the repo)."""
    candidates = [os.environ.get(REAL_DATA_ENV), Path(__file__).resolve().parents[3] / "shared" / "data" / "real"]
    candidates.append(Path.cwd().parent / "shared" / "data" / "real")
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None
