"""The rendered world: files, COG validity, determinism, STAC items, truth rasters."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pystac
import pytest
import rasterio
from rio_cogeo.cogeo import cog_validate

from eofusion.errors import InputDataError, OutputLocationError
from eofusion.simulate import LANDCOVER_CLASSES, DemoWorld, WorldConfig, load_world, simulate_world


def _tifs(root: Path) -> list[Path]:
    return sorted(root.rglob("*.tif"))


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_layout_and_reload(world: DemoWorld) -> None:
    again = load_world(world.root)
    assert again.config == world.config
    for path in (world.catalog_path, world.geoparquet_path, world.landcover_path, world.parcels_path):
        assert path.is_file(), path
    # 3 S2 dates x (12 bands + SCL) + 3 S1 passes x 2 + aerial + DSM + DTM + land cover
    # + 3 Landsat dates x (7 bands + QA_PIXEL) + the NAIP-like image
    assert len(_tifs(world.root)) == 3 * 13 + 3 * 2 + 4 + 3 * 8 + 1
    assert not list(world.root.parent.glob(".*partial*")), "temporary directory left behind"


def test_every_raster_is_a_valid_cog(world: DemoWorld) -> None:
    for path in _tifs(world.root):
        valid, errors, warnings = cog_validate(str(path), quiet=True)
        assert valid and not errors and not warnings, (path.name, errors, warnings)


def test_same_seed_gives_identical_files(world: DemoWorld, tmp_path: Path) -> None:
    twin = simulate_world(world.config, tmp_path / "twin")
    assert _digests(twin.root) == _digests(world.root)


def test_other_seed_differs_and_needs_overwrite(world: DemoWorld, tmp_path: Path) -> None:
    cfg = WorldConfig(seed=99, size_m=300, s2_dates=(), s2_cloudy_dates=(), aerial_resolution_m=2.0)
    with pytest.raises(OutputLocationError, match="overwrite"):
        simulate_world(cfg, world.root)
    with pytest.raises(InputDataError, match="eofusion simulate"):
        load_world(tmp_path / "nothing")


def test_rerun_is_a_no_op(world: DemoWorld) -> None:
    before = {p: p.stat().st_mtime_ns for p in _tifs(world.root)}
    simulate_world(world.config, world.root)
    assert {p: p.stat().st_mtime_ns for p in _tifs(world.root)} == before


def test_static_catalog_items_carry_provider_fields(world: DemoWorld) -> None:
    catalog = pystac.Catalog.from_file(str(world.catalog_path))
    items = list(catalog.get_items(recursive=True))
    by_collection: dict[str, list[pystac.Item]] = {}
    for item in items:
        by_collection.setdefault(item.collection_id or "", []).append(item)
    assert set(by_collection) == {
        "sentinel-2-l2a", "sentinel-1-rtc", "aerial-ign", "elevation", "landcover", "landsat-c2-l2", "aerial-naip"
    }  # fmt: skip

    s2 = by_collection["sentinel-2-l2a"][0]
    assert s2.properties["s2:processing_baseline"] >= "04.00"
    assert s2.properties["platform"] in ("Sentinel-2A", "Sentinel-2B")
    # pystac migrates projection v1.1 (proj:epsg, as Planetary Computer writes) to v2 (proj:code) on read
    assert s2.properties.get("proj:code", s2.properties.get("proj:epsg")) in ("EPSG:32631", 32631)
    b04 = s2.assets["B04"]
    eo = b04.extra_fields["eo:bands"][0]
    assert (
        eo["common_name"] == "red" and 0.66 < eo["center_wavelength"] < 0.67 and 0.02 < eo["full_width_half_max"] < 0.04
    )
    rb = b04.extra_fields["raster:bands"][0]
    assert rb == {"data_type": "uint16", "nodata": 0, "spatial_resolution": 10, "scale": 0.0001, "offset": -0.1}
    assert b04.extra_fields["proj:shape"] == [72, 72]
    assert b04.extra_fields["proj:transform"][0] == 10.0
    assert s2.assets["B05"].extra_fields["proj:shape"] == [36, 36]
    assert s2.assets["B01"].extra_fields["proj:shape"] == [12, 12]
    assert s2.assets["SCL"].extra_fields["raster:bands"][0]["data_type"] == "uint8"
    raw = json.loads(Path(s2.get_self_href() or "").read_text())
    assert raw["assets"]["B04"]["href"] == "./B04.tif"  # self-contained, relative
    assert raw["properties"]["proj:epsg"] == 32631

    s1 = by_collection["sentinel-1-rtc"]
    assert {i.properties["sat:orbit_state"] for i in s1} == {"ascending", "descending"}
    p = s1[0].properties
    assert p["sar:polarizations"] == ["VV", "VH"] and p["sar:frequency_band"] == "C"
    assert s1[0].assets["vv"].extra_fields["raster:bands"][0]["data_type"] == "float32"
    assert "linear power" in s1[0].assets["vv"].extra_fields["raster:bands"][0]["unit"]

    aerial = by_collection["aerial-ign"][0]
    assert aerial.properties.get("proj:code", aerial.properties.get("proj:epsg")) in ("EPSG:2154", 2154)
    assert [b["common_name"] for b in aerial.assets["image"].extra_fields["eo:bands"]] == [
        "red",
        "green",
        "blue",
        "nir",
    ]
    elevation = by_collection["elevation"][0]
    assert elevation.assets["dsm"].extra_fields["raster:bands"][0]["nodata"] == -9999.0
    for item in items:
        for asset in item.assets.values():
            assert Path(asset.get_absolute_href() or "").is_file()


def test_geoparquet_catalog_matches_static_catalog(world: DemoWorld) -> None:
    import stac_geoparquet.arrow as sgpa

    rows = list(sgpa.stac_table_to_items(pq.read_table(world.geoparquet_path)))
    static = {i.id for i in world.stac_items()}
    assert {r["id"] for r in rows} == static
    for row in rows:
        for asset in row["assets"].values():
            assert (world.geoparquet_path.parent / asset["href"]).is_file()


def test_landcover_cog_is_the_rasterised_truth(world: DemoWorld) -> None:
    with rasterio.open(world.landcover_path) as src:
        stored = src.read(1)
        assert src.crs.to_epsg() == 2154
        assert src.nodata == 0
        assert src.colormap(1)[1][:3] == LANDCOVER_CLASSES[0].rgb
    np.testing.assert_array_equal(stored, world.rasterize_landcover(world.grids["landcover"]))
    present = set(np.unique(stored)) - {0}
    assert {1, 3, 5, 11} <= present, present


def test_rasterize_on_any_grid(world: DemoWorld) -> None:
    g = world.grids["s2_10m"]
    centre = world.rasterize_landcover((g.crs, g.affine, g.shape))
    majority = world.rasterize_landcover(g, supersample=4)
    assert centre.shape == g.shape and centre.dtype == np.uint8
    assert (centre == majority).mean() > 0.85
    crops = world.rasterize_crops(g)
    parcels = world.parcels()
    assert set(np.unique(crops)) - {0} <= set(parcels["crop_id"])


def test_a_failed_build_leaves_nothing_behind(tmp_path: Path) -> None:
    from eofusion.simulate import plan_world

    cfg = WorldConfig(seed=5, size_m=300, s2_dates=(), s2_cloudy_dates=(), aerial_resolution_m=2.0)
    build = plan_world(cfg, tmp_path / "w")

    def boom() -> None:
        raise RuntimeError("disk full")

    build.steps.insert(3, ("failing step", boom))
    with pytest.raises(RuntimeError, match="disk full"):
        list(build.run())
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_parcels_file_rasterises_to_the_crop_truth(world: DemoWorld) -> None:
    from rasterio import features as rio_features

    g = world.grids["dsm"]
    parcels = world.parcels().to_crs(str(g.crs))
    burnt = rio_features.rasterize(
        zip(parcels.geometry, parcels["crop_id"], strict=True), out_shape=g.shape, transform=g.affine, dtype="uint8"
    )
    assert (burnt == world.rasterize_crops(g)).mean() > 0.995  # edges differ by the pixel-centre rule only
    assert set(parcels["crop_name"]) <= {c.name for c in world.crop_types}


def test_catalogs_hold_no_absolute_paths(world: DemoWorld) -> None:
    """The world can be moved or copied: nothing in it points at where it was rendered."""
    for path in [*world.root.rglob("*.json"), world.geoparquet_path]:
        text = path.read_bytes()
        assert str(world.root).encode() not in text, path
        assert b".partial-" not in text, path
    catalog = json.loads(world.catalog_path.read_text())
    assert all(not link["href"].startswith("/") for link in catalog["links"])
