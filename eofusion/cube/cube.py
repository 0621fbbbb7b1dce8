"""A cube as an object: its nested grids, each group's registry bands and dates, and window reads.

:func:`open_cube` validates a store written by :func:`eofusion.cube.build_cube` and returns a :class:`Cube`:

    cube = open_cube("cube.zarr")
    cube.grids                       # the NestedGrids the cube was built on
    cube.groups["s2"].bands          # registry Bands, in stored order
    cube.read("s2", window)          # [T, C, h, w] float32, physical units, NaN = no data
    cube.dataset("s2")               # lazy xarray Dataset (Dask), for analysis
    cube.datatree()                  # every group as one DataTree

Pixel windows come from :func:`eofusion.grid.pixel_window` on the group's GeoBox; nothing here does pixel
arithmetic by hand. A Cube is picklable: Zarr handles and the chunk cache are reopened in each process, so a
DataLoader with workers gives each worker its own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import xarray as xr
import zarr
from odc.geo import CRS
from odc.geo.geobox import GeoBox

from eofusion.cube.chunks import DEFAULT_CACHE_BYTES, Block, CacheInfo, ChunkCache, ChunkFiles, chunk_span
from eofusion.cube.groups import group_key
from eofusion.cube.packing import Packing
from eofusion.cube.schema import open_datatree
from eofusion.errors import ConfigError, CubeSchemaError, UnknownBandError
from eofusion.grid import Bounds, ChipWindow, NestedGrids, pixel_window
from eofusion.sensors import Band, get_band
from eofusion.storage import Location


@dataclass(frozen=True)
class CubeGroup:
    """One sensor group of a cube: its grid, the bands read from it, and its dates.

    Attributes:
        name: The group key (``s2``, ``s1``, ``aerial``, ``dsm``, ``landsat``).
        geobox: The group's grid (one of the cube's nested grids).
        bands: Registry bands, in the order :meth:`Cube.read` returns them.
        band_index: Position of each of ``bands`` in the stored array.
        sensor: The registry sensor of the group's bands.
        times: Acquisition dates (one per time step).
        chunk: Spatial chunk shape in pixels (rows, columns).
    """

    name: str
    geobox: GeoBox
    bands: tuple[Band, ...]
    band_index: tuple[int, ...]
    sensor: str
    times: tuple[np.datetime64, ...]
    chunk: tuple[int, int]

    @property
    def res(self) -> float:
        """Pixel size in CRS units."""
        return float(abs(self.geobox.resolution.x))

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of the grid."""
        return (int(self.geobox.shape.y), int(self.geobox.shape.x))

    @property
    def day_of_year(self) -> npt.NDArray[np.float32]:
        """Day of year of each time step, float32."""
        return np.array([_day_of_year(t) for t in self.times], dtype=np.float32)

    @property
    def time_range(self) -> tuple[np.datetime64, np.datetime64] | None:
        """(first, last) date, or None for a group without dates."""
        return (min(self.times), max(self.times)) if self.times else None


def _day_of_year(t: np.datetime64) -> int:
    day = t.astype("datetime64[D]")
    return int((day - day.astype("datetime64[Y]")).astype(int)) + 1


def _pick_bands(group: CubeGroup, wanted: Sequence[str] | None) -> tuple[int, ...]:
    stored = group.bands
    if wanted is None:
        return tuple(range(len(stored)))
    picked = []
    for name in wanted:
        for i, band in enumerate(stored):
            try:
                if get_band(group.sensor, name).name == band.name:
                    picked.append(i)
                    break
            except UnknownBandError:
                continue
        else:
            have = ", ".join(b.name for b in stored)
            raise ConfigError(f"Cube group {group.name!r} has no band {name!r}; it has {have}.")
    return tuple(picked)


def _group_of(name: str, ds: xr.Dataset, crs: CRS, chunk: tuple[int, int]) -> CubeGroup:
    sensors = [str(s) for s in ds["sensor"].values]
    bands = tuple(get_band(s, str(b)) for s, b in zip(sensors, ds["band"].values, strict=True))
    x, y = ds["x"].values, ds["y"].values
    res = float(ds.attrs.get("eofusion:resolution") or abs(x[1] - x[0]))
    bounds = (float(x[0]) - res / 2, float(y[-1]) - res / 2, float(x[-1]) + res / 2, float(y[0]) + res / 2)
    geobox = GeoBox.from_bbox(bounds, crs, resolution=res, tight=True)
    if tuple(geobox.shape) != (len(y), len(x)):
        raise CubeSchemaError(f"Group {name!r}: coordinates do not form a regular {res} m grid.")
    times = tuple(np.datetime64(t, "ns") for t in ds["time"].values)
    return CubeGroup(name, geobox, bands, tuple(range(len(bands))), sensors[0], times, chunk)


