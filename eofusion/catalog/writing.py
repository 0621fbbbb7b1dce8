"""Writing catalogs: stac-geoparquet files and static catalogs, atomically (never half-written)."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pystac

from eofusion.errors import CatalogError, OutputLocationError


def write_geoparquet(items: Sequence[pystac.Item | Mapping[str, Any]], path: str | Path) -> Path:
    """Write items as a stac-geoparquet file, atomically (temporary file in the same directory, then rename)."""
    from stac_geoparquet.arrow import parse_stac_items_to_arrow, to_parquet

    path = Path(path)
    if not items:
        raise CatalogError(f"No items to write to {path}; nothing was written.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputLocationError(f"Cannot create {path.parent} for the catalog ({err}).") from None
    dicts = [i.to_dict(transform_hrefs=False) if isinstance(i, pystac.Item) else dict(i) for i in items]
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        to_parquet(parse_stac_items_to_arrow(dicts), tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


_SAFE_ID = re.compile(r"[A-Za-z0-9._-]+")


def write_catalog(
    items: Sequence[pystac.Item], out_dir: str | Path, *, title: str = "Local files", overwrite: bool = False
) -> tuple[Path, Path]:
    """Write items as a static catalog plus ``catalog.parquet`` (stac-geoparquet) into ``out_dir``.

    The catalog is written to a temporary sibling directory first and moved into place at the end, so a
    failure never leaves a half-written catalog. Asset hrefs stay absolute (the files are not copied).

    Returns:
        (path of catalog.json, path of catalog.parquet).
    """
    out = Path(out_dir)
    unsafe = [i.id for i in items if not _SAFE_ID.fullmatch(i.id) or i.id.startswith(".")]
    if unsafe:  # pystac names folders and files after ids: ".." or "a/b" would write outside out_dir
        raise CatalogError(
            f"Item id(s) {unsafe[:5]} cannot be file names (allowed: letters, digits, '.', '_', '-', not starting "
            "with '.'); rename the items."
        )
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise OutputLocationError(f"{out} exists and is not empty; choose another --out or pass --overwrite.")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        # No dot in the name: pystac would take a dotted directory for a file and write next to it.
        tmp = Path(tempfile.mkdtemp(prefix=f"{out.name}-partial-", dir=out.parent))
    except OSError as err:
        raise OutputLocationError(f"Cannot write a catalog next to {out} ({err}).") from None
    try:
        catalog = pystac.Catalog(id=out.name or "catalog", description=title, title=title)
        copies = [item.clone() for item in items]
        catalog.add_items(copies)
        catalog.normalize_hrefs(str(tmp))
        catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
        write_geoparquet([_with_relative_self_link(c, tmp) for c in copies], tmp / "catalog.parquet")
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return out / "catalog.json", out / "catalog.parquet"


def _with_relative_self_link(item: pystac.Item, folder: Path) -> dict[str, Any]:
    """The item as a geoparquet row whose only link is its JSON document, relative to the parquet's folder."""
    row = item.to_dict(include_self_link=False, transform_hrefs=False)
    row["links"] = [{"rel": "self", "href": os.path.relpath(str(item.get_self_href()), folder)}]
    return row
