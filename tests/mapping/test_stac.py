"""Map STAC items and the job collection: filled from the written files, valid against the schemas, offline."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
from odc.geo.geobox import GeoBox
from stac_validation import OfflineSchemaError, validate_stac

from eofusion.mapping import (
    CLASS_NODATA,
    MapExtras,
    MapLegend,
    MapSources,
    job_collection,
    map_item,
    write_class_map,
    write_item,
    write_quicklook,
)

LEGEND = MapLegend.from_mapping(
    {1: ("building", "#db0e9a"), 2: ("water", "#1f78b4"), 3: ("coniferous / mixed", "#194a26")}
)
GRID = GeoBox.from_bbox((370000, 4815000, 370640, 4815640), "EPSG:32631", resolution=2.0)  # 320 x 320 px
SOURCES = MapSources(
    start=datetime(2024, 3, 1, tzinfo=UTC),
    end=datetime(2024, 9, 30, tzinfo=UTC),
    derived_from=["https://stac.example/collections/s2/items/S2A_1", "/data/catalog/aerial/A1/A1.json"],
    input_items=["s2/S2A_1", "aerial/A1"],
    lineage="Predicted by a test model.",
    software={"eofusion": "0.1.0"},
    properties={"config_hash": "abc", "sensors": ["s2", "aerial"]},
    collection="job",
    collection_href="../../collection.json",
)


def written_tile(tmp_path: Path) -> tuple[pystac.Item, Path]:
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 4, size=GRID.shape).astype(np.uint8)
    ids[:10] = CLASS_NODATA
    probs = rng.dirichlet(np.ones(3), size=GRID.shape).transpose(2, 0, 1).astype(np.float32)
    files = write_class_map(ids, GRID, tmp_path / "tile.tif", LEGEND, probabilities=probs)
    sensors = tmp_path / "tile_sensors.tif"
    with rasterio.open(sensors, "w", driver="GTiff", width=320, height=320, count=1, dtype="uint8", nodata=0,
                       crs="EPSG:32631", transform=GRID.affine) as dst:  # fmt: skip
        dst.write(np.full((1, 320, 320), 0b101, dtype=np.uint8))
    png = write_quicklook(ids, LEGEND, tmp_path / "tile.png", title="t")
    item = map_item("job-t1", files, LEGEND, SOURCES, MapExtras(sensors, ("s2", "s1", "aerial"), png))
    return item, write_item(item, tmp_path / "tile.json")


def test_tile_item_says_what_was_written_and_validates_offline(tmp_path: Path) -> None:
    _, path = written_tile(tmp_path)
    data = json.loads(path.read_text())
    used = validate_stac(data)
    for extension in ("projection", "raster", "file", "classification", "processing"):
        assert any(f"/{extension}/" in uri for uri in used), (extension, used)
    props = data["properties"]
    assert props["proj:code"] == "EPSG:32631" and props["proj:shape"] == [320, 320]
    assert props["proj:transform"] == list(GRID.affine)[:6] and props["gsd"] == 2.0
    assert props["processing:software"] == {"eofusion": "0.1.0"} and props["eofusion:config_hash"] == "abc"
    assert props["eofusion:input_items"] == ["s2/S2A_1", "aerial/A1"]
    assets = data["assets"]
    assert set(assets) == {
        "classes", "confidence", "probabilities", "classes_metadata", "classes_style", "sensors", "quicklook"
    }  # fmt: skip
    for asset in assets.values():  # every file's size and checksum are those of the bytes on disk
        blob = (tmp_path / asset["href"]).read_bytes()
        assert asset["file:size"] == len(blob)
        assert asset["file:checksum"] == "1220" + hashlib.sha256(blob).hexdigest()
    band = assets["classes"]["raster:bands"][0]
    assert band["data_type"] == "uint8" and band["nodata"] == CLASS_NODATA and band["spatial_resolution"] == 2.0
    assert len(assets["probabilities"]["raster:bands"]) == 3
    assert assets["confidence"]["raster:bands"][0]["unit"] == "percent"
    classes = {c["value"]: c for c in assets["classes"]["classification:classes"]}
    assert classes[3]["name"] == "coniferous_mixed" and classes[3]["title"] == "coniferous / mixed"
    assert classes[CLASS_NODATA]["nodata"] is True and classes[2]["color_hint"] == "1f78b4"
    bits = assets["sensors"]["classification:bitfields"]
    assert [(b["name"], b["offset"], b["length"]) for b in bits] == [("s2", 0, 1), ("s1", 1, 1), ("aerial", 2, 1)]
    links = {(link["rel"], link["href"]) for link in data["links"]}
    assert {("derived_from", h) for h in SOURCES.derived_from} <= links
    assert ("collection", "../../collection.json") in links and data["collection"] == "job"


def test_the_offline_validator_rejects_broken_items(tmp_path: Path) -> None:
    """The validator can fail: each extension's rules are checked, and an unknown extension is refused."""
    from pystac.errors import STACValidationError

    _, path = written_tile(tmp_path)
    good = json.loads(path.read_text())
    breakages = {
        "checksum": lambda d: d["assets"]["classes"].update({"file:checksum": "not-hex"}),
        "data type": lambda d: d["assets"]["classes"]["raster:bands"][0].update({"data_type": "byte"}),
        "class name": lambda d: d["assets"]["classes"]["classification:classes"][0].update({"name": "a b"}),
        "software": lambda d: d["properties"].update({"processing:software": {"eofusion": 1}}),
        "shape": lambda d: d["properties"].update({"proj:shape": [320]}),
        "core": lambda d: d.pop("bbox"),
    }
    for what, breakage in breakages.items():
        broken = copy.deepcopy(good)
        breakage(broken)
        with pytest.raises(STACValidationError):
            validate_stac(broken)
            pytest.fail(f"a broken {what} passed")
    unknown = copy.deepcopy(good)
    unknown["stac_extensions"].append("https://stac-extensions.github.io/made-up/v1.0.0/schema.json")
    with pytest.raises(OfflineSchemaError, match="made-up"):
        validate_stac(unknown)


def test_job_collection_spans_its_items_and_validates(tmp_path: Path) -> None:
    item, _ = written_tile(tmp_path)
    later = item.clone()
    later.id = "job-t2"
    later.bbox = [item.bbox[0] + 0.01, item.bbox[1], item.bbox[2] + 0.01, item.bbox[3]]
    later.properties["end_datetime"] = "2024-10-31T00:00:00+00:00"
    collection = job_collection("job", "test maps", {"tiles/t1/landcover.json": item, "tiles/t2/x.json": later}, LEGEND)
    data = collection.to_dict(include_self_link=False, transform_hrefs=False)
    validate_stac(data)
    assert data["extent"]["spatial"]["bbox"][0] == [item.bbox[0], item.bbox[1], later.bbox[2], item.bbox[3]]
    assert data["extent"]["temporal"]["interval"][0][1].startswith("2024-10-31")
    assert data["summaries"]["proj:code"] == ["EPSG:32631"] and data["summaries"]["eofusion:sensors"] == [
        "aerial",
        "s2",
    ]
    assert [c["value"] for c in data["summaries"]["classification:classes"]] == [1, 2, 3, CLASS_NODATA]
    assert sorted(link["href"] for link in data["links"] if link["rel"] == "item") == [
        "tiles/t1/landcover.json", "tiles/t2/x.json"
    ]  # fmt: skip
