"""The GDAL warp path (eofusion.cube.warp via read_assets): bands of one grid warped together, per block."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import rasterio
from cubefactory import S2_BANDS_10, dt, make_item, write_tif
from odc.geo.geobox import GeoBox
from rasterio.enums import Resampling
from rasterio.warp import reproject

from eofusion.catalog import NormalizedItem
from eofusion.cube import warp
from eofusion.cube.reader import read_asset, read_assets

Factory = Callable[..., NormalizedItem]
NATIVE = GeoBox.from_bbox((600000, 4998720, 601280, 5000000), "EPSG:32631", resolution=10)
# The neighbouring UTM zone: rotated by ~2 degrees against the source grid.
ROTATED = GeoBox.from_bbox(NATIVE.extent.to_crs("EPSG:32632").boundingbox, "EPSG:32632", resolution=10)


def _blocks(grid: GeoBox, size: int) -> list[tuple[int, int, GeoBox]]:
    h, w = grid.shape
    return [
        (r, c, grid[r : min(r + size, h), c : min(c + size, w)]) for r in range(0, h, size) for c in range(0, w, size)
    ]


def _gdal(path: str | Path, box: GeoBox, resampling: Resampling) -> np.ndarray:
    """rasterio.warp.reproject of the whole file onto the block, with the block's resampling scale pinned."""
    with rasterio.open(path) as src:
        sx, sy = warp.scale(warp.SourceGrid(src.crs.to_wkt(), src.transform, (src.height, src.width)), box)
        want = np.full(box.shape, np.nan, np.float32)
        reproject(
            rasterio.band(src, 1),
            want,
            dst_transform=box.transform,
            dst_crs=str(box.crs),
            src_nodata=0,
            dst_nodata=np.nan,
            resampling=resampling,
            XSCALE=sx,
            YSCALE=sy,
        )
    return want


@pytest.mark.parametrize("resampling", [Resampling.bilinear, Resampling.cubic, Resampling.nearest])
def test_bands_warped_together_equal_each_file_warped_alone(s2_scene: Factory, resampling: Resampling) -> None:
    # One warp of the source windows of four files equals GDAL warping each whole file: the window holds
    # the kernel and the raster's true edges (the grid covers the source's edges and beyond).
    item = s2_scene("a", dt(1))
    assets = [item.assets[b] for b in S2_BANDS_10]
    for _, _, box in _blocks(ROTATED, 48):
        got = read_assets(assets, box, resampling)
        for k, asset in enumerate(assets):
            want = _gdal(asset.href, box, resampling) * np.float32(1e-4) - np.float32(0.1)
            np.testing.assert_allclose(got[k], want, atol=1e-6, equal_nan=True)


@pytest.mark.parametrize(
    ("resampling", "resolution"),
    [(Resampling.bilinear, 10.0), (Resampling.bilinear, 7.3), (Resampling.cubic, 10.0), (Resampling.average, 25.0)],
)
def test_nodata_holes_and_edges_match_gdal(tmp_path: Path, resampling: Resampling, resolution: float) -> None:
    # Noisy DNs (any misplaced pixel shows), a nodata hole and a nodata first row; the target reaches beyond
    # the raster. The destination has no nodata value (GDAL's faster kernels): the same pixels get values.
    rng = np.random.default_rng(1)
    dn = (rng.random((128, 128)) * 1000 + 1).astype(np.uint16)
    dn[40:60, 20:50] = 0
    dn[0, :] = 0
    path = write_tif(tmp_path / "B04.tif", dn, "EPSG:32631", NATIVE.transform, 0)
    asset = make_item("noisy", "sentinel-2a", dt(1), {"B04": (path, 1)}).assets["B04"]
    grid = GeoBox.from_bbox(ROTATED.extent.boundingbox, "EPSG:32632", resolution=resolution)
    for _, _, box in _blocks(grid, 64):
        got = read_asset(asset, box, resampling, use_overviews=False)
        want = _gdal(path, box, resampling)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_allclose(got, want, atol=1e-3, equal_nan=True)  # DNs up to 1000: float32 rounding


def test_result_does_not_depend_on_the_block_size(s2_scene: Factory) -> None:
    # GDAL's own per-chunk scale widens the bilinear kernel for small rotated blocks (32 px blocks then differ
    # from one 132 px block by up to ~17 DN here); with the pinned scale only the approximate transformer's
    # positions (0.125 px at most, per chunk) differ: < 0.2 DN on this smooth field.
    item = s2_scene("a", dt(1))
    whole = read_asset(item.assets["B04"], ROTATED, Resampling.bilinear)
    tiled = np.empty_like(whole)
    for r, c, box in _blocks(ROTATED, 32):
        tiled[r : r + box.shape[0], c : c + box.shape[1]] = read_asset(item.assets["B04"], box, Resampling.bilinear)
    assert np.isnan(whole).any() and np.isfinite(whole).any()
    np.testing.assert_allclose(tiled, whole, atol=2e-5, equal_nan=True)


