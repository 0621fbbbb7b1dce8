"""Normalised items: what every later stage reads instead of a provider's raw STAC item.

Whatever the provider (Planetary Computer, Earth Search, CDSE, the demo world, a user's own files), an item
becomes one :class:`NormalizedItem` whose :class:`BandAsset` entries carry registry band identity, the
href, and everything needed to turn DN into physical units on a known grid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from eofusion.errors import ItemError
from eofusion.sensors import Band, Sensor

Transform = tuple[float, float, float, float, float, float]  # affine.Affine order: a, b, c, d, e, f


@dataclass(frozen=True)
class BandAsset:
    """One registry band of one item.

    Physical value = DN * ``scale`` + ``offset``; ``offset`` already includes provider-specific offsets
    such as Sentinel-2's baseline-04.00 -0.1 (applied once, never twice).

    Attributes:
        asset_key: The asset's key in the provider's item (``B04``, ``red``, ``B04_10m``, ``image``).
        band: The registry band (identity, spectral facts, normalisation).
        href: Where the raster is (local path or URL, already signed if the source signs).
        band_index: 1-based band within the file (multi-band assets such as NAIP's ``image``).
        crs: ``EPSG:xxxx`` when known, else WKT.
        transform: Affine (a, b, c, d, e, f) of the asset's native grid, as ``affine.Affine`` orders them.
        shape: (rows, cols) of the native grid.
    """

    asset_key: str
    band: Band
    href: str
    dtype: str
    nodata: float | None
    scale: float
    offset: float
    crs: str
    transform: Transform
    shape: tuple[int, int]
    band_index: int = 1

    @property
    def resolution_m(self) -> float:
        """Native pixel size (from the transform), in CRS units."""
        return abs(self.transform[0])


@dataclass(frozen=True)
class NormalizedItem:
    """A STAC item understood by eofusion: one sensor, one acquisition time, bands keyed by registry name."""

    id: str
    collection: str | None
    sensor: Sensor
    datetime: datetime  # timezone-aware, UTC
    bbox: tuple[float, float, float, float]  # lon/lat (EPSG:4326)
    geometry: Mapping[str, Any]  # GeoJSON, EPSG:4326
    assets: Mapping[str, BandAsset]  # registry band name -> asset
    orbit_direction: str | None = None  # Sentinel-1: "ascending" / "descending"
    polarisations: tuple[str, ...] = ()
    properties: Mapping[str, Any] = field(default_factory=dict)
    href: str | None = None  # the item's own document (its self link, absolute); None when it has none

    def band(self, name: str) -> BandAsset:
        """The asset of a registry band, looked up through the sensor (so aliases work)."""
        canonical = self.sensor.band(name).name
        try:
            return self.assets[canonical]
        except KeyError:
            raise ItemError(
                f"Item {self.id!r} ({self.sensor.name}) has no asset for band {canonical!r}; "
                f"it has {', '.join(sorted(self.assets)) or 'no bands'}."
            ) from None

    @property
    def band_names(self) -> tuple[str, ...]:
        """Registry band names present in this item."""
        return tuple(self.assets)
