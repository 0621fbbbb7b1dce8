"""Whatever a user holds of STAC items, as eofusion's :class:`NormalizedItem` list.

Accepted: NormalizedItems (kept as they are), pystac Items, item dicts, a pystac ItemCollection, a GeoJSON
FeatureCollection dict, or a pystac-client ItemSearch (its ``items()`` are fetched). Entry points that take
items (:func:`eofusion.load`, :func:`eofusion.build_cube`) call :func:`as_normalized_items` once, so the rest of
the pipeline sees one type.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pystac

from eofusion.catalog.items import NormalizedItem
from eofusion.catalog.normalize import OnError, normalize_item
from eofusion.errors import ConfigError

ItemLike = NormalizedItem | pystac.Item | Mapping[str, Any]
ItemsLike = Iterable[ItemLike] | pystac.ItemCollection | Mapping[str, Any] | Any


def _members(items: ItemsLike) -> Iterable[Any]:
    if isinstance(items, NormalizedItem | pystac.Item):
        return [items]
    if isinstance(items, Mapping):
        if items.get("type") == "FeatureCollection":
            return list(items.get("features", []))
        return [items]
    if callable(getattr(items, "items", None)) and not isinstance(items, Iterable):  # pystac-client ItemSearch
        return list(items.items())
    if isinstance(items, Iterable) and not isinstance(items, str | bytes):
        return items
    raise ConfigError(
        f"Cannot read STAC items from a {type(items).__name__}; give pystac Items, an ItemCollection, item dicts, "
        "a pystac-client search or eofusion.search() results."
    )


def as_normalized_items(items: ItemsLike, *, on_error: OnError = "raise") -> list[NormalizedItem]:
    """``items`` (see the module docstring) -> NormalizedItems, in order.

    Args:
        items: STAC items in any of the accepted forms.
        on_error: ``"skip"`` leaves out (with a warning) items eofusion cannot understand.

    Raises:
        ConfigError: ``items`` is not a collection of STAC items.
        InputDataError: An item's sensor or bands cannot be understood (with ``on_error="raise"``).
    """
    out: list[NormalizedItem] = []
    for item in _members(items):
        if isinstance(item, NormalizedItem):
            out.append(item)
            continue
        if not isinstance(item, pystac.Item | Mapping):
            raise ConfigError(f"{type(item).__name__} is not a STAC item; give pystac Items or item dicts.")
        normalized = normalize_item(item, on_error=on_error)
        if normalized is not None:
            out.append(normalized)
    return out
