"""A user's own files: band order and sensor from rules or product names, never guessed (issue: real inputs)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.shutil

from eofusion.catalog import build_items
from eofusion.catalog.file_rules import FileRule, parse_rule_options, rules_from_mapping
from eofusion.cli import main
from eofusion.errors import ConfigError, InputDataError

LAMBERT93 = {"crs": "EPSG:2154", "transform": rasterio.transform.from_origin(565000, 6275000, 0.2, 0.2)}


def _tif(path: Path, count: int = 1, dtype: str = "uint8", descriptions: tuple[str, ...] = ()) -> Path:
    profile = {"driver": "GTiff", "width": 16, "height": 16, "count": count, "dtype": dtype, **LAMBERT93}
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.arange(count * 256, dtype=dtype).reshape(count, 16, 16) % 200)
        for i, text in enumerate(descriptions, start=1):
            dst.set_band_description(i, text)
    return path


def _bands(item: object) -> list[str]:
    asset = next(iter(item.assets.values()))  # type: ignore[attr-defined]
    return [b["name"] for b in asset.extra_fields.get("eo:bands", [])] or list(item.assets)  # type: ignore[attr-defined]


def test_ign_irc_orthophoto_is_nir_red_green(tmp_path: Path) -> None:
    """The issue's case: an IRC file with --sensor aerial-ign was labelled red, green, blue."""
    irc = _tif(tmp_path / "31-2022-0565-6275-LA93-0M20-IRC-E080.tif", count=3)
    rvb = _tif(tmp_path / "rvb" / "31-2022-0565-6275-LA93-0M20-RVB-E080.tif", count=3)
    items = build_items([irc, rvb], sensor="aerial-ign", acquired="2022-06-01T10:00:00Z").items
    by_name = {Path(next(iter(i.assets.values())).href).name: i for i in items}
    assert _bands(by_name[irc.name]) == ["nir", "red", "green"]
    assert _bands(by_name[rvb.name]) == ["red", "green", "blue"]
    assert {i.properties["eofusion:sensor"] for i in items} == {"aerial-ign"}


def test_a_multiband_file_without_a_known_order_is_refused(tmp_path: Path) -> None:
    ortho = _tif(tmp_path / "ortho_20220601.tif", count=3)
    with pytest.raises(InputDataError, match=r"no stated order.*--bands"):
        build_items([ortho], sensor="aerial-ign")
    items = build_items([ortho], sensor="aerial-ign", bands=["nir", "red", "green"]).items
    assert _bands(items[0]) == ["nir", "red", "green"]
    with pytest.raises(InputDataError, match=r"3 band\(s\) but .* gives 4"):
        build_items([ortho], sensor="aerial-ign", bands=["red", "green", "blue", "nir"])
    with pytest.raises(InputDataError, match="does not have"):
        build_items([ortho], sensor="aerial-ign", bands=["nir", "red", "swir"])
    described = _tif(tmp_path / "d" / "ortho_20220601.tif", count=3, descriptions=("green", "red", "nir"))
    assert _bands(build_items([described], sensor="aerial-ign").items[0]) == ["green", "red", "nir"]


def test_elevation_and_sentinel2_names_of_real_deliveries(tmp_path: Path) -> None:
    mns = _tif(tmp_path / "mns" / "LHD_FXX_0565_6275_MNS_O_0M50_LAMB93_IGN69_20220601.tif", dtype="float32")
    mnt = _tif(tmp_path / "mnt" / "RGEALTI_FXX_0565_6275_MNT_LAMB93_IGN69_20220601.tif", dtype="float32")
    items = build_items([mns, mnt]).items
    assert sorted(_bands(i)[0] for i in items) == ["dsm", "dtm"]
    cm = _tif(tmp_path / "cm" / "ELEV_0565_6275_50CM_20220601.tif", dtype="float32")
    with pytest.raises(InputDataError, match=r"--bands BAND \(e.g. --bands dsm\)"):
        build_items([cm], sensor="elevation")  # DSM or DTM: the name does not say, so nothing is guessed
    assert _bands(build_items([cm], sensor="elevation", bands=["dsm"]).items[0]) == ["dsm"]
    safe = _tif(tmp_path / "s2" / "T31TEJ_20240601T103631_B02_10m.tif", dtype="uint16")
    item = build_items([safe], sensor="sentinel-2a").items[0]
    assert list(item.assets) == ["B02"] and item.properties["eofusion:sensor"] == "sentinel-2a"


