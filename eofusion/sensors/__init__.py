"""Sensor and band registry: the single source of band identity for every stage.

Look bands up by sensor and band name, common name (``red``, ``nir08``) or provider alias (``B04``,
``B04_10m``)::

    >>> from eofusion.sensors import get_band
    >>> get_band("sentinel-2b", "B04_10m").centre_nm
    664.9
"""

from eofusion.sensors.landsat import QA_PIXEL_BITS, QA_PIXEL_DEFAULT_MASKED_BITS
from eofusion.sensors.model import SPECTRAL_KINDS, Band, BandKind, Sensor, SpectralResponse
from eofusion.sensors.registry import BUILTIN_SENSORS, REGISTRY, SensorRegistry, get_band, get_sensor
from eofusion.sensors.sentinel1 import C_BAND_FREQUENCY_GHZ, OrbitDirection, SarProduct, from_db, to_db
from eofusion.sensors.sentinel2 import (
    SCL_CLASSES,
    SCL_DEFAULT_MASKED,
    Sentinel2Level,
    parse_processing_baseline,
    radiometric_offset,
)
from eofusion.sensors.srf import spectral_response
from eofusion.sensors.user import load_sensor_yaml, register_sensor, sensor_from_dict

__all__ = [
    "BUILTIN_SENSORS",
    "C_BAND_FREQUENCY_GHZ",
    "QA_PIXEL_BITS",
    "QA_PIXEL_DEFAULT_MASKED_BITS",
    "REGISTRY",
    "SCL_CLASSES",
    "SCL_DEFAULT_MASKED",
    "SPECTRAL_KINDS",
    "Band",
    "BandKind",
    "OrbitDirection",
    "SarProduct",
    "Sensor",
    "SensorRegistry",
    "Sentinel2Level",
    "SpectralResponse",
    "from_db",
    "get_band",
    "get_sensor",
    "load_sensor_yaml",
    "parse_processing_baseline",
    "radiometric_offset",
    "register_sensor",
    "sensor_from_dict",
    "spectral_response",
    "to_db",
]
