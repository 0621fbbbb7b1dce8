"""The README's main job, end to end on the demo world (no network, no account).

simulate -> catalog search -> training cube -> pretrain (MAE) -> fine-tune land cover (sensor dropout)
-> evaluate on a spatially held-out part (and every sensor subset) -> scheduled tile job (search -> cube ->
predict -> map, on Dask) -> mosaic COG + quicklook + STAC item -> accuracy against the simulator's truth.

Every stage writes under ``out/`` and is skipped when its result is already there (the same inputs give the
same files), so an interrupted demo continues where it stopped.
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
from odc.geo import CRS

from eofusion.catalog import normalize_items, search
from eofusion.cube import build_cube
from eofusion.errors import GridError
from eofusion.grid import NestedGrids, TilingScheme, pixel_window
from eofusion.mapping import write_quicklook
from eofusion.mapping.mosaic import mosaic_class_maps
from eofusion.pipeline.landcover import landcover_inputs, landcover_tile, legend_of, tile_maps
from eofusion.pipeline.manifest import TileStatus
from eofusion.pipeline.runner import finish_manifest, run_job
from eofusion.pipeline.spec import JobSpec, job_spec_from_dict
from eofusion.pipeline.train_spec import TrainSpec, train_spec_from_dict
from eofusion.pipeline.training_run import run_training
from eofusion.simulate import DemoWorld, WorldConfig, load_world, simulate_world
from eofusion.training.landcover import ClassTable, load_landcover_model
from eofusion.training.metrics import SegmentationMetric

logger = logging.getLogger(__name__)

SENSORS = ("s2", "s1", "aerial", "dsm")
# The demo world's collections with sensor data (its "landcover" collection is the truth, not an input).
COLLECTIONS = ("sentinel-2-l2a", "sentinel-1-rtc", "aerial-ign", "elevation")


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


def _bbox4326(world: DemoWorld) -> tuple[float, float, float, float]:
    return tuple(world.grids["s2_10m"].extent.to_crs("EPSG:4326").boundingbox)  # type: ignore[return-value]


def training_cube(config: DemoConfig, world: DemoWorld, say: Stage) -> Path:
    """The world's s2/s1/aerial/dsm cube under ``out/train-cube.zarr`` (resumed if partly there)."""
    items = search(world.geoparquet_path, collections=list(COLLECTIONS), bbox=_bbox4326(world))
    normalised = normalize_items(items, on_error="skip")
    say("catalog", f"{len(items)} items found in the embedded catalog ({world.geoparquet_path.name})")
    grids = NestedGrids(_world_crs(world), _world_bounds(world), config.resolutions)
    store = config.out / "train-cube.zarr"
    # The demo's own intermediate: a cube of another configuration (other world files, another eofusion
    # version's hash) is replaced, the same one resumed.
    summary = build_cube(
        normalised, grids, list(SENSORS), store, resolutions=config.resolutions, scheduler="threads", overwrite=True
    )
    say("cube", f"{store} ({summary.blocks_written} blocks written, {summary.blocks_skipped} already there)")
    return store


def train_spec(config: DemoConfig, world: DemoWorld, store: Path) -> TrainSpec:
    """The demo's training run as a training spec (what `eofusion train --config` would read)."""
    classes = {i: {"name": world.class_names[i], "colour": world.class_colours[i]} for i in world.class_names}
    return train_spec_from_dict(
        {
            "name": "demo-landcover",
            "seed": config.seed,
            "data": {"cube": str(store), "sensors": list(SENSORS)},
            "labels": {"raster": str(world.landcover_path), "classes": classes, "resolution_m": config.label_res_m},
            "split": {"train_fraction": config.train_fraction, "axis": "x"},
            "chips": {"size_m": config.chip_m, "train_count": 512},
            "model": {
                "preset": config.model,
                "pretrain_steps": config.pretrain_steps,
                "pretrain_lr": config.pretrain_lr,
            },
            "finetune": {"steps": config.finetune_steps, "batch_size": config.batch_size},
            "outputs": {"dir": str(config.out / "model")},
        },
        source="the demo",
    )