def _grids_of(path: str, groups: Mapping[str, CubeGroup]) -> NestedGrids:
    """The nested grids the groups lie on; every group must share one CRS and one outer extent."""
    first = next(iter(groups.values()))
    for g in groups.values():
        if g.geobox.crs != first.geobox.crs or not _same_bounds(g.geobox, first.geobox):
            raise CubeSchemaError(
                f"{path}: group {g.name!r} ({g.geobox.extent.boundingbox}) is not on the same nested grid family as "
                f"{first.name!r} ({first.geobox.extent.boundingbox}); rebuild the cube with eofusion cube build."
            )
    bb, crs = first.geobox.boundingbox, first.geobox.crs
    if crs is None:
        raise CubeSchemaError(f"{path}: group {first.name!r} has no CRS.")
    return NestedGrids(crs, (bb.left, bb.bottom, bb.right, bb.top), {k: g.res for k, g in groups.items()})


def _same_bounds(a: GeoBox, b: GeoBox) -> bool:
    tol = min(abs(a.resolution.x), abs(b.resolution.x)) / 2
    return all(abs(p - q) <= tol for p, q in zip(a.boundingbox, b.boundingbox, strict=True))


class Cube:
    """An opened cube (see the module docstring). Build one with :func:`open_cube`."""

    def __init__(
        self,
        path: str,
        groups: Mapping[str, CubeGroup],
        attrs: Mapping[str, Any],
        *,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
    ) -> None:
        if not groups:
            raise CubeSchemaError(f"{path} has no groups to read.")
        self.path = path
        self.groups: Mapping[str, CubeGroup] = dict(groups)
        self.attrs: Mapping[str, Any] = dict(attrs)
        self.grids = _grids_of(path, self.groups)
        self.cache_bytes = cache_bytes
        self._cache = ChunkCache(cache_bytes)
        self._arrays: dict[str, zarr.Array] = {}
        self._files: dict[str, ChunkFiles | None] = {}
        self._packing: dict[str, Packing | None] = {}
        self._pid = os.getpid()
        self.direct_chunks = True  # False: every read through zarr (slower; same pixels)

    # ------------------------------------------------------------------ grid
    @property
    def crs(self) -> CRS:
        """The common CRS of every group."""
        return self.grids.crs

    @property
    def bounds(self) -> Bounds:
        """(left, bottom, right, top) shared by every group."""
        return self.grids.bounds

    @property
    def coarsest_m(self) -> float:
        """The largest pixel size of the groups (chips snap to it)."""
        return max(g.res for g in self.groups.values())

    @property
    def finest_m(self) -> float:
        """The smallest pixel size of the groups (maps are written at it by default)."""
        return min(g.res for g in self.groups.values())

    def geobox(self, res: float | None = None) -> GeoBox:
        """The cube's grid at ``res`` (default: its finest): the grid its maps are written on."""
        return GeoBox.from_bbox(self.bounds, self.crs, resolution=res or self.finest_m, tight=True)

    def __repr__(self) -> str:
        parts = ", ".join(
            f"{k}: {len(g.bands)} bands x {len(g.times)} dates, {g.res:g} m" for k, g in self.groups.items()
        )
        return f"Cube({self.path!r}, {self.crs}, {parts})"

    # ------------------------------------------------------------------ selection
    def select(self, groups: Sequence[str] | None = None, bands: Mapping[str, Sequence[str]] | None = None) -> Cube:
        """A view of some groups (names or aliases: ``sentinel-2``, ``S2``...) and, per group, some bands."""
        keys = [group_key(g) for g in groups] if groups is not None else list(self.groups)
        missing = [k for k in keys if k not in self.groups]
        if missing:
            raise CubeSchemaError(f"Cube {self.path} has no group(s) {missing}; it has {list(self.groups)}.")
        wanted = {group_key(g): list(b) for g, b in (bands or {}).items()}
        chosen = {}
        for key in keys:
            group = self.groups[key]
            index = _pick_bands(group, wanted.get(key))
            chosen[key] = replace(
                group, bands=tuple(group.bands[i] for i in index), band_index=tuple(group.band_index[i] for i in index)
            )
        return Cube(self.path, chosen, self.attrs, cache_bytes=self.cache_bytes)

    # ------------------------------------------------------------------ xarray views
    def datatree(self) -> xr.DataTree:
        """Every group of the store as a lazy DataTree (Dask-backed, CRS decoded)."""
        return open_datatree(self.path, validate=False)

    def dataset(self, group: str) -> xr.Dataset:
        """One group as a lazy xarray Dataset with the selected bands."""
        key = group_key(group)
        if key not in self.groups:
            raise CubeSchemaError(f"Cube {self.path} has no group {group!r}; it has {list(self.groups)}.")
        ds = self.datatree()[key].to_dataset()
        return ds.isel(band=list(self.groups[key].band_index))

    # ------------------------------------------------------------------ reading
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_arrays"], state["_files"], state["_packing"], state["_cache"] = {}, {}, {}, None  # reopened per process
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._cache = ChunkCache(self.cache_bytes)

    def cache_info(self) -> CacheInfo:
        """Hits, misses and bytes held by this process's chunk cache."""
        return self._cache.info()

    def _source(self, group: str) -> tuple[zarr.Array, ChunkFiles | None]:
        if self._pid != os.getpid():  # inherited through fork: own handles, own cache
            self._arrays, self._files, self._cache = {}, {}, ChunkCache(self.cache_bytes)
            self._packing = {}
            self._pid = os.getpid()
        if group not in self._arrays:
            array = zarr.open_array(Location(self.path).zarr_store(read_only=True), path=f"{group}/data", mode="r")
            self._packing[group] = Packing.of_array(array.dtype, array.attrs)  # before _arrays: other threads
            self._files[group] = ChunkFiles.of(self.path, group, array)  # take a group in _arrays as ready
            self._arrays[group] = array
        return self._arrays[group], (self._files[group] if self.direct_chunks else None)

    def _block(self, group: CubeGroup, cy: int, cx: int) -> Block:
        """One chunk column (every date, the chosen bands), decoded once per process while it stays cached."""
        key = (f"{group.name}:{group.band_index}", cy, cx)
        block = self._cache.get(key)
        if block is None:
            (ch, cw), (h, w) = group.chunk, group.shape
            rows, cols = slice(cy * ch, min((cy + 1) * ch, h)), slice(cx * cw, min((cx + 1) * cw, w))
            array, files = self._source(group.name)
            raw = files.read(cy, cx, rows, cols) if files else np.asarray(array[:, :, rows, cols])
            packing = self._packing[group.name]
            block = packing.decode(raw) if packing is not None else np.asarray(raw, dtype=np.float32)
            if group.band_index != tuple(range(block.shape[1])):
                block = block[:, list(group.band_index)]
            block = np.ascontiguousarray(block)
            block.flags.writeable = False  # shared by every window that touches it
            self._cache.put(key, block)
        return block

    def read(self, group: str, window: ChipWindow | Bounds, *, boundless: bool = False) -> Block:
        """The physical values of one group in a ground window, ``[T, C, h, w]`` float32 (NaN = no data).

        Args:
            group: Group key or alias.
            window: A :class:`ChipWindow` or (left, bottom, right, top); its edges must lie on the group's
                pixel edges.
            boundless: Fill the parts outside the cube with NaN instead of raising :class:`ConfigError`.
        """
        meta = self.groups[group_key(group)]
        bounds = window.bounds if isinstance(window, ChipWindow) else window
        win = pixel_window(meta.geobox, bounds)
        r0, c0, nh, nw = int(win.row_off), int(win.col_off), int(win.height), int(win.width)
        outside = r0 < 0 or c0 < 0 or r0 + nh > meta.shape[0] or c0 + nw > meta.shape[1]
        if outside and not boundless:
            raise ConfigError(
                f"Window {tuple(bounds)} lies outside the cube's {meta.name!r} grid {self.bounds}; "
                "pass boundless=True to pad it with no-data."
            )
        out = np.empty((len(meta.times), len(meta.bands), nh, nw), dtype=np.float32)
        if outside:
            out.fill(np.nan)
        ch, cw = meta.chunk
        for cy in chunk_span(r0, nh, meta.shape[0], ch):
            for cx in chunk_span(c0, nw, meta.shape[1], cw):
                block = self._block(meta, cy, cx)
                y0, y1 = max(r0, cy * ch), min(r0 + nh, cy * ch + block.shape[2])
                x0, x1 = max(c0, cx * cw), min(c0 + nw, cx * cw + block.shape[3])
                out[:, :, y0 - r0 : y1 - r0, x0 - c0 : x1 - c0] = block[
                    :, :, y0 - cy * ch : y1 - cy * ch, x0 - cx * cw : x1 - cx * cw
                ]
        return out


