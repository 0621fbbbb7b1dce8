"""The land-cover tile job: search -> normalise -> cube -> predict -> map COG + quicklook + STAC item.

:func:`landcover_tile` is the :class:`~eofusion.pipeline.runner.TileProcessor` that ``eofusion run`` uses. It
runs inside a Dask worker; its cube build uses the worker's local threads (no nested cluster).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from torch import nn

import eofusion
from eofusion.catalog import NormalizedItem, normalize_items, search
from eofusion.config import short_hash
from eofusion.cube import LoadOptions, WriteOptions, build_cube, cube_info, group_key, open_cube
from eofusion.cube.groups import item_group
from eofusion.errors import CatalogError, InputDataError
from eofusion.fingerprint import asset_identity
from eofusion.mapping import (
    CLASS_NODATA,
    MapExtras,
    MapLayers,
    MapLegend,
    MapSources,
    map_item,
    write_item,
    write_quicklook,
)
from eofusion.mapping.predict import PredictConfig, predict_to_cog
from eofusion.mapping.stac import COLLECTION_FILE
from eofusion.models.device import DevicePolicy
from eofusion.pipeline.runner import TileResult, TileTask
from eofusion.pipeline.spec import JobSpec
from eofusion.training.landcover import ClassTable, load_landcover_model

logger = logging.getLogger(__name__)
TILE_ITEM_NAME = "landcover.json"  # in tiles/<tile id>/, beside the tile's COGs


def legend_of(classes: ClassTable) -> MapLegend:
    """The map legend of a model's class table."""
    return MapLegend.from_mapping(
        {i: (n, c) for i, n, c in zip(classes.ids, classes.names, classes.colours, strict=True)}
    )


def sensors_with_items(wanted: Sequence[str], items: Sequence[NormalizedItem], tile_id: str) -> list[str]:
    """The job's sensors that have at least one item over the tile: the model maps with whatever is there.

    Raises:
        CatalogError: None of the job's sensors has an item over the tile.
    """
    present = {item_group(i) for i in items}
    usable = [str(s) for s in wanted if group_key(str(s)) in present]
    if not usable:
        raise CatalogError(
            f"Tile {tile_id}: the catalog has items, but none of the job's sensors ({', '.join(map(str, wanted))}); "
            "check the job's catalog.collections and sensors."
        )
    missing = [str(s) for s in wanted if str(s) not in usable]
    if missing:
        logger.warning("tile %s: no %s items; mapping with %s", tile_id, "/".join(missing), "+".join(usable))
    return usable


def tile_items(task: TileTask) -> list[NormalizedItem]:
    """The catalog's items over a tile in the job's time range, normalised (unreadable items skipped).

    Raises:
        CatalogError: No item covers the tile.
    """
    spec = task.spec
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
    return normalize_items(items, on_error="skip")


def skipped_inputs(cube_path: Path) -> list[dict[str, Any]]:
    """What the tile's cube build left out (every group's ``eofusion:skipped``), for records and STAC."""
    info = cube_info(cube_path)
    return [entry for group in info["groups"].values() for entry in group["skipped"]]


def inputs_fingerprint(items: Sequence[NormalizedItem]) -> str:
    """A hash of the items a tile is made from and of their files (see :func:`eofusion.fingerprint.asset_identity`)."""
    return short_hash({i.id: {b: asset_identity(a.href) for b, a in sorted(i.assets.items())} for i in items})


def landcover_inputs(task: TileTask) -> str:
    """The tile's inputs now: what ``eofusion run`` compares with a finished tile's record."""
    return inputs_fingerprint(tile_items(task))


def worker_model(checkpoint: Path, device: str) -> tuple[nn.Module, ClassTable, dict[str, Any]]:
    """The job's model, loaded once per worker process and device (and again if the file changes)."""
    stat = checkpoint.stat()
    return _load_on(str(checkpoint), (stat.st_mtime_ns, stat.st_size), str(DevicePolicy.resolve(device).device))


@functools.lru_cache(maxsize=2)
def _load_on(checkpoint: str, stamp: tuple[int, int], device: str) -> tuple[nn.Module, ClassTable, dict[str, Any]]:
    model, classes, meta = load_landcover_model(checkpoint)
    logger.info("loaded model %s on %s", checkpoint, device)
    return model.to(device).eval(), classes, meta


def tile_sources(task: TileTask, items: Sequence[NormalizedItem], provenance: dict[str, Any]) -> MapSources:
    """What a tile's map is made from (its input items' documents) and by (model, software), for its STAC item."""
    times = sorted(i.datetime for i in items)
    now = datetime.now(UTC)
    spec = task.spec
    return MapSources(
        start=times[0] if times else now,
        end=times[-1] if times else now,
        derived_from=sorted({i.href for i in items if i.href}),
        input_items=sorted(f"{i.collection}/{i.id}" for i in items),
        lineage=map_lineage(spec, provenance["sensors"]),
        software=software_versions(),
        properties=provenance,
        collection=spec.name,
        collection_href=f"../../{COLLECTION_FILE}",  # tiles/<id>/landcover.json -> <outputs>/collection.json
    )


