"""Provider conventions: which sensor an item is, and Sentinel-2's baseline-dependent offset."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from eofusion.errors import ItemError, UnknownSensorError
from eofusion.sensors import Sensor, get_sensor, parse_processing_baseline, radiometric_offset

# Collection id fragments -> registry sensor, for items without a usable platform (NAIP, DEMs).
COLLECTION_SENSORS: tuple[tuple[str, str], ...] = (
    ("sentinel-2", "sentinel-2"),
    ("sentinel-1", "sentinel-1"),
    ("landsat", "landsat-8"),
    ("naip", "naip"),
    ("aerial-ign", "aerial-ign"),
    ("cop-dem", "copernicus-dem"),
    ("nasadem", "elevation"),
    ("alos-dem", "elevation"),
    ("3dep-lidar", "elevation"),
    ("elevation", "elevation"),
)
# Single-asset elevation collections whose asset key names no band: they are surface models (DSM).
COLLECTION_ASSETS: dict[str, dict[str, str]] = {
    "nasadem": {"elevation": "dsm"},
    "alos-dem": {"data": "dsm"},
    "3dep-lidar-dsm": {"data": "dsm"},
    "3dep-lidar-dtm": {"data": "dtm"},
    "3dep-lidar-hag": {"data": "ndsm"},
}
# Sentinel-2 products processed with baseline >= 04.00 started on this day (used only if no baseline is given).
S2_OFFSET_START = datetime(2022, 1, 25, tzinfo=UTC)


def detect_sensor(item: Mapping[str, Any], sensor: str | Sensor | None = None) -> Sensor:
    """The registry sensor of an item dict: ``sensor`` if given, else platform, constellation, collection."""
    if isinstance(sensor, Sensor):
        return sensor
    if sensor:
        return get_sensor(sensor)
    props = item.get("properties") or {}
    if props.get("eofusion:sensor"):  # written by `eofusion catalog build` and the demo world
        return get_sensor(str(props["eofusion:sensor"]))
    platform = props.get("platform")
    if platform:
        try:
            return get_sensor(str(platform))
        except UnknownSensorError:
            pass
    constellation = props.get("constellation")
    if constellation:
        try:
            return get_sensor(str(constellation).lower().replace(" ", "-"))
        except UnknownSensorError:
            pass
    collection = str(item.get("collection") or "").lower()
    for fragment, name in COLLECTION_SENSORS:
        if fragment in collection:
            return get_sensor(name)
    raise ItemError(
        f"Item {item.get('id')!r}: cannot tell its sensor (platform={platform!r}, "
        f"constellation={constellation!r}, collection={item.get('collection')!r}). Pass sensor=... "
        "(CLI: --sensor) with a registered sensor, or register one."
    )


def sentinel2_offset(sensor: Sensor, props: Mapping[str, Any], when: datetime, notes: list[str]) -> float:
    """The baseline-dependent reflectance offset of a Sentinel-2 product (0 for other sensors)."""
    if sensor.family != "sentinel-2":
        return 0.0
    baseline = props.get("s2:processing_baseline") or props.get("processing:version")
    if baseline is None and props.get("s2:product_uri"):
        # Product names carry the baseline as Nxxyy: S2B_MSIL2A_20240419T095549_N0510_R122_...
        parts = [p for p in str(props["s2:product_uri"]).split("_") if p.startswith("N") and p[1:].isdigit()]
        baseline = parts[0] if parts else None
    if parse_processing_baseline(baseline) is not None:
        return radiometric_offset(baseline)
    derived = -0.1 if when >= S2_OFFSET_START else 0.0
    notes.append(f"no processing baseline stated; offset {derived} assumed from the acquisition date {when:%Y-%m-%d}")
    return derived
