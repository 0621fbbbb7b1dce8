"""The held-out sensors: Landsat 8/9 OLI and the NAIP-like camera, through the registry's band responses."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine
from odc.geo.geobox import GeoBox
from rio_cogeo.cogeo import cog_validate
from scipy import ndimage

from eofusion.catalog import normalize_items, search
from eofusion.errors import ConfigError
from eofusion.sensors import get_sensor, spectral_response
from eofusion.simulate import DemoWorld, WorldConfig, plan_world
from eofusion.simulate.classes import LC
from eofusion.simulate.grids import FeatureRasteriser
from eofusion.simulate.products import COLLECTIONS
from eofusion.simulate.render_landsat import LANDSAT_BANDS
from eofusion.simulate.spectra import EM, WAVELENGTHS_NM, spectrum
from eofusion.simulate.surface import FeatureTable, fractions

SPRING = date(2024, 4, 17)
SUMMER = date(2024, 7, 21)
CLOUDY = date(2024, 8, 20)
CLEAR_LAND_QA = 21824  # Collection 2 QA_PIXEL of clear land, every confidence low


def _item_dir(world: DemoWorld, kind: str, when: date | None = None) -> Path:
    for item in world.stac_items(COLLECTIONS[kind]):
        assert item.datetime is not None
        if when is None or item.datetime.date() == when:
            return Path(str(next(iter(item.assets.values())).get_absolute_href())).parent
    raise AssertionError(f"no {kind} item on {when}")


def _read(path: Path, band: int = 1) -> np.ndarray:
    with rasterio.open(path) as src:
        return np.asarray(src.read(band))


def _landsat(world: DemoWorld, band: str, when: date) -> np.ndarray:
    return _read(_item_dir(world, "landsat", when) / f"SR_{band}.tif").astype(np.float64) * 2.75e-5 - 0.2


def _band_averages(sensor_name: str, bands: tuple[str, ...]) -> np.ndarray:
    """Every endmember spectrum integrated with the registry's response of each band, ``[len(EM), bands]``."""
    sensor = get_sensor(sensor_name)
    spectra = np.stack([spectrum(m) for m in EM])
    out = []
    for b in bands:
        srf = spectral_response(sensor, sensor.band(b))
        assert srf is not None
        out.append(srf.band_average(WAVELENGTHS_NM, spectra))
    return np.stack(out, axis=1)


def test_landsat_files_encode_the_simulator_truth(world: DemoWorld) -> None:
    for when in (SPRING, CLOUDY):
        for band in ("B1", "B4", "B5", "B7"):
            truth = world.landsat_reflectance(band, when)
            stored = _landsat(world, band, when)
            assert stored.shape == truth.shape == world.grids["landsat"].shape
            assert np.abs(stored - truth).max() <= 1.4e-5  # half a DN step of 2.75e-5


def test_single_feature_pixels_record_the_spectra_through_oli_responses(world: DemoWorld) -> None:
    """A 30 m pixel inside one soil-free feature is its endmember mixture seen through OLI's measured bands."""
    grid = world.grids["landsat"]
    sub = round(30 * world.config.s2_subpixels / 10)  # the renderer's sub-pixels per 30 m pixel
    fine = GeoBox((grid.shape[0] * sub, grid.shape[1] * sub), grid.affine @ Affine.scale(1 / sub), grid.crs)
    fid = FeatureRasteriser(world.features).fid(fine).reshape(grid.shape[0], sub, grid.shape[1], sub)
    first = fid[:, :1, :, :1]
    pure = (fid == first).all(axis=(1, 3)) & (first[:, 0, :, 0] >= 0)
    feature = first[:, 0, :, 0]
    f = fractions(FeatureTable.from_features(world.features), SUMMER)
    soil_free = (f[:, EM.SOIL_DRY] == 0) & (f.sum(axis=1) > 0)
    pixels = pure & soil_free[np.maximum(feature, 0)]
    assert pixels.sum() >= 20, "the world needs pure pixels of woods, water or built-up features"
    oli = get_sensor("landsat-9")  # the summer date is a Landsat 9 pass (8 and 9 alternate)
    assert all(spectral_response(oli, oli.band(b)).measured for b in LANDSAT_BANDS)  # type: ignore[union-attr]
    expected = f[feature[pixels]] @ _band_averages("landsat-9", LANDSAT_BANDS)  # [pixels, bands]
    observed = np.stack([_landsat(world, b, SUMMER)[pixels] for b in LANDSAT_BANDS], axis=1)
    # Texture multiplies every band of a pixel alike: band ratios are exactly the spectra's.
    bright = (expected > 0.02).all(axis=1)
    ratio_obs = observed[bright] / observed[bright, 4:5]  # / B5 (NIR)
    ratio_exp = expected[bright] / expected[bright, 4:5]
    np.testing.assert_allclose(ratio_obs, ratio_exp, rtol=2e-3)
    # Sentinel-2A's responses for the same bands would give other ratios: the test tells the sensors apart.
    s2 = f[feature[pixels]][bright] @ _band_averages("sentinel-2a", ("B01", "B02", "B03", "B04", "B8A", "B11", "B12"))
    assert not np.allclose(s2 / s2[:, 4:5], ratio_exp, rtol=1e-2)


