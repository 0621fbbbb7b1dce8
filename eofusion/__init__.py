"""eofusion: multi-sensor Earth-observation fusion.

STAC items -> aligned xarray (nested grids) -> Zarr cube -> torch samples -> model -> land-cover COG.
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
}

__all__ = [
    "Band",
    "BandAsset",
    "BandKind",
    "EofusionError",
    "EofusionWarning",
    "NestedGrids",
    "NormalizedItem",
    "Sensor",
    "TilingScheme",
    "__version__",
    "get_band",
    "get_sensor",
    "nested_grids",
    "register_sensor",
    "utm_crs_for",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'eofusion' has no attribute {name!r}")
