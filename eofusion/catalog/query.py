"""One validated search query, shared by every catalog backend so they all answer the same question.

:func:`make_query` checks the user's arguments once (bbox, geometry, datetime, CQL2 filter) and turns them
into a :class:`SearchQuery` whose fields are already in the form both a STAC API and the embedded catalog
understand: a lon/lat bbox tuple, a GeoJSON geometry, a closed UTC interval, and CQL2-JSON.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from eofusion.errors import InvalidQueryError

BBox = tuple[float, float, float, float]
Interval = tuple[datetime | None, datetime | None]  # inclusive, UTC; None = open end

_PARTIAL_DATE = re.compile(r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2}))?)?$")
_DATETIME_HELP = (
    "Give an RFC 3339 datetime ('2024-04-19T09:55:49Z'), a date or month ('2024-04-19', '2024-04', "
    "'2024'), or an interval 'start/end' where either end may be '..' (open)."
)


@dataclass(frozen=True)
class SearchQuery:
    """What to search for; build it with :func:`make_query` (which validates).

    Attributes:
        collections: Collection ids; empty means all.
        bbox: (west, south, east, north) in EPSG:4326; items whose geometry intersects it match.
        intersects: A GeoJSON geometry in EPSG:4326; items whose geometry intersects it match.
        interval: Inclusive UTC (start, end); an item matches if its [start, end] time range overlaps.
        filter: CQL2-JSON expression over item properties (e.g. ``eo:cloud_cover < 30``).
        max_items: Stop after this many items (newest first).
    """

    collections: tuple[str, ...] = ()
    bbox: BBox | None = None
    intersects: Mapping[str, Any] | None = None
    interval: Interval | None = None
    filter: Mapping[str, Any] | None = None
    max_items: int | None = None

    def datetime_param(self) -> str | None:
        """The interval in the STAC API ``datetime`` parameter form (``start/end``, ``..`` for open)."""
        if self.interval is None:
            return None
        start, end = self.interval
        if start is not None and start == end:
            return _iso(start)
        return f"{_iso(start) if start else '..'}/{_iso(end) if end else '..'}"

    def describe(self) -> str:
        """A short human-readable summary for log lines and error messages."""
        parts = []
        if self.collections:
            parts.append(f"collections={','.join(self.collections)}")
        if self.bbox:
            parts.append(f"bbox={list(self.bbox)}")
        if self.intersects:
            parts.append(f"intersects={self.intersects.get('type', '?')}")
        if self.interval:
            parts.append(f"datetime={self.datetime_param()}")
        if self.filter:
            parts.append(f"filter={filter_text(self.filter)}")
        if self.max_items is not None:
            parts.append(f"max_items={self.max_items}")
        return " ".join(parts) or "(everything)"


def make_query(
    *,
    collections: str | Iterable[str] | None = None,
    bbox: str | Sequence[float] | None = None,
    intersects: Any = None,
    datetime: Any = None,
    filter: str | Mapping[str, Any] | None = None,
    max_items: int | None = None,
) -> SearchQuery:
    """Validate search arguments and return a :class:`SearchQuery`.

    Raises:
        InvalidQueryError: An argument is malformed; the message shows the value and the expected form.
    """
    if max_items is not None and (not isinstance(max_items, int) or max_items < 1):
        raise InvalidQueryError(f"max_items must be a positive integer or None; got {max_items!r}.")
    if bbox is not None and intersects is not None:
        raise InvalidQueryError("Give either bbox or intersects, not both (a STAC API accepts only one).")
    return SearchQuery(
        collections=parse_collections(collections),
        bbox=None if bbox is None else parse_bbox(bbox),
        intersects=None if intersects is None else parse_geometry(intersects),
        interval=None if datetime is None else parse_interval(datetime),
        filter=None if filter is None else parse_filter(filter),
        max_items=max_items,
    )


def parse_collections(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """``"a,b"`` or an iterable of ids -> a tuple of non-empty ids."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    ids = tuple(str(c).strip() for c in items if str(c).strip())
    return ids


def parse_bbox(value: str | Sequence[float]) -> BBox:
    """A lon/lat bbox from ``"w,s,e,n"`` or four numbers; checks ranges and order."""
    raw: Sequence[Any] = value.split(",") if isinstance(value, str) else value
    try:
        numbers = [float(v) for v in raw]
    except (TypeError, ValueError):
        raise InvalidQueryError(
            f"bbox {value!r} is not four numbers; give west,south,east,north in degrees, e.g. 13.3,45.9,13.6,46.1."
        ) from None
    if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
        raise InvalidQueryError(
            f"bbox {value!r} must be four finite numbers west,south,east,north (EPSG:4326 degrees)."
        )
    west, south, east, north = numbers
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= 90 and -90 <= north <= 90):
        raise InvalidQueryError(
            f"bbox {numbers} is outside lon [-180, 180] / lat [-90, 90]; is it in a projected CRS or in "
            "lat,lon order? Give west,south,east,north in EPSG:4326 degrees."
        )
    if south > north:
        raise InvalidQueryError(f"bbox {numbers} has south > north; give west,south,east,north.")
    if west > east:
        raise InvalidQueryError(
            f"bbox {numbers} has west > east (it would cross the antimeridian); split it into two searches."
        )
    return west, south, east, north


