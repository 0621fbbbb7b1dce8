"""Catalog test fixtures: a seeded world of COGs + items, the embedded catalogs over it, and a real STAC API."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# The helper modules beside this file are imported by name, whatever pytest's --import-mode.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from catalog_server import missing_requirements, pgstac_api
from catalogfactory import REAL_DATA, STAC_ITEMS, collection_dict, make_world

from eofusion.catalog import EmbeddedCatalog, make_query, write_geoparquet


@pytest.fixture(scope="session")
def stac_items_dir(require) -> Path:  # type: ignore[no-untyped-def]
    """../shared/data/stac_items: recorded Planetary Computer and Earth Search responses."""
    require(STAC_ITEMS.is_dir(), f"{STAC_ITEMS} is not there")
    return STAC_ITEMS


@pytest.fixture(scope="session")
def real_data_dir(require) -> Path:  # type: ignore[no-untyped-def]
    """../shared/data/real: real GeoTIFFs."""
    require(REAL_DATA.is_dir(), f"{REAL_DATA} is not there")
    return REAL_DATA


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """24 seeded items (12 Sentinel-2, 12 Sentinel-1) with real COGs on disk."""
    return make_world(tmp_path_factory.mktemp("world"))


@pytest.fixture(scope="session")
def world_parquet(world: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The world as a stac-geoparquet file."""
    return write_geoparquet(world, tmp_path_factory.mktemp("parquet") / "catalog.parquet")


@pytest.fixture(scope="session")
def demo_items(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The items of a small demo world rendered by eofusion.simulate (S2, S1, aerial, DSM/DTM, land cover)."""
    from eofusion.simulate import WorldConfig, simulate_world

    config = WorldConfig(seed=0, size_m=480.0, aerial_resolution_m=2.0, dsm_resolution_m=4.0)
    world = simulate_world(config, tmp_path_factory.mktemp("demo") / "world")
    # The static catalog's items, hrefs made absolute (the server cannot resolve relative ones).
    return EmbeddedCatalog.open(world.catalog_path).search_dicts(make_query())


@pytest.fixture(scope="session")
def api_items(world: list[dict[str, Any]], demo_items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the STAC API serves: the seeded test world plus the demo world."""
    return [*world, *demo_items]


@pytest.fixture(scope="session")
def api_items_parquet(api_items: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same items as the STAC API, as a stac-geoparquet file for the embedded catalog."""
    return write_geoparquet(api_items, tmp_path_factory.mktemp("api_parquet") / "catalog.parquet")


@pytest.fixture(scope="session")
def stac_api_url(api_items: list[dict[str, Any]], require) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A real stac-fastapi-pgstac server on 127.0.0.1 loaded with ``api_items``; stopped after the session."""
    reason = missing_requirements()
    require(reason is None, f"cannot start the STAC API server: {reason}")
    collections = [collection_dict(c) for c in sorted({i["collection"] for i in api_items})]
    with pgstac_api(collections, api_items) as url:
        yield url