def test_naip_quarter_quads_are_rgbn(tmp_path: Path) -> None:
    naip = _tif(tmp_path / "m_4208701_ne_16_060_20150711.tif", count=4)
    item = build_items([naip]).items[0]
    assert item.properties["eofusion:sensor"] == "naip" and _bands(item) == ["red", "green", "blue", "nir"]


def test_rule_options_and_yaml() -> None:
    rules = parse_rule_options(["*_IRC_*=aerial-ign", "sentinel-2a"], ["*_IRC_*=nir,red,green"])
    assert rules == (
        FileRule("*_IRC_*", sensor="aerial-ign"),
        FileRule("*_IRC_*", bands=("nir", "red", "green")),
        FileRule(None, sensor="sentinel-2a"),
    )
    yaml_rules = rules_from_mapping({"*MNS*": {"sensor": "elevation", "bands": ["dsm"]}}, "rules.yaml")
    assert yaml_rules == (FileRule("*MNS*", sensor="elevation", bands=("dsm",)),)
    with pytest.raises(ConfigError, match="sensor and/or bands"):
        rules_from_mapping({"*": {"sensr": "x"}}, "rules.yaml")
    with pytest.raises(ConfigError, match="GLOB=VALUE"):
        parse_rule_options(["=aerial-ign"], [])


def test_cli_one_catalog_of_several_sensors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ortho = _tif(tmp_path / "in" / "ortho" / "dalle_0565_6275_20220601.tif", count=3)
    _tif(tmp_path / "in" / "s2" / "T31TEJ_20240601T103631_B04_10m.tif", dtype="uint16")
    _tif(tmp_path / "in" / "dsm" / "surface_0565_6275_20220601.tif", dtype="float32")
    vrt = tmp_path / "in" / "dsm2" / "surface_vrt_20220602.vrt"
    vrt.parent.mkdir()
    rasterio.shutil.copy(tmp_path / "in" / "dsm" / "surface_0565_6275_20220601.tif", vrt, driver="VRT")
    rules = tmp_path / "rules.yaml"
    rules.write_text('"surface_*": {sensor: elevation, bands: [dsm]}\n')
    args = ["catalog", "build", str(tmp_path / "in"), "--rules", str(rules), "--sensor", "dalle_*=aerial-ign",
            "--bands", "dalle_*=nir,red,green", "--sensor", "T31*=sentinel-2b", "--out", str(tmp_path / "cat"),
            "--json"]  # fmt: skip
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert len(summary["items"]) == 4 and not summary["skipped"]
    items = [json.loads(p.read_text()) for p in (tmp_path / "cat").rglob("*.json") if p.name != "catalog.json"]
    sensors = sorted(i["properties"]["eofusion:sensor"] for i in items if "properties" in i)
    assert sensors == ["aerial-ign", "elevation", "elevation", "sentinel-2b"]
    ortho_item = next(i for i in items if i.get("properties", {}).get("eofusion:sensor") == "aerial-ign")
    assert [b["name"] for b in next(iter(ortho_item["assets"].values()))["eo:bands"]] == ["nir", "red", "green"]
    assert ortho.exists()


def test_cli_skips_fail_unless_allowed_and_sensor_files_register(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _tif(tmp_path / "in" / "flight_20240501.tif", count=2)
    (tmp_path / "in" / "readme.tif").write_text("not a raster")
    drone = tmp_path / "my-drone.yaml"
    drone.write_text(
        "name: my-drone-test\nbands:\n"
        "  - {name: g, kind: reflectance, resolution_m: 0.05, centre_nm: 560, bandwidth_nm: 40}\n"
        "  - {name: re, kind: reflectance, resolution_m: 0.05, centre_nm: 717, bandwidth_nm: 10}\n"
    )
    base = ["catalog", "build", str(tmp_path / "in"), "--sensor", "my-drone-test", "--bands", "g,re"]
    assert main([*base, "--out", str(tmp_path / "a")]) == 1  # the sensor is unknown until registered
    assert "--sensor-file" in capsys.readouterr().err
    assert main([*base, "--sensor-file", str(drone), "--out", str(tmp_path / "b")]) == 1  # readme.tif is skipped
    assert "--allow-skips" in capsys.readouterr().err and not (tmp_path / "b").exists()
    assert main([*base, "--sensor-file", str(drone), "--allow-skips", "--out", str(tmp_path / "c"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert len(summary["items"]) == 1 and len(summary["skipped"]) == 1
