"""Running a job spec: tiles of the AOI, checks before any work, the tile run, the mosaic, the manifest."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from odc.geo import CRS
from odc.geo.geom import Geometry

from eofusion.catalog import catalog_file
from eofusion.errors import CheckpointError, ConfigError
from eofusion.grid import NestedGrids, TilingScheme, as_geometry, scheme_of_tile, utm_crs_for
from eofusion.mapping import MapLegend, ensure_writable_dir, write_quicklook
from eofusion.mapping.cog import confidence_path
from eofusion.mapping.mosaic import mosaic_class_maps
from eofusion.pipeline.job_stac import (
    MOSAIC_ITEM_NAME,
    FinishedTiles,
    mosaic_item,
    publish_collection,
    published_tile_items,
    write_mosaic_item,
)
from eofusion.pipeline.landcover import landcover_inputs, landcover_tile, legend_of, tile_maps
from eofusion.pipeline.manifest import RunManifest, TileRecord, TileStatus
from eofusion.pipeline.runner import InputsFingerprint, TileProcessor, finish_manifest, run_job
from eofusion.pipeline.spec import JobSpec
from eofusion.training.checkpoints import describe_inputs
from eofusion.training.landcover import load_landcover_model

logger = logging.getLogger(__name__)
QUICKLOOK_PX = 2048
MOSAIC_NAME = "mosaic.tif"  # in outputs.dir, beside tiles/ and the manifest
QUICKLOOK_NAME = "mosaic.png"
MOSAIC_FILES = (  # everything a mosaic consists of (removed together when a run makes none)
    MOSAIC_NAME,
    QUICKLOOK_NAME,
    MOSAIC_ITEM_NAME,
    f"{MOSAIC_NAME}.aux.xml",
    "mosaic.qml",
    "mosaic_confidence.tif",
)


def tiling_of(spec: JobSpec) -> TilingScheme:
    """The job's tiling scheme (CRS from the spec, else the AOI's UTM zone)."""
    if spec.tiling.crs:
        return TilingScheme(CRS(spec.tiling.crs), spec.tiling.tile_size_m)
    if spec.aoi.tiles:
        return TilingScheme(scheme_of_tile(spec.aoi.tiles[0]).crs, spec.tiling.tile_size_m)
    geom = _aoi_geometry(spec)
    lon, lat = geom.centroid.to_crs("EPSG:4326").coords[0]
    return TilingScheme(utm_crs_for(lon, lat), spec.tiling.tile_size_m)


def _aoi_geometry(spec: JobSpec) -> Geometry:
    if spec.aoi.bbox is not None:
        return as_geometry(spec.aoi.bbox, spec.aoi.crs)
    if spec.aoi.geojson is not None:
        import geopandas as gpd

        if not spec.aoi.geojson.exists():
            raise ConfigError(f"aoi.geojson: {spec.aoi.geojson} does not exist.")
        return as_geometry(gpd.read_file(spec.aoi.geojson))
    raise ConfigError("aoi: give bbox, geojson or tiles.")


def job_tiles(spec: JobSpec) -> dict[str, NestedGrids]:
    """Tile id -> nested grids for every tile of the job's AOI."""
    scheme = tiling_of(spec)
    limit = spec.tiling.max_tiles
    ids = list(spec.aoi.tiles) if spec.aoi.tiles else scheme.tiles_for(_aoi_geometry(spec), max_tiles=limit)
    if len(ids) > spec.tiling.max_tiles:
        raise ConfigError(
            f"aoi.tiles lists {len(ids)} tiles, more than tiling.max_tiles ({spec.tiling.max_tiles}); split the job "
            "or raise tiling.max_tiles."
        )
    if not ids:
        raise ConfigError("The AOI covers no tile; check aoi.bbox / aoi.geojson and its crs.")
    resolutions: dict[str, float] = {k: v for k, v in spec.resolutions.items() if k in set(map(str, spec.sensors))}
    return {t: scheme.grids(t, resolutions) for t in ids}


def preflight(spec: JobSpec) -> dict[str, Any]:
    """Everything that can be checked before work starts: output location, model, catalog file.

    Returns what the checkpoint says the model was trained on (per sensor group: sensor, bands, pixel size),
    logged beside the job's own sensors: a sensor the model never saw is mapped as new bands, which the
    spectrum-aware model accepts but which a user should know about.
    """
    ensure_writable_dir(spec.outputs.work_dir)
    if spec.outputs.location.remote:
        spec.outputs.location.check_writable("the job's outputs")  # the bucket exists and takes our writes
    if not spec.model.checkpoint.exists():
        raise CheckpointError(
            f"model.checkpoint {spec.model.checkpoint} does not exist; train one with `eofusion train` "
            "or point the job spec at an existing checkpoint."
        )
    _, _, meta = load_landcover_model(spec.model.checkpoint)  # refuses a wrong or unsafe file now, not per tile
    source = spec.catalog.source
    local = catalog_file(source)
    if local is not None and not local.exists():
        raise ConfigError(f"catalog.source {source} does not exist.")
    trained = dict(meta.get("bands") or {})
    logger.info("model %s was trained on %s", spec.model.checkpoint, describe_inputs(trained))
    unseen = [s for s in spec.sensors if trained and s not in trained]
    if unseen:
        logger.warning(
            "job %s maps with %s, which model %s never saw in training (trained on %s): the model takes their "
            "bands by their spectral responses, but expect lower accuracy (README: any band set)",
            spec.name,
            ", ".join(unseen),
            spec.model.checkpoint,
            ", ".join(trained),
        )
    return trained


