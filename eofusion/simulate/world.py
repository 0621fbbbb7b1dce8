"""The public face of a rendered world: :func:`simulate_world`, :func:`load_world` and :class:`DemoWorld`."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pystac
from affine import Affine
from odc.geo.geobox import GeoBox

from eofusion.errors import InputDataError, UnknownBandError
from eofusion.simulate.build import CATALOG_DIR, FEATURES, GEOPARQUET, MANIFEST, PARCELS, plan_world
from eofusion.simulate.classes import (
    CROP_NODATA,
    CROP_TYPES,
    LANDCOVER_CLASSES,
    LANDCOVER_NODATA,
    CropType,
    LandCoverClass,
)
from eofusion.simulate.config import WorldConfig
from eofusion.simulate.grids import FeatureRasteriser, world_grids
from eofusion.simulate.products import COLLECTIONS, landcover_item_id
from eofusion.simulate.render_landsat import LANDSAT_BANDS, LandsatRenderer
from eofusion.simulate.render_s2 import BAND_RES, S2_BANDS, S2Renderer
from eofusion.simulate.surface import FeatureTable

GridLike = GeoBox | tuple[Any, Any, tuple[int, int]]
ProgressCallback = Callable[[str, int, int], None]


def as_geobox(grid: GridLike) -> GeoBox:
    """A GeoBox from a GeoBox or a ``(crs, transform, (rows, cols))`` tuple."""
    if isinstance(grid, GeoBox):
        return grid
    crs, transform, shape = grid
    if not isinstance(transform, Affine):
        transform = Affine(*list(transform)[:6])
    return GeoBox((int(shape[0]), int(shape[1])), transform, str(crs))


@dataclass(frozen=True)
class DemoWorld:
    """A rendered world on disk: where everything is, its grids and dates, and its ground truth.

    Attributes:
        root: The world's directory.
        config: The configuration it was rendered from.
        catalog_path: Static STAC catalog (``catalog/catalog.json``; self-contained, relative hrefs).
        geoparquet_path: The same items as stac-geoparquet; asset hrefs are relative to this file's folder.
        landcover_path: Land-cover truth COG (Lambert-93, uint8, 0 = nodata).
        parcels_path: Crop parcels GeoParquet (``parcel_id``, ``crop_id``, ``crop_name``, ``class_id``).
        features_path: Every vector feature of the world (z-ordered), GeoParquet.
        grids: ``s2_10m``, ``s2_20m``, ``s2_60m``, ``s1``, ``landsat`` (30 m), ``aerial``, ``naip`` (UTM),
            ``dsm``, ``landcover`` GeoBoxes (``landsat``/``naip`` hold files only if the config renders them).
    """

    root: Path
    config: WorldConfig
    catalog_path: Path
    geoparquet_path: Path
    landcover_path: Path
    parcels_path: Path
    features_path: Path
    grids: dict[str, GeoBox]

    classes: tuple[LandCoverClass, ...] = LANDCOVER_CLASSES
    crop_types: tuple[CropType, ...] = CROP_TYPES

    @property
    def s2_dates(self) -> tuple[date, ...]:
        return tuple(sorted(self.config.s2_dates))

    @property
    def s1_acquisitions(self) -> tuple[tuple[date, str], ...]:
        """(date, orbit state) per Sentinel-1 pass."""
        return self.config.s1_acquisitions

    @property
    def aerial_date(self) -> date:
        return self.config.aerial_date

    @property
    def class_names(self) -> dict[int, str]:
        return {c.id: c.name for c in self.classes}

    @property
    def class_colours(self) -> dict[int, str]:
        return {c.id: c.colour for c in self.classes}

    # ------------------------------------------------------------------ vectors and truth
    @cached_property
    def features(self) -> gpd.GeoDataFrame:
        """Every feature of the world, z-ordered, in the world CRS."""
        return gpd.read_parquet(self.features_path)

    def parcels(self) -> gpd.GeoDataFrame:
        """Crop parcels (world CRS)."""
        return gpd.read_parquet(self.parcels_path)

    @cached_property
    def _rasteriser(self) -> FeatureRasteriser:
        return FeatureRasteriser(self.features)

    @cached_property
    def _table(self) -> FeatureTable:
        return FeatureTable.from_features(self.features)

    def rasterize_landcover(self, grid: GridLike, supersample: int = 1) -> npt.NDArray[np.uint8]:
        """Ground-truth land cover on any grid (vectors reprojected to its CRS, pixel-centre rule).

        Args:
            grid: A GeoBox or ``(crs, transform, (rows, cols))``.
            supersample: >1 labels each pixel with the majority class of ``supersample``^2 sub-pixels
                (fairer on coarse grids, where a pixel-centre label ignores mixtures).

        Returns:
            uint8 class ids, 0 where the world has no content.
        """
        return self._rasterize(as_geobox(grid), self._table.class_id, LANDCOVER_NODATA, supersample)

    def rasterize_crops(self, grid: GridLike, supersample: int = 1) -> npt.NDArray[np.uint8]:
        """Crop-type ids (see :data:`CROP_TYPES`) on any grid; 0 outside crop parcels."""
        return self._rasterize(as_geobox(grid), self._table.crop_id, CROP_NODATA, supersample)

    def _rasterize(self, gbox: GeoBox, lut: npt.NDArray[np.uint8], nodata: int, k: int) -> npt.NDArray[np.uint8]:
        if k <= 1:
            fid = self._rasteriser.fid(gbox)
            return np.where(fid < 0, nodata, lut[np.maximum(fid, 0)]).astype(np.uint8)
        a = gbox.affine
        fine = GeoBox((gbox.shape[0] * k, gbox.shape[1] * k), a @ Affine.scale(1 / k), gbox.crs)
        labels = self._rasterize(fine, lut, nodata, 1)
        blocks = labels.reshape(gbox.shape[0], k, gbox.shape[1], k).transpose(0, 2, 1, 3).reshape(*gbox.shape, k * k)
        counts = np.stack([(blocks == v).sum(axis=-1) for v in range(int(lut.max()) + 1)])
        return counts.argmax(axis=0).astype(np.uint8)

    # ------------------------------------------------------------------ sensor truth
    @cached_property
    def _s2(self) -> S2Renderer:
        return S2Renderer(self.config, self._table, self._rasteriser)

    def s2_reflectance(self, band: str, day: date) -> npt.NDArray[np.float32]:
        """Noise-free Sentinel-2 surface reflectance of ``band`` on ``day``, on its native grid.

        It is what the band's COG encodes (clouds and shadows included on cloudy dates): the file's
        ``DN * 1e-4 - 0.1`` equals it to within 0.5e-4.

        Raises:
            UnknownBandError: ``band`` is not one of the rendered bands; KeyError for a date not simulated.
        """
        name = band.upper()
        if name not in S2_BANDS:
            raise UnknownBandError(f"The demo world renders Sentinel-2 bands {', '.join(S2_BANDS)}; not {band!r}.")
        acq = self._s2.acquisition(day)
        gbox = self.grids[f"s2_{BAND_RES[name]}m"]
        out = np.empty(gbox.shape, dtype=np.float32)
        k = 60 // BAND_RES[name]
        for win60 in self._s2.windows():
            a = win60.affine
            r0 = round((a.f - gbox.affine.f) / gbox.affine.e)
            c0 = round((a.c - gbox.affine.c) / gbox.affine.a)
            part = self._s2.render(acq, win60).reflectance[name]
            out[r0 : r0 + win60.shape[0] * k, c0 : c0 + win60.shape[1] * k] = part
        return out

    @cached_property
    def _landsat(self) -> LandsatRenderer:
        return LandsatRenderer(self.config, self._table, self._rasteriser)

    def landsat_reflectance(self, band: str, day: date) -> npt.NDArray[np.float32]:
        """Noise-free Landsat surface reflectance of ``band`` (``B1``..``B7``) on ``day``, on the 30 m grid.

        It is what the band's COG encodes (clouds and shadows included on cloudy dates): the file's
        ``DN * 2.75e-5 - 0.2`` equals it to within 1.4e-5.

        Raises:
            UnknownBandError: ``band`` is not a rendered band; KeyError for a date without a Landsat pass.
        """
        name = band.upper()
        if name not in LANDSAT_BANDS:
            raise UnknownBandError(f"The demo world renders Landsat bands {', '.join(LANDSAT_BANDS)}; not {band!r}.")
        acq = self._landsat.acquisition(day)
        gbox = self.grids["landsat"]
        out = np.empty(gbox.shape, dtype=np.float32)
        for win60 in self._landsat.windows():
            part = self._landsat.render(acq, win60).reflectance[name]
            r0 = round((win60.affine.f - gbox.affine.f) / gbox.affine.e)
            c0 = round((win60.affine.c - gbox.affine.c) / gbox.affine.a)
            out[r0 : r0 + part.shape[0], c0 : c0 + part.shape[1]] = part
        return out

    # ------------------------------------------------------------------ catalogs
    def stac_items(self, collection: str | None = None) -> list[pystac.Item]:
        """Items of the static catalog (asset hrefs absolute), optionally of one collection."""
        catalog = pystac.Catalog.from_file(str(self.catalog_path))
        items = []
        for item in catalog.get_items(recursive=True):
            if collection is None or item.collection_id == collection:
                item.make_asset_hrefs_absolute()
                items.append(item)
        return sorted(items, key=lambda i: (i.collection_id or "", i.datetime or 0, i.id))  # type: ignore[arg-type]


def _world_at(root: Path, config: WorldConfig) -> DemoWorld:
    return DemoWorld(
        root=root,
        config=config,
        catalog_path=root / CATALOG_DIR / "catalog.json",
        geoparquet_path=root / GEOPARQUET,
        landcover_path=root / CATALOG_DIR / COLLECTIONS["landcover"] / landcover_item_id(config) / "landcover.tif",
        parcels_path=root / PARCELS,
        features_path=root / FEATURES,
        grids=world_grids(config),
    )


def load_world(out_dir: str | os.PathLike[str]) -> DemoWorld:
    """Open a world written by :func:`simulate_world`.

    Raises:
        InputDataError: ``out_dir`` holds no finished world (no ``world.json``); run ``eofusion simulate``.
    """
    root = Path(out_dir).absolute()
    manifest = root / MANIFEST
    if not manifest.is_file():
        raise InputDataError(
            f"{root} holds no demo world ({MANIFEST} is missing); create one with `eofusion simulate --out {root}`."
        )
    data = json.loads(manifest.read_text())
    return _world_at(root, WorldConfig.from_dict(data["config"]))


def simulate_world(
    config: WorldConfig,
    out_dir: str | os.PathLike[str],
    on_progress: ProgressCallback | None = None,
    overwrite: bool = False,
) -> DemoWorld:
    """Render ``config``'s world into ``out_dir`` (idempotent: a finished identical world is kept as is).

    Args:
        config: The world to render.
        out_dir: Directory of the world; created; written atomically (temporary sibling, then rename).
        on_progress: Called as ``on_progress(step_name, steps_done, steps_total)`` after each step.
        overwrite: Replace a different world already in ``out_dir``.

    Raises:
        OutputLocationError: ``out_dir`` holds other files or another world (without ``overwrite``).
    """
    build = plan_world(config, out_dir, overwrite=overwrite)
    for done, name in enumerate(build.run(), start=1):
        if on_progress is not None:
            on_progress(name, done, build.total)
    return _world_at(build.out_dir, config)
