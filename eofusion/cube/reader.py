"""Read one band asset onto a target grid window: physical float32 values, NaN where there is no data.

Two paths: when the asset's grid is the target grid shifted by whole pixels (same CRS and pixel size) the
pixels are read straight from the window that is needed, no warping; otherwise GDAL's warper
(:func:`rasterio.warp.reproject`) reprojects the window, reading from a COG overview when the target is
much coarser than the source.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import warnings

import numpy as np
import numpy.typing as npt
import rasterio
from odc.geo.geobox import GeoBox
from rasterio.enums import Resampling
from rasterio.warp import reproject
from rasterio.windows import Window

from eofusion.catalog import BandAsset
from eofusion.errors import InputDataError

log = logging.getLogger(__name__)

Float32Array = npt.NDArray[np.float32]
# Relative tolerance for "same pixel size" and "whole-pixel offset".
_ALIGN_TOL = 1e-6


# GDAL keeps decoded blocks in a cache of 5 % of RAM by default; a cube build reads each source pixel once,
# so a big cache only inflates memory. Set once per process (changing it per read flushes the cache and
# serialises threads); an explicit GDAL_CACHEMAX in the environment wins.
_GDAL_CACHE_MB = 64


@functools.cache
def _configure_gdal() -> None:
    if "GDAL_CACHEMAX" not in os.environ:
        rasterio.env.set_gdal_config("GDAL_CACHEMAX", _GDAL_CACHE_MB)


def _aligned_offset(src: rasterio.DatasetReader, geobox: GeoBox) -> tuple[int, int] | None:
    """(row, col) of the target's top-left pixel in the source when the grids differ by whole pixels."""
    st, gt = src.transform, geobox.transform
    if st.b != 0 or st.d != 0 or gt.b != 0 or gt.d != 0:
        return None
    if src.crs is None or not geobox.crs or src.crs != rasterio.CRS.from_user_input(str(geobox.crs)):
        return None
    if not (math.isclose(st.a, gt.a, rel_tol=_ALIGN_TOL) and math.isclose(st.e, gt.e, rel_tol=_ALIGN_TOL)):
        return None
    col = (gt.c - st.c) / st.a
    row = (gt.f - st.f) / st.e
    if abs(col - round(col)) > 1e-3 or abs(row - round(row)) > 1e-3:
        return None
    return round(row), round(col)


def _overview_level(src: rasterio.DatasetReader, bidx: int, source_res: float, target_res: float) -> int | None:
    """The coarsest overview still at least as fine as the target (GDAL's -ovr AUTO rule), or None."""
    best = None
    for level, factor in enumerate(src.overviews(bidx)):
        if source_res * factor <= target_res * (1 + _ALIGN_TOL):
            best = level
    return best


def _src_nodata(asset: BandAsset, src: rasterio.DatasetReader) -> float | None:
    if asset.nodata is not None:
        return float(asset.nodata)
    if src.nodata is not None:
        return float(src.nodata)
    return float("nan") if np.dtype(src.dtypes[asset.band_index - 1]).kind == "f" else None


def read_asset(
    asset: BandAsset,
    geobox: GeoBox,
    resampling: Resampling,
    *,
    use_overviews: bool = True,
) -> Float32Array:
    """Read ``asset`` onto ``geobox``: DN * scale + offset as float32, NaN where nodata or outside.

    Raises:
        InputDataError: The file is missing, unreadable or has fewer bands than ``asset.band_index``.
    """
    try:
        _configure_gdal()
        dn = _read_dn(asset, geobox, resampling, use_overviews)
    except InputDataError:
        raise
    except (rasterio.errors.RasterioError, OSError) as err:
        raise InputDataError(
            f"Cannot read band {asset.band.name!r} (asset {asset.asset_key!r}) from {asset.href}: {err}. "
            "Check the file, or build with on_error='skip' to leave it out."
        ) from err
    if asset.scale != 1.0 or asset.offset != 0.0:
        dn *= np.float32(asset.scale)
        dn += np.float32(asset.offset)
    return dn


def _read_dn(asset: BandAsset, geobox: GeoBox, resampling: Resampling, use_overviews: bool) -> Float32Array:
    out = np.full(geobox.shape, np.nan, dtype=np.float32)
    with rasterio.open(asset.href) as src:
        bidx = asset.band_index
        if bidx > src.count:
            raise InputDataError(
                f"{asset.href} has {src.count} band(s) but asset {asset.asset_key!r} asks for band {bidx}."
            )
        nodata = _src_nodata(asset, src)
        offset = _aligned_offset(src, geobox)
        if offset is not None:
            _read_window(src, bidx, offset, out, nodata)
            return out
        source_res = abs(src.transform.a)
        target_res = abs(geobox.resolution.x)
        level = None
        same_units = src.crs is not None and src.crs.is_projected and geobox.crs is not None
        if use_overviews and same_units and resampling is not Resampling.nearest:
            level = _overview_level(src, bidx, source_res, target_res)
    if level is None:
        with rasterio.open(asset.href) as src:
            _warp(src, bidx, nodata=nodata, geobox=geobox, out=out, resampling=resampling)
    else:
        with rasterio.open(asset.href, overview_level=level) as src:
            _warp(src, bidx, nodata=nodata, geobox=geobox, out=out, resampling=resampling)
    return out


def _read_window(
    src: rasterio.DatasetReader, bidx: int, offset: tuple[int, int], out: Float32Array, nodata: float | None
) -> None:
    row0, col0 = offset
    h, w = out.shape
    r0, c0 = max(row0, 0), max(col0, 0)
    r1, c1 = min(row0 + h, src.height), min(col0 + w, src.width)
    if r1 <= r0 or c1 <= c0:
        return
    data = src.read(bidx, window=Window(c0, r0, c1 - c0, r1 - r0))
    view = out[r0 - row0 : r1 - row0, c0 - col0 : c1 - col0]
    view[...] = data  # converts to float32 in place: no temporary copies of the window
    if nodata is not None and not math.isnan(nodata):
        view[data == nodata] = np.nan


def _warp(
    src: rasterio.DatasetReader,
    bidx: int,
    *,
    nodata: float | None,
    geobox: GeoBox,
    out: Float32Array,
    resampling: Resampling,
) -> None:
    # GDAL's warper works out the source window each output chunk needs and reads only that.
    # rasterio's in-memory destination warns "not georeferenced" (it is: we pass the transform); its own
    # suppression of that warning is not thread-safe, so repeat it here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        reproject(
            source=rasterio.band(src, bidx),
            destination=out,
            src_transform=src.transform,
            src_crs=src.crs,
            src_nodata=nodata,
            dst_transform=geobox.transform,
            dst_crs=geobox.crs.to_wkt() if geobox.crs else None,
            dst_nodata=np.nan,
            resampling=resampling,
            init_dest_nodata=True,
            num_threads=1,
        )


def footprint(asset: BandAsset) -> tuple[float, float, float, float]:
    """(left, bottom, right, top) of an asset's native grid in its own CRS."""
    a, b, c, d, e, f = asset.transform
    rows, cols = asset.shape
    xs = [c, c + a * cols, c + b * rows, c + a * cols + b * rows]
    ys = [f, f + d * cols, f + e * rows, f + d * cols + e * rows]
    return min(xs), min(ys), max(xs), max(ys)