def run_spec(
    spec: JobSpec,
    processor: TileProcessor = landcover_tile,
    inputs_of: InputsFingerprint | None = landcover_inputs,
    on_tile: Callable[[TileRecord], None] | None = None,
    client: object = None,
) -> RunManifest:
    """Check, run every tile not yet done, mosaic the finished tiles, write the final manifest."""
    trained = preflight(spec)
    tiles = job_tiles(spec)
    manifest = run_job(spec, tiles, processor, inputs_of=inputs_of, client=client, on_tile=on_tile)
    manifest.model = {"checkpoint": str(spec.model.checkpoint), "trained_on": trained}
    outputs: dict[str, str] = {}
    ids = sorted(manifest.ids(TileStatus.DONE) + manifest.ids(TileStatus.SKIPPED))
    finished = FinishedTiles(ids, published_tile_items(spec, ids), job_legend(spec))
    published = spec.outputs.location
    if spec.outputs.mosaic and ids:
        outputs = write_mosaic(spec, finished)
    elif (published / MOSAIC_NAME).exists():  # an earlier configuration's: never let it pass for this run's
        logger.warning("removing %s: this run made no mosaic, it is an earlier configuration's", MOSAIC_NAME)
        for stale in MOSAIC_FILES:
            (published / stale).remove()
    collection = publish_collection(spec, finished)
    if collection is not None:
        outputs["collection"] = str(collection)
    finish_manifest(manifest, published, outputs)
    return manifest


def mosaic_bounds(spec: JobSpec) -> tuple[float, float, float, float] | None:
    """The AOI's bounds in the tiling CRS (the mosaic is clipped to them); None for a job given as tile ids."""
    if spec.aoi.tiles:
        return None
    left, bottom, right, top = _aoi_geometry(spec).to_crs(tiling_of(spec).crs).boundingbox
    return (left, bottom, right, top)


def _local_tile_maps(spec: JobSpec, tile_ids: Sequence[str]) -> list[Path]:
    """The tiles' class maps on this machine's disk (downloaded from the outputs prefix when it is remote)."""
    work = spec.outputs.work_dir
    if not spec.outputs.location.remote:
        return tile_maps(work, tile_ids)
    local = []
    for tile_id in tile_ids:
        target = work / "mosaic-inputs" / f"{tile_id}.tif"
        (spec.outputs.location / "tiles" / tile_id / "landcover.tif").download(target)
        local.append(target)
    return local


def write_mosaic(spec: JobSpec, finished: FinishedTiles) -> dict[str, str]:
    """One class-map COG of the finished tiles, clipped to the AOI, and its quicklook when the spec asks.

    Made in the local working folder and, for outputs in an object store, uploaded as whole objects.
    """
    import shutil

    published = spec.outputs.location
    work = spec.outputs.work_dir
    outputs = _write_local_mosaic(spec, finished, work / MOSAIC_NAME)
    if not published.remote:
        return outputs
    urls = {}
    for key, local in outputs.items():
        target = published / Path(local).name
        target.upload(local)
        Path(local).unlink()  # published: the bucket holds the map, the staging folder only work in progress
        urls[key] = str(target)
    if not spec.outputs.quicklook:
        (published / QUICKLOOK_NAME).remove()
    shutil.rmtree(work / "mosaic-inputs", ignore_errors=True)
    return urls


def _write_local_mosaic(spec: JobSpec, finished: FinishedTiles, path: Path) -> dict[str, str]:
    import rasterio

    legend = finished.legend
    tiles = _local_tile_maps(spec, finished.ids)
    mosaic = mosaic_class_maps(tiles, path, legend, bounds=mosaic_bounds(spec))
    outputs = {"mosaic": str(mosaic.classes)}
    if mosaic.confidence is not None:
        outputs["mosaic_confidence"] = str(mosaic.confidence)
    else:  # tiles without confidence layers: an earlier configuration's confidence mosaic must not stay
        confidence_path(path).unlink(missing_ok=True)
        (spec.outputs.location / confidence_path(path).name).remove()
    outputs.update({f"mosaic_{p.suffix.lstrip('.')}": str(p) for p in mosaic.sidecars})  # names for GIS tools
    quicklook = path.with_name(QUICKLOOK_NAME)
    if spec.outputs.quicklook:
        with rasterio.open(mosaic.classes) as src:
            # A preview, not the map: read at most QUICKLOOK_PX on the long side (from the COG's mode
            # overviews), so a national mosaic is never loaded whole.
            step = max(1, -(-max(src.shape) // QUICKLOOK_PX))
            ids = src.read(1, out_shape=(-(-src.height // step), -(-src.width // step)))
        outputs["quicklook"] = str(write_quicklook(ids, legend, quicklook, title=spec.name))
    else:
        quicklook.unlink(missing_ok=True)  # an earlier configuration's picture of another map
    shown = quicklook if spec.outputs.quicklook else None
    item = mosaic_item(spec, mosaic, legend, finished.items, shown)
    outputs["mosaic_item"] = str(write_mosaic_item(item, path.parent))
    return outputs


def job_legend(spec: JobSpec) -> MapLegend:
    """The classes of the job's model (the maps' legend)."""
    _, classes, _ = load_landcover_model(spec.model.checkpoint)
    return legend_of(classes)
