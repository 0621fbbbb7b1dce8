"""load_aligned: alignment, physical units, masking, mosaicking, resampling, reprojection."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import rasterio
from cubefactory import dt
from odc.geo.geobox import GeoBox
from rasterio.enums import Resampling
from rasterio.warp import reproject

from eofusion.catalog import NormalizedItem
from eofusion.cube import LoadOptions, composite, load_aligned
from eofusion.grid import nested_grids

Factory = Callable[..., NormalizedItem]
NATIVE = GeoBox.from_bbox((600000, 4998720, 601280, 5000000), "EPSG:32631", resolution=10)


def test_native_grid_equals_dn_times_scale_plus_offset(s2_scene: Factory) -> None:
    item = s2_scene("a", dt(1))
    ds = load_aligned([item], NATIVE, "s2", options=LoadOptions(chunk_size=64))
    assert ds["data"].dims == ("time", "band", "y", "x")
    assert ds["data"].chunks[2] == (64, 64)  # type: ignore[index]
    got = ds["data"].sel(band="B04").isel(time=0).values
    with rasterio.open(item.assets["B04"].href) as src:
        want = src.read(1).astype(np.float32) * np.float32(1e-4) + np.float32(-0.1)
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert ds["centre_nm"].sel(band="B04") == pytest.approx(664.6)
    assert ds["spatial_ref"].attrs["crs_wkt"]
    assert ds["data"].attrs["grid_mapping"] == "spatial_ref"
    assert ds.odc.geobox == NATIVE  # exactly the requested grid


def test_20m_band_bilinear_onto_10m_matches_rasterio(s2_scene: Factory) -> None:
    item = s2_scene("a", dt(1))
    ds = load_aligned([item], NATIVE, "s2", bands=["B11"])
    got = ds["data"].isel(time=0, band=0).values
    want = np.full(NATIVE.shape, np.nan, np.float32)
    with rasterio.open(item.assets["B11"].href) as src:
        reproject(
            rasterio.band(src, 1),
            want,
            dst_transform=NATIVE.transform,
            dst_crs="EPSG:32631",
            src_nodata=0,
            dst_nodata=np.nan,
            resampling=Resampling.bilinear,
        )
    want = want * np.float32(1e-4) - np.float32(0.1)
    np.testing.assert_allclose(got, want, atol=1e-6, equal_nan=True)
    assert ds.attrs["eofusion:resampling"] == '{"B11": "bilinear"}'


def test_downsampling_averages_and_uses_overviews(s2_scene: Factory) -> None:
    item = s2_scene("a", dt(1))
    coarse = GeoBox.from_bbox(NATIVE.extent.boundingbox, "EPSG:32631", resolution=40)
    ds = load_aligned([item], coarse, "s2", bands=["B04"])
    assert ds.attrs["eofusion:resampling"] == '{"B04": "average"}'
    got = ds["data"].isel(time=0, band=0).values
    with rasterio.open(item.assets["B04"].href) as src:
        full = src.read(1).astype(np.float64) * 1e-4 - 0.1
    block_mean = full.reshape(32, 4, 32, 4).mean(axis=(1, 3))
    np.testing.assert_allclose(got, block_mean, atol=2e-4)


def test_scl_masks_clouds_and_same_day_tiles_mosaic(s2_scene: Factory) -> None:
    # Two tiles of the same solar day side by side, one with a cloud.
    left = s2_scene("left", dt(1, 10), origin=(600000.0, 5000000.0), size=64, cloud_box=(0, 8, 0, 8))
    right = s2_scene("right", dt(1, 10), origin=(600640.0, 5000000.0), size=64, seed=1)
    later = s2_scene("later", dt(11), size=64, seed=2)
    grid = GeoBox.from_bbox((600000, 4999360, 601280, 5000000), "EPSG:32631", resolution=10)
    ds = load_aligned([later, right, left], grid, "s2", bands=["B04", "B08"])
    assert ds.sizes["time"] == 2
    assert list(ds["time"].dt.day.values) == [1, 11]
    first = ds["data"].isel(time=0).values
    assert np.isnan(first[:, :16, :16]).all()  # SCL 9 (cloud) at 20 m -> 16 x 16 px at 10 m
    assert not np.isnan(first[:, 16:, :]).any()  # both tiles mosaicked into one date
    unmasked = load_aligned([left], grid, "s2", bands=["B04"], options=LoadOptions(mask_clouds=False))
    assert not np.isnan(unmasked["data"].isel(time=0).values[:, :, :64]).any()
    assert np.isnan(ds["data"].isel(time=1).values[:, :, 64:]).all()  # "later" covers only the west half


def test_item_in_another_utm_zone_is_reprojected(s2_scene: Factory) -> None:
    # Same place described in zone 31 and zone 32: the zone-32 item is warped onto the zone-31 grid.
    z31 = s2_scene("z31", dt(1), size=64)
    grid = GeoBox.from_bbox((600100, 4999460, 600540, 4999900), "EPSG:32631", resolution=10)
    west = grid.extent.to_crs("EPSG:32632").boundingbox
    z32 = s2_scene("z32", dt(2), origin=(round(west.left) - 100.0, round(west.top) + 100.0), size=64, crs="EPSG:32632")
    ds = load_aligned([z31, z32], grid, "s2", bands=["B04"])
    assert ds.sizes["time"] == 2
    assert not np.isnan(ds["data"].isel(time=1).values).any()


def test_nested_grids_and_monthly_composite(s2_scene: Factory) -> None:
    items = [s2_scene(f"d{d}", dt(d), size=64, seed=d) for d in (1, 11, 21)]
    grids = nested_grids(
        (600000, 4999360, 600640, 5000000), {"s2": 10, "dsm": 1}, crs="EPSG:32631", aoi_crs="EPSG:32631"
    )
    ds = load_aligned(items, grids, "sentinel-2", bands=["B04"])
    assert ds.odc.geobox == grids.geobox("s2")
    med = composite(ds, "median", freq="1MS")
    assert med.sizes["time"] == 1
    np.testing.assert_allclose(med["data"].values[0], np.nanmedian(ds["data"].values, axis=0), atol=1e-7)
