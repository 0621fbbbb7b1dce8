"""STAC API failures: bounded retries (GET and POST), bounded time, a clear CatalogError."""

from __future__ import annotations

import json
import time

import pytest
from catalog_server import FailingServer, free_port

from eofusion.catalog import ApiOptions, StacApiCatalog, make_query, search
from eofusion.catalog.documents import read_items
from eofusion.errors import CatalogError

FAST = ApiOptions(timeout_s=5.0, max_retries=2, backoff_factor=0.05, backoff_max_s=0.2)


def test_5xx_on_open_fails_after_bounded_retries() -> None:
    with FailingServer(503) as server:
        started = time.monotonic()
        with pytest.raises(CatalogError, match=r"failed to open after up to 2 retries.*(503|too many)"):
            StacApiCatalog(server.url, options=FAST).search(make_query())
        assert time.monotonic() - started < 10
    assert len(server.requests) == 3  # the first try + 2 retries


def test_post_search_is_retried_on_503() -> None:
    with FailingServer(503, landing=True) as server:
        started = time.monotonic()
        with pytest.raises(CatalogError, match=r"search .*collections=s2"):
            StacApiCatalog(server.url, options=FAST).search(make_query(collections="s2", bbox=[13, 45, 14, 46]))
        assert time.monotonic() - started < 10
    assert server.requests == ["POST /search"] * 3


def test_429_is_retried_too() -> None:
    with FailingServer(429, landing=True) as server, pytest.raises(CatalogError):
        StacApiCatalog(server.url, options=FAST).search(make_query())
    assert len(server.requests) == 3


def test_hanging_server_times_out_and_is_retried() -> None:
    options = ApiOptions(timeout_s=0.3, max_retries=1, backoff_factor=0.05, backoff_max_s=0.1)
    with FailingServer(200, landing=True, delay_s=1.5) as server:
        started = time.monotonic()
        with pytest.raises(CatalogError, match=r"timeout 0\.3 s"):
            StacApiCatalog(server.url, options=options).search(make_query())
        assert time.monotonic() - started < 5
    assert server.requests == ["POST /search"] * 2  # a read timeout on a POST is retried too


def test_an_answer_that_is_not_json_is_retried_then_named() -> None:
    with FailingServer(200, landing=True, body=b"<html>proxy login</html>") as server:
        expected = rf"{server.url} answered to search .* not JSON, 3 times"
        with pytest.raises(CatalogError, match=expected):
            StacApiCatalog(server.url, options=FAST).search(make_query())
    assert server.requests == ["POST /search"] * 3  # the first try + 2 retries


def test_an_invalid_item_is_a_catalog_error_naming_the_api() -> None:
    broken = {"type": "FeatureCollection", "features": [{"type": "Feature", "stac_version": "1.0.0"}], "links": []}
    with FailingServer(200, landing=True, body=json.dumps(broken).encode()) as server:
        expected = rf"{server.url} sent an invalid STAC document to search"
        with pytest.raises(CatalogError, match=expected):
            StacApiCatalog(server.url, options=FAST).search(make_query())
    assert server.requests == ["POST /search"]  # not retried: the server would send it again


def test_refused_connection_fails_in_bounded_time() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()
    with pytest.raises(CatalogError, match=r"127\.0\.0\.1.*Check the URL"):
        StacApiCatalog(url, options=FAST).search(make_query())
    assert time.monotonic() - started < 10


def test_search_front_door_with_url_and_read_items_from_url() -> None:
    with FailingServer(502) as server:
        with pytest.raises(CatalogError):
            search(StacApiCatalog(server.url, options=FAST), collections="x")
        with pytest.raises(CatalogError, match="Cannot fetch"):
            read_items(f"{server.url}/item.json", options=FAST)
