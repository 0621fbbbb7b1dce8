"""The README's main job, end to end on the demo world (no network, no account).

One orchestration path, the CLI's: simulate -> ``out/train.yaml`` run by :func:`run_training` (what
``eofusion train --config`` calls: catalog search, training cube, MAE pretraining, land-cover fine-tuning
with sensor dropout, held-out scores on every sensor subset, baselines) -> ``out/job.yaml`` run by
:func:`eofusion.pipeline.api.run_job` (what ``eofusion run`` calls: tiles -> cube -> predict -> map on Dask,
mosaic, quicklook, STAC items, manifest) -> the mosaic's accuracy against the simulator's truth (the one
demo-only step: real data has no truth raster).

Both specs stay in ``out/`` so a user can rerun or edit either stage with the CLI. Every stage skips what
is already done for the same inputs, so an interrupted demo continues where it stopped.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import torch
import yaml
from odc.geo.geobox import GeoBox

from eofusion.atomic import write_text_atomic
from eofusion.errors import GridError
from eofusion.grid import NestedGrids, pixel_window
from eofusion.pipeline.api import run_job
from eofusion.pipeline.manifest import TileStatus
from eofusion.pipeline.train_spec import load_train_spec
from eofusion.pipeline.training_data import ensure_cube
from eofusion.pipeline.training_run import run_training
from eofusion.simulate import DemoWorld, WorldConfig, load_world, simulate_world
from eofusion.training.landcover import ClassTable
from eofusion.training.metrics import SegmentationMetric

logger = logging.getLogger(__name__)

SENSORS = ("s2", "s1", "aerial", "dsm")
# The demo world's collections with sensor data (its "landcover" collection is the truth, not an input).
COLLECTIONS = ("sentinel-2-l2a", "sentinel-1-rtc", "aerial-ign", "elevation")
TRAIN_SPEC = "train.yaml"
JOB_SPEC = "job.yaml"
TRAIN_CUBE = "train-cube.zarr"


@dataclass(frozen=True)
class DemoConfig:
    """Sizes of the demo: defaults run in a few minutes on 2 CPU cores."""

    out: Path
    seed: int = 0
    # Aerial at 1 m (the simulator's default is 0.5 m): the demo's cube and map are at 1 m anyway.
    world: WorldConfig = field(default_factory=lambda: WorldConfig(aerial_resolution_m=1.0))
    resolutions: dict[str, float] = field(default_factory=lambda: {"s2": 10.0, "s1": 10.0, "aerial": 1.0, "dsm": 1.0})
    model: str = "tiny"
    # Training chips of 160 m (4 x 4 tokens of 40 m; 160 x 160 px at 1 m) keep a CPU step well under a
    # second; maps are predicted with 320 m windows (more context per window, fewer seams to blend).
    chip_m: float = 160.0
    predict_chip_m: float = 320.0
    # Fine-tuning labels at 2 m (4x fewer output pixels than 1 m: the CPU cost of training is in the
    # full-resolution head); the map itself is predicted at the finest cube resolution (1 m).
    label_res_m: float = 2.0
    pretrain_steps: int = 60
    pretrain_lr: float = 3e-3
    finetune_steps: int = 150
    batch_size: int = 8
    train_fraction: float = 0.6  # western part for training, the rest held out
    tile_size_m: float = 1280.0


Stage = Callable[[str, str], None]  # (stage name, message)


def prepare_world(config: DemoConfig, say: Stage) -> DemoWorld:
    """The demo world under ``out/world`` (rendered once, then reused)."""
    root = config.out / "world"
    if (root / "world.json").exists():
        world = load_world(root)
        say("simulate", f"demo world already at {root}")
        return world
    world = simulate_world(replace(config.world, seed=config.seed), root)
    say("simulate", f"demo world rendered at {root}")
    return world


def world_grids(world: DemoWorld, resolutions: dict[str, float]) -> NestedGrids:
    """Nested grids over the demo world's extent, in its Sentinel CRS (the training cube's grids)."""
    s2 = world.grids["s2_10m"]
    if s2.crs is None:  # pragma: no cover - the simulator always writes projected grids
        raise GridError("The demo world's grid has no CRS.")
    left, bottom, right, top = s2.boundingbox
    return NestedGrids(s2.crs, (left, bottom, right, top), resolutions)


def world_bbox4326(world: DemoWorld) -> tuple[float, float, float, float]:
    """The world's extent as an EPSG:4326 bbox (for catalog searches)."""
    left, bottom, right, top = world.grids["s2_10m"].extent.to_crs("EPSG:4326").boundingbox
    return (left, bottom, right, top)


def _crs_name(grids: NestedGrids) -> str:
    return f"EPSG:{grids.crs.epsg}"


