"""Landsat 8/9 OLI/TIRS — kept as a sensor the model never sees in training.

Centre and FWHM are the USGS nominal band passbands' midpoints and widths; measured curves come from
``pyrsr`` (see :mod:`eofusion.sensors.srf`). Collection 2 Level-2 scaling: surface reflectance
DN * 2.75e-5 - 0.2, surface temperature DN * 0.00341802 + 149.0 K. ``QA_PIXEL`` is the Collection 2
pixel-quality band (bit flags, see :data:`QA_PIXEL_BITS`): the cube masks clouds from it.
"""

from __future__ import annotations

from eofusion.sensors.model import Band, BandKind, Sensor
from eofusion.sensors.reflectance import reflectance_norm

SR_SCALE, SR_OFFSET = 2.75e-5, -0.2
ST_SCALE, ST_OFFSET = 0.00341802, 149.0

# name: (common name, centre nm, FWHM nm, resolution m)
_OLI_TIRS = {
    "B1": ("coastal", 443.0, 16.0, 30.0),
    "B2": ("blue", 482.0, 60.0, 30.0),
    "B3": ("green", 561.5, 57.0, 30.0),
    "B4": ("red", 654.5, 37.0, 30.0),
    "B5": ("nir08", 865.0, 28.0, 30.0),
    "B6": ("swir16", 1608.5, 85.0, 30.0),
    "B7": ("swir22", 2200.5, 187.0, 30.0),
    "B10": ("lwir11", 10895.0, 590.0, 30.0),  # TIRS, 100 m native, delivered at 30 m
}


# Collection 2 QA_PIXEL (USGS LSDS-1619, Landsat 8-9 Collection 2 Level-2 Science Product Guide):
# bit -> flag, for the single-bit flags 0-7 ...
QA_PIXEL_BITS: dict[int, str] = {
    0: "fill",
    1: "dilated_cloud",
    2: "cirrus",
    3: "cloud",
    4: "cloud_shadow",
    5: "snow",
    6: "clear",
    7: "water",
}
# ... and first bit -> quantity, for the 2-bit confidences 8-15 (0 not set, 1 low, 2 medium, 3 high).
QA_PIXEL_CONFIDENCE_BITS: dict[int, str] = {8: "cloud", 10: "cloud_shadow", 12: "snow_ice", 14: "cirrus"}
QA_PIXEL_FILL = 1  # the value of fill pixels (bit 0 alone): QA_PIXEL's nodata
# What a cube masks by default: fill, clouds (dilated, cirrus, cloud) and cloud shadows. Snow is kept, as
# Sentinel-2's default SCL mask keeps snow_or_ice (configurable per cube).
QA_PIXEL_DEFAULT_MASKED_BITS: frozenset[int] = frozenset({0, 1, 2, 3, 4})

QA_PIXEL_BAND = Band(
    name="QA_PIXEL",
    kind=BandKind.MASK,
    resolution_m=30.0,
    dtype="uint16",
    units="bit flags",
    # Matched case-insensitively, so the providers' asset key "qa_pixel" needs no alias. Not "qa": that is
    # the surface-temperature uncertainty band (ST_QA) on Planetary Computer and Earth Search.
    nodata=QA_PIXEL_FILL,
    description="Collection 2 pixel quality assessment: bit flags (0 fill, 1 dilated cloud, 2 cirrus, 3 cloud, "
    "4 cloud shadow, 5 snow, 6 clear, 7 water; 8-15 confidence pairs)",
)


def _landsat_band(name: str) -> Band:
    common, centre, fwhm, res = _OLI_TIRS[name]
    thermal = name == "B10"
    mean, std = (295.0, 15.0) if thermal else reflectance_norm(centre)
    return Band(
        name=name,
        kind=BandKind.BRIGHTNESS_TEMPERATURE if thermal else BandKind.REFLECTANCE,
        resolution_m=res,
        dtype="uint16",
        units="K" if thermal else "1",
        common_name=common,
        aliases=(f"SR_{name}",) if not thermal else ("ST_B10", "lwir"),
        centre_nm=centre,
        bandwidth_nm=fwhm,
        nodata=0,
        scale=ST_SCALE if thermal else SR_SCALE,
        offset=ST_OFFSET if thermal else SR_OFFSET,
        norm_mean=mean,
        norm_std=std,
        description=f"OLI/TIRS {name} ({common}), Collection 2 Level-2",
    )


def landsat_sensor(number: int) -> Sensor:
    """Landsat 8 or 9 OLI/TIRS."""
    return Sensor(
        name=f"landsat-{number}",
        family="landsat-oli",
        bands=(*(_landsat_band(n) for n in _OLI_TIRS), QA_PIXEL_BAND),
        instrument="oli-tirs",
        platforms=(f"landsat-{number}", f"LANDSAT_{number}"),
        description=f"Landsat {number} OLI/TIRS, Collection 2 Level-2",
    )


LANDSAT_SENSORS: tuple[Sensor, ...] = (landsat_sensor(8), landsat_sensor(9))