def parse_geometry(value: Any) -> dict[str, Any]:
    """A GeoJSON geometry (mapping, Feature, or an object with ``__geo_interface__``), checked by shapely."""
    import shapely.geometry

    geom: Any = getattr(value, "__geo_interface__", value)
    if isinstance(geom, Mapping) and geom.get("type") == "Feature":
        geom = geom.get("geometry")
    if not isinstance(geom, Mapping):
        raise InvalidQueryError(
            f"intersects must be a GeoJSON geometry mapping or a shapely geometry; got {type(value).__name__}."
        )
    try:
        shape = shapely.geometry.shape(geom)
    except Exception as err:  # shapely raises several types for malformed GeoJSON
        raise InvalidQueryError(f"intersects is not a valid GeoJSON geometry ({err}).") from None
    if shape.is_empty:
        raise InvalidQueryError("intersects is an empty geometry; give the area to search.")
    west, south, east, north = shape.bounds
    if west < -180 or east > 180 or south < -90 or north > 90:
        raise InvalidQueryError(
            "intersects has coordinates outside lon/lat range; give the geometry in EPSG:4326 (lon, lat)."
        )
    return dict(shapely.geometry.mapping(shape))


def parse_interval(value: Any) -> Interval:
    """A datetime, (start, end) pair or string -> an inclusive UTC interval (see ``_DATETIME_HELP``)."""
    if isinstance(value, datetime):
        instant = _as_utc(value)
        return instant, instant
    if isinstance(value, str):
        if "/" in value:
            start_text, _, end_text = value.partition("/")
            return _ordered(_bound(start_text, end=False), _bound(end_text, end=True), value)
        return _expand(value.strip(), value)
    if isinstance(value, Sequence) and len(value) == 2:
        start, end = value
        return _ordered(_bound(start, end=False), _bound(end, end=True), value)
    raise InvalidQueryError(f"datetime {value!r} is not understood. {_DATETIME_HELP}")


def parse_filter(value: str | Mapping[str, Any]) -> dict[str, Any]:
    """CQL2 text (``eo:cloud_cover < 30``) or CQL2-JSON -> validated CQL2-JSON."""
    import cql2

    try:
        expr = cql2.Expr(value if isinstance(value, str) else dict(value))
        expr.validate()
        as_json: dict[str, Any] = expr.to_json()
        expr.to_text()  # catches JSON trees that parse but cannot be rendered (unknown operators)
    except Exception as err:  # cql2 raises plain Exception subclasses for parse errors
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InvalidQueryError(
            f'filter {value!r} is not valid CQL2 ({first_line}). Example: "eo:cloud_cover < 30 AND '
            "platform = 'sentinel-2b'\"."
        ) from None
    return as_json


def filter_text(value: Mapping[str, Any]) -> str:
    """CQL2-JSON back to readable CQL2 text."""
    import cql2

    return str(cql2.Expr(dict(value)).to_text())


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ").replace(".000000Z", "Z")


def _as_utc(value: datetime) -> datetime:
    # Naive datetimes are taken as UTC: STAC times are UTC and guessing the local zone would shift results.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _bound(value: Any, *, end: bool) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return _as_utc(value)
    text = str(value).strip()
    if text in ("", ".."):
        return None
    start, stop = _expand(text, value)
    return stop if end else start


def _expand(text: str, original: Any) -> tuple[datetime, datetime]:
    """A full datetime is an instant; a year, month or day covers the whole period (as pystac-client does)."""
    partial = _PARTIAL_DATE.match(text)
    if partial:
        year = int(partial["y"])
        month = int(partial["m"]) if partial["m"] else None
        day = int(partial["d"]) if partial["d"] else None
        try:
            if month is None:
                start, stop = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
            elif day is None:
                last = calendar.monthrange(year, month)[1]
                start = datetime(year, month, 1, tzinfo=UTC)
                stop = start + timedelta(days=last)
            else:
                start = datetime(year, month, day, tzinfo=UTC)
                stop = start + timedelta(days=1)
        except ValueError:
            raise InvalidQueryError(f"datetime {original!r} is not a real date. {_DATETIME_HELP}") from None
        return start, stop - timedelta(microseconds=1)
    try:
        instant = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise InvalidQueryError(f"datetime {original!r} is not understood. {_DATETIME_HELP}") from None
    instant = _as_utc(instant)
    return instant, instant


def _ordered(start: datetime | None, end: datetime | None, original: Any) -> Interval:
    if start is not None and end is not None and start > end:
        raise InvalidQueryError(f"datetime {original!r} ends before it starts; give start/end in order.")
    return start, end