def train_spec_dict(config: DemoConfig, world: DemoWorld) -> dict[str, Any]:
    """The demo's training run as a training spec (written to ``out/train.yaml``).

    The cube is built by the training run from the world's catalog over the world's extent, in its CRS;
    it is the demo's own intermediate, so a cube of another configuration is replaced (``replace``).
    """
    grids = world_grids(world, config.resolutions)
    classes = {i: {"name": world.class_names[i], "colour": world.class_colours[i]} for i in world.class_names}
    return {
        "name": "demo-landcover",
        "seed": config.seed,
        "data": {
            "cube": str(config.out / TRAIN_CUBE),
            "sensors": list(SENSORS),
            "build": {
                "catalog": str(world.geoparquet_path),
                "collections": list(COLLECTIONS),
                "bbox": list(grids.bounds),
                "crs": _crs_name(grids),
                "resolutions": dict(config.resolutions),
                "replace": True,
            },
        },
        "labels": {"raster": str(world.landcover_path), "classes": classes, "resolution_m": config.label_res_m},
        "split": {"train_fraction": config.train_fraction, "axis": "x"},
        "chips": {"size_m": config.chip_m, "train_count": 512},
        "model": {"preset": config.model, "pretrain_steps": config.pretrain_steps, "pretrain_lr": config.pretrain_lr},
        "finetune": {"steps": config.finetune_steps, "batch_size": config.batch_size},
        "outputs": {"dir": str(config.out / "model")},
    }


def job_spec_dict(config: DemoConfig, world: DemoWorld, checkpoint: Path) -> dict[str, Any]:
    """The demo's map job as a job spec (written to ``out/job.yaml``): the world's extent, tiled, mapped."""
    grids = world_grids(world, config.resolutions)
    return {
        "name": "demo-landcover",
        "aoi": {"bbox": list(grids.bounds), "crs": _crs_name(grids)},
        "tiling": {"crs": _crs_name(grids), "tile_size_m": config.tile_size_m},
        "time": {"start": "2024-01-01", "end": "2024-12-31"},
        "catalog": {"source": str(world.geoparquet_path), "collections": list(COLLECTIONS)},
        "sensors": list(SENSORS),
        "resolutions": dict(config.resolutions),
        "model": {"checkpoint": str(checkpoint)},
        "outputs": {"dir": str(config.out / "map")},
        "run": {"workers": 1, "threads_per_worker": 2},
    }


def write_spec(path: Path, spec: dict[str, Any]) -> Path:
    """A spec as YAML (atomically: a killed demo never leaves half a spec)."""
    header = "# Written by `eofusion demo`; rerun this stage with the CLI (README: training specs / job specs).\n"
    return write_text_atomic(path, header + yaml.safe_dump(spec, sort_keys=False))


def training_cube(config: DemoConfig, world: DemoWorld, say: Stage) -> Path:
    """The demo's training cube (``out/train-cube.zarr``), built as the demo's training run builds it."""
    path = write_spec(config.out / TRAIN_SPEC, train_spec_dict(config, world))
    return ensure_cube(load_train_spec(path), say)


def run_demo(config: DemoConfig, say: Stage) -> dict[str, Any]:
    """Run every stage; return a JSON-ready summary (paths, accuracies, timings are logged by ``say``)."""
    out = config.out.absolute()
    config = replace(config, out=out)
    os.makedirs(out, exist_ok=True)
    world = prepare_world(config, say)
    train_path = write_spec(out / TRAIN_SPEC, train_spec_dict(config, world))
    say("train", f"training spec {train_path} (= eofusion train --config {train_path})")
    report = run_training(load_train_spec(train_path), say)
    checkpoint = Path(report["checkpoint"])
    job_path = write_spec(out / JOB_SPEC, job_spec_dict(config, world, checkpoint))
    say("map", f"job spec {job_path} (= eofusion run {job_path})")
    manifest = run_job(job_path)
    done, skipped, failed = (manifest.ids(s) for s in (TileStatus.DONE, TileStatus.SKIPPED, TileStatus.FAILED))
    total = len(done) + len(skipped) + len(failed)
    say("map", f"{total} tiles: {len(done)} mapped, {len(skipped)} already done, {len(failed)} failed")
    mosaic = Path(manifest.outputs["mosaic"])
    classes = ClassTable.from_json(report["classes"])
    accuracy = map_accuracy(world, mosaic, classes, report["test_area"])
    say(
        "accuracy",
        f"map vs simulator truth on the held-out area: OA {accuracy['OA']:.1f} %, mIoU {accuracy['mIoU']:.1f} %",
    )
    return {
        "map": str(mosaic),
        "quicklook": manifest.outputs.get("quicklook"),
        "held_out_map_accuracy": accuracy,
        "model": str(checkpoint),
        "train_spec": str(train_path),
        "job_spec": str(job_path),
        "evaluation": report,
        "failed_tiles": failed,
    }


def map_accuracy(world: DemoWorld, mosaic: Path, classes: ClassTable, test_area: Any) -> dict[str, float]:
    """Overall accuracy and mIoU (%) of a class map against the simulator's truth, inside ``test_area``."""
    with rasterio.open(mosaic) as src:
        ids = src.read(1)
        geobox = GeoBox(src.shape, src.transform, src.crs.to_wkt())
    truth = classes.to_indices(world.rasterize_landcover(geobox))
    pred = classes.to_indices(ids)
    part = pixel_window(geobox, test_area).toslices()
    metric = SegmentationMetric(len(classes.ids))
    metric.update(
        torch.from_numpy(pred[part].astype(np.int64))[None],
        torch.from_numpy(truth[part].astype(np.int64))[None],
    )
    scores = metric.compute()
    return {"OA": 100 * scores.overall_accuracy, "mIoU": 100 * scores.miou}