def test_landsat_sees_the_sentinel2_surface(world: DemoWorld) -> None:
    """The same ground on the same day: OLI red and NIR at 30 m match 3 x 3 means of S2 B04 and B8A."""
    s2_red = world.s2_reflectance("B04", SUMMER)
    s2_red = s2_red.reshape(s2_red.shape[0] // 3, 3, s2_red.shape[1] // 3, 3).mean(axis=(1, 3))
    s2_nir = world.s2_reflectance("B8A", SUMMER)  # 20 m, 865 nm like OLI B5: compare at 60 m
    s2_nir = s2_nir.reshape(s2_nir.shape[0] // 3, 3, s2_nir.shape[1] // 3, 3).mean(axis=(1, 3))
    red, nir = _landsat(world, "B4", SUMMER), _landsat(world, "B5", SUMMER)
    nir = nir.reshape(nir.shape[0] // 2, 2, nir.shape[1] // 2, 2).mean(axis=(1, 3))
    assert np.corrcoef(red.ravel(), s2_red.ravel())[0, 1] > 0.99
    assert np.corrcoef(nir.ravel(), s2_nir.ravel())[0, 1] > 0.99
    assert np.median(np.abs(red - s2_red)) < 0.01 and np.median(np.abs(nir - s2_nir)) < 0.01


def test_landsat_has_the_sentinel2_clouds_flagged_in_qa_pixel(world: DemoWorld) -> None:
    clear = _read(_item_dir(world, "landsat", SUMMER) / "QA_PIXEL.tif")
    cloudy = _read(_item_dir(world, "landsat", CLOUDY) / "QA_PIXEL.tif")
    assert not ((clear >> 3) & 1).any() and (clear == CLEAR_LAND_QA).mean() > 0.8
    cloud = ((cloudy >> 3) & 1).astype(bool)
    assert 0.05 < cloud.mean() < 0.9
    assert np.median(_landsat(world, "B2", CLOUDY)[cloud]) > 0.3
    # Same clouds as Sentinel-2 that day: compare the cloud cover of each 60 m cell (SCL 20 m, QA 30 m).
    scl = _read(_item_dir(world, "s2", CLOUDY) / "SCL.tif")
    s2_cloud = (scl == 9).reshape(scl.shape[0] // 3, 3, scl.shape[1] // 3, 3).mean(axis=(1, 3))
    ls_cloud = cloud.reshape(cloud.shape[0] // 2, 2, cloud.shape[1] // 2, 2).mean(axis=(1, 3))
    assert np.corrcoef(s2_cloud.ravel(), ls_cloud.ravel())[0, 1] > 0.9


def _grid_of(path: Path) -> tuple[str, tuple[float, ...], tuple[float, float], str, object, int]:
    with rasterio.open(path) as src:
        return str(src.crs), tuple(src.bounds), src.res, src.dtypes[0], src.nodata, src.count


def test_cogs_lie_on_the_world_grid(world: DemoWorld) -> None:
    world_bounds = tuple(world.grids["s2_10m"].boundingbox)
    landsat = sorted(_item_dir(world, "landsat", CLOUDY).glob("*.tif"))
    assert [p.name for p in landsat] == ["QA_PIXEL.tif", *(f"SR_{b}.tif" for b in LANDSAT_BANDS)]  # no B10
    naip = _item_dir(world, "naip") / "image.tif"
    for path in [*landsat, naip]:
        valid, errors, warnings = cog_validate(str(path), quiet=True)
        assert valid and not errors and not warnings, (path.name, errors, warnings)
    for path in landsat:
        crs, bounds, res, dtype, nodata, count = _grid_of(path)
        assert (crs, bounds, res, dtype, count) == (world.config.world_crs, world_bounds, (30.0, 30.0), "uint16", 1)
        assert nodata == (1 if path.name == "QA_PIXEL.tif" else 0)
    crs, bounds, res, dtype, nodata, count = _grid_of(naip)
    assert (crs, bounds, dtype, nodata, count) == (world.config.world_crs, world_bounds, "uint8", None, 4)
    assert res == pytest.approx((0.6, 0.6))


def test_naip_records_its_own_band_responses(world: DemoWorld) -> None:
    """NAIP's narrow red sits in the chlorophyll well: vegetation is redder to the IGN-like camera only.

    DN ratios between bands of one pixel do not depend on its illumination (the cameras fly at different
    times), so they compare the two cameras' spectra directly.
    """

    def ratios(path: Path, grid: GeoBox, classes: list[int]) -> tuple[float, float]:
        inside = ndimage.binary_erosion(np.isin(world.rasterize_landcover(grid), classes), iterations=3)
        red, green, nir = (_read(path, b)[inside].astype(np.float64) for b in (1, 2, 4))
        ok = (red > 10) & (green > 10)
        assert ok.sum() > 500
        return float(np.median(red[ok] / green[ok])), float(np.median(nir[ok] / red[ok]))

    naip, ign = _item_dir(world, "naip") / "image.tif", _item_dir(world, "aerial") / "image.tif"
    woods = [LC["deciduous"], LC["coniferous"]]
    built = [LC["impervious surface"]]
    (naip_rg, naip_nr), (ign_rg, ign_nr) = (
        ratios(naip, world.grids["naip"], woods),
        ratios(ign, world.grids["aerial"], woods),
    )
    # Expected from the spectra (DN are gamma-encoded: ratios to the power 1 / 2.2).
    n, i = _band_averages("naip", ("red", "green", "nir")), _band_averages("aerial-ign", ("red", "green", "nir"))
    leaf = EM.BROADLEAF
    assert naip_rg / ign_rg == pytest.approx(
        ((n[leaf, 0] / n[leaf, 1]) / (i[leaf, 0] / i[leaf, 1])) ** (1 / 2.2), abs=0.06
    )
    assert naip_rg / ign_rg < 0.9 and naip_nr / ign_nr > 1.1
    # Where the spectra are flat (asphalt, concrete) the two cameras agree.
    (naip_rg, naip_nr), (ign_rg, ign_nr) = (
        ratios(naip, world.grids["naip"], built),
        ratios(ign, world.grids["aerial"], built),
    )
    assert naip_rg / ign_rg == pytest.approx(1.0, abs=0.05) and naip_nr / ign_nr == pytest.approx(1.0, abs=0.05)


def test_items_normalise_to_the_registry_sensors(world: DemoWorld) -> None:
    items = normalize_items(search(world.geoparquet_path, collections=["landsat-c2-l2", "aerial-naip"]))
    by_sensor: dict[str, list[Any]] = {}
    for item in items:
        by_sensor.setdefault(item.sensor.name, []).append(item)
    assert set(by_sensor) == {"landsat-8", "landsat-9", "naip"}
    assert [len(by_sensor[s]) for s in ("landsat-8", "landsat-9", "naip")] == [2, 1, 1]  # 8 and 9 alternate
    for item in by_sensor["landsat-8"] + by_sensor["landsat-9"]:
        assert item.sensor.family == "landsat-oli" and item.collection == "landsat-c2-l2"
        assert item.band_names == (*LANDSAT_BANDS, "QA_PIXEL")
        b5 = item.band("B5")
        assert (b5.asset_key, b5.scale, b5.offset, b5.nodata) == ("nir08", 2.75e-5, -0.2, 0.0)
        assert b5.shape == world.grids["landsat"].shape and b5.crs == world.config.world_crs
    naip = by_sensor["naip"][0]
    assert naip.sensor.family == "aerial" and naip.band_names == ("red", "green", "blue", "nir")
    assert naip.band("nir").band_index == 4 and naip.datetime.date() == world.aerial_date
    assert {i.collection_id for i in world.stac_items()} >= {"landsat-c2-l2", "aerial-naip"}  # static catalog too


def test_world_config_switches(tmp_path: Path) -> None:
    on = WorldConfig(size_m=300, aerial_resolution_m=2.0)
    assert (on.landsat, on.naip, on.naip_resolution_m) == (True, True, 0.6)  # rendered by default
    steps = [name for name, _ in plan_world(on, tmp_path / "on").steps]
    assert sum(s.startswith("Landsat") for s in steps) == len(on.s2_dates) and "NAIP-like aerial RGBN" in steps
    off = replace(on, landsat=False, naip=False)
    assert not [s for s, _ in plan_world(off, tmp_path / "off").steps if s.startswith(("Landsat", "NAIP"))]
    assert WorldConfig.from_dict(off.to_dict()) == off and off.digest() != on.digest()
    with pytest.raises(ConfigError, match="naip_resolution_m"):
        WorldConfig(naip_resolution_m=0)
