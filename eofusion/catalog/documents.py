"""Read STAC documents from a file or URL: an Item, an ItemCollection page, or a JSON list of items."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pystac.utils import make_absolute_href

from eofusion.catalog.stac_api import ApiOptions, make_retry
from eofusion.errors import CatalogError, ItemError


def read_document(source: str | Path, options: ApiOptions | None = None) -> Any:
    """Parsed JSON of a local file or an http(s) URL (bounded retries and timeout for URLs)."""
    text = str(source)
    if text.startswith(("http://", "https://")):
        from pystac_client.exceptions import APIError
        from pystac_client.stac_api_io import StacApiIO

        opts = options or ApiOptions()
        io = StacApiIO(max_retries=make_retry(opts), timeout=opts.timeout_s)
        try:
            body = io.read_text(text)
        except APIError as err:
            raise CatalogError(f"Cannot fetch {text}: {str(err)[:300]}. Check the URL and your network.") from None
    else:
        try:
            body = Path(text).read_text()
        except FileNotFoundError:
            raise ItemError(f"{text} does not exist; give a STAC item JSON file or URL.") from None
    try:
        return json.loads(body)
    except json.JSONDecodeError as err:
        raise ItemError(f"{text} is not JSON ({err}); give a STAC item, ItemCollection or list of items.") from None


def items_in(document: Any, origin: str = "document") -> list[dict[str, Any]]:
    """The item dicts in a parsed document.

    Raises:
        ItemError: The document holds no items (a landing page, a Collection, a collections list); the
            message says what it is and what to give instead.
    """
    if isinstance(document, list):
        items = [d for d in document if isinstance(d, dict) and d.get("type") == "Feature"]
        if len(items) != len(document):
            raise ItemError(f"{origin}: a JSON list, but not every entry is a STAC Item (type 'Feature').")
        return items
    if not isinstance(document, dict):
        raise ItemError(f"{origin} is not a STAC document (expected a JSON object or list).")
    kind = document.get("type")
    if kind == "Feature":
        return [document]
    if kind == "FeatureCollection":
        return [f for f in document.get("features") or [] if isinstance(f, dict)]
    if kind in ("Catalog", "Collection") or "collections" in document:
        what = {"Catalog": "a STAC Catalog / API landing page", "Collection": "a STAC Collection"}.get(
            str(kind), "a list of STAC Collections"
        )
        raise ItemError(
            f"{origin} is {what}, which holds no items itself. Give an item, or search it: "
            f"`eofusion catalog search --catalog URL --collections ID`."
        )
    raise ItemError(f"{origin} has type {kind!r}; expected a STAC Item, ItemCollection or a list of items.")


def read_items(source: str | Path, options: ApiOptions | None = None) -> list[dict[str, Any]]:
    """Item dicts from a file or URL (see :func:`items_in`); relative asset hrefs are made absolute.

    Relative hrefs are resolved against the item's ``self`` link, else against ``source`` itself.
    """
    text = str(source)
    base = text if text.startswith(("http://", "https://")) else str(Path(text).resolve())
    items = items_in(read_document(source, options), origin=text)
    for item in items:
        self_href = next((ln.get("href") for ln in item.get("links") or () if ln.get("rel") == "self"), None)
        for asset in (item.get("assets") or {}).values():
            href = str(asset.get("href", ""))
            if href and "://" not in href and not href.startswith("/"):
                asset["href"] = make_absolute_href(href, self_href or base)
    return items
