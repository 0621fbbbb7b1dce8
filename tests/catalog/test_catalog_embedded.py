"""The embedded catalog (stac-geoparquet file, static catalog, memory) against a brute-force reference."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pystac
import pytest
import rasterio
import shapely
import shapely.geometry

from eofusion.catalog import EmbeddedCatalog, make_query, normalize_item, search, write_catalog
from eofusion.catalog.fields import parse_time
from eofusion.errors import InvalidQueryError

SQUARE = {"type": "Polygon", "coordinates": [[[14.40, 46.10], [14.44, 46.10], [14.42, 46.12], [14.40, 46.10]]]}
QUERIES: list[dict[str, Any]] = [
    {},
    {"collections": "sentinel-2-l2a"},
    {"bbox": [14.35, 46.12, 14.39, 46.15]},
    {"intersects": SQUARE},
    {"datetime": "2024-05-01/2024-07-15"},
    {"datetime": "2024-06"},
    {"filter": "eo:cloud_cover < 30"},
    {"filter": "platform = 'sentinel-1a' AND sat:orbit_state = 'ascending'"},
    {"collections": ["sentinel-2-l2a", "sentinel-1-rtc"], "bbox": [14.30, 46.0, 14.40, 46.11],
     "datetime": "2024-04/2024-08"},
    {"max_items": 5},
    {"collections": "sentinel-1-rtc", "datetime": "../2024-06-30", "max_items": 3},
]  # fmt: skip


def _reference(items: list[dict[str, Any]], kwargs: dict[str, Any]) -> list[str]:
    """What the query should return, computed the slow, obvious way."""
    import cql2

    query = make_query(**kwargs)
    out = []
    for item in items:
        if query.collections and item["collection"] not in query.collections:
            continue
        area = (
            shapely.box(*query.bbox)
            if query.bbox
            else (shapely.geometry.shape(query.intersects) if query.intersects else None)
        )
        if area is not None and not shapely.geometry.shape(item["geometry"]).intersects(area):
            continue
        when = parse_time(item["properties"]["datetime"])
        if query.interval and not ((query.interval[0] or datetime.min.replace(tzinfo=when.tzinfo)) <= when
                                   <= (query.interval[1] or datetime.max.replace(tzinfo=when.tzinfo))):  # fmt: skip
            continue
        if query.filter is not None:
            try:
                if not cql2.Expr(dict(query.filter)).matches(item):
                    continue
            except Exception:
                continue
        out.append((when, item["id"]))
    ids = [i for _, i in sorted(out, reverse=True)]
    return ids[: query.max_items] if query.max_items else ids


@pytest.fixture(scope="module")
def catalogs(
    world: list[dict[str, Any]], world_parquet: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, EmbeddedCatalog]:
    static_json, _ = write_catalog([pystac.Item.from_dict(i) for i in world], tmp_path_factory.mktemp("static") / "cat")
    return {
        "parquet": EmbeddedCatalog.open(world_parquet),
        "static": EmbeddedCatalog.open(static_json.parent),
        "memory": EmbeddedCatalog.from_items(world),
    }


@pytest.mark.parametrize("kind", ["parquet", "static", "memory"])
@pytest.mark.parametrize("kwargs", QUERIES, ids=[str(q) for q in QUERIES])
def test_matches_reference(
    catalogs: dict[str, EmbeddedCatalog], world: list[dict[str, Any]], kind: str, kwargs: dict[str, Any]
) -> None:
    expected = _reference(world, kwargs)
    got = [i.id for i in search(catalogs[kind], **kwargs)]
    assert got == expected
    if not kwargs.get("max_items"):
        assert 0 < len(expected) < len(world) or kwargs == {}  # each query is selective (or the full list)


def test_time_ranges_overlap(world: list[dict[str, Any]]) -> None:
    ranged = dict(world[0], id="ranged", properties=dict(world[0]["properties"], datetime=None,
                  start_datetime="2023-01-01T00:00:00Z", end_datetime="2023-12-31T23:59:59Z"))  # fmt: skip
    cat = EmbeddedCatalog.from_items([ranged, *world[1:3]])
    assert [i.id for i in search(cat, datetime="2023-06")] == ["ranged"]
    assert [i.id for i in search(cat, datetime="2023-12-31T23:59:59Z/2024-01-01")] == ["ranged"]
    assert search(cat, datetime="2022") == []


def test_unknown_collection_and_empty_result(catalogs: dict[str, EmbeddedCatalog]) -> None:
    with pytest.raises(InvalidQueryError, match=r"sentinel-3.*it has: sentinel-1-rtc, sentinel-2-l2a"):
        search(catalogs["parquet"], collections="sentinel-3")
    assert search(catalogs["parquet"], bbox=[-10, -10, -9, -9]) == []
    assert search(catalogs["parquet"], datetime="1999") == []


def test_found_items_normalise_and_read(catalogs: dict[str, EmbeddedCatalog]) -> None:
    items = search(catalogs["parquet"], collections="sentinel-2-l2a", filter="eo:cloud_cover < 50", max_items=2)
    assert items
    for raw in items:
        item = normalize_item(raw, bands=["red", "nir"])
        red = item.band("B04")
        with rasterio.open(red.href) as src:
            assert src.crs.to_string() == red.crs and src.shape == red.shape
            assert tuple(src.transform)[:6] == pytest.approx(red.transform)
        assert red.offset == pytest.approx(-0.1)  # baseline 05.10, no stated offset
    # The item's own document (for derived_from links of maps): the file of a static catalog, or the relative
    # self link that write_catalog puts in the parquet beside it, made absolute when read.
    static = {i.id: normalize_item(i).href for i in search(catalogs["static"], collections="sentinel-2-l2a")}
    beside = EmbeddedCatalog.open(Path(catalogs["static"].name).parent / "catalog.parquet")
    for raw in search(beside, collections="sentinel-2-l2a"):
        href = normalize_item(raw).href
        assert href and json.loads(Path(href).read_text())["id"] == raw.id and href == static[raw.id]
    assert normalize_item(items[0]).href is None  # a parquet without links: no document to point at
