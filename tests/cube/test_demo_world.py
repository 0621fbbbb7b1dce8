"""The demo world end to end: S2 equals the simulator's truth; aerial, DSM and labels line up."""

from __future__ import annotations

import warnings
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from odc.geo.geobox import GeoBox

from eofusion.catalog import NormalizedItem, normalize_items
from eofusion.cube import LoadOptions, WriteOptions, build_cube, load_aligned, open_datatree
from eofusion.errors import SkippedInputWarning
from eofusion.grid import nested_grids
from eofusion.simulate import DemoWorld, WorldConfig, simulate_world

BUILDING = 1


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoWorld, list[NormalizedItem]]:
    config = WorldConfig(
        seed=1,
        size_m=600,
        s2_dates=(date(2024, 5, 3), date(2024, 6, 2)),
        s2_cloudy_dates=(date(2024, 6, 2),),
        s1_ascending_dates=(date(2024, 5, 5),),
        s1_descending_dates=(date(2024, 5, 6),),
        aerial_resolution_m=0.5,
    )
    demo = simulate_world(config, tmp_path_factory.mktemp("world") / "w")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedInputWarning)  # the land-cover truth item has no sensor
        items = normalize_items(demo.stac_items(), on_error="skip")
    return demo, items


def test_s2_reflectance_equals_simulator_truth(world: tuple[DemoWorld, list[NormalizedItem]]) -> None:
    demo, items = world
    grid = demo.grids["s2_10m"]
    ds = load_aligned(items, grid, "s2", bands=["B04", "B08"], options=LoadOptions(mask_clouds=False))
    assert ds.sizes["time"] == 2
    for t, day in enumerate(demo.s2_dates):
        for band in ("B04", "B08"):
            truth = demo.s2_reflectance(band, day)
            got = ds["data"].sel(band=band).isel(time=t).values
            assert np.abs(got - truth).max() <= 1e-4
    masked = load_aligned(items, grid, "s2", bands=["B04"])  # default SCL masking
    clear, cloudy = np.isnan(masked["data"].values[:, 0]).mean(axis=(1, 2))
    assert clear < 0.01 < cloudy


def test_landsat_clouds_are_masked_from_qa_pixel(world: tuple[DemoWorld, list[NormalizedItem]]) -> None:
    """The simulator flags its Landsat clouds and shadows in QA_PIXEL; the cube masks exactly those pixels."""
    import rasterio

    from eofusion.sensors import QA_PIXEL_DEFAULT_MASKED_BITS

    demo, items = world
    grid = demo.grids["landsat"]  # the files' own 30 m grid: no resampling
    masked = load_aligned(items, grid, "landsat", bands=["B4", "B5"])
    assert list(masked["band"].values) == ["B4", "B5"] and masked.sizes["time"] == 2
    unmasked = load_aligned(items, grid, "landsat", bands=["B4", "B5"], options=LoadOptions(mask_clouds=False))
    landsat = {i.datetime.date(): i for i in items if i.sensor.family == "landsat-oli"}
    flags = sum(1 << b for b in QA_PIXEL_DEFAULT_MASKED_BITS)
    cloudy_fraction = []
    for t, day in enumerate(demo.s2_dates):
        with rasterio.open(landsat[day].assets["QA_PIXEL"].href) as src:
            qa = src.read(1)
        flagged = (qa & flags) != 0
        got, raw = masked["data"].isel(time=t).values, unmasked["data"].isel(time=t).values
        assert not np.isnan(raw).any()
        np.testing.assert_array_equal(np.isnan(got), np.broadcast_to(flagged, got.shape))
        np.testing.assert_array_equal(got[:, ~flagged], raw[:, ~flagged])
        cloudy_fraction.append(flagged.mean())
    clear, cloudy = cloudy_fraction  # s2_cloudy_dates: the second date only
    assert clear == 0.0 and cloudy > 0.01


def _best_shift(signal: np.ndarray, mask: np.ndarray, radius: int = 3) -> tuple[int, int]:
    """The (dy, dx) shift of ``signal`` that correlates best with ``mask``."""
    scores = {}
    m = mask[radius:-radius, radius:-radius].astype(np.float64)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            s = signal[radius + dy : signal.shape[0] - radius + dy, radius + dx : signal.shape[1] - radius + dx]
            ok = np.isfinite(s)
            scores[(dy, dx)] = np.corrcoef(s[ok], m[ok])[0, 1]
    return max(scores, key=lambda k: scores[k])


