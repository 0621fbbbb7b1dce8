"""Factories for cube tests: small seeded COGs on real CRSs, turned into NormalizedItems directly."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine
from odc.geo.geom import box
from rasterio.enums import Resampling

from eofusion.catalog import BandAsset, NormalizedItem
from eofusion.sensors import get_sensor

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"


def write_tif(
    path: Path,
    data: np.ndarray,
    crs: str,
    transform: Affine,
    nodata: float | None,
    *,
    overviews: bool = True,
) -> Path:
    """A tiled GeoTIFF with internal overviews (a COG in all but name); 2-D or [band, y, x] data."""
    arr = data if data.ndim == 3 else data[None]
    profile = {
        "driver": "GTiff",
        "dtype": str(arr.dtype),
        "count": arr.shape[0],
        "height": arr.shape[1],
        "width": arr.shape[2],
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
        "tiled": True,
        "blockxsize": 64,
        "blockysize": 64,
        "compress": "deflate",
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(arr)
        if overviews and min(arr.shape[1:]) >= 8:
            dst.build_overviews([2, 4], Resampling.average)
    return path


def make_item(
    item_id: str,
    sensor: str,
    when: datetime,
    files: Mapping[str, tuple[Path, int]],
    *,
    scale: float = 1.0,
    offset: float = 0.0,
    orbit: str | None = None,
) -> NormalizedItem:
    """A NormalizedItem from band -> (file, band_index), reading grid facts from the files."""
    sens = get_sensor(sensor)
    assets = {}
    bounds = []
    for name, (path, bidx) in files.items():
        band = sens.band(name)
        with rasterio.open(path) as src:
            crs = f"EPSG:{src.crs.to_epsg()}"
            transform = tuple(src.transform)[:6]
            shape = (src.height, src.width)
            nodata = src.nodata
            left, bottom, right, top = src.bounds
            bounds.append(box(left, bottom, right, top, crs).to_crs("EPSG:4326").boundingbox)
        is_mask = band.kind.is_categorical
        assets[band.name] = BandAsset(
            asset_key=name,
            band=band,
            href=str(path),
            dtype=band.dtype,
            nodata=nodata,
            scale=1.0 if is_mask else scale,
            offset=0.0 if is_mask else offset,
            crs=crs,
            transform=transform,  # type: ignore[arg-type]
            shape=shape,
            band_index=bidx,
        )
    bbox = (
        min(b.left for b in bounds),
        min(b.bottom for b in bounds),
        max(b.right for b in bounds),
        max(b.top for b in bounds),
    )
    geometry: dict[str, Any] = box(*bbox, "EPSG:4326").json
    return NormalizedItem(
        id=item_id,
        collection="test",
        sensor=sens,
        datetime=when,
        bbox=bbox,
        geometry=geometry,
        assets=assets,
        orbit_direction=orbit,
    )


S2_BANDS_10 = ("B02", "B03", "B04", "B08")
S2_BANDS_20 = ("B05", "B11")


def s2_truth(seed: int, shape: tuple[int, int], n: int) -> np.ndarray:
    """Smooth seeded reflectances in [0.02, 0.6], shape [n, rows, cols]."""
    rng = np.random.default_rng(seed)
    rows, cols = shape
    yy, xx = np.mgrid[0:rows, 0:cols] / max(rows, cols)
    out = []
    for _ in range(n):
        a, b, c = rng.uniform(0.5, 3.0, 3)
        out.append(0.3 + 0.25 * np.sin(a * 6 * xx + c) * np.cos(b * 6 * yy))
    return np.stack(out).astype(np.float64)


@pytest.fixture
def s2_scene(tmp_path: Path) -> Callable[..., NormalizedItem]:
    """Factory: an S2 L2A item (10 m + 20 m bands, SCL) in EPSG:32631, DN = refl * 1e4 + 1000."""

    def factory(
        item_id: str,
        when: datetime,
        *,
        origin: tuple[float, float] = (600000.0, 5000000.0),
        size: int = 128,
        seed: int = 0,
        cloud_box: tuple[int, int, int, int] | None = None,
        crs: str = "EPSG:32631",
        bands: tuple[str, ...] = S2_BANDS_10 + S2_BANDS_20,
    ) -> NormalizedItem:
        folder = tmp_path / item_id
        folder.mkdir()
        files: dict[str, tuple[Path, int]] = {}
        x0, y0 = origin
        truth = s2_truth(seed, (size, size), len(bands))
        for i, name in enumerate(bands):
            res = 10 if name in S2_BANDS_10 else 20
            n = size * 10 // res
            refl = truth[i] if res == 10 else truth[i].reshape(n, 2, n, 2).mean(axis=(1, 3))
            dn = np.round(refl * 1e4 + 1000).astype(np.uint16)
            files[name] = (write_tif(folder / f"{name}.tif", dn, crs, Affine(res, 0, x0, 0, -res, y0), 0), 1)
        scl = np.full((size // 2, size // 2), 4, dtype=np.uint8)
        if cloud_box is not None:
            r0, r1, c0, c1 = cloud_box
            scl[r0:r1, c0:c1] = 9
        files["SCL"] = (write_tif(folder / "SCL.tif", scl, crs, Affine(20, 0, x0, 0, -20, y0), 0), 1)
        return make_item(item_id, "sentinel-2a", when, files, scale=1e-4, offset=-0.1)

    return factory


def dt(day: int, hour: int = 10, month: int = 6) -> datetime:
    """A UTC datetime in 2024."""
    return datetime(2024, month, day, hour, 30, tzinfo=UTC)
