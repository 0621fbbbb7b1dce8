"""Reference labels on a cube-nested grid: a class raster warped by nearest neighbour, or polygons rasterised.

Both return class *ids* (the map values) with ``nodata`` where there is no reference; the caller turns ids
into logit indices with its :class:`~eofusion.training.landcover.ClassTable` (unknown ids are ignored).
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from odc.geo.geobox import GeoBox

if TYPE_CHECKING:
    import geopandas as gpd

from eofusion.errors import InputDataError


def resolve_one(pattern: str) -> Path:
    """The one file a path or glob pattern names (a clear error for none or several)."""
    matches = sorted(glob.glob(pattern)) if any(ch in pattern for ch in "*?[") else [pattern]
    if len(matches) != 1 or not os.path.exists(matches[0]):
        found = f"{len(matches)} matches" if len(matches) > 1 else "nothing"
        raise InputDataError(
            f"Label raster {pattern!r}: found {found}; give the path of exactly one class-id GeoTIFF "
            "(for the demo world, run `make demo` first so that demo-output/world exists)."
        )
    return Path(matches[0])


def raster_labels(path: str | os.PathLike[str], geobox: GeoBox, nodata: int = 0) -> npt.NDArray[np.uint8]:
    """Class ids of a raster on ``geobox`` (nearest neighbour: ids are never blended)."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.errors import RasterioIOError
    from rasterio.warp import reproject

    out = np.full(geobox.shape, nodata, dtype=np.uint8)
    try:
        with rasterio.open(path) as src:
            if src.crs is None:
                raise InputDataError(f"Label raster {path} has no CRS; georeference it first.")
            values = src.read(1)
            if values.min() < 0 or values.max() > 255:
                raise InputDataError(
                    f"Label raster {path} holds values outside 0..255 ({values.min()}..{values.max()}); "
                    "class ids must fit in a byte."
                )
            reproject(
                values.astype(np.uint8),
                out,
                src_transform=src.transform,
                src_crs=src.crs,
                src_nodata=src.nodata if src.nodata is not None else nodata,
                dst_transform=geobox.transform,
                dst_crs=str(geobox.crs),
                dst_nodata=nodata,
                resampling=Resampling.nearest,
            )
    except RasterioIOError as err:
        raise InputDataError(f"Label raster {path} cannot be read ({err}).") from None
    if not np.any(out != nodata):
        where = geobox.extent.boundingbox
        raise InputDataError(f"Label raster {path} has no labelled pixel inside the cube ({where}).")
    return out


def _polygons(path: Path, column: str | None, crs: str) -> gpd.GeoDataFrame:
    import geopandas as gpd

    try:
        frame = gpd.read_parquet(path) if path.suffix == ".parquet" else gpd.read_file(path)
    except (OSError, ValueError) as err:
        raise InputDataError(f"Label polygons {path} cannot be read ({err}).") from None
    if column is not None and column not in frame.columns:
        raise InputDataError(f"Label polygons {path} have no column {column!r}; columns: {', '.join(frame.columns)}.")
    if frame.crs is None:
        raise InputDataError(f"Label polygons {path} have no CRS; set one (e.g. GeoDataFrame.set_crs).")
    keep = frame.geometry.notna() & (frame[column].notna() if column else True)
    return frame[keep].to_crs(crs)


def vector_labels(path: str | os.PathLike[str], column: str, geobox: GeoBox, nodata: int = 0) -> npt.NDArray[np.uint8]:
    """Polygons rasterised on ``geobox`` with the class id in ``column`` (pixel centres inside a polygon)."""
    from rasterio.features import rasterize

    frame = _polygons(Path(path), column, str(geobox.crs))
    shapes = ((geom, int(value)) for geom, value in zip(frame.geometry, frame[column], strict=True))
    out = rasterize(shapes, out_shape=geobox.shape, transform=geobox.transform, fill=nodata, dtype="uint8")
    if not np.any(out != nodata):
        raise InputDataError(f"Label polygons {path}: none falls inside the cube ({geobox.extent.boundingbox}).")
    return np.asarray(out, dtype=np.uint8)


def polygon_ids(path: str | os.PathLike[str], geobox: GeoBox) -> npt.NDArray[np.int32]:
    """Which polygon (1-based row number; 0 = none) covers each pixel: for parcel-level votes."""
    from rasterio.features import rasterize

    frame = _polygons(Path(path), None, str(geobox.crs))
    shapes = ((geom, i + 1) for i, geom in enumerate(frame.geometry))
    out = rasterize(shapes, out_shape=geobox.shape, transform=geobox.transform, fill=0, dtype="int32")
    return np.asarray(out, dtype=np.int32)
