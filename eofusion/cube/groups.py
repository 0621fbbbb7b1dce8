"""Sensor groups of a cube and the per-band rules: which group an item joins, resampling, physical units.

A cube has one group per sensor family, each on its own grid: ``s2`` (Sentinel-2), ``s1`` (Sentinel-1),
``aerial`` (aerial cameras), ``dsm`` (elevation layers), ``landsat``. Groups ``aerial`` and ``dsm`` are
single-date: every item is mosaicked into one time step; the others are time series.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rasterio.enums import Resampling

from eofusion.catalog import NormalizedItem
from eofusion.errors import ConfigError
from eofusion.sensors import Band, BandKind

# Sensor family -> cube group key.
GROUP_OF_FAMILY: Mapping[str, str] = {
    "sentinel-2": "s2",
    "sentinel-1": "s1",
    "aerial": "aerial",
    "elevation": "dsm",
    "landsat-oli": "landsat",
}
# Group aliases accepted from users (CLI --sensors, load_aligned(sensor=...)).
_GROUP_ALIASES: Mapping[str, str] = {
    "s2": "s2", "sentinel-2": "s2", "sentinel2": "s2",
    "s1": "s1", "sentinel-1": "s1", "sentinel1": "s1",
    "aerial": "aerial", "naip": "aerial", "aerial-ign": "aerial",
    "dsm": "dsm", "elevation": "dsm", "dem": "dsm",
    "landsat": "landsat",
}  # fmt: skip
SINGLE_DATE_GROUPS = frozenset({"aerial", "dsm"})
# Default pixel size per group, the one definition used by cube builds, job specs and the demo. Aerial
# defaults to 1 m, the grid the land-cover model maps on (0.2 m, IGN's native pixel, makes cubes 25x larger:
# ask for it with resolutions / --resolution aerial=0.2).
DEFAULT_RESOLUTIONS: Mapping[str, float] = {"s2": 10.0, "s1": 10.0, "landsat": 30.0, "aerial": 1.0, "dsm": 1.0}
RESAMPLING_NAMES = ("nearest", "bilinear", "cubic", "average", "mode", "min", "max", "med")


def group_key(name: str) -> str:
    """A user's group/sensor name (``s2``, ``sentinel-2``, ``naip``...) -> the cube group key."""
    try:
        return _GROUP_ALIASES[name.strip().lower()]
    except KeyError:
        raise ConfigError(
            f"Unknown sensor group {name!r}; use one of {', '.join(sorted(set(_GROUP_ALIASES.values())))}."
        ) from None


def group_keys(names: Iterable[str]) -> tuple[str, ...]:
    """Users' sensor names (``Sentinel-2``, ``s2``, ``naip``...) -> cube group keys, in order, without repeats.

    The one normalisation of a sensor selection: CLI options and specs call it at the edge, and the keys
    travel unchanged to the cube, the chip reader and the model.
    """
    keys: list[str] = []
    for name in names:
        key = group_key(name)
        if key not in keys:
            keys.append(key)
    if not keys:
        raise ConfigError("No sensor given; name at least one of " + ", ".join(sorted(set(_GROUP_ALIASES.values()))))
    return tuple(keys)


def default_resolution(group: str) -> float:
    """The default pixel size of a group (see :data:`DEFAULT_RESOLUTIONS`)."""
    return DEFAULT_RESOLUTIONS[group_key(group)]


def item_group(item: NormalizedItem) -> str | None:
    """The cube group an item belongs to, or None when its sensor family has no group."""
    return GROUP_OF_FAMILY.get(item.sensor.family)


def default_bands(items: list[NormalizedItem]) -> tuple[str, ...]:
    """Bands to load when none are asked for: the non-mask bands present in any item, in sensor order.

    Sentinel-2 B10 (cirrus, TOA only) is left out: L2A products do not carry it.
    """
    present = {name for item in items for name in item.assets}
    sensor = items[0].sensor
    return tuple(b.name for b in sensor.bands if b.name in present and b.kind is not BandKind.MASK and b.name != "B10")


def choose_resampling(band: Band, source_res: float, target_res: float, override: str | None = None) -> Resampling:
    """Resampling by band kind: nearest for masks and classes; average when downsampling; else bilinear.

    Args:
        band: The registry band.
        source_res: Native pixel size (CRS units of the source).
        target_res: Target pixel size.
        override: A resampling name forced by the user (ignored for categorical bands unless nearest/mode).
    """
    if band.kind.is_categorical:
        return Resampling.mode if override == "mode" else Resampling.nearest
    if override is not None:
        if override not in RESAMPLING_NAMES:
            raise ConfigError(f"Unknown resampling {override!r} for band {band.name}; use {RESAMPLING_NAMES}.")
        return Resampling[override]
    # Downsampling by at least ~1.5x averages the source pixels each target pixel covers; interpolating
    # would alias. Same or finer resolution interpolates.
    if target_res >= 1.5 * source_res:
        return Resampling.average
    return Resampling.bilinear
