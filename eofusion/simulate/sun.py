"""Approximate solar position (good to ~1 degree): enough for shadows and STAC sun-angle metadata."""

from __future__ import annotations

import math
from datetime import datetime


def solar_position(lon: float, lat: float, when: datetime) -> tuple[float, float]:
    """(zenith, azimuth) in degrees at a place and UTC time; azimuth clockwise from north."""
    doy = when.timetuple().tm_yday
    decl = math.radians(23.44) * math.sin(2 * math.pi * (284 + doy) / 365.0)
    hours = when.hour + when.minute / 60 + when.second / 3600
    hour_angle = math.radians(15.0 * (hours + lon / 15.0 - 12.0))
    phi = math.radians(lat)
    cos_zen = math.sin(phi) * math.sin(decl) + math.cos(phi) * math.cos(decl) * math.cos(hour_angle)
    zenith = math.acos(max(-1.0, min(1.0, cos_zen)))
    az = math.atan2(math.sin(hour_angle), math.cos(hour_angle) * math.sin(phi) - math.tan(decl) * math.cos(phi))
    return math.degrees(zenith), (math.degrees(az) + 180.0) % 360.0


def toward_sun(azimuth_deg: float) -> tuple[float, float]:
    """Unit (east, north) vector pointing toward the sun on the ground."""
    a = math.radians(azimuth_deg)
    return math.sin(a), math.cos(a)
