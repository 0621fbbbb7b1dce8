"""The sensor registry: the single source of band identity for every stage of the pipeline."""

from __future__ import annotations

from collections.abc import Iterator

from eofusion.errors import SensorRegistrationError, UnknownSensorError
from eofusion.sensors.aerial import AERIAL_IGN, NAIP
from eofusion.sensors.elevation import COPERNICUS_DEM, ELEVATION
from eofusion.sensors.landsat import LANDSAT_SENSORS
from eofusion.sensors.model import Band, Sensor
from eofusion.sensors.sentinel1 import SENTINEL1
from eofusion.sensors.sentinel2 import SENTINEL2_SENSORS

# Family names that resolve to one member when a caller does not say which satellite.
# Decision: "sentinel-2" means Sentinel-2A, the reference instrument; the band names are shared, and the
# per-satellite spectra differ by a few nm (use the platform from the STAC item when it is known).
_FAMILY_DEFAULTS = {"sentinel-2": "sentinel-2a", "landsat": "landsat-8", "s2": "sentinel-2a", "s1": "sentinel-1"}


class SensorRegistry:
    """Sensors by name; lookups are case-insensitive and also accept STAC platform names."""

    def __init__(self, sensors: tuple[Sensor, ...] = ()) -> None:
        self._sensors: dict[str, Sensor] = {}
        for sensor in sensors:
            self.register(sensor)

    def register(self, sensor: Sensor, *, replace: bool = False) -> Sensor:
        """Add a sensor; refuses to shadow an existing name unless ``replace=True``."""
        key = sensor.name.lower()
        if key in self._sensors and not replace:
            raise SensorRegistrationError(
                f"A sensor named {sensor.name!r} is already registered; pick another name or pass replace=True."
            )
        self._sensors[key] = sensor
        return sensor

    def unregister(self, name: str) -> None:
        """Remove a sensor (user-registered sensors in tests and notebooks)."""
        self._sensors.pop(self.get(name).name.lower())

    def get(self, name: str) -> Sensor:
        """A sensor by registry name, family default (``sentinel-2``) or STAC platform (``S2B``)."""
        wanted = name.strip().lower()
        wanted = _FAMILY_DEFAULTS.get(wanted, wanted)
        if wanted in self._sensors:
            return self._sensors[wanted]
        for sensor in self._sensors.values():
            if wanted in (p.lower() for p in sensor.platforms):
                return sensor
        raise UnknownSensorError(
            f"No sensor {name!r} in the registry. Registered: {', '.join(self.names())}. "
            "Register your own with eofusion.register_sensor(...) or a sensor YAML file."
        )

    def band(self, sensor: str, band: str) -> Band:
        """Shortcut for ``get(sensor).band(band)``."""
        return self.get(sensor).band(band)

    def names(self) -> list[str]:
        """Registered sensor names, sorted."""
        return sorted(s.name for s in self._sensors.values())

    def __iter__(self) -> Iterator[Sensor]:
        return iter(list(self._sensors.values()))

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self.get(name)
        except UnknownSensorError:
            return False
        return True


BUILTIN_SENSORS: tuple[Sensor, ...] = (
    *SENTINEL2_SENSORS,
    SENTINEL1,
    AERIAL_IGN,
    NAIP,
    ELEVATION,
    COPERNICUS_DEM,
    *LANDSAT_SENSORS,
)

REGISTRY = SensorRegistry(BUILTIN_SENSORS)


def get_sensor(name: str) -> Sensor:
    """A sensor from the default registry (see :meth:`SensorRegistry.get`)."""
    return REGISTRY.get(name)


def get_band(sensor: str, band: str) -> Band:
    """A band from the default registry by sensor and band key (name, alias or common name)."""
    return REGISTRY.band(sensor, band)
