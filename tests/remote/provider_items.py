"""Provider-shaped STAC items over real files served by a local HTTP server.

The documents recorded from Earth Search (../shared/data/stac_items: a Sentinel-2 L1C item and a Copernicus
DEM item) keep their shape: property names, asset keys, ``eo:bands`` / ``raster:bands``, roles. What changes
is what must describe the real files this test serves instead: ids, datetimes, footprints, ``proj:*`` and
asset hrefs (the Slovenia Sentinel-2 L1C dates and DEM of ../shared/data/real, EPSG:32633).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import rasterio
from odc.geo.geom import box

L1C_DOC = Path("stac_items/earth-search/sentinel-2-l1c/S2B_20EPT_20250731_0_L1C.json")
DEM_DOC = Path("stac_items/earth-search/cop-dem-glo-30/search-post_page1.json")
SLOVENIA = Path("real/slovenia_s2_dem_lulc")


def _grid(path: Path) -> dict[str, Any]:
    with rasterio.open(path) as src:
        footprint = box(*src.bounds, str(src.crs)).to_crs("EPSG:4326")
        return {
            "epsg": src.crs.to_epsg(),
            "shape": [src.height, src.width],
            "transform": list(src.transform)[:6],
            "bbox": list(footprint.boundingbox),
            "geometry": footprint.json,
        }


def _place(doc: dict[str, Any], grid: dict[str, Any]) -> None:
    doc["bbox"], doc["geometry"] = grid["bbox"], grid["geometry"]
    props = doc["properties"]
    props["proj:epsg"] = grid["epsg"]
    props.pop("proj:centroid", None)
    props.pop("grid:code", None)
    props.pop("mgrs:utm_zone", None)


def sentinel2_items(data: Path, base_url: str) -> list[dict[str, Any]]:
    """One Earth Search-shaped L1C item per Slovenia date, its band assets at ``base_url``."""
    template = json.loads((data / L1C_DOC).read_text())
    items = []
    for folder in sorted((data / SLOVENIA).glob("S2_L1C_*")):
        when = (folder / "acquired.txt").read_text().strip()
        doc = copy.deepcopy(template)
        doc["id"] = f"S2A_33TVM_{folder.name[-8:]}_0_L1C"
        doc["properties"]["datetime"] = when
        doc["properties"]["platform"] = "sentinel-2a"
        doc["properties"]["eo:cloud_cover"] = 5
        doc["links"] = []
        _place(doc, _grid(folder / "B04.tif"))
        assets = {}
        for key, asset in template["assets"].items():
            name = (asset.get("eo:bands") or [{}])[0].get("name")
            local = folder / f"{name}.tif"
            if not name or not local.exists():
                continue  # metadata, previews: not served here
            grid = _grid(local)
            served = copy.deepcopy(asset)
            served["href"] = f"{base_url}/{local.relative_to(data).as_posix()}"
            served["type"] = "image/tiff; application=geotiff; profile=cloud-optimized"
            served["proj:shape"], served["proj:transform"] = grid["shape"], grid["transform"]
            for band in served.get("raster:bands", []):
                band["offset"] = 0.0  # 2015 products: no -0.1 offset (that came with processing baseline 04.00)
            assets[key] = served
        doc["assets"] = assets
        items.append(doc)
    return items


def dem_item(data: Path, base_url: str) -> dict[str, Any]:
    """An Earth Search-shaped Copernicus DEM item whose data asset is the Slovenia DEM at ``base_url``."""
    doc = copy.deepcopy(json.loads((data / DEM_DOC).read_text())["features"][0])
    path = data / SLOVENIA / "DEM.tif"
    grid = _grid(path)
    doc["id"] = "Copernicus_DSM_COG_10_N46_00_E014_00_DEM_slovenia"
    doc["links"] = []
    _place(doc, grid)
    props = doc["properties"]
    props["proj:transform"], props["proj:shape"] = grid["transform"], grid["shape"]
    asset = doc["assets"]["data"]
    asset["href"] = f"{base_url}/{path.relative_to(data).as_posix()}"
    asset["proj:transform"], asset["proj:shape"] = grid["transform"], grid["shape"]
    return doc


def collections_of(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Minimal collections for the loader."""
    return [
        {
            "type": "Collection",
            "stac_version": "1.0.0",
            "id": cid,
            "description": f"{cid} (recorded Earth Search shape)",
            "license": "proprietary",
            "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]}, "temporal": {"interval": [[None, None]]}},
            "links": [],
        }
        for cid in sorted({i["collection"] for i in items})
    ]
