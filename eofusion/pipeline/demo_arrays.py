"""Pretraining arrays from a demo-world directory (``eofusion.simulate``), aligned through the cube loader.

The demo world writes each sensor in its own CRS (Sentinel in UTM, aerial and DSM in Lambert-93), as real
data comes. To get co-located chips, every sensor is loaded with :func:`eofusion.cube.load_aligned` onto
nested grids in the Sentinel-2 CRS over the area all sensors cover (10 m S2/S1, the aerial and DSM
resolutions of the world), then handed to :class:`~eofusion.training.ArrayChipDataset` as
:class:`~eofusion.training.SensorArray` values — the same values the cube-backed dataset provides.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np

from eofusion.catalog.normalize import normalize_items
from eofusion.cube import load_aligned
from eofusion.errors import ConfigError
from eofusion.grid import nested_grids
from eofusion.sensors import get_band
from eofusion.simulate import load_world
from eofusion.training.arrays import SensorArray

log = logging.getLogger(__name__)
DEMO_GROUPS = ("s2", "s1", "aerial", "dsm")


def demo_world_arrays(
    world_dir: str | os.PathLike[str], groups: Sequence[str] = DEMO_GROUPS, aerial_m: float | None = None
) -> dict[str, SensorArray]:
    """Co-located, normalised arrays of a demo world's sensors.

    Args:
        world_dir: A directory written by ``eofusion.simulate.simulate_world`` (or ``eofusion simulate``).
        groups: Sensor groups to load (``s2``, ``s1``, ``aerial``, ``dsm``).
        aerial_m: Aerial pixel size to load at (default: the world's, e.g. 0.5 m); coarser saves memory.

    Returns:
        Group -> :class:`SensorArray` (S2/S1 time series with day of year and validity).
    """
    world = load_world(world_dir)
    items = normalize_items([i for i in world.stac_items() if i.collection_id != "landcover"])
    s2 = world.grids["s2_10m"]
    if s2.crs is None:
        raise ConfigError(f"The demo world at {world_dir} has an S2 grid without a CRS; regenerate it.")
    cover = s2.extent
    for key in ("aerial", "dsm"):
        if key in world.grids and key in groups:
            cover = cover & world.grids[key].extent.to_crs(s2.crs)
    res = {"s2": 10.0, "s1": 10.0, "aerial": aerial_m or world.config.aerial_resolution_m}
    res["dsm"] = world.config.dsm_resolution_m
    wanted = {g: res[g] for g in groups}
    grids = nested_grids(cover, wanted, crs=s2.crs)
    arrays: dict[str, SensorArray] = {}
    for group in groups:
        ds = load_aligned(items, grids, group)
        data = ds["data"].values.astype(np.float32)  # [T, C, H, W], physical units, SAR in dB
        sensors = [str(s) for s in ds["sensor"].values]
        bands = tuple(get_band(s, str(b)) for s, b in zip(sensors, ds["band"].values, strict=True))
        doy = ds["time"].dt.dayofyear.values.astype(np.float32) if data.shape[0] > 1 else None
        valid = np.isfinite(data).all(axis=1) if data.shape[0] > 1 else None
        if not np.isfinite(data).any():
            raise ConfigError(f"The demo world at {world_dir} has no valid {group} pixels over the common area.")
        arrays[group] = SensorArray.from_physical(
            data, bands, res[group], sensors[0], day_of_year=doy, valid=valid, sar_units="db"
        )
        log.info("demo %s: %s dates x %d bands, %s px", group, data.shape[0], data.shape[1], data.shape[2:])
    return arrays
