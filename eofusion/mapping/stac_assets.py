"""STAC assets of written files, described from the files themselves (never from what was meant to be written).

Assets are added to their item first (an extension's schema URI goes on the item that owns the asset). Each
raster asset gets the raster extension (data type, nodata, pixel size, unit per band, read back with
rasterio) and the file extension (size and a SHA2-256 multihash of the bytes on disk), so a consumer can
check a download and knows how to read the pixels without opening them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import pystac
import rasterio
from pystac.extensions.classification import Bitfield, Classification, ClassificationExtension
from pystac.extensions.file import FileExtension
from pystac.extensions.raster import DataType, RasterBand, RasterExtension, Sampling

COG_MEDIA_TYPE = pystac.MediaType.COG
SHA2_256_MULTIHASH_PREFIX = "1220"  # multihash: code 0x12 (sha2-256), length 0x20 (32 bytes)
_SIDECAR_MEDIA_TYPES = {
    ".xml": ("application/xml", "GDAL PAM sidecar: class names and raster attribute table"),
    ".qml": ("application/xml", "QGIS layer style: palette with class labels"),
}


def file_checksum(path: Path, chunk: int = 1 << 20) -> str:
    """The file's SHA2-256 as a multihash hex string (what the STAC file extension's ``file:checksum`` holds)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return SHA2_256_MULTIHASH_PREFIX + digest.hexdigest()


def _with_file_facts(asset: pystac.Asset, path: Path) -> pystac.Asset:
    facts = FileExtension.ext(asset, add_if_missing=True)
    facts.size = path.stat().st_size
    facts.checksum = file_checksum(path)
    return asset


def add_raster_asset(
    item: pystac.Item, key: str, path: Path, title: str, *, roles: Sequence[str] = ("data",), unit: str | None = None
) -> pystac.Asset:
    """Add a COG as an asset (href: its file name, for an item written beside it), with raster and file facts."""
    asset = pystac.Asset(path.name, media_type=COG_MEDIA_TYPE, roles=list(roles), title=title)
    item.add_asset(key, asset)
    with rasterio.open(path) as src:
        pixel = abs(src.transform.a)
        bands = [
            RasterBand.create(
                nodata=src.nodata,
                sampling=Sampling.AREA,
                data_type=DataType(dtype),
                spatial_resolution=pixel,
                unit=unit,
            )
            for dtype in src.dtypes
        ]
    RasterExtension.ext(asset, add_if_missing=True).bands = bands
    return _with_file_facts(asset, path)


def add_class_map_asset(
    item: pystac.Item, key: str, path: Path, classes: Sequence[Classification], title: str
) -> pystac.Asset:
    """Add a class-id COG with its classes (classification extension) besides its raster and file facts."""
    asset = add_raster_asset(item, key, path, title)
    ClassificationExtension.ext(asset, add_if_missing=True).classes = list(classes)
    return asset


def add_availability_asset(item: pystac.Item, key: str, path: Path, sensors: Sequence[str]) -> pystac.Asset:
    """Add the per-pixel sensor-availability COG: bit ``i`` set = sensor ``i`` had valid data (a bitfield)."""
    title = "sensors with valid data per pixel (bit i = sensor i)"
    asset = add_raster_asset(item, key, path, title, roles=("data", "metadata"))
    presence = [
        Classification.create(value=0, name="absent", description="no valid data"),
        Classification.create(value=1, name="present", description="valid data"),
    ]
    ClassificationExtension.ext(asset, add_if_missing=True).bitfields = [
        Bitfield.create(offset=i, length=1, classes=presence, name=sensor, description=f"{sensor} had valid data")
        for i, sensor in enumerate(sensors)
    ]
    return asset


def add_sidecar_asset(item: pystac.Item, key: str, path: Path) -> pystac.Asset:
    """Add a map's GIS sidecar (``.aux.xml`` or ``.qml``) as a metadata asset with file facts."""
    media_type, title = _SIDECAR_MEDIA_TYPES.get(path.suffix, ("application/octet-stream", path.name))
    asset = pystac.Asset(path.name, media_type=media_type, roles=["metadata"], title=title)
    item.add_asset(key, asset)
    return _with_file_facts(asset, path)


def add_png_asset(item: pystac.Item, key: str, path: Path, title: str) -> pystac.Asset:
    """Add a preview picture as an overview asset."""
    asset = pystac.Asset(path.name, media_type=pystac.MediaType.PNG, roles=["overview"], title=title)
    item.add_asset(key, asset)
    return _with_file_facts(asset, path)
