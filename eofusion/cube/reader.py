"""Read band assets onto a target grid window: physical float32 values, NaN where there is no data.

Two paths: when an asset's grid is the target grid shifted by whole pixels (same CRS and pixel size) its
pixels are read straight from the window that is needed, no warping; otherwise GDAL's warper resamples it
(:mod:`eofusion.cube.warp`). Bands that share a source grid (the bands of one item, usually) are read as one
``[band, y, x]`` window and warped in one call, reading from a COG overview when the target is much coarser
than the source.

Open datasets are kept per thread (a small LRU, reopened when the file changes): a cube build reads every
asset once per block, and opening a GeoTIFF costs about as much as decoding one of its tiles.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
import tenacity
from odc.geo.geobox import GeoBox
from rasterio.enums import Resampling
from rasterio.windows import Window

from eofusion.catalog import BandAsset
from eofusion.cube import warp
from eofusion.errors import InputDataError, TransientInputError
from eofusion.storage import configure_gdal_for_cloud, is_transient_message, open_raster
from eofusion.storage.signed_urls import resigned
from eofusion.storage.transient import is_denied_message

log = logging.getLogger(__name__)

Float32Array = npt.NDArray[np.float32]
# Relative tolerance for "same pixel size" and "whole-pixel offset".
_ALIGN_TOL = 1e-6
_OPEN_PER_THREAD = 32

# GDAL keeps decoded blocks in a cache of 5 % of RAM by default; a cube build reads each source pixel once,
# so a big cache only inflates memory. Set once per process (changing it per read flushes the cache and
# serialises threads); an explicit GDAL_CACHEMAX in the environment wins.
_GDAL_CACHE_MB = 16


# Attempts of a block read that failed on the network (after GDAL's own HTTP retries), and the first pause.
READ_ATTEMPTS = 3
READ_BACKOFF_S = 1.0


@functools.cache
def _configure_gdal() -> None:
    if "GDAL_CACHEMAX" not in os.environ:
        rasterio.env.set_gdal_config("GDAL_CACHEMAX", _GDAL_CACHE_MB)
    configure_gdal_for_cloud()


# Hrefs re-signed in this process after their signature expired (see eofusion.storage.signed_urls).
_RESIGNED: dict[str, str] = {}


# Open datasets per thread (GDAL handles must not be shared between threads), in one process-level map so
# that they are closed at exit before GDAL is torn down (thread-locals would be collected after it).
_OPEN: dict[int, OrderedDict[tuple[str, int | None], Any]] = {}


def _signature(href: str) -> tuple[int, int] | None:
    if "://" in href:
        return None
    st = os.stat(href)
    return st.st_mtime_ns, st.st_size


def _dataset(href: str, overview_level: int | None = None) -> tuple[rasterio.DatasetReader, warp.SourceGrid]:
    """An open dataset of this thread (and its grid), reopened when the file changed since it was opened."""
    cache = _OPEN.setdefault(threading.get_ident(), OrderedDict())
    href = _RESIGNED.get(href, href)
    key = (href, overview_level)
    sig = _signature(href)
    hit = cache.get(key)
    if hit is not None and hit[2] == sig:
        cache.move_to_end(key)
        return hit[0], hit[1]
    if hit is not None:
        del cache[key]
        hit[0].close()
    src = open_raster(href) if overview_level is None else open_raster(href, overview_level=overview_level)
    grid = warp.SourceGrid(src.crs.to_wkt() if src.crs else "", src.transform, (src.height, src.width))
    cache[key] = (src, grid, sig)
    while len(cache) > _OPEN_PER_THREAD:
        cache.popitem(last=False)[1][0].close()
    return src, grid


@atexit.register
def close_datasets() -> None:
    """Close the datasets every thread keeps open: at exit, or between builds (never while one runs)."""
    while _OPEN:
        _, cache = _OPEN.popitem()
        while cache:
            cache.popitem()[1][0].close()


@functools.lru_cache(maxsize=64)
def _rio_crs(crs: str) -> rasterio.CRS:
    return rasterio.CRS.from_user_input(crs)


def _aligned_offset(src: rasterio.DatasetReader, geobox: GeoBox) -> tuple[int, int] | None:
    """(row, col) of the target's top-left pixel in the source when the grids differ by whole pixels."""
    st, gt = src.transform, geobox.transform
    if st.b != 0 or st.d != 0 or gt.b != 0 or gt.d != 0:
        return None
    if not (math.isclose(st.a, gt.a, rel_tol=_ALIGN_TOL) and math.isclose(st.e, gt.e, rel_tol=_ALIGN_TOL)):
        return None
    if src.crs is None or not geobox.crs or src.crs != _rio_crs(str(geobox.crs)):
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
    out: Float32Array | None = None,
) -> Float32Array:
    """Read ``asset`` onto ``geobox``: DN * scale + offset as float32, NaN where nodata or outside.

    Args:
        asset: The band to read.
        geobox: Target grid (usually one block of the cube's grid).
        resampling: GDAL resampling used when the grids differ.
        use_overviews: Read from a COG overview when the target is coarser than the source.
        out: Array of ``geobox.shape`` to fill (and return) instead of a new one.

    Raises:
        InputDataError: The file is missing, unreadable or has fewer bands than ``asset.band_index``.
    """
    stack = read_assets(
        [asset], geobox, resampling, use_overviews=use_overviews, out=None if out is None else out[None]
    )
    return stack[0]


