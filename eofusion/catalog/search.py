"""One search API over every catalog backend: a STAC API, a stac-geoparquet file, a static catalog.

>>> items = search("demo", collections="sentinel-2-l2a", bbox=(13.3, 45.9, 13.6, 46.1),
...                datetime="2024-04/2024-06", filter="eo:cloud_cover < 30")  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pystac

from eofusion.catalog.embedded import EmbeddedCatalog
from eofusion.catalog.query import SearchQuery, make_query
from eofusion.catalog.sources import CatalogSource, load_catalog_source
from eofusion.catalog.stac_api import ApiOptions, Modifier, StacApiCatalog, signing_modifier

logger = logging.getLogger(__name__)


@runtime_checkable
class CatalogBackend(Protocol):
    """What a catalog must do: answer a :class:`SearchQuery` and list its collections."""

    name: str

    def search(self, query: SearchQuery) -> list[pystac.Item]:
        """Items matching the query, newest first, at most ``query.max_items``."""
        ...

    def collection_ids(self) -> list[str]:
        """The collection ids the catalog holds."""
        ...


CatalogLike = CatalogBackend | CatalogSource | str | Path


def open_catalog(
    source: CatalogLike,
    *,
    options: ApiOptions | None = None,
    modifier: Modifier | None = None,
) -> CatalogBackend:
    """A backend for a URL, a ``.parquet`` / static catalog path, a catalog source, or a source name.

    Args:
        source: ``https://...`` (STAC API), a path, a :class:`CatalogSource`, or a source name (``demo``).
        options: Request options for STAC APIs (a source's own ``request`` section otherwise).
        modifier: Item signer for STAC APIs (a source's ``signing`` otherwise).
    """
    if isinstance(source, CatalogBackend) and not isinstance(source, (str, Path)):
        return source
    if isinstance(source, CatalogSource):
        if source.kind == "embedded":
            return EmbeddedCatalog.open(source.endpoint)
        return StacApiCatalog(
            source.endpoint,
            options=options or source.request,
            modifier=modifier or signing_modifier(source.signing),
        )
    text = str(source)
    if text.startswith(("http://", "https://")):
        return StacApiCatalog(text, options=options, modifier=modifier)
    path = Path(text)
    if path.suffix.lower() in (".yaml", ".yml") or (not path.exists() and "/" not in text and "." not in text):
        return open_catalog(load_catalog_source(text), options=options, modifier=modifier)
    return EmbeddedCatalog.open(path)


CATALOG_FILE_SUFFIXES = (".parquet", ".geoparquet", ".pq", ".json", ".yaml", ".yml")


def catalog_file(source: str) -> Path | None:
    """The local file or folder a catalog source names, or None for a STAC API URL or a named source.

    A path is anything that is not a URL and has a folder separator or a catalog file suffix (GeoParquet, STAC
    JSON, a source definition YAML); a bare word such as ``planetary-computer`` names a source in ``catalogs/``.
    Job and training specs resolve such paths against the spec's folder.
    """
    if "://" in source:
        return None
    if "/" in source or os.sep in source or Path(source).suffix.lower() in CATALOG_FILE_SUFFIXES:
        return Path(source)
    return None


_PYSTAC_LOCK = threading.Lock()


@functools.cache
def _register_pystac_extensions() -> None:
    """Let pystac discover its extension hooks once, under a lock, before items are parsed in threads.

    pystac registers the hooks lazily on the first item it parses, and that first registration is not
    thread-safe (a second thread iterates the registry while the first adds to it: "dictionary changed size
    during iteration"). Two tiles of one Dask worker search at the same time, so the first parse is done here.
    """
    with _PYSTAC_LOCK:
        minimal: dict[str, Any] = {"type": "Feature", "stac_version": "1.1.0", "id": "warm-up", "geometry": None,
                   "properties": {"datetime": "2000-01-01T00:00:00Z"}, "links": [], "assets": {}}  # fmt: skip
        pystac.Item.from_dict(minimal)


def search(
    source: CatalogLike,
    *,
    collections: str | Iterable[str] | None = None,
    bbox: str | Sequence[float] | None = None,
    intersects: Any = None,
    datetime: Any = None,
    filter: str | Mapping[str, Any] | None = None,
    max_items: int | None = None,
) -> list[pystac.Item]:
    """Search a catalog; the same arguments mean the same thing for every backend.

    Args:
        source: See :func:`open_catalog`.
        collections: Collection id(s); ``"a,b"`` or a list.
        bbox: west, south, east, north in EPSG:4326 (items whose geometry intersects it).
        intersects: A GeoJSON geometry or shapely geometry in EPSG:4326 (instead of bbox).
        datetime: A datetime, ``"2024-04"``, ``"2024-04-01/2024-06-30"`` or (start, end); ``..`` is open.
        filter: CQL2 text (``"eo:cloud_cover < 30"``) or CQL2-JSON.
        max_items: At most this many items, newest first.

    Raises:
        InvalidQueryError: A malformed argument or an unknown collection.
        CatalogError: The catalog cannot be read or the API keeps failing (after bounded retries).
    """
    query = make_query(
        collections=collections, bbox=bbox, intersects=intersects, datetime=datetime, filter=filter, max_items=max_items
    )
    _register_pystac_extensions()
    backend = open_catalog(source)
    items = backend.search(query)
    if not items:
        logger.info("No items in %s match %s", backend.name, query.describe())
    return items