def open_cube(
    store: str | os.PathLike[str],
    groups: Sequence[str] | None = None,
    bands: Mapping[str, Sequence[str]] | None = None,
    *,
    cache_bytes: int = DEFAULT_CACHE_BYTES,
) -> Cube:
    """Open and validate a cube written by eofusion.

    Args:
        store: The cube's path or object-store URL (``s3://bucket/cube.zarr``; the ``cloud`` extra).
        groups: Groups to read (keys or aliases; default: all).
        bands: Per group, the bands to read (names, aliases or common names; default: all).
        cache_bytes: Budget of the per-process cache of decoded chunks (0 disables it).

    Raises:
        CubeSchemaError: Not a valid eofusion cube, or a requested group is missing.
        ConfigError: A requested band is not in its group.
    """
    tree = open_datatree(store)
    path = str(store)
    stored: dict[str, CubeGroup] = {}
    crs = CRS(str(tree[next(iter(tree.children))].to_dataset()["spatial_ref"].attrs["crs_wkt"]))
    for name in tree.children:
        array = zarr.open_array(Location(path).zarr_store(read_only=True), path=f"{name}/data", mode="r")
        chunk = (int(array.chunks[2]), int(array.chunks[3]))
        stored[str(name)] = _group_of(str(name), tree[name].to_dataset(), crs, chunk)
    cube = Cube(path, stored, {str(k): v for k, v in tree.attrs.items()}, cache_bytes=cache_bytes)
    return cube.select(groups, bands) if groups is not None or bands is not None else cube