def read_assets(
    assets: Sequence[BandAsset],
    geobox: GeoBox,
    resampling: Resampling,
    *,
    use_overviews: bool = True,
    out: Float32Array | None = None,
) -> Float32Array:
    """Read several assets onto ``geobox`` as ``[asset, y, x]`` float32 (see :func:`read_asset`).

    Assets on one source grid (with one nodata value and dtype) are warped together: one GDAL warp per grid.
    A read that fails on the network (see :mod:`eofusion.storage.transient`) is tried again with backoff, on
    freshly opened files; a refused read of an expired signed URL is retried once with a fresh signature.

    Args:
        assets: The bands to read.
        geobox: Target grid (usually one block of the cube's grid).
        resampling: GDAL resampling used when the grids differ.
        use_overviews: Read from a COG overview when the target is coarser than the source.
        out: Array of ``[len(assets), *geobox.shape]`` to fill (and return) instead of a new one.

    Raises:
        InputDataError: A file is missing, unreadable or has fewer bands than its asset's ``band_index``.
        TransientInputError: The network still failed after :data:`READ_ATTEMPTS` attempts.
    """
    out = np.empty((len(assets), *geobox.shape), dtype=np.float32) if out is None else out
    _configure_gdal()
    for attempt in network_retrying(lambda attempt: _before_retry(assets, attempt)):
        with attempt:
            try:
                return _read_assets_once(assets, geobox, resampling, use_overviews=use_overviews, out=out)
            except TransientInputError:
                raise
            except InputDataError as err:
                if not _resign(assets, str(err)):
                    raise
                return _read_assets_once(assets, geobox, resampling, use_overviews=use_overviews, out=out)
    raise AssertionError("unreachable: tenacity returns or re-raises")  # pragma: no cover


def network_retrying(before_retry: Callable[[int], None]) -> tenacity.Retrying:
    """The retry policy of remote reads: TransientInputError only, READ_ATTEMPTS with exponential backoff.

    ``before_retry`` gets the number of the attempt that failed, before the pause (drop cached answers there).
    """
    return tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(TransientInputError),
        stop=tenacity.stop_after_attempt(READ_ATTEMPTS),
        wait=tenacity.wait_exponential(multiplier=READ_BACKOFF_S),
        before_sleep=lambda state: before_retry(state.attempt_number),
        reraise=True,
    )