def _train(config: DemoConfig, world: DemoWorld, store: Path, say: Stage) -> tuple[Path, dict[str, Any]]:
    report = run_training(train_spec(config, world, store), say)
    return Path(report["checkpoint"]), report


def _world_bounds(world: DemoWorld) -> tuple[float, float, float, float]:
    left, bottom, right, top = world.grids["s2_10m"].boundingbox
    return (left, bottom, right, top)


def _world_crs(world: DemoWorld) -> CRS:
    crs = world.grids["s2_10m"].crs
    if crs is None:  # pragma: no cover - the simulator always writes projected grids
        raise GridError("The demo world's grid has no CRS.")
    return crs


def _job(config: DemoConfig, world: DemoWorld, checkpoint: Path) -> JobSpec:
    crs = _world_crs(world)
    scheme = TilingScheme(crs, config.tile_size_m)
    tiles = scheme.tiles_for(world.grids["s2_10m"].extent.boundingbox, aoi_crs=crs)
    return job_spec_from_dict(
        {
            "name": "demo-landcover",
            "aoi": {"tiles": tiles},
            "tiling": {"crs": f"EPSG:{crs.epsg}", "tile_size_m": config.tile_size_m},
            "time": {"start": "2024-01-01", "end": "2024-12-31"},
            "catalog": {"source": str(world.geoparquet_path), "collections": list(COLLECTIONS)},
            "sensors": list(SENSORS),
            "resolutions": config.resolutions,
            "model": {"checkpoint": str(checkpoint)},
            "outputs": {"dir": str(config.out / "map")},
            "run": {"workers": 1, "threads_per_worker": 2},
        }
    )


def run_demo(config: DemoConfig, say: Stage) -> dict[str, Any]:
    """Run every stage; return a JSON-ready summary (paths, accuracies, timings are logged by ``say``)."""
    os.makedirs(config.out, exist_ok=True)
    world = prepare_world(config, say)
    store = training_cube(config, world, say)
    checkpoint, report = _train(config, world, store, say)
    spec = _job(config, world, checkpoint)
    scheme = TilingScheme(_world_crs(world), config.tile_size_m)
    tiles = {t: scheme.grids(t, config.resolutions) for t in spec.aoi.tiles or []}
    manifest = run_job(spec, tiles, landcover_tile, inputs_of=landcover_inputs)
    done, skipped, failed = (manifest.ids(s) for s in (TileStatus.DONE, TileStatus.SKIPPED, TileStatus.FAILED))
    say("map", f"{len(tiles)} tiles: {len(done)} mapped, {len(skipped)} already done, {len(failed)} failed")
    _, classes, _ = load_landcover_model(checkpoint)
    legend = legend_of(classes)
    maps = tile_maps(spec.outputs.dir, sorted(done + skipped))
    mosaic = mosaic_class_maps(maps, spec.outputs.dir / "landcover.tif", legend, bounds=_world_bounds(world))
    with rasterio.open(mosaic.classes) as src:
        ids = src.read(1)
        from odc.geo.geobox import GeoBox

        geobox = GeoBox(src.shape, src.transform, src.crs.to_wkt())
    quicklook = write_quicklook(ids, legend, spec.outputs.dir / "landcover.png", title="eofusion demo land cover")
    accuracy = _map_accuracy(world, ids, geobox, classes, report["test_area"])
    finish_manifest(manifest, spec.outputs.dir, {"mosaic": str(mosaic.classes), "quicklook": str(quicklook)})
    say(
        "accuracy",
        f"map vs simulator truth on the held-out area: OA {accuracy['OA']:.1f} %, mIoU {accuracy['mIoU']:.1f} %",
    )
    return {
        "map": str(mosaic.classes),
        "quicklook": str(quicklook),
        "held_out_map_accuracy": accuracy,
        "model": str(checkpoint),
        "evaluation": report,
        "failed_tiles": failed,
    }


def _map_accuracy(
    world: DemoWorld, ids: np.ndarray, geobox: Any, classes: ClassTable, test_area: Any
) -> dict[str, float]:
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
