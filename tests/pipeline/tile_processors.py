"""A small real tile processor for scheduler tests: reads a per-tile input COG, classifies, writes a map COG.

It exercises what the scheduler must handle — real file I/O, corrupt inputs, kills — without the model.
"""

from __future__ import annotations

import os
import time

import numpy as np
import rasterio
from rasterio.errors import RasterioIOError

from eofusion.errors import InputDataError
from eofusion.fingerprint import asset_identity
from eofusion.mapping import MapLegend, write_class_map
from eofusion.pipeline import TileResult, TileTask

LEGEND = MapLegend.from_mapping({1: ("low", "#2c7bb6"), 2: ("mid", "#ffffbf"), 3: ("high", "#d7191c")})


def threshold_processor(task: TileTask) -> TileResult:
    """Class = tercile of the input value; input at <catalog.source>/<tile_id>.tif on the tile's s2 grid."""
    delay = float(os.environ.get("EOFUSION_TEST_TILE_DELAY", "0"))
    source = f"{task.spec.catalog.source}/{task.tile_id}.tif"
    try:
        with rasterio.open(source) as src:
            values = src.read(1)
    except RasterioIOError as err:
        raise InputDataError(
            f"Input {source} of tile {task.tile_id} cannot be read ({err}); replace the file."
        ) from None
    time.sleep(delay)
    classes = np.digitize(values, [0.33, 0.66]).astype(np.uint8) + 1
    geobox = task.grids.geobox("s2")
    tile_dir = task.out_dir / "tiles" / task.tile_id
    files = write_class_map(classes, geobox, tile_dir / "landcover.tif", LEGEND)
    return TileResult(
        outputs={"classes": str(files.classes)},
        metrics={"mean_class": float(classes.mean())},
        inputs=threshold_inputs(task),
    )


def threshold_inputs(task: TileTask) -> str:
    """The identity of the tile's input file (what :func:`threshold_processor` reads)."""
    return asset_identity(f"{task.spec.catalog.source}/{task.tile_id}.tif")
