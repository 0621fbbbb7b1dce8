"""Real samples from ../shared/data/real: non-native UTM grids, mixed resolutions, S1/S2 alignment, NAIP."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
from cubefactory import REAL, make_item
from odc.geo.geobox import GeoBox
from rasterio.enums import Resampling
from rasterio.warp import reproject

from eofusion.catalog import NormalizedItem
from eofusion.cube import LoadOptions, load_aligned
from eofusion.grid import nested_grids

pytestmark = [
    pytest.mark.real_data,
    pytest.mark.skipif(not REAL.exists() and os.environ.get("CI") != "true", reason="../shared/data absent"),
]
SLOVENIA = REAL / "slovenia_s2_dem_lulc"
BEN = REAL / "bigearthnet_s1s2"


def _warp(path: Path, grid: GeoBox, resampling: Resampling, bidx: int = 1) -> np.ndarray:
    """The reference: rasterio.warp.reproject of the raw file onto the same target grid."""
    out = np.full(grid.shape, np.nan, np.float32)
    with rasterio.open(path) as src:
        reproject(
            rasterio.band(src, bidx),
            out,
            src_transform=src.transform,
            src_crs=src.crs,
            src_nodata=src.nodata,
            dst_transform=grid.transform,
            dst_crs=str(grid.crs),
            dst_nodata=np.nan,
            resampling=resampling,
        )
    return out


def _slovenia_items() -> list[NormalizedItem]:
    items = []
    for folder in sorted(SLOVENIA.glob("S2_L1C_*")):
        when = datetime.fromisoformat((folder / "acquired.txt").read_text().strip().replace("Z", "+00:00"))
        files = {b: (folder / f"{b}.tif", 1) for b in ("B02", "B04", "B08", "B11")}
        items.append(make_item(folder.name, "sentinel-2a", when, files, scale=1e-4))
    return items


def test_slovenia_onto_snapped_10m_grid_matches_rasterio_warp() -> None:
    items = _slovenia_items()
    with rasterio.open(SLOVENIA / "S2_L1C_20150711" / "B04.tif") as src:
        bounds, crs = src.bounds, src.crs.to_string()
        assert abs(src.transform.a - 10) > 1e-3  # the source grid is NOT 10 m (9.995 m)
    grids = nested_grids(tuple(bounds), {"s2": 10, "dsm": 10}, crs=crs, aoi_crs=crs)
    grid = grids.geobox("s2")
    assert grid.transform.c % 10 == 0 and grid.transform.f % 10 == 0  # snapped to the 10 m lattice
    ds = load_aligned(items, grids, "s2", options=LoadOptions(chunk_size=64))
    assert ds.sizes["time"] == 5 and ds.odc.geobox == grid
    for t, folder in enumerate(sorted(SLOVENIA.glob("S2_L1C_*"))):
        for band in ("B04", "B11"):
            want = _warp(folder / f"{band}.tif", grid, Resampling.bilinear) * np.float32(1e-4)
            got = ds["data"].sel(band=band).isel(time=t).values
            np.testing.assert_allclose(got, want, atol=1e-6, equal_nan=True)
            assert np.isfinite(got).mean() > 0.95
    dem = make_item("dem", "elevation", datetime(2015, 1, 1, tzinfo=UTC), {"dtm": (SLOVENIA / "DEM.tif", 1)})
    elev = load_aligned([dem], grids, "dsm")
    want = _warp(SLOVENIA / "DEM.tif", grids.geobox("dsm"), Resampling.bilinear)
    np.testing.assert_allclose(elev["data"].isel(time=0, band=0).values, want, atol=1e-4, equal_nan=True)
    assert 600 < np.nanmean(want) < 850  # metres


def _ben_items() -> tuple[NormalizedItem, NormalizedItem]:
    s2_dir = BEN / "BigEarthNet-S2-Example" / "S2A_MSIL2A_20170613T101031_87_48"
    s1_dir = BEN / "BigEarthNet-S1-Example" / "S1A_IW_GRDH_1SDV_20170613T165043_33UUP_87_48"
    bands = ("B01", "B02", "B04", "B05", "B09", "B11")
    s2 = make_item(
        "s2",
        "sentinel-2a",
        datetime(2017, 6, 13, 10, 10, tzinfo=UTC),
        {b: (s2_dir / f"{s2_dir.name}_{b}.tif", 1) for b in bands},
        scale=1e-4,
    )
    s1 = make_item(
        "s1",
        "sentinel-1",
        datetime(2017, 6, 13, 16, 50, tzinfo=UTC),
        {p: (s1_dir / f"{s1_dir.name}_{p}.tif", 1) for p in ("VV", "VH")},
        orbit="ascending",
    )
    return s2, s1


def test_bigearthnet_20m_60m_onto_10m_and_s1_stays_aligned() -> None:
    s2, s1 = _ben_items()
    grids = nested_grids(
        (404400, 5341200, 405600, 5342400), {"s2": 10, "s1": 10}, crs="EPSG:32633", aoi_crs="EPSG:32633"
    )
    opt = LoadOptions(sar_input="db")
    ds2 = load_aligned([s2], grids, "s2", options=opt)
    ds1 = load_aligned([s1], grids, "s1", options=opt)
    assert ds2.odc.geobox == ds1.odc.geobox == grids.geobox("s2")
    assert ds2.sizes["y"] == 120
    for band, res in (("B01", 60), ("B05", 20), ("B11", 20), ("B02", 10)):
        path = Path(s2.assets[band].href)
        want = _warp(path, grids.geobox("s2"), Resampling.bilinear) * np.float32(1e-4)
        np.testing.assert_allclose(ds2["data"].sel(band=band).values[0], want, atol=1e-6, equal_nan=True)
        with rasterio.open(path) as src:
            assert abs(src.transform.a) == res
    # S1 is on the S2 grid already: its pixels come through unchanged (dB -> linear -> dB round trip).
    with rasterio.open(s1.assets["VV"].href) as src:
        vv = src.read(1)
    np.testing.assert_allclose(ds1["data"].sel(band="VV").values[0], np.maximum(vv, -50), atol=1e-4)
    assert ds1["units"].values.tolist() == ["dB", "dB"]


def test_naip_onto_utm_grid_in_another_datum() -> None:
    path = REAL / "naip_aerial" / "m_4208701_ne_16_060_20200902.tif"
    files = {b: (path, i) for i, b in enumerate(("red", "green", "blue", "nir"), start=1)}
    item = make_item("naip", "naip", datetime(2020, 9, 2, tzinfo=UTC), files, scale=1 / 255)
    with rasterio.open(path) as src:
        inner = (src.bounds.left + 6, src.bounds.bottom + 6, src.bounds.right - 6, src.bounds.top - 6)
    grids = nested_grids(inner, {"aerial": 0.6}, crs="EPSG:32616", aoi_crs="EPSG:26916")
    ds = load_aligned([item], grids, "aerial")
    assert list(ds["band"].values) == ["red", "green", "blue", "nir"]
    want = _warp(path, grids.geobox("aerial"), Resampling.bilinear, bidx=4) / np.float32(255)
    np.testing.assert_allclose(ds["data"].sel(band="nir").values[0], want, atol=1e-6)
    assert np.isfinite(want).all()
    coarse = load_aligned([item], nested_grids(inner, {"aerial": 2.4}, crs="EPSG:32616", aoi_crs="EPSG:26916"), "naip")
    assert coarse.attrs["eofusion:resampling"].count("average") == 4
