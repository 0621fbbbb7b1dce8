"""Catalog source definitions (``catalogs/*.yaml``): endpoint, collections per sensor, asset maps, signing.

A source is validated when loaded: unknown keys are rejected by name, sensors and bands must exist in the
registry, and the error names the file and the key path to fix.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from eofusion.catalog.stac_api import ApiOptions
from eofusion.config import read_yaml_mapping, validation_message
from eofusion.errors import ConfigError, UnknownBandError, UnknownSensorError
from eofusion.sensors import get_sensor

# Where `load_catalog_source("name")` looks: the current directory's ./catalogs (a user's own sources), the
# project's catalogs/ folder when running from a clone (the demo source, whose endpoint is relative to the
# repository), then the sources shipped inside the package (public STAC APIs: a wheel install has them too).
PROJECT_CATALOGS = Path(__file__).resolve().parents[2] / "catalogs"
BUNDLED_CATALOGS = Path(__file__).resolve().parents[1] / "data" / "catalogs"


def _search_dirs() -> tuple[Path, ...]:
    return tuple(dict.fromkeys((Path.cwd() / "catalogs", PROJECT_CATALOGS, BUNDLED_CATALOGS)))


Product = Literal["s2-l2a", "s2-l1c", "s1-rtc", "s1-grd", "aerial", "dem", "dsm", "dtm", "landsat-l2"]


class CollectionSpec(BaseModel):
    """One collection of a source: which sensor it holds and how its asset keys map to registry bands."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    product: Product
    sensor: str
    assets: dict[str, str | list[str]] = Field(default_factory=dict)
    description: str = ""

    @model_validator(mode="after")
    def _known_sensor_and_bands(self) -> CollectionSpec:
        try:
            sensor = get_sensor(self.sensor)
        except UnknownSensorError as err:
            raise ValueError(str(err)) from None
        for key, target in self.assets.items():
            for band in [target] if isinstance(target, str) else target:
                try:
                    sensor.band(band)
                except UnknownBandError as err:
                    raise ValueError(f"assets.{key}: {err}") from None
        return self


class RequestSpec(BaseModel):
    """Request behaviour for a STAC API source (see :class:`ApiOptions`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout_s: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=4, ge=0, le=20)
    backoff_factor: float = Field(default=0.5, ge=0)
    backoff_max_s: float = Field(default=10.0, gt=0)
    page_size: int = Field(default=100, ge=1, le=10000)


class _SourceSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    title: str = ""
    kind: Literal["stac-api", "embedded"]
    endpoint: str
    signing: Literal["none", "planetary-computer"] = "none"
    request: RequestSpec = Field(default_factory=RequestSpec)
    notes: str = ""
    collections: dict[str, CollectionSpec] = Field(min_length=1)

    @field_validator("endpoint")
    @classmethod
    def _endpoint_form(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("endpoint must not be empty")
        return value.strip()


@dataclass(frozen=True)
class CatalogSource:
    """A validated catalog source. Open it with :func:`eofusion.catalog.open_catalog`.

    Attributes:
        endpoint: API URL (``kind="stac-api"``) or an absolute path (``kind="embedded"``).
        path: The YAML file it came from (None when built in code).
    """

    name: str
    kind: str
    endpoint: str
    signing: str
    request: ApiOptions
    collections: Mapping[str, CollectionSpec]
    title: str = ""
    path: Path | None = None

    def collection(self, collection_id: str) -> CollectionSpec:
        """The spec of one collection; the error lists the source's collections."""
        try:
            return self.collections[collection_id]
        except KeyError:
            raise ConfigError(
                f"Catalog source {self.name!r} defines no collection {collection_id!r}; it has "
                f"{', '.join(sorted(self.collections))}."
            ) from None

    def collections_for(self, product: str) -> list[str]:
        """Collection ids holding one product kind (``s2-l2a``, ``s1-rtc``, ``dem``...)."""
        return [cid for cid, spec in self.collections.items() if spec.product == product]

    def asset_map(self, collection_id: str | None) -> dict[str, str | list[str]]:
        """Asset key -> registry band for a collection (empty when the source does not define it)."""
        spec = self.collections.get(collection_id or "")
        return dict(spec.assets) if spec else {}


def source_from_dict(data: Mapping[str, Any], origin: str = "mapping", base_dir: Path | None = None) -> CatalogSource:
    """Validate a source mapping (the YAML form).

    Raises:
        ConfigError: Unknown or missing keys, or bad values; names ``origin`` and the key path.
    """
    try:
        spec = _SourceSpec.model_validate(dict(data))
    except ValidationError as err:
        raise ConfigError(validation_message(err, f"Invalid catalog source in {origin}")) from None
    endpoint = os.path.expandvars(spec.endpoint)
    if spec.kind == "embedded":
        local = Path(endpoint).expanduser()
        endpoint = os.path.normpath(local if local.is_absolute() else (base_dir or Path.cwd()) / local)
    elif not endpoint.startswith(("http://", "https://")):
        raise ConfigError(
            f"Invalid catalog source in {origin}: endpoint {endpoint!r} of a stac-api must be an http(s) URL."
        )
    return CatalogSource(
        name=spec.name,
        kind=spec.kind,
        endpoint=endpoint,
        signing=spec.signing,
        request=ApiOptions(**spec.request.model_dump()),
        collections=dict(spec.collections),
        title=spec.title,
    )


def load_catalog_source(path_or_name: str | Path, search_dirs: tuple[Path, ...] | None = None) -> CatalogSource:
    """A catalog source from a YAML path, or by name from ``./catalogs``, the project's and the bundled ones.

    Embedded endpoints given as relative paths are resolved against the YAML file's directory.
    """
    path = Path(path_or_name)
    if path.suffix.lower() not in (".yaml", ".yml"):
        dirs = search_dirs if search_dirs is not None else _search_dirs()
        candidates = [d / f"{path_or_name}.yaml" for d in dirs]
        found = next((c for c in candidates if c.exists()), None)
        if found is None:
            names = sorted({p.stem for d in dirs if d.is_dir() for p in d.glob("*.yaml")})
            raise ConfigError(
                f"No catalog source named {str(path_or_name)!r}; known: {', '.join(names) or 'none'}. "
                "Give a YAML path, or one of those names."
            )
        path = found
    data = read_yaml_mapping(path, "Catalog source file", "name, kind, endpoint, collections")
    source = source_from_dict(data, origin=str(path), base_dir=path.parent)
    return CatalogSource(**{**source.__dict__, "path": path.resolve()})


def list_catalog_sources(search_dirs: tuple[Path, ...] | None = None) -> list[str]:
    """Names of the catalog sources ``load_catalog_source`` can find."""
    dirs = search_dirs if search_dirs is not None else _search_dirs()
    return sorted({p.stem for d in dirs if d.is_dir() for p in d.glob("*.yaml")})
