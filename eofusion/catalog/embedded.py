"""The embedded catalog: STAC search over a stac-geoparquet file or a static catalog, with no server.

Semantics match a STAC API (checked against stac-fastapi-pgstac in the integration tests): an item matches
a bbox or geometry if its *geometry* intersects it; a datetime interval if the item's [start, end] range
(``start_datetime``/``end_datetime``, else ``datetime``) overlaps it, ends included; a CQL2 filter if it
evaluates to true (a missing property never matches, like SQL NULL); results come newest first (then by id,
descending) and stop at ``max_items``.

Engine: numpy over the bbox/time columns, shapely for exact geometry tests, the ``cql2`` package for
filters. (DuckDB-spatial and rustac would need downloads that cannot happen offline.)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pystac

from eofusion.catalog.fields import parse_time
from eofusion.catalog.query import SearchQuery
from eofusion.errors import CatalogError, InvalidQueryError

logger = logging.getLogger(__name__)

_NO_TIME_START = np.iinfo(np.int64).min
_NO_TIME_END = np.iinfo(np.int64).max
_FETCH_CHUNK = 256

Fetch = Callable[[npt.NDArray[np.int64]], list[dict[str, Any]]]


@dataclass(frozen=True)
class _Index:
    """Columns the search reads, one row per item; times are microseconds since the epoch (UTC)."""

    ids: npt.NDArray[np.object_]
    collections: npt.NDArray[np.object_]
    bbox: npt.NDArray[np.float64]  # [N, 4] west, south, east, north
    start: npt.NDArray[np.int64]
    end: npt.NDArray[np.int64]
    rank: npt.NDArray[np.int64]  # position in result order (newest first, then id descending)
    geometry: Callable[[npt.NDArray[np.int64]], npt.NDArray[np.object_]]  # rows -> shapely geometries


class EmbeddedCatalog:
    """A searchable in-process catalog. Open one with :meth:`open`, :meth:`from_items` or the path helpers."""

    def __init__(self, index: _Index, fetch: Fetch, name: str) -> None:
        self._index = index
        self._fetch = fetch
        self.name = name

    def __repr__(self) -> str:
        return f"EmbeddedCatalog({self.name!r}, {len(self)} items)"

    def __len__(self) -> int:
        return len(self._index.ids)

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: str | Path) -> EmbeddedCatalog:
        """A stac-geoparquet file (``.parquet``) or a static catalog (``catalog.json``, or its directory)."""
        path = Path(path)
        if not path.exists():
            raise CatalogError(
                f"Embedded catalog {path} does not exist: render the demo world with `eofusion demo`, build a "
                "catalog for your files with `eofusion catalog build`, or give the path of a stac-geoparquet "
                "file or a static catalog.json."
            )
        if path.is_file() and path.suffix.lower() in (".parquet", ".geoparquet", ".pq"):
            return cls.from_geoparquet(path)
        return cls.from_static(path)

    @classmethod
    def from_items(cls, items: Iterable[pystac.Item | Mapping[str, Any]], name: str = "memory") -> EmbeddedCatalog:
        """A catalog over items held in memory (dicts or pystac Items)."""
        dicts = [i.to_dict(transform_hrefs=False) if isinstance(i, pystac.Item) else dict(i) for i in items]
        return cls(_index_from_dicts(dicts), lambda rows: [dicts[int(r)] for r in rows], name)

    @classmethod
    def from_static(cls, path: str | Path) -> EmbeddedCatalog:
        """A static STAC catalog on disk; asset hrefs are made absolute."""
        path = Path(path)
        target = path if path.is_file() else _catalog_file(path)
        try:
            root = pystac.read_file(str(target))
        except Exception as err:  # pystac raises several types for unreadable or non-STAC files
            raise CatalogError(f"{target} is not a readable STAC catalog ({err}).") from None
        if isinstance(root, pystac.Item):
            items: list[pystac.Item] = [root]
        elif isinstance(root, pystac.Catalog):
            items = list(root.get_items(recursive=True))
        else:
            raise CatalogError(f"{target} is a {type(root).__name__}, not a catalog or collection.")
        for item in items:
            item.make_asset_hrefs_absolute()
        return cls.from_items(items, name=str(target))

    @classmethod
    def from_geoparquet(cls, path: str | Path) -> EmbeddedCatalog:
        """A stac-geoparquet file; only the columns a search needs are read up front.

        Relative asset hrefs are resolved against the file's folder.
        """
        import pyarrow.parquet as pq

        path = Path(path)
        try:
            schema = pq.read_schema(path)
            wanted = [
                c
                for c in ("id", "collection", "bbox", "geometry", "datetime", "start_datetime", "end_datetime")
                if c in schema.names
            ]
            table = pq.read_table(path, columns=wanted)
        except Exception as err:  # pyarrow raises ArrowInvalid/OSError for non-parquet files
            raise CatalogError(f"{path} is not a readable stac-geoparquet file ({err}).") from None
        full: list[Any] = []

        def fetch(rows: npt.NDArray[np.int64]) -> list[dict[str, Any]]:
            from stac_geoparquet.arrow import stac_table_to_items

            if not full:
                full.append(pq.read_table(path))
            return [_absolute_hrefs(d, path.parent) for d in stac_table_to_items(full[0].take(rows))]

        return cls(_index_from_arrow(table), fetch, str(path))

    # ------------------------------------------------------------------ searching
    def collection_ids(self) -> list[str]:
        """The collection ids present, sorted."""
        return sorted({str(c) for c in self._index.collections if c is not None})

    def search(self, query: SearchQuery) -> list[pystac.Item]:
        """Items matching ``query``, newest first (see the module docstring for the semantics)."""
        return [pystac.Item.from_dict(d, preserve_dict=False) for d in self.search_dicts(query)]

    def search_dicts(self, query: SearchQuery) -> list[dict[str, Any]]:
        """Like :meth:`search` but returns item dicts (no pystac parsing: faster for large results)."""
        idx = self._index
        known = set(self.collection_ids())
        unknown = [c for c in query.collections if c not in known]
        if unknown:
            raise InvalidQueryError(
                f"Collection(s) {', '.join(unknown)} not in catalog {self.name}; it has: "
                f"{', '.join(sorted(known)) or 'no collections'}."
            )
        mask = np.ones(len(idx.ids), dtype=bool)
        if query.collections:
            mask &= np.isin(idx.collections, np.asarray(query.collections, dtype=object))
        if query.interval is not None:
            lo, hi = query.interval
            if lo is not None:
                mask &= idx.end >= _micros(lo)
            if hi is not None:
                mask &= idx.start <= _micros(hi)
        rows = np.flatnonzero(mask)
        rows = self._spatial(rows, query)
        rows = rows[np.argsort(idx.rank[rows], kind="stable")]
        return self._materialise(rows, query)

    def _spatial(self, rows: npt.NDArray[np.int64], query: SearchQuery) -> npt.NDArray[np.int64]:
        if query.bbox is None and query.intersects is None:
            return rows
        import shapely
        import shapely.geometry

        shape = shapely.box(*query.bbox) if query.bbox else shapely.geometry.shape(query.intersects)
        west, south, east, north = shape.bounds
        b = self._index.bbox[rows]
        rows = rows[(b[:, 0] <= east) & (b[:, 2] >= west) & (b[:, 1] <= north) & (b[:, 3] >= south)]
        if len(rows) == 0:
            return rows
        geoms = self._index.geometry(rows)
        return rows[shapely.intersects(geoms, shape)]

    def _materialise(self, rows: npt.NDArray[np.int64], query: SearchQuery) -> list[dict[str, Any]]:
        limit = query.max_items
        if query.filter is None:
            rows = rows if limit is None else rows[:limit]
            return self._fetch(rows) if len(rows) else []
        import cql2

        expr = cql2.Expr(dict(query.filter))
        matched: list[dict[str, Any]] = []
        for start in range(0, len(rows), _FETCH_CHUNK):
            for item in self._fetch(rows[start : start + _FETCH_CHUNK]):
                if _matches(expr, item):
                    matched.append(item)
                    if limit is not None and len(matched) >= limit:
                        return matched
        return matched


def _absolute_hrefs(item: dict[str, Any], base: Path) -> dict[str, Any]:
    """Relative asset and link hrefs (the demo world writes them relative to the parquet file) made absolute."""
    for entry in [*(item.get("assets") or {}).values(), *(item.get("links") or ())]:
        href = str(entry.get("href", ""))
        if href and "://" not in href and not href.startswith("/"):
            entry["href"] = os.path.normpath(base.resolve() / href)
    return item


def _matches(expr: Any, item: Mapping[str, Any]) -> bool:
    try:
        return bool(expr.matches(dict(item)))
    except Exception:  # cql2 raises when a property is missing: like SQL NULL, that is "no match"
        return False


def _catalog_file(directory: Path) -> Path:
    for name in ("catalog.json", "collection.json"):
        if (directory / name).exists():
            return directory / name
    raise CatalogError(
        f"{directory} holds no catalog.json or collection.json; give a static catalog or a .parquet file."
    )


def _micros(value: Any) -> int:
    return int(np.datetime64(value.replace(tzinfo=None), "us").astype(np.int64))


def _rank(ids: npt.NDArray[np.object_], sort_time: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    # Newest first, then id descending: the default order of stac-fastapi-pgstac.
    order = np.lexsort((np.asarray([str(i) for i in ids]), sort_time))[::-1]
    rank = np.empty(len(ids), dtype=np.int64)
    rank[order] = np.arange(len(ids))
    return rank


def _index_from_dicts(items: list[dict[str, Any]]) -> _Index:
    import shapely
    import shapely.geometry

    n = len(items)
    bbox = np.zeros((n, 4), dtype=np.float64)
    start = np.full(n, _NO_TIME_START, dtype=np.int64)
    end = np.full(n, _NO_TIME_END, dtype=np.int64)
    sort_time = np.full(n, _NO_TIME_START, dtype=np.int64)
    geoms = np.empty(n, dtype=object)
    for i, item in enumerate(items):
        props = item.get("properties") or {}
        geometry = item.get("geometry")
        shape = shapely.geometry.shape(geometry) if geometry else shapely.box(*item["bbox"][:2], *item["bbox"][-2:])
        geoms[i] = shape
        raw = item.get("bbox")
        bbox[i] = (raw[0], raw[1], raw[-2], raw[-1]) if raw else shape.bounds
        when = parse_time(props.get("datetime"))
        first = parse_time(props.get("start_datetime")) or when
        last = parse_time(props.get("end_datetime")) or when
        if first is not None:
            start[i] = sort_time[i] = _micros(first)
        if last is not None:
            end[i] = _micros(last)
    ids = np.asarray([str(i.get("id")) for i in items], dtype=object)
    collections = np.asarray([i.get("collection") for i in items], dtype=object)
    return _Index(ids, collections, bbox, start, end, _rank(ids, sort_time), lambda rows: geoms[rows])


def _index_from_arrow(table: Any) -> _Index:
    import pyarrow as pa
    import pyarrow.compute as pc
    import shapely

    n = table.num_rows

    def micros(name: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]] | None:
        """(values, is_null) of a timestamp column, or None when the column is absent."""
        if name not in table.column_names:
            return None
        col = pc.cast(table.column(name), pa.timestamp("us", tz="UTC")).cast(pa.int64())
        values = np.asarray(col.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
        return values, np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)

    def time_column(names: tuple[str, ...], default: int) -> npt.NDArray[np.int64]:
        out = np.full(n, default, dtype=np.int64)
        filled = np.zeros(n, dtype=bool)
        for name in names:
            got = micros(name)
            if got is None:
                continue
            values, null = got
            take = ~filled & ~null
            out[take] = values[take]
            filled |= take
        return out

    start = time_column(("start_datetime", "datetime"), _NO_TIME_START)
    end = time_column(("end_datetime", "datetime"), _NO_TIME_END)
    sort_time = time_column(("datetime", "start_datetime"), _NO_TIME_START)
    bbox_col = table.column("bbox").combine_chunks()
    bbox = np.column_stack(
        [
            np.asarray(bbox_col.field(f).to_numpy(zero_copy_only=False), dtype=np.float64)
            for f in ("xmin", "ymin", "xmax", "ymax")
        ]
    )
    ids = np.asarray(table.column("id").to_pylist(), dtype=object)
    collections = np.asarray(
        table.column("collection").to_pylist() if "collection" in table.column_names else [None] * n, dtype=object
    )
    wkb = table.column("geometry").combine_chunks() if "geometry" in table.column_names else None

    def geometry(rows: npt.NDArray[np.int64]) -> npt.NDArray[np.object_]:
        if wkb is None:
            return np.asarray([shapely.box(*bbox[r]) for r in rows], dtype=object)
        return np.asarray(shapely.from_wkb(wkb.take(pa.array(rows)).to_numpy(zero_copy_only=False)), dtype=object)

    return _Index(ids, collections, bbox, start, end, _rank(ids, sort_time), geometry)