def test_scale_is_the_pixel_size_ratio() -> None:
    grid = warp.SourceGrid(
        rasterio.CRS.from_epsg(32631).to_wkt(), NATIVE.transform @ NATIVE.transform.scale(2), (64, 64)
    )
    sx, sy = warp.scale(grid, NATIVE)  # 20 m source, 10 m target
    assert sx == pytest.approx(2.0) and sy == pytest.approx(2.0)
    rotated = warp.scale(warp.SourceGrid(grid.crs, NATIVE.transform, (128, 128)), ROTATED)
    assert rotated == pytest.approx((1.0, 1.0), abs=2e-3)  # same pixel size, rotated: still 1:1


def test_block_outside_the_source_is_nan(s2_scene: Factory) -> None:
    item = s2_scene("a", dt(1))
    far = GeoBox.from_bbox((700000, 4998720, 700320, 4999040), "EPSG:32631", resolution=7)
    assert np.isnan(read_assets([item.assets["B04"], item.assets["B11"]], far, Resampling.bilinear)).all()


@pytest.mark.parametrize("resampling", [Resampling.bilinear, Resampling.cubic])
def test_threaded_warps_emit_no_georeferencing_warning(s2_scene: Factory, resampling: Resampling) -> None:
    # The warp's source and destination are georeferenced in-memory datasets: rasterio would silence the
    # warning of bare arrays with warnings.catch_warnings, which is not thread-safe (it leaked from Dask).
    item = s2_scene("a", dt(1))
    assets = [item.assets[b] for b in S2_BANDS_10]
    with warnings.catch_warnings():
        warnings.simplefilter("error", rasterio.errors.NotGeoreferencedWarning)
        with ThreadPoolExecutor(4) as pool:
            out = list(pool.map(lambda b: read_assets(assets, b[2], resampling), _blocks(ROTATED, 32)))
    assert all(np.isfinite(o).any() for o in out)


@pytest.mark.parametrize(
    ("dtype", "nodata", "hole"),
    [("uint16", 0.0, False), ("uint16", 0.0, True), ("float32", float("nan"), False), ("float32", float("nan"), True),
     ("float32", -9999.0, False), ("int16", -9999.0, True)],
)  # fmt: skip
def test_window_without_nodata_pixels_warps_as_gdal_with_nodata(dtype: str, nodata: float, hole: bool) -> None:
    # A window that holds no nodata pixel is handed to GDAL without a nodata value (its unmasked kernels,
    # faster): the pixels must be exactly those of GDAL's nodata-aware warp; a window with a hole keeps it.
    rng = np.random.default_rng(2)
    stack = (rng.random((2, 128, 128)) * 1000 + 1).astype(dtype)
    clean = stack.copy()
    if hole:
        stack[:, 30:50, 40:70] = nodata
    grid = warp.SourceGrid(rasterio.CRS.from_epsg(32631).to_wkt(), NATIVE.transform, (128, 128))
    window = rasterio.windows.Window(0, 0, 128, 128)
    got = np.empty((2, *ROTATED.shape), np.float32)
    warp.warp_stack(stack, grid, window, nodata=nodata, geobox=ROTATED, resampling=Resampling.bilinear, out=got)
    for k in range(2):
        want = np.full(ROTATED.shape, np.nan, np.float32)
        reproject(
            stack[k], want, src_transform=NATIVE.transform, src_crs="EPSG:32631", dst_transform=ROTATED.transform,
            dst_crs="EPSG:32632", src_nodata=nodata, dst_nodata=np.nan, resampling=Resampling.bilinear,
            XSCALE=warp.scale(grid, ROTATED)[0], YSCALE=warp.scale(grid, ROTATED)[1],
        )  # fmt: skip
        np.testing.assert_array_equal(np.isnan(got[k]), np.isnan(want))
        np.testing.assert_allclose(got[k], want, atol=1e-3, equal_nan=True)
    if hole:  # the hole stays empty: more NaN than the pixels outside the raster alone
        plain = np.empty_like(got)
        warp.warp_stack(clean, grid, window, nodata=nodata, geobox=ROTATED,
                        resampling=Resampling.bilinear, out=plain)  # fmt: skip
        assert np.isnan(got).sum() > np.isnan(plain).sum()
