"""Surface reflectance spectra of the world's materials, and what each sensor band records of them.

Spectra are piecewise-linear through anchor points (wavelength nm, reflectance) typical of published
spectral libraries (vegetation red edge and leaf-water absorptions, soils rising to the SWIR, dark water).
A band's value for a material is the spectrum weighted by the band's spectral response from the sensor
registry (:func:`eofusion.sensors.spectral_response`), so S2A and S2B, or an aerial camera, see the same
surface slightly differently, as in reality. Pixels are linear mixtures of these endmembers.
"""

from __future__ import annotations

from enum import IntEnum
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from eofusion.errors import ConfigError
from eofusion.sensors import get_sensor, spectral_response


class EM(IntEnum):
    """Endmembers (materials) that pixels are mixed from."""

    GREEN_VEG = 0
    DRY_VEG = 1
    SOIL_DRY = 2
    SOIL_WET = 3
    WATER = 4
    POOL = 5
    ROOF_TILE = 6
    ROOF_GREY = 7
    ASPHALT = 8
    CONCRETE = 9
    GRAVEL = 10
    CONIFER = 11
    BROADLEAF = 12
    BARK_LITTER = 13
    CLOUD = 14


_ANCHORS: dict[EM, tuple[tuple[float, float], ...]] = {
    EM.GREEN_VEG: (
        (350, 0.03), (480, 0.035), (520, 0.06), (550, 0.09), (580, 0.07), (640, 0.04), (670, 0.03), (690, 0.05),
        (705, 0.12), (730, 0.30), (760, 0.44), (800, 0.47), (900, 0.48), (1100, 0.46), (1200, 0.42),
        (1300, 0.40), (1400, 0.28), (1450, 0.15), (1500, 0.22), (1600, 0.30), (1700, 0.29), (1800, 0.22),
        (1900, 0.08), (1950, 0.05), (2000, 0.10), (2100, 0.16), (2200, 0.15), (2300, 0.11), (2400, 0.07),
        (2550, 0.05),
    ),
    EM.DRY_VEG: (
        (350, 0.07), (500, 0.13), (600, 0.22), (700, 0.30), (800, 0.36), (1000, 0.42), (1200, 0.45),
        (1400, 0.38), (1500, 0.40), (1600, 0.45), (1700, 0.46), (1900, 0.25), (2000, 0.30), (2100, 0.36),
        (2200, 0.32), (2300, 0.30), (2550, 0.22),
    ),
    EM.SOIL_DRY: (
        (350, 0.07), (500, 0.12), (600, 0.19), (700, 0.24), (800, 0.27), (1000, 0.30), (1300, 0.33),
        (1400, 0.30), (1500, 0.33), (1600, 0.36), (1800, 0.37), (1900, 0.30), (2000, 0.32), (2100, 0.34),
        (2200, 0.30), (2300, 0.31), (2550, 0.28),
    ),
    EM.SOIL_WET: (
        (350, 0.04), (500, 0.065), (600, 0.10), (700, 0.13), (800, 0.15), (1000, 0.16), (1300, 0.17),
        (1400, 0.12), (1500, 0.14), (1600, 0.17), (1800, 0.17), (1900, 0.09), (2000, 0.12), (2100, 0.15),
        (2200, 0.13), (2300, 0.13), (2550, 0.11),
    ),
    EM.WATER: (
        (350, 0.05), (500, 0.06), (560, 0.065), (600, 0.05), (650, 0.035), (700, 0.025), (750, 0.015),
        (800, 0.012), (900, 0.008), (1000, 0.004), (1200, 0.002), (2550, 0.001),
    ),
    EM.POOL: (
        (350, 0.20), (480, 0.22), (550, 0.16), (620, 0.06), (700, 0.02), (800, 0.01), (1000, 0.003), (2550, 0.001),
    ),
    EM.ROOF_TILE: (
        (350, 0.06), (500, 0.07), (550, 0.09), (600, 0.20), (650, 0.30), (700, 0.34), (800, 0.38),
        (1000, 0.42), (1300, 0.48), (1600, 0.52), (2200, 0.50), (2550, 0.48),
    ),
    EM.ROOF_GREY: ((350, 0.11), (500, 0.13), (700, 0.15), (1000, 0.17), (1600, 0.20), (2200, 0.20), (2550, 0.19)),
    EM.ASPHALT: ((350, 0.05), (600, 0.07), (800, 0.09), (1000, 0.10), (1600, 0.13), (2200, 0.14), (2550, 0.14)),
    EM.CONCRETE: (
        (350, 0.18), (500, 0.25), (600, 0.28), (800, 0.31), (1000, 0.33), (1600, 0.36), (2200, 0.33), (2550, 0.30),
    ),
    EM.GRAVEL: (
        (350, 0.14), (500, 0.22), (600, 0.28), (800, 0.32), (1000, 0.35), (1600, 0.40), (2200, 0.36), (2550, 0.33),
    ),
    EM.CONIFER: (
        (350, 0.02), (500, 0.03), (550, 0.06), (600, 0.035), (670, 0.022), (700, 0.04), (730, 0.15),
        (760, 0.26), (800, 0.28), (1100, 0.27), (1300, 0.24), (1450, 0.08), (1600, 0.15), (1800, 0.12),
        (1950, 0.03), (2200, 0.07), (2550, 0.03),
    ),
    EM.BROADLEAF: (
        (350, 0.025), (500, 0.035), (550, 0.08), (600, 0.045), (670, 0.028), (700, 0.05), (730, 0.25),
        (760, 0.40), (800, 0.43), (1100, 0.42), (1300, 0.38), (1450, 0.13), (1600, 0.25), (1800, 0.19),
        (1950, 0.05), (2200, 0.12), (2550, 0.05),
    ),
    EM.BARK_LITTER: (
        (350, 0.04), (500, 0.06), (600, 0.10), (700, 0.14), (800, 0.18), (1200, 0.24), (1600, 0.25), (2200, 0.17),
        (2550, 0.14),
    ),
    EM.CLOUD: ((350, 0.60), (700, 0.62), (1000, 0.58), (1300, 0.52), (1600, 0.42), (2200, 0.26), (2550, 0.24)),
}  # fmt: skip

WAVELENGTHS_NM = np.arange(350.0, 2551.0, 1.0)


def spectrum(material: EM) -> npt.NDArray[np.float64]:
    """Reflectance of one material on :data:`WAVELENGTHS_NM`."""
    wl, refl = np.array(_ANCHORS[material]).T
    return np.interp(WAVELENGTHS_NM, wl, refl)


@lru_cache(maxsize=32)
def band_table(sensor_name: str, bands: tuple[str, ...]) -> npt.NDArray[np.float64]:
    """Band-effective reflectance of every endmember, shape ``[len(EM), len(bands)]``.

    Raises:
        ConfigError: a band is not spectral (e.g. SCL) and has no spectral response.
    """
    sensor = get_sensor(sensor_name)
    spectra = np.stack([spectrum(m) for m in EM])
    out = np.empty((len(EM), len(bands)))
    for j, name in enumerate(bands):
        band = sensor.band(name)
        srf = spectral_response(sensor, band)
        if srf is None:
            raise ConfigError(f"Band {name!r} of {sensor_name} is not spectral; it cannot be rendered from spectra.")
        out[:, j] = srf.band_average(WAVELENGTHS_NM, spectra)
    return out
