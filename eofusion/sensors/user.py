"""User-defined sensors from a mapping or a YAML file, validated (unknown keys are rejected by name)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from eofusion.config import read_yaml_mapping, validation_message
from eofusion.errors import ConfigError, SensorRegistrationError
from eofusion.sensors.model import Band, BandKind, Sensor
from eofusion.sensors.reflectance import reflectance_norm
from eofusion.sensors.registry import REGISTRY, SensorRegistry


class _BandSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: BandKind
    resolution_m: float = Field(gt=0)
    dtype: str = "float32"
    units: str = "1"
    common_name: str | None = None
    aliases: tuple[str, ...] = ()
    centre_nm: float | None = Field(default=None, gt=0)
    bandwidth_nm: float | None = Field(default=None, gt=0)
    polarisation: str | None = None
    frequency_ghz: float | None = Field(default=None, gt=0)
    nodata: float | None = None
    scale: float = 1.0
    offset: float = 0.0
    # Unset on a reflectance band: the wavelength's surface-reflectance statistics (sensors/reflectance.py),
    # so a user's sensor enters the model on the same scale as the sensors it was trained on; else 0 / 1.
    norm_mean: float | None = None
    norm_std: float | None = Field(default=None, gt=0)
    description: str = ""

    def band(self) -> Band:
        """The registry band; standardisation statistics filled in as described on ``norm_mean``."""
        mean, std = 0.0, 1.0
        if self.kind is BandKind.REFLECTANCE and self.centre_nm is not None:
            mean, std = reflectance_norm(self.centre_nm)
        fields = self.model_dump()
        fields["norm_mean"] = mean if self.norm_mean is None else self.norm_mean
        fields["norm_std"] = std if self.norm_std is None else self.norm_std
        return Band(**fields)


class _SensorSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    family: str | None = None
    instrument: str = ""
    platforms: tuple[str, ...] = ()
    description: str = ""
    bands: list[_BandSpec] = Field(min_length=1)


def sensor_from_dict(spec: Mapping[str, Any], source: str = "mapping") -> Sensor:
    """Build a :class:`Sensor` from a mapping shaped like the YAML format (see ``docs`` in README).

    Raises:
        ConfigError: A key is unknown, missing or has a bad value; the message names the key path.
    """
    try:
        parsed = _SensorSpec.model_validate(dict(spec))
    except ValidationError as err:
        raise ConfigError(validation_message(err, f"Invalid sensor definition in {source}")) from None
    try:
        bands = tuple(b.band() for b in parsed.bands)
        return Sensor(
            name=parsed.name,
            family=parsed.family or parsed.name,
            bands=bands,
            instrument=parsed.instrument,
            platforms=parsed.platforms,
            description=parsed.description,
        )
    except SensorRegistrationError as err:
        raise ConfigError(f"Invalid sensor definition in {source}: {err}") from None


def load_sensor_yaml(path: str | Path) -> Sensor:
    """Read one sensor definition from a YAML file."""
    path = Path(path)
    data = read_yaml_mapping(path, "Sensor file", "'name' and 'bands'")
    return sensor_from_dict(data, source=str(path))


def register_sensor(
    spec: Sensor | Mapping[str, Any] | str | Path,
    *,
    replace: bool = False,
    registry: SensorRegistry = REGISTRY,
) -> Sensor:
    """Register a sensor given as a :class:`Sensor`, a mapping, or a path to a YAML file."""
    if isinstance(spec, Sensor):
        sensor = spec
    elif isinstance(spec, Mapping):
        sensor = sensor_from_dict(spec)
    else:
        sensor = load_sensor_yaml(spec)
    return registry.register(sensor, replace=replace)
