"""eofusion: multi-sensor Earth-observation fusion.

The spine, one call per step::

    items = eofusion.search("catalog.parquet", collections=[...], bbox=..., datetime=...)   # STAC items
    data = eofusion.load(items, grids)            # {"s2": Dataset, ...} aligned on nested grids (lazy)
    eofusion.build_cube(items, grids, ["s2", "s1"], "cube.zarr")                 # the same, to Zarr
    cube = eofusion.open_cube("cube.zarr")        # Cube: grids, registry bands, dates, window reads
    eofusion.predict("model.safetensors", cube, "landcover.tif")                # class-map COG
    eofusion.run_job("pipelines/demo-landcover.yaml")                          # the whole tiled job

The light parts (sensors, grids, errors) import eagerly; everything else loads on first use, so
``import eofusion`` never imports torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from eofusion.errors import EofusionError, EofusionWarning
from eofusion.grid import NestedGrids, TilingScheme, nested_grids, utm_crs_for
from eofusion.sensors import Band, BandKind, Sensor, get_band, get_sensor, register_sensor

__version__ = "0.1.0"

# Public names that live in heavier modules: name -> module. Loaded on first attribute access.
_LAZY: dict[str, str] = {
    "BandAsset": "eofusion.catalog",
    "NormalizedItem": "eofusion.catalog",
    "search": "eofusion.catalog",
    "load": "eofusion.cube.stac_load",
    "LoadOptions": "eofusion.cube",
    "WriteOptions": "eofusion.cube",
    "build_cube": "eofusion.cube",
    "Cube": "eofusion.cube",
    "open_cube": "eofusion.cube",
    "JobSpec": "eofusion.pipeline",
    "predict": "eofusion.pipeline.api",
    "run_job": "eofusion.pipeline.api",
}

__all__ = [
    "Band",
    "BandAsset",
    "BandKind",
    "Cube",
    "EofusionError",
    "EofusionWarning",
    "JobSpec",
    "LoadOptions",
    "NestedGrids",
    "NormalizedItem",
    "Sensor",
    "TilingScheme",
    "WriteOptions",
    "__version__",
    "build_cube",
    "get_band",
    "get_sensor",
    "load",
    "nested_grids",
    "open_cube",
    "predict",
    "register_sensor",
    "run_job",
    "search",
    "utm_crs_for",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'eofusion' has no attribute {name!r}")