def _before_retry(assets: Sequence[BandAsset], attempt: int) -> None:
    _forget(assets)
    log.warning("network error reading %s; attempt %d of %d", assets[0].href, attempt + 1, READ_ATTEMPTS)


def _forget(assets: Sequence[BandAsset]) -> None:
    """Close this thread's open handles of these assets and drop GDAL's cached answers for them.

    GDAL remembers a failed HTTP answer (a 503 at open marks the file missing) for the life of the process:
    without the invalidation a retry would never reach the network again.
    """
    cache = _OPEN.get(threading.get_ident(), OrderedDict())
    hrefs = {_RESIGNED.get(a.href, a.href) for a in assets}
    for key in [k for k in cache if k[0] in hrefs]:
        cache.pop(key)[0].close()
    for href in hrefs:
        forget_remote_answers(href)


def forget_remote_answers(href: str) -> None:
    """Drop GDAL's cached HTTP answers (headers, sizes, failures, bytes) for a remote href."""
    if "://" in href:
        import rasterio.cache

        rasterio.cache.invalidate(href)


def _resign(assets: Sequence[BandAsset], message: str) -> bool:
    """Re-sign refused signed hrefs (process-wide); True when at least one got a fresh signature."""
    if not is_denied_message(message):
        return False
    renewed = False
    for asset in assets:
        fresh = resigned(asset.href)
        if fresh is not None:
            _forget([asset])
            _RESIGNED[asset.href] = fresh
            renewed = True
    return renewed


def _read_assets_once(
    assets: Sequence[BandAsset],
    geobox: GeoBox,
    resampling: Resampling,
    *,
    use_overviews: bool,
    out: Float32Array,
) -> Float32Array:
    groups: dict[tuple[warp.SourceGrid, str, str], _Group] = {}
    for i, asset in enumerate(assets):
        with _naming(asset):
            src, grid = _dataset(asset.href)
            if asset.band_index > src.count:
                raise InputDataError(
                    f"{asset.href} has {src.count} band(s) but asset {asset.asset_key!r} asks for band "
                    f"{asset.band_index}."
                )
            nodata = _src_nodata(asset, src)
            offset = _aligned_offset(src, geobox)
            if offset is not None:
                _read_window(src, asset.band_index, offset, out[i], nodata)
                continue
            level = _overview(asset, src, geobox, resampling, use_overviews)
            if level is not None:
                src, grid = _dataset(asset.href, level)
        key = (grid, repr(nodata), src.dtypes[asset.band_index - 1])  # NaN != NaN: nodata keyed by its text
        groups.setdefault(key, _Group(grid, nodata, np.dtype(key[2]), [])).members.append((i, asset, src))
    for group in groups.values():
        _warp_group(group, geobox, resampling, out)
    for i, asset in enumerate(assets):
        if asset.scale != 1.0 or asset.offset != 0.0:
            out[i] *= np.float32(asset.scale)
            out[i] += np.float32(asset.offset)
    return out


@dataclass
class _Group:
    """Assets to warp together: same source grid, nodata and dtype."""

    grid: warp.SourceGrid
    nodata: float | None
    dtype: np.dtype[Any]
    members: list[tuple[int, BandAsset, rasterio.DatasetReader]]  # (index in the output, asset, dataset)


@contextlib.contextmanager
def _naming(*assets: BandAsset) -> Iterator[None]:
    """Turn GDAL and OS errors into an InputDataError naming the asset(s) and the way out."""
    try:
        yield
    except (rasterio.errors.RasterioError, OSError) as err:
        raise asset_error(assets, err) from err


