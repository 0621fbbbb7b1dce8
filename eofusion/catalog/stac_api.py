"""Search any STAC API through pystac-client, with bounded retries, timeouts and optional signing.

pystac-client's plain ``max_retries`` count retries neither 5xx answers nor POST searches, so the session
gets a urllib3 ``Retry`` with a status list and ``allowed_methods=None`` (every verb). A ``Retry-After``
header is honoured but capped, so a search always fails in bounded time.

Answers that arrive but are not what a STAC API must send are failures too, with the URL in the message:
a body that is not JSON (a proxy's error page, a cut connection) is retried like a 503 (tenacity, same
count and backoff), a document that is JSON but not valid STAC (an item without geometry or id) is not
(the server will send it again).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pystac
from urllib3.util.retry import Retry

from eofusion.catalog.query import SearchQuery
from eofusion.errors import CatalogError, InvalidQueryError

logger = logging.getLogger(__name__)

RETRY_STATUSES = (429, 500, 502, 503, 504)
Modifier = Callable[[Any], None]  # signs items/collections in place (e.g. planetary_computer.sign_inplace)


@dataclass(frozen=True)
class ApiOptions:
    """How patient to be with a STAC API.

    Attributes:
        timeout_s: Connect and read timeout of each request.
        max_retries: Retries per request on connection errors and on the statuses in ``RETRY_STATUSES``.
        backoff_factor: urllib3 exponential backoff factor (sleep = factor * 2 ** (retry - 1), capped).
        backoff_max_s: Longest sleep between retries, also the cap on a server's ``Retry-After``.
        page_size: Items per page (the API's ``limit``).
    """

    timeout_s: float = 30.0
    max_retries: int = 4
    backoff_factor: float = 0.5
    backoff_max_s: float = 10.0
    page_size: int = 100


class _CappedRetry(Retry):
    """A Retry whose ``Retry-After`` wait is capped at ``backoff_max`` (a server cannot stall us for hours)."""

    def get_retry_after(self, response: Any) -> float | None:
        value = super().get_retry_after(response)
        return None if value is None else min(value, float(self.backoff_max))


def make_retry(options: ApiOptions) -> Retry:
    """The urllib3 Retry used for every request (POST searches included)."""
    return _CappedRetry(
        total=options.max_retries,
        connect=options.max_retries,
        read=options.max_retries,
        status=options.max_retries,
        backoff_factor=options.backoff_factor,
        backoff_max=options.backoff_max_s,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=None,
        raise_on_status=True,
    )


def signing_modifier(name: str) -> Modifier | None:
    """The item modifier of a signing scheme (``"none"`` or ``"planetary-computer"``), imported lazily."""
    if name in ("", "none"):
        return None
    if name == "planetary-computer":
        try:
            import planetary_computer
        except ImportError:
            raise CatalogError(
                "Signing 'planetary-computer' needs eofusion's planetary-computer extra: "
                "`pip install 'eofusion[planetary-computer]'` (or set `signing: none`: unsigned hrefs cannot be read)."
            ) from None
        return planetary_computer.sign_inplace  # type: ignore[no-any-return]
    raise CatalogError(f"Unknown signing scheme {name!r}; use 'none' or 'planetary-computer'.")


class StacApiCatalog:
    """A STAC API endpoint searched with pystac-client.

    Args:
        url: The API's landing page.
        options: Timeouts, retries and paging.
        modifier: Signs items in place after they arrive (e.g. ``planetary_computer.sign_inplace``).
        headers: Extra request headers (e.g. an API key).
    """

    def __init__(
        self,
        url: str,
        options: ApiOptions | None = None,
        modifier: Modifier | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.name = url
        self.url = url
        self.options = options or ApiOptions()
        self._modifier = modifier
        self._headers = headers
        self._client: Any = None

    def __repr__(self) -> str:
        return f"StacApiCatalog({self.url!r})"

    def _open(self) -> Any:
        if self._client is None:
            from pystac_client import Client
            from pystac_client.stac_api_io import StacApiIO

            io = StacApiIO(max_retries=make_retry(self.options), timeout=self.options.timeout_s)
            self._client = self._call(
                lambda: Client.open(
                    self.url,
                    headers=self._headers,
                    modifier=self._modifier,
                    stac_io=io,
                    timeout=self.options.timeout_s,
                ),
                "open",
            )
        return self._client

    def collection_ids(self) -> list[str]:
        """Collection ids the API lists."""
        client = self._open()
        return sorted(c.id for c in self._call(lambda: list(client.get_collections()), "list collections"))

    def search(self, query: SearchQuery) -> list[pystac.Item]:
        """Items matching ``query`` (POST search, every page up to ``max_items``)."""
        client = self._open()
        kwargs: dict[str, Any] = {
            "collections": list(query.collections) or None,
            "bbox": list(query.bbox) if query.bbox else None,
            "intersects": dict(query.intersects) if query.intersects else None,
            "datetime": query.datetime_param(),
            "max_items": query.max_items,
            "limit": self.options.page_size,
            "method": "POST",
        }
        if query.filter is not None:
            kwargs.update(filter=dict(query.filter), filter_lang="cql2-json")
        logger.info("Searching %s: %s", self.url, query.describe())
        items = self._call(lambda: list(client.search(**kwargs).items()), f"search ({query.describe()})")
        if not items and query.collections:
            self._check_collections(query)
        return items

    def _check_collections(self, query: SearchQuery) -> None:
        known = set(self.collection_ids())
        unknown = [c for c in query.collections if c not in known]
        if unknown:
            raise InvalidQueryError(
                f"Collection(s) {', '.join(unknown)} not offered by {self.url}; it has: "
                f"{', '.join(sorted(known)) or 'no collections'}."
            )

    def _call(self, action: Callable[[], Any], what: str) -> Any:
        from pystac_client.exceptions import APIError
        from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

        retrying = Retrying(
            retry=retry_if_exception_type(json.JSONDecodeError),
            stop=stop_after_attempt(self.options.max_retries + 1),
            wait=wait_exponential(multiplier=self.options.backoff_factor, max=self.options.backoff_max_s),
            reraise=True,
        )
        try:
            return retrying(action)
        except json.JSONDecodeError as err:
            raise CatalogError(
                f"STAC API {self.url} answered to {what} with a body that is not JSON, "
                f"{self.options.max_retries + 1} times ({err}). Check that the URL is a STAC API (not a login or "
                "proxy page) and retry later."
            ) from None
        except (pystac.STACError, pystac.STACTypeError, KeyError, TypeError) as err:
            raise CatalogError(
                f"STAC API {self.url} sent an invalid STAC document to {what}: {type(err).__name__}: "
                f"{_short(err)}. The server's data is broken; report it to its operator or query another source."
            ) from None
        except APIError as err:
            raise CatalogError(
                f"STAC API {self.url} failed to {what} after up to {self.options.max_retries} retries "
                f"(timeout {self.options.timeout_s:g} s): {_short(err)}. Check the URL and your network, "
                "retry later, or raise max_retries / timeout_s in the catalog source's `request` section."
            ) from None
        except NotImplementedError as err:  # pystac-client: the API lacks a conformance class we need
            raise CatalogError(f"STAC API {self.url} cannot {what}: {err}") from None


def _short(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text if len(text) < 300 else text[:297] + "..."
