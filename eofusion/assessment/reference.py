"""Reference labels for a sample: read from a class raster, from polygons, or from a labelled sample file.

The sample is a GeoDataFrame of points in the map's CRS with columns ``map_class`` (the stratum) and
``reference`` (the reference class; -1 where none is known yet): written as GeoParquet so a person can label
it in QGIS when no reference data exists, and read back for the estimates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from eofusion.errors import ConfigError, InputDataError

UNLABELLED = -1


def sample_frame(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], classes: npt.ArrayLike, crs: Any) -> Any:
    """The sample as a GeoDataFrame (points, map class, reference -1 = not labelled yet)."""
    import geopandas as gpd

    return gpd.GeoDataFrame(
        {"map_class": np.asarray(classes, dtype=np.int64), "reference": np.full(len(x), UNLABELLED, np.int64)},
        geometry=gpd.points_from_xy(x, y),
        crs=crs,
    )


def label_from_raster(sample: Any, path: str | Path) -> Any:
    """Reference classes read at each point from a class raster (any CRS); its nodata stays -1."""
    import rasterio
    from pyproj import Transformer

    with rasterio.open(path) as src:
        if src.crs is None:
            raise InputDataError(f"Reference raster {path} has no CRS; georeference it first.")
        to_ref = Transformer.from_crs(sample.crs, src.crs, always_xy=True)
        xs, ys = to_ref.transform(sample.geometry.x.to_numpy(), sample.geometry.y.to_numpy())
        values = np.array([v[0] for v in src.sample(zip(xs, ys, strict=True), masked=True)], dtype=object)
        inside = np.array([v is not np.ma.masked for v in values])
    labelled = sample.copy()
    labelled["reference"] = np.where(inside, [int(v) if v is not np.ma.masked else UNLABELLED for v in values], -1)
    return labelled


def label_from_polygons(sample: Any, path: str | Path, column: str) -> Any:
    """Reference classes from the polygon each point falls in (``column`` holds the class id)."""
    import geopandas as gpd

    polygons = gpd.read_file(path)
    if column not in polygons.columns:
        raise ConfigError(f"{path} has no column {column!r} (it has {', '.join(map(str, polygons.columns))}).")
    joined = gpd.sjoin(sample, polygons[[column, "geometry"]].to_crs(sample.crs), how="left", predicate="within")
    overlaps = int(joined.index.duplicated(keep="first").sum())
    if overlaps:
        import logging

        logging.getLogger(__name__).warning(
            "%d sample points fall in more than one polygon of %s; each takes the first polygon's class in file "
            "order (give non-overlapping reference polygons, or a reference raster)",
            overlaps,
            path,
        )
    joined = joined[~joined.index.duplicated(keep="first")]
    labelled = sample.copy()
    labelled["reference"] = joined[column].fillna(UNLABELLED).astype(np.int64).to_numpy()
    return labelled


def read_sample(path: str | Path) -> Any:
    """A (labelled) sample GeoParquet written by ``eofusion assess``."""
    import geopandas as gpd

    sample = gpd.read_parquet(path)
    missing = {"map_class", "reference"} - set(sample.columns)
    if missing:
        raise InputDataError(f"{path} is not an assessment sample: it lacks {', '.join(sorted(missing))}.")
    return sample


def count_matrix(sample: Any, class_ids: list[int]) -> tuple[npt.NDArray[np.int64], int]:
    """Sample counts [map, reference] over ``class_ids``, and how many units had no usable reference."""
    index = {c: i for i, c in enumerate(class_ids)}
    counts = np.zeros((len(class_ids), len(class_ids)), dtype=np.int64)
    unusable = 0
    for m, r in zip(sample["map_class"].to_numpy(), sample["reference"].to_numpy(), strict=True):
        if int(r) not in index or int(m) not in index:
            unusable += 1
            continue
        counts[index[int(m)], index[int(r)]] += 1
    return counts, unusable
