"""Items -> aligned xarray per sensor group -> one Zarr v3 cube; open, validate and append cubes.

The public functions::

    ds = load_aligned(items, grids, sensor="s2")          # lazy, aligned, physical units
    write_cube({"s2": ds, ...}, "cube.zarr")              # resumable, on Dask
    tree = open_cube("cube.zarr")                         # validated DataTree
"""

from eofusion.cube.build import build_cube
from eofusion.cube.groups import GROUP_OF_FAMILY, SINGLE_DATE_GROUPS, choose_resampling, group_key
from eofusion.cube.load import LoadOptions, composite, load_aligned, solar_day
from eofusion.cube.reader import read_asset
from eofusion.cube.schema import cube_info, open_cube, validate_cube
from eofusion.cube.store import CubeSummary, append_cube, write_cube

__all__ = [
    "GROUP_OF_FAMILY",
    "SINGLE_DATE_GROUPS",
    "CubeSummary",
    "LoadOptions",
    "append_cube",
    "build_cube",
    "choose_resampling",
    "composite",
    "cube_info",
    "group_key",
    "load_aligned",
    "open_cube",
    "read_asset",
    "solar_day",
    "validate_cube",
    "write_cube",
]
