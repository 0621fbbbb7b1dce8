"""GDAL warps of every band that shares one source grid, in one :func:`rasterio.warp.reproject` call.

A block task reads several bands (and files) of one item, usually all on one grid. Warping them together
builds GDAL's coordinate transformer, its approximate row transforms and its chunk plan once instead of
once per band. The caller reads the source window the block needs (:func:`source_window`) of each band into
one ``[band, y, x]`` array; :func:`warp_stack` hands it to GDAL as a georeferenced in-memory dataset.

Resampling scale: GDAL picks the kernel's footprint from a scale it computes per processing chunk from the
chunk's source window (warp options ``XSCALE``/``YSCALE``). For a target grid rotated against the source (a
neighbouring UTM zone, say) that window is wider than the chunk, so GDAL widens the bilinear kernel at a
true 1:1 scale and the result depends on the block size. :func:`scale` measures the block's true scale
(target pixels per source pixel along each target axis, positions from GDAL/PROJ) and :func:`warp_stack`
passes it to GDAL, which makes blocks reproducible whatever their size and lets GDAL use its 4-sample
bilinear wherever the target is not coarser than the source. On unrotated grids the two scales agree.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import rasterio
from affine import Affine
from odc.geo.geobox import GeoBox
from rasterio.enums import Resampling
from rasterio.warp import reproject, transform, transform_bounds
from rasterio.windows import Window

Float32Array = npt.NDArray[np.float32]

# Kernel half-width in source pixels at scale 1 (GDAL's GWKGetFilterRadius); wider when downsampling.
_RADIUS = {
    Resampling.nearest: 1,
    Resampling.bilinear: 1,
    Resampling.cubic: 2,
    Resampling.cubic_spline: 2,
    Resampling.lanczos: 3,
}
_EXTRA_PX = 2  # beyond the kernel: GDAL's approximate transformer allows 0.125 px of position error


@dataclass(frozen=True)
class SourceGrid:
    """The pixel grid of one source raster (or of one of its overviews)."""

    crs: str  # WKT
    transform: Affine
    shape: tuple[int, int]  # rows, cols


def _target_key(geobox: GeoBox) -> tuple[str, tuple[float, ...], tuple[int, int]]:
    h, w = geobox.shape
    return geobox.crs.to_wkt() if geobox.crs is not None else "", tuple(geobox.transform)[:6], (int(h), int(w))


@functools.lru_cache(maxsize=1024)
def _scale(grid: SourceGrid, target: tuple[str, tuple[float, ...], tuple[int, int]]) -> tuple[float, float]:
    crs, t, (h, w) = target
    gt = Affine(*t)
    # The block's centre and the centres of its right and bottom edges, in source pixels.
    cols, rows = [w / 2, w, w / 2], [h / 2, h / 2, h]
    xs, ys = zip(*(gt @ (c, r) for c, r in zip(cols, rows, strict=True)), strict=True)
    sx, sy = transform(crs, grid.crs, list(xs), list(ys))
    inv = ~grid.transform
    (u0, v0), (ux, vx), (uy, vy) = (inv @ (x, y) for x, y in zip(sx, sy, strict=True))
    along_x = math.hypot(ux - u0, vx - v0) / (w / 2)  # source pixels per target pixel
    along_y = math.hypot(uy - u0, vy - v0) / (h / 2)
    return 1 / max(along_x, 1e-12), 1 / max(along_y, 1e-12)


def scale(grid: SourceGrid, geobox: GeoBox) -> tuple[float, float]:
    """Target pixels per source pixel along the target's x and y axes over ``geobox`` (GDAL's XSCALE/YSCALE)."""
    return _scale(grid, _target_key(geobox))


@functools.lru_cache(maxsize=1024)
def _source_window(
    grid: SourceGrid, target: tuple[str, tuple[float, ...], tuple[int, int]], resampling: Resampling
) -> Window | None:
    crs, t, (h, w) = target
    gt = Affine(*t)
    xs, ys = zip(*(gt @ (c, r) for c, r in ((0, 0), (w, 0), (0, h), (w, h))), strict=True)
    left, bottom, right, top = transform_bounds(crs, grid.crs, min(xs), min(ys), max(xs), max(ys), densify_pts=21)
    rows, cols = grid.shape
    if not all(map(math.isfinite, (left, bottom, right, top))):  # outside the projection's domain somewhere
        return Window(0, 0, cols, rows)  # let GDAL find what it needs in the whole raster
    inv = ~grid.transform
    us, vs = zip(*(inv @ (x, y) for x in (left, right) for y in (bottom, top)), strict=True)
    widen = max((1 / s for s in _scale(grid, target) if math.isfinite(s)), default=1.0)  # when downsampling
    pad = _RADIUS.get(resampling, 1) * math.ceil(max(1.0, widen)) + _EXTRA_PX
    c0, c1 = max(math.floor(min(us)) - pad, 0), min(math.ceil(max(us)) + pad, cols)
    r0, r1 = max(math.floor(min(vs)) - pad, 0), min(math.ceil(max(vs)) + pad, rows)
    if c1 <= c0 or r1 <= r0:
        return None
    return Window(c0, r0, c1 - c0, r1 - r0)


def source_window(grid: SourceGrid, geobox: GeoBox, resampling: Resampling) -> Window | None:
    """The window of ``grid`` that warping onto ``geobox`` reads (kernel included), or None if disjoint.

    Clipped to the raster, so GDAL sees the raster's true edges and nothing else: the warp of this window
    equals the warp of the whole raster.
    """
    return _source_window(grid, _target_key(geobox), resampling)


def _holds(stack: npt.NDArray[np.generic], nodata: float) -> bool:
    """Whether GDAL could take any pixel of ``stack`` for ``nodata`` (float values: within a tolerance)."""
    if np.issubdtype(stack.dtype, np.integer):
        info = np.iinfo(stack.dtype)  # type: ignore[type-var]
        if math.isnan(nodata) or nodata != int(nodata) or not info.min <= nodata <= info.max:
            return False  # no pixel of this type can equal it
        return bool((stack == stack.dtype.type(int(nodata))).any())
    if math.isnan(nodata):
        return bool(np.isnan(stack).any())
    return bool(np.isclose(stack, nodata, rtol=1e-5, atol=0.0).any())  # GDAL's float comparison is not exact


def warp_stack(
    stack: npt.NDArray[np.generic],
    grid: SourceGrid,
    window: Window,
    *,
    nodata: float | None,
    geobox: GeoBox,
    resampling: Resampling,
    out: Float32Array,
) -> None:
    """Warp ``stack`` (``[band, y, x]``: ``window`` of bands on ``grid``) onto ``geobox`` into ``out``.

    ``out`` (float32 ``[band, *geobox.shape]``) gets NaN where there is no data. Source and destination are
    georeferenced in-memory datasets, not bare arrays: rasterio wraps bare arrays in datasets created under
    ``warnings.catch_warnings``, which is not thread-safe (its NotGeoreferencedWarning leaked from Dask
    threads).

    The destination starts as NaN (``INIT_DEST``) and declares no nodata value: GDAL writes only the pixels
    it resamples from valid source pixels either way, but a destination nodata value makes it track which
    destination pixels are valid and run its general kernel, twice (bilinear) to four times (cubic) slower.
    Likewise a source nodata value makes GDAL build a validity mask of the source window and take its masked
    kernels (bilinear uint16 -> float32, 512-1024 px blocks: 6-25 % slower, measured); most windows hold no
    nodata pixel at all (nodata is the swath's or the tile's edge), so such a window is warped as one without
    nodata: GDAL computes exactly the same pixels (tested against its nodata-aware warp), only faster.
    """
    n, wh, ww = stack.shape
    h, w = geobox.shape
    if nodata is not None and not _holds(stack, nodata):
        nodata = None  # GDAL's fast kernels: same pixels, see the docstring
    bands = list(range(1, n + 1))
    options = {"INIT_DEST": "NAN"}
    if resampling is not Resampling.nearest:  # nearest has no kernel to size
        sx, sy = scale(grid, geobox)
        if math.isfinite(sx) and math.isfinite(sy):  # else GDAL computes them per chunk
            options |= {"XSCALE": repr(sx), "YSCALE": repr(sy)}
    dst_crs = geobox.crs.to_wkt() if geobox.crs is not None else None
    src_transform = grid.transform @ Affine.translation(window.col_off, window.row_off)
    with (
        rasterio.open(
            "eofusion-warp-src", "w+", driver="MEM", width=ww, height=wh, count=n, dtype=stack.dtype,
            crs=grid.crs, transform=src_transform, nodata=nodata,
        ) as src,
        rasterio.open(
            "eofusion-warp-dst", "w+", driver="MEM", width=w, height=h, count=n, dtype="float32",
            crs=dst_crs, transform=geobox.transform,
        ) as dst,
    ):  # fmt: skip
        src.write(stack)
        reproject(
            source=rasterio.band(src, bands),
            destination=rasterio.band(dst, bands),
            src_nodata=nodata,
            resampling=resampling,
            init_dest_nodata=False,  # INIT_DEST=NAN instead
            num_threads=1,  # Dask runs a block per core already
            **options,
        )
        dst.read(out=out)
