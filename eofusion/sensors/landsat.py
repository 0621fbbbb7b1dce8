"""Landsat 8/9 OLI/TIRS — kept as a sensor the model never sees in training.

Centre and FWHM are the USGS nominal band passbands' midpoints and widths; measured curves come from
``pyrsr`` (see :mod:`eofusion.sensors.srf`). Collection 2 Level-2 scaling: surface reflectance
DN * 2.75e-5 - 0.2, surface temperature DN * 0.00341802 + 149.0 K.
"""

from __future__ import annotations

from eofusion.sensors.model import Band, BandKind, Sensor

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


def _landsat_band(name: str) -> Band:
    common, centre, fwhm, res = _OLI_TIRS[name]
    thermal = name == "B10"
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
        norm_mean=295.0 if thermal else 0.15,
        norm_std=15.0 if thermal else 0.10,
        description=f"OLI/TIRS {name} ({common}), Collection 2 Level-2",
    )


def landsat_sensor(number: int) -> Sensor:
    """Landsat 8 or 9 OLI/TIRS."""
    return Sensor(
        name=f"landsat-{number}",
        family="landsat-oli",
        bands=tuple(_landsat_band(n) for n in _OLI_TIRS),
        instrument="oli-tirs",
        platforms=(f"landsat-{number}", f"LANDSAT_{number}"),
        description=f"Landsat {number} OLI/TIRS, Collection 2 Level-2",
    )


LANDSAT_SENSORS: tuple[Sensor, ...] = (landsat_sensor(8), landsat_sensor(9))
