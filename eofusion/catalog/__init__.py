"""STAC search, item normalisation and catalogs: the only code that talks HTTP."""

from eofusion.catalog.build import BuildResult, build_items
from eofusion.catalog.documents import read_items
from eofusion.catalog.embedded import EmbeddedCatalog
from eofusion.catalog.items import BandAsset, NormalizedItem
from eofusion.catalog.normalize import normalize_item, normalize_items
from eofusion.catalog.providers import detect_sensor
from eofusion.catalog.query import SearchQuery, make_query
from eofusion.catalog.search import CatalogBackend, catalog_file, open_catalog, search
from eofusion.catalog.sources import CatalogSource, list_catalog_sources, load_catalog_source
from eofusion.catalog.stac_api import ApiOptions, StacApiCatalog
from eofusion.catalog.writing import write_catalog, write_geoparquet

__all__ = [
    "ApiOptions",
    "BandAsset",
    "BuildResult",
    "CatalogBackend",
    "CatalogSource",
    "EmbeddedCatalog",
    "NormalizedItem",
    "SearchQuery",
    "StacApiCatalog",
    "build_items",
    "catalog_file",
    "detect_sensor",
    "list_catalog_sources",
    "load_catalog_source",
    "make_query",
    "normalize_item",
    "normalize_items",
    "open_catalog",
    "read_items",
    "search",
    "write_catalog",
    "write_geoparquet",
]
