"""The land-cover tile job: search -> normalise -> cube -> predict -> map COG + quicklook + STAC item.

:func:`landcover_tile` is the :class:`~eofusion.pipeline.runner.TileProcessor` that ``eofusion run`` uses. It
runs inside a Dask worker; its cube build uses the worker's local threads (no nested cluster).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import rasterio

import eofusion
from eofusion.catalog import normalize_items, search
from eofusion.cube import build_cube
from eofusion.errors import CatalogError, InputDataError
from eofusion.mapping import MapLegend, map_item, write_item, write_quicklook
from eofusion.mapping.predict import PredictConfig, predict_to_cog
from eofusion.pipeline.runner import TileResult, TileTask
from eofusion.training.cube_dataset import CubeChipReader
from eofusion.training.landcover import ClassTable, load_landcover_model

logger = logging.getLogger(__name__)


def legend_of(classes: ClassTable) -> MapLegend:
    """The map legend of a model's class table."""
    return MapLegend.from_mapping(
        {i: (n, c) for i, n, c in zip(classes.ids, classes.names, classes.colours, strict=True)}
    )


def landcover_tile(task: TileTask) -> TileResult:
    """Make one tile's land-cover map from the catalog, using the job's model checkpoint."""
    spec = task.spec
    tile_dir = task.out_dir / "tiles" / task.tile_id
    tile_dir.mkdir(parents=True, exist_ok=True)
    first = task.grids.geobox(task.grids.keys[-1])
    bbox = tuple(first.extent.to_crs("EPSG:4326").boundingbox)
    items = search(
        spec.catalog.source,
        collections=spec.catalog.collections,
        bbox=bbox,
        datetime=spec.time.interval(),
        max_items=spec.catalog.max_items,
    )
    if not items:
        raise CatalogError(f"No catalog item covers tile {task.tile_id} in {spec.time.interval()}.")
    normalised = normalize_items(items, on_error="skip")
    cube_path = tile_dir / "cube.zarr"
    build_cube(normalised, task.grids, list(spec.sensors), cube_path, scheduler="threads")

    model, classes, meta = load_landcover_model(spec.model.checkpoint)
    legend = legend_of(classes)
    extra = meta.get("extra", {})
    reader = CubeChipReader(cube_path, groups=[g for g in spec.sensors])
    config = PredictConfig(chip_m=float(extra.get("chip_m", 320.0)), overlap_m=float(extra.get("overlap_m", 80.0)))
    provenance = {
        "version": eofusion.__version__,
        "config_hash": spec.config_hash(),
        "model": str(spec.model.checkpoint.name),
        "model_config_hash": meta.get("config_hash"),
        "sensors": list(spec.sensors),
        "tile": task.tile_id,
    }
    prediction = predict_to_cog(
        model,
        reader,
        legend,
        tile_dir / "landcover.tif",
        config,
        probabilities=spec.outputs.probabilities,
        tags=provenance,
    )
    outputs = {"classes": str(prediction.files.classes), "sensors": str(prediction.availability)}
    quicklook = None
    if spec.outputs.quicklook:
        with rasterio.open(prediction.files.classes) as src:
            ids = src.read(1, out_shape=(min(src.height, 1024), min(src.width, 1024)))
        quicklook = write_quicklook(ids, legend, tile_dir / "landcover.png", title=f"{spec.name} {task.tile_id}")
        outputs["quicklook"] = str(quicklook)
    times = sorted(i.datetime for i in normalised)
    item = map_item(
        f"{spec.name}-{task.tile_id}",
        prediction.files,
        prediction.geobox,
        legend,
        time_range=(times[0], times[-1]) if times else (datetime.now(UTC), datetime.now(UTC)),
        inputs=[i.id for i in normalised],
        provenance=provenance,
        quicklook=quicklook,
    )
    outputs["item"] = str(write_item(item, tile_dir / "landcover.json"))
    with rasterio.open(prediction.files.classes) as src:
        data = src.read(1)
    valid = data != 255
    if not valid.any():
        raise InputDataError(f"Tile {task.tile_id}: no pixel had data from any sensor; check the catalog's coverage.")
    counts = {legend.name(int(v)): int(n) for v, n in zip(*np.unique(data[valid], return_counts=True), strict=True)}
    return TileResult(outputs=outputs, metrics={"items": len(normalised), "class_pixels": counts})


def tile_maps(out_dir: Path, tile_ids: list[str]) -> list[Path]:
    """The class-map COGs of finished tiles, in tile order."""
    return [
        out_dir / "tiles" / t / "landcover.tif" for t in tile_ids if (out_dir / "tiles" / t / "landcover.tif").exists()
    ]
