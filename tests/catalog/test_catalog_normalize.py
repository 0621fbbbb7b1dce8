"""Item normalisation against every recorded provider document in ../shared/data/stac_items."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from catalogfactory import STAC_ITEMS

from eofusion.catalog import normalize_item, normalize_items
from eofusion.catalog.documents import items_in, read_items
from eofusion.errors import ItemError, SkippedInputWarning
from eofusion.sensors import get_band

DOCUMENTS = sorted(p.relative_to(STAC_ITEMS).as_posix() for p in STAC_ITEMS.rglob("*.json")) or ["(missing)"]
# Documents that are not items (landing pages, collections) and items that cannot be gridded on purpose.
NOT_ITEMS = {"_api/landing.json", "_api/collections.json", "/collection.json"}
NO_GRID = "planetary-computer/sentinel-1-grd/"


def _load(rel: str) -> list[dict[str, Any]]:
    return items_in(json.loads((STAC_ITEMS / rel).read_text()), origin=rel)


@pytest.mark.real_data
@pytest.mark.parametrize("rel", DOCUMENTS)
def test_every_recorded_document_is_handled(stac_items_dir: Path, rel: str) -> None:
    if any(rel.endswith(n) for n in NOT_ITEMS):
        with pytest.raises(ItemError, match="holds no items"):
            _load(rel)
        return
    items = _load(rel)
    assert items
    for raw in items:
        if rel.startswith(NO_GRID):
            with pytest.raises(ItemError, match=r"radar geometry.*sentinel-1-rtc"):
                normalize_item(raw)
            continue
        item = normalize_item(raw)
        assert item.id == raw["id"]
        assert item.datetime.tzinfo is not None
        assert item.assets, f"{rel}: no bands"
        for name, asset in item.assets.items():
            assert asset.band.name == name
            assert asset.band is item.sensor.band(name)
            assert asset.crs and asset.shape[0] > 0 and asset.shape[1] > 0
            assert asset.transform[0] != 0 and asset.transform[4] != 0
            assert asset.href.startswith(("https://", "s3://"))
            assert "visual" not in asset.asset_key and not asset.asset_key.endswith("-jp2")


def _one(stac_items_dir: Path, rel: str, index: int = 0) -> dict[str, Any]:
    return _load(rel)[index]


@pytest.mark.real_data
def test_planetary_computer_baseline_04_gets_derived_offset(stac_items_dir: Path) -> None:
    raw = _one(
        stac_items_dir, "planetary-computer/sentinel-2-l2a/S2B_MSIL2A_20220612T182919_R027_T24XWR_20220613T123251.json"
    )
    item = normalize_item(raw)
    b04 = item.band("red")
    assert item.sensor.name == "sentinel-2b"
    assert (b04.asset_key, b04.scale, b04.offset, b04.nodata, b04.dtype) == (
        "B04",
        1e-4,
        pytest.approx(-0.1),
        0.0,
        "uint16",
    )
    assert (b04.crs, b04.shape, b04.resolution_m) == ("EPSG:32624", (10980, 10980), 10.0)
    # Spectral facts are the registry's (S2B B04 664.9 nm), not the item's rounded 665 nm.
    assert b04.band.centre_nm == get_band("sentinel-2b", "B04").centre_nm == 664.9
    assert item.band("SCL").offset == 0.0  # masks never get a radiometric offset
    assert any(
        "offset -0.1 (Sentinel-2 baseline >= 04.00) applied to B01" in n for n in item.properties["eofusion:notes"]
    )
    # The provider's wrong common name for B8A ("rededge") does not change its identity.
    assert item.band("nir08").asset_key == "B8A"


@pytest.mark.real_data
@pytest.mark.parametrize(
    "rel",
    [
        "planetary-computer/sentinel-2-l2a/S2A_MSIL2A_20150704T101006_R022_T35XQA_20210411T133707.json",
        "planetary-computer/sentinel-2-l2a/S2B_MSIL2A_20190629T212529_R043_T06VVN_20201006T080531.json",
    ],
)
def test_planetary_computer_old_baseline_has_no_offset(stac_items_dir: Path, rel: str) -> None:
    item = normalize_item(_one(stac_items_dir, rel))
    assert all(a.offset == 0.0 and a.scale == 1e-4 for n, a in item.assets.items() if n != "SCL")


@pytest.mark.real_data
def test_earth_search_stated_offset_is_used_once(stac_items_dir: Path) -> None:
    item = normalize_item(_one(stac_items_dir, "earth-search/sentinel-2-c1-l2a/S2B_T20EPT_20250731T131905_L2A.json"))
    b04 = item.band("B04")
    assert (b04.asset_key, b04.scale, b04.offset) == ("red", 1e-4, -0.1)  # -0.1 as stated, not -0.2
    assert b04.href.endswith(".tif")


@pytest.mark.real_data
def test_earth_search_common_name_keys_and_cog_over_jp2(stac_items_dir: Path) -> None:
    item = normalize_item(_one(stac_items_dir, "earth-search/sentinel-2-l2a/S2A_13TDE_20231008_0_L2A.json"))
    assert item.sensor.name == "sentinel-2a"
    assert {n: item.assets[n].asset_key for n in ("B05", "B06", "B07", "B8A", "B09", "SCL")} == {
        "B05": "rededge1", "B06": "rededge2", "B07": "rededge3", "B8A": "nir08", "B09": "nir09", "SCL": "scl",
    }  # fmt: skip
    assert all(a.href.endswith(".tif") for a in item.assets.values())
    assert item.band("B04").offset == -0.1
    assert item.properties["earthsearch:boa_offset_applied"] is True


@pytest.mark.real_data
def test_earth_search_l1c_keeps_cirrus(stac_items_dir: Path) -> None:
    item = normalize_item(_one(stac_items_dir, "earth-search/sentinel-2-l1c/S2B_20EPT_20250731_0_L1C.json"))
    assert item.band("B10").offset == -0.1 and "B10" in item.assets


@pytest.mark.real_data
def test_sentinel1_rtc_orbit_polarisations_nodata(stac_items_dir: Path) -> None:
    item = normalize_item(_one(stac_items_dir, "planetary-computer/sentinel-1-rtc/items-list-4_2024-04.json"))
    assert item.sensor.name == "sentinel-1"
    assert item.orbit_direction == "descending" and item.polarisations == ("VV", "VH")
    vv = item.band("vv")
    assert (vv.asset_key, vv.dtype, vv.nodata, vv.crs) == ("vv", "float32", -32768.0, "EPSG:32633")


@pytest.mark.real_data
def test_earth_search_grd_is_flagged_uncalibrated(stac_items_dir: Path) -> None:
    rel = "earth-search/sentinel-1-grd/S1A_IW_GRDH_1SSH_20250731T135702_20250731T135722_060328_077F7E.json"
    item = normalize_item(_one(stac_items_dir, rel))
    assert item.band_names == ("HH",) and item.orbit_direction == "ascending"
    assert item.band("HH").crs == "EPSG:4326" and item.band("HH").dtype == "uint16"
    assert any("uncalibrated" in n for n in item.properties["eofusion:notes"])


@pytest.mark.real_data
def test_naip_multiband_asset(stac_items_dir: Path) -> None:
    item = normalize_item(_one(stac_items_dir, "planetary-computer/naip/pa_m_4108053_se_17_1_20150725_20151201.json"))
    assert item.sensor.name == "naip"
    assert {n: (a.asset_key, a.band_index) for n, a in item.assets.items()} == {
        "red": ("image", 1), "green": ("image", 2), "blue": ("image", 3), "nir": ("image", 4),
    }  # fmt: skip
    assert item.band("red").scale == pytest.approx(1 / 255) and item.band("red").resolution_m == 1.0


@pytest.mark.real_data
def test_elevation_collections(stac_items_dir: Path) -> None:
    cop = normalize_item(_one(stac_items_dir, "planetary-computer/cop-dem-glo-30/items-list-4.json"))
    assert (cop.sensor.name, cop.band_names) == ("copernicus-dem", ("dem",))
    nasadem = normalize_item(_one(stac_items_dir, "planetary-computer/nasadem/items-page_limit1.json"))
    assert (nasadem.sensor.name, nasadem.band("dsm").asset_key) == ("elevation", "elevation")
    lidar = normalize_item(_one(stac_items_dir, "planetary-computer/3dep-lidar-dsm/items-page_limit1.json"))
    dsm = lidar.band("dsm")
    assert lidar.datetime.isoformat() == "2020-01-01T00:00:00+00:00"  # datetime null: start_datetime
    assert dsm.nodata is not None and math.isnan(dsm.nodata)  # item-level raster:bands "nan"
    assert "NAVD88" in dsm.crs and dsm.resolution_m == 2.0  # compound CRS kept as WKT


@pytest.mark.real_data
def test_landsat_scale_offset(stac_items_dir: Path) -> None:
    item = normalize_item(_one(stac_items_dir, "planetary-computer/landsat-c2-l2/items-page_limit1.json"))
    assert item.sensor.name == "landsat-9"
    assert (item.band("red").asset_key, item.band("red").scale, item.band("red").offset) == ("red", 2.75e-05, -0.2)
    assert item.band("B10").offset == 149.0


@pytest.mark.real_data
def test_missing_band_raises_or_skips_with_warning(stac_items_dir: Path) -> None:
    raw = _one(stac_items_dir, "earth-search/sentinel-2-c1-l2a/S2B_T20EPT_20250731T131905_L2A.json")
    with pytest.raises(ItemError, match=r"S2B_T20EPT_20250731T131905_L2A.*B10"):
        normalize_item(raw, bands=["B04", "B10"])
    with pytest.warns(SkippedInputWarning, match=r"S2B_T20EPT_20250731T131905_L2A.*B10"):
        assert normalize_item(raw, bands=["B04", "B10"], on_error="skip") is None
    picked = normalize_item(raw, bands=["red", "nir"])
    assert picked.band_names == ("B04", "B08")


@pytest.mark.real_data
def test_normalize_items_skips_bad_ones(stac_items_dir: Path) -> None:
    good = _one(stac_items_dir, "planetary-computer/sentinel-1-rtc/items-list-4_2024-04.json")
    bad = _one(stac_items_dir, "planetary-computer/sentinel-1-grd/items-page_limit1.json")
    with pytest.warns(SkippedInputWarning, match="radar geometry"):
        out = normalize_items([good, bad], on_error="skip")
    assert [i.id for i in out] == [good["id"]]


@pytest.mark.real_data
def test_asset_map_and_explicit_sensor(stac_items_dir: Path) -> None:
    raw = _one(stac_items_dir, "planetary-computer/alos-dem/items-page_limit1.json")
    item = normalize_item(raw, sensor="copernicus-dem", asset_map={"data": "dem"})
    assert item.sensor.name == "copernicus-dem" and item.band("dem").asset_key == "data"


@pytest.mark.real_data
def test_read_items_from_file_kinds(stac_items_dir: Path) -> None:
    assert len(read_items(stac_items_dir / "planetary-computer/naip/search-post_page1.json")) == 10
    assert len(read_items(stac_items_dir / "planetary-computer/naip/items-list-4.json")) == 4
    with pytest.raises(ItemError, match="Collection"):
        read_items(stac_items_dir / "planetary-computer/naip/collection.json")


def _stac11_item() -> dict[str, Any]:
    """A STAC 1.1 item: proj:code, STAC 1.1 bands, asset-level raster:scale/offset, no platform."""
    return {
        "type": "Feature",
        "stac_version": "1.1.0",
        "id": "S2C_MSIL2A_20250101T100000_N0511",
        "collection": "sentinel-2-l2a",
        "geometry": None,
        "bbox": [13.0, 45.0, 14.0, 46.0],
        "properties": {"datetime": "2025-01-01T10:00:00Z", "constellation": "sentinel-2", "platform": "sentinel-2c",
                       "processing:version": "05.11"},
        "assets": {
            "B04_10m": {"href": "s3://eodata/B04_10m.jp2", "type": "image/jp2", "roles": ["data"],
                        "proj:code": "EPSG:32633", "proj:shape": [10980, 10980],
                        "proj:transform": [10, 0, 300000, 0, -10, 5100000],
                        "bands": [{"name": "B04", "eo:common_name": "red", "data_type": "uint16", "nodata": 0}],
                        "raster:scale": 0.0001, "raster:offset": -0.1},
            "B08_10m": {"href": "s3://eodata/B08_10m.jp2", "type": "image/jp2", "roles": ["data"],
                        "proj:code": "EPSG:32633", "proj:shape": [10980, 10980],
                        "proj:transform": [10, 0, 300000, 0, -10, 5100000],
                        "bands": [{"name": "B08", "eo:common_name": "nir", "data_type": "uint16"}]},
        },
        "links": [],
    }  # fmt: skip


def test_stac_1_1_fields() -> None:
    item = normalize_item(_stac11_item())
    assert item.sensor.name == "sentinel-2c"
    b04, b08 = item.band("B04"), item.band("B08")
    assert (b04.asset_key, b04.crs, b04.scale, b04.offset, b04.nodata) == ("B04_10m", "EPSG:32633", 1e-4, -0.1, 0.0)
    # No stated offset: derived once from the baseline (processing:version 05.11).
    assert b08.offset == pytest.approx(-0.1) and b08.nodata == 0.0
    assert item.geometry["type"] == "Polygon"


def test_unknown_sensor_and_non_items() -> None:
    raw = _stac11_item()
    raw["properties"] = {"datetime": "2025-01-01T10:00:00Z"}
    raw["collection"] = "mystery"
    with pytest.raises(ItemError, match=r"cannot tell its sensor.*--sensor"):
        normalize_item(raw)
    with pytest.raises(ItemError, match="not a STAC Item"):
        normalize_item({"type": "Collection", "id": "x"})
    no_time = _stac11_item()
    no_time["properties"].pop("datetime")
    with pytest.raises(ItemError, match="no datetime"):
        normalize_item(no_time)


@pytest.mark.real_data
def test_baseline_from_product_name_or_date(stac_items_dir: Path) -> None:
    recent = _one(stac_items_dir, "planetary-computer/sentinel-2-l2a/items-list-4_2024-04.json")
    recent["properties"].pop("s2:processing_baseline")  # N0510 is still in s2:product_uri
    assert normalize_item(recent).band("B04").offset == pytest.approx(-0.1)
    recent["properties"].pop("s2:product_uri")  # nothing left but the 2024 acquisition date
    item = normalize_item(recent)
    assert item.band("B04").offset == pytest.approx(-0.1)
    assert any("assumed from the acquisition date" in n for n in item.properties["eofusion:notes"])
    old = _one(
        stac_items_dir, "planetary-computer/sentinel-2-l2a/S2B_MSIL2A_20190629T212529_R043_T06VVN_20201006T080531.json"
    )
    old["properties"].pop("s2:processing_baseline")
    assert normalize_item(old).band("B04").offset == 0.0
