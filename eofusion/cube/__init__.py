"""Items -> aligned xarray per sensor group -> one Zarr v3 cube; open, validate and append cubes.

The public functions::

    ds = load_aligned(items, grids, sensor="s2")          # lazy, aligned, physical units
    write_cube({"s2": ds, ...}, "cube.zarr")              # resumable, on Dask
    cube = open_cube("cube.zarr")                         # validated Cube: grids, bands, window reads
"""

from eofusion.cube.append import append_cube
from eofusion.cube.build import build_cube
from eofusion.cube.chunks import DEFAULT_CACHE_BYTES, CacheInfo
from eofusion.cube.composite import composite
from eofusion.cube.cube import Cube, CubeGroup, open_cube
from eofusion.cube.groups import (
    DEFAULT_RESOLUTIONS,
    GROUP_OF_FAMILY,
    SINGLE_DATE_GROUPS,
    choose_resampling,
    default_resolution,
    group_key,
    group_keys,
)
from eofusion.cube.load import LoadOptions, load_aligned, solar_day
from eofusion.cube.reader import read_asset
from eofusion.cube.schema import cube_info, open_datatree, validate_cube
from eofusion.cube.store import CubeSummary, WriteOptions, write_cube

__all__ = [
    "DEFAULT_CACHE_BYTES",
    "DEFAULT_RESOLUTIONS",
    "GROUP_OF_FAMILY",
    "SINGLE_DATE_GROUPS",
    "CacheInfo",
    "Cube",
    "CubeGroup",
    "CubeSummary",
    "LoadOptions",
    "WriteOptions",
    "append_cube",
    "build_cube",
    "choose_resampling",
    "composite",
    "cube_info",
    "default_resolution",
    "group_key",
    "group_keys",
    "load_aligned",
    "open_cube",
    "open_datatree",
    "read_asset",
    "solar_day",
    "validate_cube",
    "write_cube",
]
