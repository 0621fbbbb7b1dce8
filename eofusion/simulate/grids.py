"""Sensor grids of the demo world and the two operations every renderer needs on them.

A grid is an odc-geo ``GeoBox``. Renderers walk a grid window by window (:func:`iter_windows`), and per
window (a) rasterise the world's feature ids on it (:func:`rasterize_fid`) — the vectors are reprojected to
the grid's CRS first, so every sensor is burnt from the same geometry — and (b) evaluate the continuous
fields at its pixel centres expressed in the world CRS (:func:`world_coords`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from functools import lru_cache

import geopandas as gpd
import numpy as np
import numpy.typing as npt
from affine import Affine
from odc.geo.geobox import GeoBox
from pyproj import Transformer
from rasterio import features as rio_features
from rasterio.windows import Window
from shapely.geometry import box

from eofusion.simulate.config import WorldConfig
from eofusion.simulate.fields import lattice_interp
from eofusion.simulate.scene import world_origin

AERIAL_CRS = "EPSG:2154"  # Lambert-93: the CRS IGN serves BD ORTHO and LiDAR HD in
S2_RESOLUTIONS = (10.0, 20.0, 60.0)
LANDSAT_RESOLUTION_M = 30.0  # Collection 2 delivers every OLI band at 30 m; it divides 60 m, so the grid nests
_LATTICE = 16
# Rasterising creates GDAL in-memory datasets; under concurrent threads one was seen to lose its
# geotransform (NotGeoreferencedWarning), so burns are serialised (they are a small part of a window).
RASTERIZE_LOCK = threading.Lock()  # pixel-centre transforms are exact on this lattice and bilinear in between


def square_geobox(x0: float, y0: float, size: float, res: float, crs: str) -> GeoBox:
    """A north-up grid with lower-left corner (x0, y0), side ``size`` and pixel ``res``."""
    n = round(size / res)
    return GeoBox((n, n), Affine(res, 0.0, x0, 0.0, -res, y0 + n * res), crs)


def sentinel_grid(config: WorldConfig, res: float) -> GeoBox:
    """The world square on a ``res`` grid in the world (UTM) CRS; 10/20/60 m grids nest exactly."""
    x0, y0 = world_origin(config)
    return square_geobox(x0, y0, config.world_size_m, res, config.world_crs)


def aerial_bounds(config: WorldConfig) -> tuple[float, float, float, float]:
    """Lambert-93 bounds of the aerial/DSM coverage, snapped outward to 10 m."""
    x0, y0 = world_origin(config)
    size = config.world_size_m
    part = config.aerial_size_m or size
    lo = (size - part) / 2
    tr = Transformer.from_crs(config.world_crs, AERIAL_CRS, always_xy=True)
    xs, ys = tr.transform(*np.array(box(x0 + lo, y0 + lo, x0 + lo + part, y0 + lo + part).exterior.coords).T)
    snap = 10.0
    return (
        math.floor(min(xs) / snap) * snap,
        math.floor(min(ys) / snap) * snap,
        math.ceil(max(xs) / snap) * snap,
        math.ceil(max(ys) / snap) * snap,
    )


def l93_grid(config: WorldConfig, res: float) -> GeoBox:
    """A Lambert-93 grid at ``res`` over the aerial coverage (aerial, DSM and truth share its bounds)."""
    x0, y0, x1, y1 = aerial_bounds(config)
    shape = (math.ceil((y1 - y0) / res - 1e-9), math.ceil((x1 - x0) / res - 1e-9))
    return GeoBox(shape, Affine(res, 0.0, x0, 0.0, -res, y1), AERIAL_CRS)


def naip_grid(config: WorldConfig) -> GeoBox:
    """The NAIP-like aerial grid: the survey area in the world (UTM) CRS, as NAIP is delivered.

    Bounds are snapped outward to multiples of the pixel counted from the world's corner, so with the
    default coverage (the whole world) the grid has exactly the world's bounds.
    """
    x0, y0 = world_origin(config)
    size = config.world_size_m
    part = config.aerial_size_m or size
    lo = (size - part) / 2
    res = config.naip_resolution_m
    first = math.floor(lo / res + 1e-9)
    n = math.ceil((lo + part) / res - 1e-9) - first
    return square_geobox(x0 + first * res, y0 + first * res, n * res, res, config.world_crs)


def world_grids(config: WorldConfig) -> dict[str, GeoBox]:
    """Every grid the world is rendered on, by name (``s2_10m``, ``s1``, ``landsat``, ``aerial``, ...)."""
    grids = {f"s2_{int(r)}m": sentinel_grid(config, r) for r in S2_RESOLUTIONS}
    grids["s1"] = sentinel_grid(config, config.s1_resolution_m)
    grids["landsat"] = sentinel_grid(config, LANDSAT_RESOLUTION_M)
    grids["naip"] = naip_grid(config)
    grids["aerial"] = l93_grid(config, config.aerial_resolution_m)
    grids["dsm"] = l93_grid(config, config.dsm_resolution_m)
    grids["landcover"] = l93_grid(config, config.landcover_resolution_m or config.aerial_resolution_m)
    return grids


def iter_windows(gbox: GeoBox, size: int) -> Iterator[tuple[Window, GeoBox]]:
    """Row-major windows of at most ``size`` x ``size`` pixels with their sub-grids."""
    rows, cols = gbox.shape
    for r0 in range(0, rows, size):
        for c0 in range(0, cols, size):
            h, w = min(size, rows - r0), min(size, cols - c0)
            yield Window(c0, r0, w, h), GeoBox((h, w), gbox.affine @ Affine.translation(c0, r0), gbox.crs)


def padded(gbox: GeoBox, pad: int) -> GeoBox:
    """The grid grown by ``pad`` pixels on every side (a halo for neighbourhood operations)."""
    a = gbox.affine
    shape = (gbox.shape[0] + 2 * pad, gbox.shape[1] + 2 * pad)
    return GeoBox(shape, a @ Affine.translation(-pad, -pad), gbox.crs)


@lru_cache(maxsize=8)
def _transformer(src: str, dst: str) -> Transformer:
    return Transformer.from_crs(src, dst, always_xy=True)


def world_coords(gbox: GeoBox, world_crs: str) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Pixel-centre coordinates of ``gbox`` in the world CRS, each shaped like the grid."""
    rows, cols = gbox.shape
    a = gbox.affine
    if str(gbox.crs) == world_crs or gbox.crs == world_crs:
        x = a.c + a.a * (np.arange(cols) + 0.5)
        y = a.f + a.e * (np.arange(rows) + 0.5)
        return np.broadcast_to(x[None, :], (rows, cols)).copy(), np.broadcast_to(y[:, None], (rows, cols)).copy()
    # Exact transform on a coarse lattice, bilinear in between: both CRSs are conformal and smooth, so the
    # interpolation error over 16 pixels is far below a millimetre.
    rl = np.arange(0, rows + _LATTICE, _LATTICE)  # always >= 2 lattice rows, the last past the edge
    cl = np.arange(0, cols + _LATTICE, _LATTICE)
    gx = np.broadcast_to(a.c + a.a * (cl[None, :] + 0.5), (len(rl), len(cl)))
    gy = np.broadcast_to(a.f + a.e * (rl[:, None] + 0.5), (len(rl), len(cl)))
    lx, ly = _transformer(str(gbox.crs), world_crs).transform(gx, gy)
    return lattice_interp(np.asarray(lx), rl, cl, rows, cols), lattice_interp(np.asarray(ly), rl, cl, rows, cols)


