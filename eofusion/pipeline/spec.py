"""Job specs: what a scheduled run processes, read from ``pipelines/*.yaml`` and validated at the edge.

Unknown keys are rejected with their path named (``outputs.probabilites: extra inputs are not permitted``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from eofusion.catalog import catalog_file
from eofusion.config import read_yaml_mapping, short_hash, validation_message
from eofusion.cube.groups import default_resolution, group_key, group_keys
from eofusion.errors import ConfigError, GridError
from eofusion.fingerprint import file_digest
from eofusion.grid import DEFAULT_MAX_TILES, parse_tile_id
from eofusion.storage import Location, is_remote


def _sensor_keys(names: list[str]) -> list[str]:
    return list(group_keys(names))


# A sensor selection, normalised once here at the edge: "Sentinel-2", "sentinel-2" and "s2" are the cube group
# "s2"; repeats are dropped. The keys travel unchanged to the cube, the chip reader, the model and checkpoints.
SensorList = Annotated[list[str], Field(min_length=1), AfterValidator(_sensor_keys)]


def resolutions_for(given: dict[str, float], sensors: Sequence[str]) -> dict[str, float]:
    """``given`` with keys normalised, plus the default pixel size of every sensor it leaves out."""
    normalised = {group_key(k): float(v) for k, v in given.items()}
    return {**normalised, **{s: normalised.get(s, default_resolution(s)) for s in sensors}}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AoiSpec(_Strict):
    """Where: exactly one of a bbox, a GeoJSON file, or a list of tile ids."""

    bbox: tuple[float, float, float, float] | None = None
    crs: str = "EPSG:4326"
    geojson: Path | None = None
    tiles: list[str] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> AoiSpec:
        given = [k for k in ("bbox", "geojson", "tiles") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of bbox, geojson or tiles (got {given or 'none'})")
        if self.bbox is not None and not (self.bbox[0] < self.bbox[2] and self.bbox[1] < self.bbox[3]):
            raise ValueError(f"bbox {self.bbox} must be (minx, miny, maxx, maxy) with min < max")
        for tile_id in self.tiles or []:
            try:
                parse_tile_id(tile_id)  # whole ids only: no trailing newline, no path segments
            except GridError as err:
                raise ValueError(str(err)) from None
        return self


class TilingSpec(_Strict):
    """How the AOI is cut into tiles; the CRS defaults to the AOI's UTM zone."""

    crs: str | None = None
    tile_size_m: float = Field(default=2560.0, gt=0)
    max_tiles: int = Field(default=DEFAULT_MAX_TILES, ge=1)  # refuse larger jobs before enumerating them


class TimeSpec(_Strict):
    """Acquisition window (inclusive)."""

    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> TimeSpec:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self

    def interval(self) -> str:
        """As a STAC datetime interval."""
        return f"{self.start.isoformat()}/{self.end.isoformat()}"


class CatalogSpec(_Strict):
    """Which catalog to search: a source name/YAML from ``catalogs/``, or a local catalog file."""

    source: str
    collections: list[str] | None = None
    max_items: int | None = Field(default=None, gt=0)
    # An asset that cannot be read, mid-build included: fail the tile (raise) or leave it out (skip); skipped
    # inputs are listed in the tile's record, the manifest and the map's STAC item.
    on_error: Literal["raise", "skip"] = "raise"


class ModelSpec(_Strict):
    """The model that makes the map."""

    checkpoint: Path


