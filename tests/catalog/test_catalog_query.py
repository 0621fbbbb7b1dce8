"""Search argument validation: malformed input fails early with a message that says how to fix it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from eofusion.catalog import make_query
from eofusion.catalog.query import parse_bbox, parse_filter, parse_interval
from eofusion.errors import CatalogError, InvalidQueryError


def test_bbox_forms() -> None:
    assert parse_bbox("13.3,45.9,13.6,46.1") == (13.3, 45.9, 13.6, 46.1)
    assert parse_bbox([13, 45, 14, 46]) == (13.0, 45.0, 14.0, 46.0)


@pytest.mark.parametrize(
    ("bbox", "match"),
    [
        ("13,45,14", "four finite numbers"),
        ("a,b,c,d", "not four numbers"),
        ([465181, 5079244, 466180, 5080254], "projected CRS or in lat,lon order"),
        ([13, 46, 14, 45], "south > north"),
        ([170, 10, -170, 20], "antimeridian"),
        ([13, float("nan"), 14, 46], "finite"),
    ],
)
def test_malformed_bbox(bbox: object, match: str) -> None:
    with pytest.raises(InvalidQueryError, match=match):
        make_query(bbox=bbox)  # type: ignore[arg-type]


def test_datetime_forms() -> None:
    day = parse_interval("2024-04-19")
    assert day == (datetime(2024, 4, 19, tzinfo=UTC), datetime(2024, 4, 19, 23, 59, 59, 999999, tzinfo=UTC))
    assert parse_interval("2024-02")[1] == datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC)
    assert parse_interval("2024-04-01/..") == (datetime(2024, 4, 1, tzinfo=UTC), None)
    assert parse_interval("../2024") == (None, datetime(2024, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
    instant = datetime(2024, 4, 19, 9, 55, 49, tzinfo=UTC)
    assert parse_interval("2024-04-19T09:55:49Z") == (instant, instant)
    assert parse_interval((datetime(2024, 1, 1), None)) == (datetime(2024, 1, 1, tzinfo=UTC), None)
    query = make_query(datetime="2024-04-01/2024-04-30")
    assert query.datetime_param() == "2024-04-01T00:00:00Z/2024-04-30T23:59:59.999999Z"


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("yesterday", "not understood"),
        ("2024-13-01", "not a real date"),
        ("2024-05-01/2024-04-01", "ends before it starts"),
        (42, "not understood"),
    ],
)
def test_malformed_datetime(value: object, match: str) -> None:
    with pytest.raises(InvalidQueryError, match=match):
        make_query(datetime=value)


def test_filter_text_and_json() -> None:
    as_json = parse_filter("eo:cloud_cover < 30")
    assert as_json == {"op": "<", "args": [{"property": "eo:cloud_cover"}, 30.0]}
    assert parse_filter(as_json) == as_json
    with pytest.raises(InvalidQueryError, match=r"not valid CQL2.*Example"):
        parse_filter("eo:cloud_cover <<< 30")


def test_geometry_and_other_arguments() -> None:
    square = {"type": "Polygon", "coordinates": [[[13, 45], [14, 45], [14, 46], [13, 46], [13, 45]]]}
    assert make_query(intersects={"type": "Feature", "geometry": square, "properties": {}}).intersects is not None
    with pytest.raises(InvalidQueryError, match="not a valid GeoJSON"):
        make_query(intersects={"type": "Polygon", "coordinates": "nope"})
    with pytest.raises(InvalidQueryError, match="either bbox or intersects"):
        make_query(bbox=[13, 45, 14, 46], intersects=square)
    with pytest.raises(InvalidQueryError, match="max_items"):
        make_query(max_items=0)
    assert make_query(collections="a, b,").collections == ("a", "b")
    assert issubclass(InvalidQueryError, CatalogError) and issubclass(InvalidQueryError, ValueError)