def asset_error(assets: Sequence[BandAsset], err: BaseException) -> InputDataError:
    """The error to raise for a failed read: transient (retried) or not, naming the assets and the fix.

    GDAL's cached answers for the assets are dropped: a failure must not be served again from its cache.
    """
    for asset in assets:
        forget_remote_answers(asset.href)
    names = ", ".join(f"band {a.band.name!r} (asset {a.asset_key!r}) from {a.href}" for a in assets)
    message = str(err)
    if is_transient_message(message):
        return TransientInputError(
            f"Network error reading {names}: {message}. It was retried; if it persists, check the server or "
            "the connection (GDAL_HTTP_MAX_RETRY / GDAL_HTTP_TIMEOUT tune GDAL's own retries)."
        )
    if is_denied_message(message):
        return InputDataError(
            f"Access refused reading {names}: {message}. Check credentials (AWS_* / AZURE_* / GOOGLE_* in the "
            "environment, AWS_REQUEST_PAYER=requester for requester-pays buckets) or re-sign the hrefs (a "
            "catalog source with signing: planetary-computer re-signs expired ones)."
        )
    return InputDataError(
        f"Cannot read {names}: {message}. Check the file, or leave such inputs out: on_error='skip' "
        "(`cube build --on-error skip`, `catalog.on_error: skip` in a job spec)."
    )


def _overview(
    asset: BandAsset, src: rasterio.DatasetReader, geobox: GeoBox, resampling: Resampling, use_overviews: bool
) -> int | None:
    same_units = src.crs is not None and src.crs.is_projected and geobox.crs is not None
    if not (use_overviews and same_units) or resampling is Resampling.nearest:
        return None
    return _overview_level(src, asset.band_index, abs(src.transform.a), abs(geobox.resolution.x))


def _warp_group(group: _Group, geobox: GeoBox, resampling: Resampling, out: Float32Array) -> None:
    index = [i for i, _, _ in group.members]
    with _naming(*(asset for _, asset, _ in group.members)):
        window = warp.source_window(group.grid, geobox, resampling)
    if window is None:  # the block lies outside this source
        out[index] = np.nan
        return
    stack = np.empty((len(index), window.height, window.width), dtype=group.dtype)
    for k, (_, asset, src) in enumerate(group.members):
        with _naming(asset):
            src.read(asset.band_index, window=window, out=stack[k])
    contiguous = index == list(range(index[0], index[0] + len(index)))
    target = out[index[0] : index[-1] + 1] if contiguous else np.empty((len(index), *geobox.shape), np.float32)
    with _naming(*(asset for _, asset, _ in group.members)):
        warp.warp_stack(
            stack, group.grid, window, nodata=group.nodata, geobox=geobox, resampling=resampling, out=target
        )
    if not contiguous:
        out[index] = target


def _read_window(
    src: rasterio.DatasetReader, bidx: int, offset: tuple[int, int], out: Float32Array, nodata: float | None
) -> None:
    row0, col0 = offset
    h, w = out.shape
    r0, c0 = max(row0, 0), max(col0, 0)
    r1, c1 = min(row0 + h, src.height), min(col0 + w, src.width)
    if r1 <= r0 or c1 <= c0:
        out[...] = np.nan
        return
    if (r0 - row0, c0 - col0, r1 - row0, c1 - col0) != (0, 0, h, w):
        out[...] = np.nan  # partly outside the source
    data = src.read(bidx, window=Window(c0, r0, c1 - c0, r1 - r0))
    view = out[r0 - row0 : r1 - row0, c0 - col0 : c1 - col0]
    view[...] = data  # converts to float32 in place: no temporary copies of the window
    if nodata is not None and not math.isnan(nodata):
        view[data == nodata] = np.nan


def footprint(asset: BandAsset) -> tuple[float, float, float, float]:
    """(left, bottom, right, top) of an asset's native grid in its own CRS."""
    a, b, c, d, e, f = asset.transform
    rows, cols = asset.shape
    xs = [c, c + a * cols, c + b * rows, c + a * cols + b * rows]
    ys = [f, f + d * cols, f + e * rows, f + d * cols + e * rows]
    return min(xs), min(ys), max(xs), max(ys)
