"""A real STAC API (stac-fastapi-pgstac on PostgreSQL + PostGIS) and the embedded catalog agree.

The server is started by the session fixture ``stac_api_url`` (see catalog_server.py) and loaded with the
seeded test world plus a demo world rendered by ``eofusion.simulate``; every query runs through
pystac-client against the server and in-process against the stac-geoparquet file of the same items.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pystac
import pytest

from eofusion.catalog import ApiOptions, EmbeddedCatalog, StacApiCatalog, normalize_item, search
from eofusion.errors import InvalidQueryError

pytestmark = pytest.mark.integration

TRIANGLE = {"type": "Polygon", "coordinates": [[[14.40, 46.10], [14.44, 46.10], [14.42, 46.12], [14.40, 46.10]]]}
QUERIES: list[dict[str, Any]] = [
    {},
    {"collections": "sentinel-2-l2a"},
    {"collections": ["sentinel-1-rtc"], "bbox": [14.35, 46.12, 14.39, 46.15]},
    {"intersects": TRIANGLE},
    {"datetime": "2024-05-01/2024-07-15"},
    {"datetime": "2024-06"},
    {"datetime": "2024-07-01/.."},
    {"filter": "eo:cloud_cover < 30"},
    {"filter": "platform = 'sentinel-1a' AND sat:orbit_state = 'ascending'"},
    {"collections": "sentinel-2-l2a", "bbox": [14.30, 46.0, 14.40, 46.11], "datetime": "2024-04/2024-08",
     "filter": "eo:cloud_cover >= 20"},
    {"max_items": 5},
    {"collections": "sentinel-1-rtc", "datetime": "../2024-06-30", "max_items": 3},
    # The demo world (Lauragais, EPSG:32631): all sensors, cloud filter, a bbox around its centre.
    {"bbox": [1.70, 43.39, 1.74, 43.41]},
    {"collections": ["aerial-ign", "elevation", "landcover"]},
    {"collections": "sentinel-2-l2a", "bbox": [1.70, 43.39, 1.74, 43.41], "filter": "eo:cloud_cover < 30"},
    {"collections": "sentinel-1-rtc", "bbox": [1.70, 43.39, 1.74, 43.41], "filter": "sat:orbit_state = 'descending'",
     "datetime": "2024-05/2024-08"},
]  # fmt: skip


@pytest.fixture(scope="module")
def api(stac_api_url: str) -> StacApiCatalog:
    return StacApiCatalog(
        stac_api_url, options=ApiOptions(timeout_s=10, max_retries=1, backoff_factor=0.1, page_size=4)
    )


@pytest.mark.parametrize("kwargs", QUERIES, ids=[str(q) for q in QUERIES])
def test_api_and_embedded_return_the_same_items(
    api: StacApiCatalog, api_items_parquet: Path, kwargs: dict[str, Any]
) -> None:
    from_api = [i.id for i in search(api, **kwargs)]  # page_size 4: every multi-page answer is paginated
    embedded = [i.id for i in search(EmbeddedCatalog.open(api_items_parquet), **kwargs)]
    assert from_api == embedded
    assert from_api or kwargs.get("datetime") == "2024-07-01/.."


def test_api_items_normalise(api: StacApiCatalog) -> None:
    items = search(api, collections="sentinel-1-rtc", max_items=2)
    assert len(items) == 2
    item = normalize_item(items[0])
    assert item.sensor.name == "sentinel-1" and set(item.band_names) == {"VV", "VH"}
    assert Path(item.band("VV").href).exists()
    assert item.href == f"{api.url}/collections/sentinel-1-rtc/items/{item.id}"  # the API's self link
    demo = {i.collection_id: normalize_item(i) for i in search(api, bbox=[1.70, 43.39, 1.74, 43.41])
            if i.collection_id != "landcover"}  # fmt: skip
    assert demo["aerial-ign"].band_names == ("red", "green", "blue", "nir")
    assert set(demo["elevation"].band_names) == {"dsm", "dtm"}
    s2 = demo["sentinel-2-l2a"].band("B04")
    assert s2.offset == pytest.approx(-0.1) and Path(s2.href).exists()


def test_api_unknown_collection_and_empty(api: StacApiCatalog) -> None:
    with pytest.raises(InvalidQueryError, match=r"sentinel-3.*sentinel-1-rtc, sentinel-2-l2a"):
        search(api, collections="sentinel-3")
    assert search(api, collections="sentinel-2-l2a", datetime="1999") == []
    assert api.collection_ids() == [
        "aerial-ign", "aerial-naip", "elevation", "landcover", "landsat-c2-l2", "sentinel-1-rtc", "sentinel-2-l2a"
    ]  # fmt: skip


def test_item_modifier_signs_every_item(stac_api_url: str) -> None:
    def sign(obj: Any) -> None:  # stands in for planetary_computer.sign_inplace (pages arrive as dicts)
        features = obj.get("features", [obj]) if isinstance(obj, dict) else []
        for feature in features:
            for asset in feature.get("assets", {}).values():
                asset["href"] += "?token=signed"
        if isinstance(obj, pystac.Item):
            for a in obj.assets.values():
                a.href += "?token=signed"

    api = StacApiCatalog(stac_api_url, modifier=sign, options=ApiOptions(page_size=4))
    items = search(api, collections="sentinel-2-l2a", max_items=6)
    assert len(items) == 6
    assert all(a.href.endswith("?token=signed") for i in items for a in i.assets.values())