def map_lineage(spec: JobSpec, sensors: Sequence[str]) -> str:
    """One sentence on how a map of this job is made."""
    return (
        f"Land-cover classes predicted by the spectrum-aware model {spec.model.checkpoint.name} from "
        f"{' + '.join(sensors)} items (derived_from links), overlapping windows blended, eofusion job {spec.name} "
        f"(configuration {spec.config_hash()})."
    )


def software_versions() -> dict[str, str]:
    """The versions that made a map (processing:software)."""
    import torch

    return {"eofusion": eofusion.__version__, "torch": torch.__version__, "gdal": rasterio.__gdal_version__}


def landcover_tile(task: TileTask) -> TileResult:
    """Make one tile's land-cover map from the catalog, using the job's model checkpoint."""
    spec = task.spec
    tile_dir = task.out_dir / "tiles" / task.tile_id
    tile_dir.mkdir(parents=True, exist_ok=True)
    normalised = tile_items(task)
    sensors = sensors_with_items(spec.sensors, normalised, task.tile_id)
    cube_path = tile_dir / "cube.zarr"
    # The tile's cube is this job's intermediate: one left by another configuration (time range, items,
    # files) is replaced; one of the same configuration resumes.
    options = LoadOptions(on_error=spec.catalog.on_error)
    build_cube(
        normalised,
        task.grids,
        sensors,
        cube_path,
        options=options,
        write=WriteOptions(scheduler="threads", overwrite=True),
    )
    skipped = skipped_inputs(cube_path)

    model, classes, meta = worker_model(spec.model.checkpoint, spec.run.device)
    legend = legend_of(classes)
    extra = meta.get("extra", {})
    cube = open_cube(cube_path, groups=sensors)
    # Every tile is mapped on the job's finest grid and keeps the job's sensor bits, whatever sensors it has,
    # so tiles mosaic and their availability layers mean the same thing.
    config = PredictConfig(
        chip_m=float(extra.get("chip_m", 320.0)),
        overlap_m=float(extra.get("overlap_m", 80.0)),
        out_res_m=float(task.grids.resolutions[task.grids.keys[0]]),
        sensors=tuple(str(s) for s in spec.sensors),
        device=spec.run.device,
        batch_size=DevicePolicy.resolve(spec.run.device).predict_batch,
    )
    provenance = {
        "version": eofusion.__version__,
        "config_hash": spec.config_hash(),
        "model": str(spec.model.checkpoint.name),
        "model_config_hash": meta.get("config_hash"),
        "sensors": sensors,
        "tile": task.tile_id,
        "skipped_inputs": skipped,
    }
    prediction = predict_to_cog(
        model,
        cube,
        legend,
        tile_dir / "landcover.tif",
        config,
        layers=MapLayers(confidence=spec.outputs.confidence, probabilities=spec.outputs.probabilities),
        tags=provenance,
    )
    outputs = {"classes": str(prediction.files.classes), "sensors": str(prediction.availability)}
    if prediction.files.confidence is not None:
        outputs["confidence"] = str(prediction.files.confidence)
    if prediction.files.probabilities is not None:
        outputs["probabilities"] = str(prediction.files.probabilities)
    outputs.update({f"classes_{p.suffix.lstrip('.')}": str(p) for p in prediction.files.sidecars})  # .xml, .qml
    quicklook = None
    if spec.outputs.quicklook:
        with rasterio.open(prediction.files.classes) as src:
            ids = src.read(1, out_shape=(min(src.height, 1024), min(src.width, 1024)))
        quicklook = write_quicklook(ids, legend, tile_dir / "landcover.png", title=f"{spec.name} {task.tile_id}")
        outputs["quicklook"] = str(quicklook)
    item = map_item(
        f"{spec.name}-{task.tile_id}",
        prediction.files,
        legend,
        tile_sources(task, normalised, provenance),
        MapExtras(availability=prediction.availability, sensors=prediction.sensors, quicklook=quicklook),
    )
    outputs["item"] = str(write_item(item, tile_dir / TILE_ITEM_NAME))
    with rasterio.open(prediction.files.classes) as src:
        data = src.read(1)
    valid = data != CLASS_NODATA
    if not valid.any():
        raise InputDataError(f"Tile {task.tile_id}: no pixel had data from any sensor; check the catalog's coverage.")
    counts = {legend.name(int(v)): int(n) for v, n in zip(*np.unique(data[valid], return_counts=True), strict=True)}
    return TileResult(
        outputs=outputs,
        metrics={"items": len(normalised), "class_pixels": counts, "skipped_inputs": skipped},
        inputs=inputs_fingerprint(normalised),
    )


def tile_maps(out_dir: Path, tile_ids: Sequence[str]) -> list[Path]:
    """The class-map COGs of the given (finished) tiles, in the given order."""
    return [out_dir / "tiles" / t / "landcover.tif" for t in tile_ids]
