"""`catalog build` on real GeoTIFFs (../shared/data/real) and on files without a georeference."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio

from eofusion.catalog import EmbeddedCatalog, build_items, normalize_item, search, write_catalog
from eofusion.errors import CatalogError, InputDataError, OutputLocationError, SkippedInputWarning


@pytest.mark.real_data
def test_slovenia_s2_items(real_data_dir: Path, tmp_path: Path) -> None:
    root = real_data_dir / "slovenia_s2_dem_lulc"
    with pytest.warns(SkippedInputWarning) as caught:
        result = build_items([root], on_error="skip")
    messages = " ".join(str(w.message) for w in caught)
    assert "LULC.tif" in messages and "CLM.tif" in messages and "DEM.tif: no acquisition time" in messages
    assert [i.id for i in result.items] == [
        "S2_L1C_20150711", "S2_L1C_20150731", "S2_L1C_20150820", "S2_L1C_20150830", "S2_L1C_20150909",
    ]  # fmt: skip
    item = normalize_item(result.items[0])
    assert item.sensor.name == "sentinel-2a" and len(item.band_names) == 13
    assert item.datetime.isoformat() == "2015-07-11T10:00:08+00:00"  # from acquired.txt
    b04 = item.band("B04")
    assert (b04.crs, b04.shape, b04.dtype, b04.nodata, b04.scale, b04.offset) == (
        "EPSG:32633", (101, 100), "uint16", 0.0, 1e-4, 0.0,
    )  # fmt: skip
    assert b04.transform[2] == pytest.approx(465181.0522318204)
    lon0, lat0, lon1, lat1 = item.bbox
    assert 14.5 < lon0 < lon1 < 14.6 and 45.8 < lat0 < lat1 < 45.9  # EPSG:32633 465 km E -> ~14.55 E
    dem = build_items([root / "DEM.tif"], acquired="2015-07-11").items[0]
    assert normalize_item(dem).sensor.name == "copernicus-dem"
    with pytest.warns(SkippedInputWarning):  # LULC.tif and the cloud masks are still not sensor data
        everything = {i.id: i for i in build_items([root], acquired="2015-07-01", on_error="skip").items}
    # --datetime only fills in files without a time of their own: the scenes keep their acquired.txt times.
    assert everything["DEM"].datetime.isoformat() == "2015-07-01T00:00:00+00:00"
    assert everything["S2_L1C_20150711"].datetime.isoformat() == "2015-07-11T10:00:08+00:00"
    catalog_json, parquet = write_catalog(result.items, tmp_path / "slovenia")
    found = search(parquet, bbox=list(item.bbox), datetime="2015-08")
    assert [i.id for i in found] == ["S2_L1C_20150830", "S2_L1C_20150820"]
    for normalised in (normalize_item(i) for i in found):  # each knows its JSON document (derived_from of maps)
        assert normalised.href and json.loads(Path(normalised.href).read_text())["id"] == normalised.id
        assert Path(normalised.href).is_relative_to(tmp_path / "slovenia")
    assert len(EmbeddedCatalog.open(catalog_json.parent)) == 5


@pytest.mark.real_data
def test_bigearthnet_s1_s2_pairs(real_data_dir: Path) -> None:
    result = build_items([real_data_dir / "bigearthnet_s1s2"])
    by_id = {i.id: normalize_item(i) for i in result.items}
    assert len(by_id) == 12 and not result.skipped
    s2 = by_id["S2A_MSIL2A_20170613T101031_87_48"]
    s1 = by_id["S1A_IW_GRDH_1SDV_20170613T165043_33UUP_87_48"]
    assert s2.sensor.name == "sentinel-2a" and len(s2.band_names) == 12
    assert {s2.band(b).resolution_m for b in ("B02", "B05", "B01")} == {10.0, 20.0, 60.0}
    assert s1.sensor.name == "sentinel-1" and set(s1.band_names) == {"VV", "VH"}
    assert s1.datetime.isoformat() == "2017-06-13T16:50:43+00:00"
    assert s1.properties["eofusion:backscatter_units"] == "dB"  # BigEarthNet S1 is stored in dB
    assert s1.band("VV").transform == s2.band("B04").transform  # same 10 m grid, as documented
    assert by_id["S2B_MSIL2A_20170924T93020_69_24"].sensor.name == "sentinel-2b"


def _write(path: Path, georeferenced: bool) -> Path:
    profile = {"driver": "GTiff", "width": 8, "height": 8, "count": 1, "dtype": "uint16"}
    if georeferenced:
        profile |= {"crs": "EPSG:32633", "transform": rasterio.transform.from_origin(450000, 5100000, 10, 10)}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.ones((8, 8), dtype=np.uint16), 1)
    return path


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_no_georeference_is_a_clear_error(tmp_path: Path) -> None:
    bad = _write(tmp_path / "S2A_20240501_B04.tif", georeferenced=False)
    with pytest.raises(InputDataError, match=r"S2A_20240501_B04\.tif has no georeference"):
        build_items([bad])
    good = _write(tmp_path / "S2A_20240501_B08.tif", georeferenced=True)
    with pytest.warns(SkippedInputWarning, match="no georeference"):
        result = build_items([tmp_path], on_error="skip")
    item = normalize_item(result.items[0])
    assert item.band_names == ("B08",) and item.band("B08").href == str(good)
    assert item.band("B08").offset == pytest.approx(-0.1)  # 2024 acquisition: baseline >= 04.00


def test_build_errors(tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match="does not exist"):
        build_items([tmp_path / "absent"])
    odd = _write(tmp_path / "mystery.tif", georeferenced=True)
    with pytest.raises(InputDataError, match=r"mystery\.tif: the file name does not name a band"):
        build_items([odd])
    with pytest.raises(InputDataError, match="no acquisition time"):
        build_items([odd], sensor="copernicus-dem")  # a one-band sensor: the band is clear, the time is not
    dem = build_items([odd], sensor="copernicus-dem", acquired="2020-01-01").items[0]
    assert normalize_item(dem).band_names == ("dem",)
    with pytest.raises(InputDataError, match=r"elevation \(given\)"):
        build_items([odd], sensor="elevation", acquired="2020-01-01")  # dsm, dtm or ndsm? the name must say
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(OutputLocationError, match="not empty"):
        write_catalog(build_items([_write(tmp_path / "S2B_20240502_B04.tif", True)]).items, out)


def test_item_ids_that_would_escape_the_catalog_folder_are_made_safe(tmp_path: Path) -> None:
    files = tmp_path / "in"
    files.mkdir()
    dotted = _write(files / "...tif", georeferenced=True)  # stem "..": it was the item id, and a folder name
    item = build_items([dotted], sensor="copernicus-dem", acquired="2020-01-01").items[0]
    assert item.id not in {".", ".."} and "/" not in item.id and not item.id.startswith(".")
    out = tmp_path / "nest" / "catalog"
    write_catalog([item], out)
    written = {p.relative_to(tmp_path).parts[:2] for p in tmp_path.rglob("*.json")}
    assert written == {("nest", "catalog")}  # every JSON inside --out
    item.id = "../escape"
    with pytest.raises(CatalogError, match=r"cannot be file names"):
        write_catalog([item], tmp_path / "other")