class OutputSpec(_Strict):
    """What each tile writes, and where.

    ``dir`` is a local folder or an object-store prefix (``s3://bucket/jobs/x``, gs://, az://; the ``cloud``
    extra). With a prefix, each tile is made in a local working folder (``staging``, default: a folder named
    after the prefix in the system's temporary folder) and its outputs are uploaded as whole objects, the done
    record last; the tile's intermediate cube stays local and is removed once the tile is published.
    """

    dir: str
    staging: Path | None = None
    confidence: bool = True  # the winning class's probability (percent) per pixel: what users read first
    probabilities: bool = False  # one layer per class (large: a byte per class per pixel)
    quicklook: bool = True
    mosaic: bool = True
    license: str = Field(default="other", pattern=r"^[A-Za-z0-9.+-]+$")  # SPDX id for the STAC collection

    @property
    def location(self) -> Location:
        """Where the job's outputs go (folder or object-store prefix)."""
        return Location(self.dir)

    @property
    def work_dir(self) -> Path:
        """The local folder where tiles are made: ``dir`` itself, or the staging folder of a remote ``dir``."""
        if not is_remote(self.dir):
            return Path(self.dir)
        if self.staging is not None:
            return self.staging
        import hashlib
        import tempfile

        digest = hashlib.sha256(self.dir.encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / "eofusion-staging" / digest


class RunSpec(_Strict):
    """How the run is scheduled on Dask."""

    scheduler: str | None = None  # address of an existing Dask scheduler; None starts a LocalCluster
    workers: int = Field(default=1, ge=1)
    threads_per_worker: int = Field(default=2, ge=1)
    memory_limit: str = "6GiB"
    retries: int = Field(default=2, ge=0)
    retry_backoff_s: float = Field(default=2.0, ge=0)
    # Where each tile's model runs: auto = the worker's GPU if it has one. With gpu, every tile asks the
    # scheduler for one unit of the worker resource GPU (start workers with `--resources GPU=1`; a
    # LocalCluster's workers get one each), so a GPU never maps two tiles at once.
    device: str = "auto"
    gpu: bool = False


class JobSpec(_Strict):
    """A whole job: search -> cube -> predict -> map, for every tile of the AOI."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    aoi: AoiSpec
    tiling: TilingSpec = TilingSpec()
    time: TimeSpec
    catalog: CatalogSpec
    sensors: SensorList
    # group -> pixel size; sensors left out get their default (eofusion.cube.groups.DEFAULT_RESOLUTIONS)
    resolutions: dict[str, float] = Field(default_factory=dict, validate_default=True)
    model: ModelSpec
    outputs: OutputSpec
    run: RunSpec = RunSpec()

    @field_validator("resolutions")
    @classmethod
    def _every_sensor_has_one(cls, value: dict[str, float], info: ValidationInfo) -> dict[str, float]:
        return resolutions_for(value, info.data.get("sensors") or [])

    def config_hash(self) -> str:
        """A short hash of what changes outputs' content (not scheduling, not where they go).

        The model enters by its weights' digest, not only its path: a model retrained into the same
        checkpoint file makes every tile stale (inputs enter through the tile cubes' own hashes).
        """
        payload = self.model_dump(mode="json", exclude={"run": True, "outputs": {"dir", "staging", "license"}})
        checkpoint = self.model.checkpoint
        payload["model"]["checkpoint_sha256"] = file_digest(checkpoint) if checkpoint.is_file() else None
        return short_hash(payload)


def job_spec_from_dict(data: dict[str, Any], source: str = "mapping", base_dir: Path | None = None) -> JobSpec:
    """Validate a mapping; relative paths are resolved against ``base_dir`` (the YAML file's folder)."""
    try:
        spec = JobSpec.model_validate(data)
    except ValidationError as err:
        raise ConfigError(validation_message(err, f"Invalid job spec {source}")) from None
    if base_dir is None:
        return spec

    def resolve(p: Path) -> Path:
        return p if p.is_absolute() else (base_dir / p).resolve()

    updates: dict[str, Any] = {
        "model": spec.model.model_copy(update={"checkpoint": resolve(spec.model.checkpoint)}),
        "outputs": spec.outputs.model_copy(
            update={
                "dir": spec.outputs.dir if is_remote(spec.outputs.dir) else str(resolve(Path(spec.outputs.dir))),
                "staging": None if spec.outputs.staging is None else resolve(spec.outputs.staging),
            }
        ),
    }
    source = spec.catalog.source
    local = catalog_file(source)
    if local is not None:
        updates["catalog"] = spec.catalog.model_copy(update={"source": str(resolve(local))})
    if spec.aoi.geojson is not None:
        updates["aoi"] = spec.aoi.model_copy(update={"geojson": resolve(spec.aoi.geojson)})
    return spec.model_copy(update=updates)


def load_job_spec(path: str | Path) -> JobSpec:
    """Read and validate a job spec YAML file (errors name the file and the key)."""
    path = Path(path)
    data = read_yaml_mapping(
        path, "Job spec", "name, aoi, time, catalog, sensors, model, outputs", "see pipelines/ for examples"
    )
    return job_spec_from_dict(data, source=str(path), base_dir=path.parent)