def test_buildings_coincide_across_aerial_dsm_and_labels(
    world: tuple[DemoWorld, list[NormalizedItem]], tmp_path: Path
) -> None:
    demo, items = world
    # A UTM grid inside the Lambert-93 aerial/DSM coverage: both are reprojected onto it.
    centre = demo.grids["s2_10m"].extent.centroid
    x, y = centre.coords[0]
    grids = nested_grids(
        (x - 150, y - 150, x + 150, y + 150),
        {"s2": 10, "s1": 10, "dsm": 1, "aerial": 0.5},
        crs="EPSG:32631",
        aoi_crs="EPSG:32631",
    )
    store = tmp_path / "cube.zarr"
    build_cube(items, grids, ["s2", "s1", "dsm", "aerial"], store, write=WriteOptions(scheduler="threads"))
    tree = open_datatree(store)
    assert set(tree.children) == {"s2", "s1", "dsm", "aerial"}
    s1 = tree["s1"].to_dataset()
    assert list(s1["orbit_direction"].values) == ["ascending", "descending"]
    assert np.nanmax(s1["data"].values) < 10 and np.nanmin(s1["data"].values) >= -50  # dB with a floor
    dsm = tree["dsm"].to_dataset()
    aerial = tree["aerial"].to_dataset()
    assert dsm.odc.geobox.extent.boundingbox == aerial.odc.geobox.extent.boundingbox  # nested, same bounds
    labels_1m = demo.rasterize_landcover(GeoBox.from_bbox(grids.bounds, grids.crs, resolution=1))
    labels_05 = demo.rasterize_landcover(grids.geobox("aerial"))
    buildings_1m, buildings_05 = labels_1m == BUILDING, labels_05 == BUILDING
    assert 0.005 < buildings_1m.mean() < 0.5, "the test AOI needs some buildings"
    ndsm = dsm["data"].sel(band="dsm").values[0] - dsm["data"].sel(band="dtm").values[0]
    assert _best_shift(ndsm, buildings_1m) == (0, 0)
    nir = aerial["data"].sel(band="nir").values[0]
    red = aerial["data"].sel(band="red").values[0]
    not_green = -(nir - red) / (nir + red + 1e-6)  # buildings are not vegetation: low NDVI
    assert _best_shift(not_green, buildings_05) == (0, 0)
    assert np.nanmean(ndsm[buildings_1m]) > 2.5


def test_cli_builds_every_sensor_group_from_the_world_catalog(
    world: tuple[DemoWorld, list[NormalizedItem]], tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from eofusion.cli import cli

    demo, _ = world
    bb = demo.grids["aerial"].extent.to_crs("EPSG:4326").boundingbox
    cx, cy = (bb.left + bb.right) / 2, (bb.bottom + bb.top) / 2
    aoi = f"{cx - 0.001},{cy - 0.001},{cx + 0.001},{cy + 0.001}"
    out = tmp_path / "cube.zarr"
    args = ["cube", "build", "--catalog", str(demo.catalog_path), "--aoi", aoi, "--time", "2024-05-01/2024-06-30",
            "--sensors", "s2,s1,aerial,dsm", "--resolution", "aerial=0.5,dsm=1", "--out", str(out),
            "--scheduler", "threads", "--no-progress"]  # fmt: skip
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    tree = open_datatree(out)
    assert set(tree.children) == {"s2", "s1", "aerial", "dsm"}
    assert tree["s2"].sizes["time"] == 2 and tree["s1"].sizes["time"] == 2
    assert tree["aerial"].sizes["time"] == 1 and tree["aerial"].sizes["x"] == 2 * tree["dsm"].sizes["x"]


def test_cli_aoi_as_tile_id(world: tuple[DemoWorld, list[NormalizedItem]], tmp_path: Path) -> None:
    from click.testing import CliRunner
    from odc.geo import CRS

    from eofusion.cli import cli
    from eofusion.grid import TilingScheme

    demo, _ = world
    scheme = TilingScheme(CRS("EPSG:32631"), 160.0)
    centre = demo.grids["aerial"].extent.to_crs("EPSG:32631").centroid
    x, y = centre.coords[0]
    tile = scheme.tile_id(int(x // 160), int(y // 160))
    out = tmp_path / "tile.zarr"
    args = ["cube", "build", "--catalog", str(demo.catalog_path), "--aoi", tile, "--sensors", "s2,dsm",
            "--out", str(out), "--scheduler", "threads", "--no-progress"]  # fmt: skip
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    tree = open_datatree(out)
    for group, size in (("s2", 16), ("dsm", 160)):
        geobox = tree[group].to_dataset().odc.geobox
        assert tuple(geobox.extent.boundingbox) == scheme.bounds(tile)
        assert geobox.shape == (size, size)