class FeatureRasteriser:
    """Burns feature ids onto any grid; the features are reprojected once per target CRS."""

    def __init__(self, features: gpd.GeoDataFrame) -> None:
        self._features = features
        self._by_crs: dict[str, gpd.GeoDataFrame] = {}
        self._lock = threading.Lock()  # windows render on threads; reproject + index once per CRS

    def _in(self, crs: str) -> gpd.GeoDataFrame:
        with self._lock:
            if crs not in self._by_crs:
                feats = self._features.to_crs(crs)
                _ = feats.sindex  # built now, not lazily by concurrent readers
                self._by_crs[crs] = feats
            return self._by_crs[crs]

    def fid(self, gbox: GeoBox) -> npt.NDArray[np.int32]:
        """Feature id at each pixel centre (later features on top); -1 where no feature covers it."""
        feats = self._in(str(gbox.crs))
        x0, y1 = gbox.affine.c, gbox.affine.f
        x1 = x0 + gbox.affine.a * gbox.shape[1]
        y0 = y1 + gbox.affine.e * gbox.shape[0]
        hits = np.sort(feats.sindex.query(box(x0, y0, x1, y1)))
        if len(hits) == 0:
            return np.full(gbox.shape, -1, dtype=np.int32)
        sub = feats.iloc[hits]
        with RASTERIZE_LOCK:
            return rio_features.rasterize(
                zip(sub.geometry.values, sub["fid"].to_numpy(), strict=True),
                out_shape=gbox.shape,
                transform=gbox.affine,
                fill=-1,
                dtype="int32",
            )
