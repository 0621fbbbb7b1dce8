"""The README's main job, end to end on the demo world (no network, no account).

simulate -> catalog search -> training cube -> pretrain (MAE) -> fine-tune land cover (sensor dropout)
-> evaluate on a spatially held-out part (and every sensor subset) -> scheduled tile job (search -> cube ->
predict -> map, on Dask) -> mosaic COG + quicklook + STAC item -> accuracy against the simulator's truth.

Every stage writes under ``out/`` and is skipped when its result is already there (the same inputs give the
same files), so an interrupted demo continues where it stopped.
"""

from __future__ import annotations

import csv
import json
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
from eofusion.grid import NestedGrids, TilingScheme
from eofusion.mapping import write_quicklook
from eofusion.mapping.mosaic import mosaic_class_maps
from eofusion.models import build_model, model_config
from eofusion.pipeline.landcover import landcover_tile, legend_of, tile_maps
from eofusion.pipeline.manifest import TileStatus
from eofusion.pipeline.runner import finish_manifest, run_job
from eofusion.pipeline.spec import JobSpec, job_spec_from_dict
from eofusion.simulate import DemoWorld, WorldConfig, load_world, simulate_world
from eofusion.training.chips import grid_windows, random_windows, split_bounds
from eofusion.training.cube_dataset import CubeChipReader, CubeDataset, LabelledCubeDataset, LabelRaster
from eofusion.training.finetune import FinetuneConfig, class_weights, evaluate, finetune, subset_table
from eofusion.training.landcover import ClassTable, landcover_model, load_landcover_model, save_landcover_model
from eofusion.training.metrics import SegmentationMetric
from eofusion.training.pretrain import PretrainConfig, pretrain

logger = logging.getLogger(__name__)

SENSORS = ("s2", "s1", "aerial", "dsm")
# The demo world's collections with sensor data (its "landcover" collection is the truth, not an input).
COLLECTIONS = ("sentinel-2-l2a", "sentinel-1-rtc", "aerial-ign", "elevation")
SUBSETS: dict[str, tuple[str, ...]] = {
    "S2": ("s2",),
    "S1": ("s1",),
    "aerial": ("aerial",),
    "DSM": ("dsm",),
    "aerial+DSM": ("aerial", "dsm"),
    "S2+S1": ("s2", "s1"),
    "all": SENSORS,
}


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


def _world(config: DemoConfig, say: Stage) -> DemoWorld:
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


def _training_cube(config: DemoConfig, world: DemoWorld, say: Stage) -> Path:
    items = search(world.geoparquet_path, collections=list(COLLECTIONS), bbox=_bbox4326(world))
    normalised = normalize_items(items, on_error="skip")
    say("catalog", f"{len(items)} items found in the embedded catalog ({world.geoparquet_path.name})")
    grids = NestedGrids(_world_crs(world), _world_bounds(world), config.resolutions)
    store = config.out / "train-cube.zarr"
    summary = build_cube(normalised, grids, list(SENSORS), store, resolutions=config.resolutions, scheduler="threads")
    say("cube", f"{store} ({summary.blocks_written} blocks written, {summary.blocks_skipped} already there)")
    return store


def _labels(world: DemoWorld, reader: CubeChipReader, classes: ClassTable, res_m: float) -> LabelRaster:
    from odc.geo.geobox import GeoBox

    geobox = GeoBox.from_bbox(reader.bounds, reader.crs, resolution=res_m, tight=True)
    truth = world.rasterize_landcover(geobox)
    return LabelRaster(classes.to_indices(truth), geobox)


def _class_table(world: DemoWorld) -> ClassTable:
    return ClassTable.from_mapping(world.class_names, world.class_colours)


