"""A small seeded world of real COG files and STAC items for catalog tests (two sensors, 24 items).

Each item has its own acquisition time (so result order is unambiguous), a cloud cover, a footprint on a
4 x 3 grid of 1.6 km tiles in UTM 33N (Slovenia), and real single-band COGs written with rasterio.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.transform import from_origin
from rasterio.warp import transform_geom

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
STAC_ITEMS = SHARED_DATA / "stac_items"
REAL_DATA = SHARED_DATA / "real"
CRS = "EPSG:32633"
PIXEL = 50.0
SIZE = 32  # 32 px x 50 m = 1.6 km tiles
ORIGIN = (450000.0, 5110000.0)


def collection_dict(collection_id: str) -> dict[str, Any]:
    """A minimal STAC collection for a loader."""
    return {
        "type": "Collection",
        "stac_version": "1.0.0",
        "id": collection_id,
        "description": f"test collection {collection_id}",
        "license": "CC-BY-4.0",
        "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]}, "temporal": {"interval": [[None, None]]}},
        "links": [],
    }


def _write_cog(path: Path, data: np.ndarray, transform: Any, nodata: float | None) -> None:
    profile = {
        "driver": "COG",
        "width": data.shape[1],
        "height": data.shape[0],
        "count": 1,
        "dtype": str(data.dtype),
        "crs": CRS,
        "transform": transform,
        "nodata": nodata,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)


def make_world(root: Path, seed: int = 0) -> list[dict[str, Any]]:
    """Write the COGs under ``root`` and return the STAC item dicts (hrefs absolute)."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    items: list[dict[str, Any]] = []
    start = datetime(2024, 4, 1, 10, 0, tzinfo=UTC)
    n = 0
    for col in range(4):
        for row in range(3):
            x0, y0 = ORIGIN[0] + col * 2000.0, ORIGIN[1] - row * 2000.0
            transform = from_origin(x0, y0, PIXEL, PIXEL)
            box = {
                "type": "Polygon",
                "coordinates": [[[x0, y0 - SIZE * PIXEL], [x0 + SIZE * PIXEL, y0 - SIZE * PIXEL],
                                 [x0 + SIZE * PIXEL, y0], [x0, y0], [x0, y0 - SIZE * PIXEL]]],
            }  # fmt: skip
            footprint = transform_geom(CRS, "EPSG:4326", box, precision=7)
            lons = [p[0] for p in footprint["coordinates"][0]]
            lats = [p[1] for p in footprint["coordinates"][0]]
            bbox = [min(lons), min(lats), max(lons), max(lats)]
            for sensor in ("s2", "s1"):
                when = start + timedelta(days=7 * n, hours=n)
                n += 1
                name = f"{sensor}_t{col}{row}"
                items.append(
                    _item(root, sensor, name, when=when, transform=transform, footprint=footprint, bbox=bbox, rng=rng)
                )
    return items


def _item(
    root: Path,
    sensor: str,
    name: str,
    *,
    when: datetime,
    transform: Any,
    footprint: dict[str, Any],
    bbox: list[float],
    rng: np.random.Generator,
) -> dict[str, Any]:
    item_id = f"{name}_{when:%Y%m%d}"
    folder = root / item_id
    folder.mkdir(exist_ok=True)
    assets: dict[str, Any] = {}
    if sensor == "s2":
        bands = {"B04": "red", "B08": "nir"}
        for key, common in bands.items():
            path = folder / f"{key}.tif"
            _write_cog(path, rng.integers(1000, 4000, (SIZE, SIZE), dtype=np.uint16), transform, 0)
            assets[key] = _asset(path, "uint16", 0, {"eo:bands": [{"name": key, "common_name": common}]})
        properties = {
            "platform": "sentinel-2b",
            "constellation": "sentinel-2",
            "eo:cloud_cover": float(np.round(rng.uniform(0, 100), 2)),
            "s2:processing_baseline": "05.10",
        }
        collection = "sentinel-2-l2a"
    else:
        for key in ("vv", "vh"):
            path = folder / f"{key}.tif"
            _write_cog(path, rng.gamma(2.0, 0.05, (SIZE, SIZE)).astype(np.float32), transform, None)
            assets[key] = _asset(path, "float32", None, {})
        properties = {
            "platform": "sentinel-1a",
            "constellation": "sentinel-1",
            "sat:orbit_state": "ascending" if rng.random() < 0.5 else "descending",
            "sar:polarizations": ["VV", "VH"],
        }
        collection = "sentinel-1-rtc"
    properties.update(
        {
            "datetime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "proj:code": CRS,
            "proj:shape": [SIZE, SIZE],
            "proj:transform": list(transform)[:6],
        }
    )
    return {
        "type": "Feature",
        "stac_version": "1.1.0",
        "stac_extensions": [],
        "id": item_id,
        "collection": collection,
        "geometry": footprint,
        "bbox": bbox,
        "properties": properties,
        "links": [],
        "assets": assets,
    }


def _asset(path: Path, dtype: str, nodata: float | None, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "href": str(path),
        "type": "image/tiff; application=geotiff; profile=cloud-optimized",
        "roles": ["data"],
        "raster:bands": [{"data_type": dtype, "nodata": nodata}],
        **extra,
    }