def _train(config: DemoConfig, world: DemoWorld, store: Path, say: Stage) -> tuple[Path, dict[str, Any]]:
    ckpt_path = config.out / "model" / "landcover.safetensors"
    reader = CubeChipReader(store)
    classes = _class_table(world)
    labels = _labels(world, reader, classes, config.label_res_m)
    train_area, test_area = split_bounds(reader.bounds, config.train_fraction, snap_m=reader.coarsest_m)
    test_windows = grid_windows(test_area, config.chip_m, snap_m=reader.coarsest_m)
    test = LabelledCubeDataset(reader, labels, test_windows)
    report_path = config.out / "model" / "evaluation.json"
    if ckpt_path.exists() and report_path.exists():
        say("train", f"model already at {ckpt_path}")
        return ckpt_path, json.loads(report_path.read_text())
    torch.manual_seed(config.seed)
    mae_config = model_config(config.model)
    windows = random_windows(train_area, config.chip_m, 512, seed=config.seed, snap_m=reader.coarsest_m)
    mae = build_model(mae_config)
    pre = pretrain(
        mae,
        CubeDataset(reader, windows),
        PretrainConfig(
            steps=config.pretrain_steps,
            batch_size=config.batch_size,
            seed=config.seed,
            lr=config.pretrain_lr,
            checkpoint_every=0,
        ),
        out_dir=config.out / "model" / "pretrain",
    )
    say(
        "pretrain",
        f"MAE loss {pre.first_loss:.3f} -> {pre.final_loss:.3f} in {pre.steps_done} steps ({pre.seconds:.0f}s)",
    )
    model = landcover_model(mae_config, len(classes.ids), pretrained=pre.checkpoint)
    train = LabelledCubeDataset(reader, labels, windows)
    weights = class_weights(labels.values, len(classes.ids))
    ft = finetune(
        model,
        train,
        FinetuneConfig(steps=config.finetune_steps, batch_size=config.batch_size, seed=config.seed),
        weights=weights,
    )
    say(
        "fine-tune",
        f"loss {ft.losses[0]:.3f} -> {np.mean(ft.losses[-10:]):.3f} in {len(ft.losses)} steps ({ft.seconds:.0f}s)",
    )
    scores = evaluate(model, test, len(classes.ids))
    rows = subset_table(model, test, len(classes.ids), SUBSETS, names=dict(enumerate(classes.names)))
    _write_table(rows, config.out / "model" / "sensor-subsets")
    report = {
        "held_out": scores.as_row(dict(enumerate(classes.names))),
        "subsets": rows,
        "pretrain_loss": [pre.first_loss, pre.final_loss],
        "finetune_loss": [ft.losses[0], ft.losses[-1]],
        "test_area": test_area,
        "train_area": train_area,
    }
    save_landcover_model(
        ckpt_path,
        model,
        classes,
        seed=config.seed,
        extra={"chip_m": config.predict_chip_m, "overlap_m": config.predict_chip_m / 4, "trained_on": "demo world"},
    )
    report_path.write_text(json.dumps(report, indent=2, default=str))
    say("evaluate", f"held-out OA {100 * scores.overall_accuracy:.1f} %, mIoU {100 * scores.miou:.1f} %")
    return ckpt_path, report


def _write_table(rows: list[dict[str, Any]], stem: Path) -> None:
    keys = ["sensors", "OA", "mIoU", "F1"]
    with open(stem.with_suffix(".csv"), "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r.get(k, "")) for k in keys) + " |" for r in rows]
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")


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
    world = _world(config, say)
    store = _training_cube(config, world, say)
    checkpoint, report = _train(config, world, store, say)
    spec = _job(config, world, checkpoint)
    scheme = TilingScheme(_world_crs(world), config.tile_size_m)
    tiles = {t: scheme.grids(t, config.resolutions) for t in spec.aoi.tiles or []}
    manifest = run_job(spec, tiles, landcover_tile)
    done, skipped, failed = (manifest.ids(s) for s in (TileStatus.DONE, TileStatus.SKIPPED, TileStatus.FAILED))
    say("map", f"{len(tiles)} tiles: {len(done)} mapped, {len(skipped)} already done, {len(failed)} failed")
    _, classes, _ = load_landcover_model(checkpoint)
    legend = legend_of(classes)
    maps = tile_maps(spec.outputs.dir, sorted(tiles))
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
    left, bottom, right, top = test_area
    res = abs(geobox.affine.a)
    c0, c1 = round((left - geobox.affine.c) / res), round((right - geobox.affine.c) / res)
    r0, r1 = round((geobox.affine.f - top) / res), round((geobox.affine.f - bottom) / res)
    metric = SegmentationMetric(len(classes.ids))
    metric.update(
        torch.from_numpy(pred[r0:r1, c0:c1].astype(np.int64))[None],
        torch.from_numpy(truth[r0:r1, c0:c1].astype(np.int64))[None],
    )
    scores = metric.compute()
    return {"OA": 100 * scores.overall_accuracy, "mIoU": 100 * scores.miou}
