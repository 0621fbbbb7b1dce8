"""Training specs: what ``eofusion train`` / ``eofusion evaluate`` learn from, read from ``pipelines/*-train.yaml``.

A spec names a cube (built beforehand with ``eofusion cube build``, or built here from a catalog or from
GeoTIFFs when ``data.build`` is given), the labels (a class raster, or polygons with a class column that are
rasterised), the spatial train/test split, the chips and the training budget shared by eofusion's model
and the baselines. Relative paths resolve against the YAML file. Unknown keys are rejected by name.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from eofusion.catalog import catalog_file
from eofusion.config import read_yaml_mapping, short_hash, validation_message
from eofusion.cube.groups import group_key
from eofusion.errors import ConfigError
from eofusion.pipeline.spec import SensorList

BaselineName = Literal["unet", "dofa", "random_forest"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BuildSpec(_Strict):
    """How to build the cube when it is not there yet: from a catalog, or from GeoTIFFs directly."""

    catalog: str | None = None  # catalog source (STAC API URL, stac-geoparquet, static catalog, name)
    rasters: list[Path] | None = None  # or GeoTIFF files/folders (items are built as `eofusion catalog build` does)
    datetime: str | None = None  # acquisition time for rasters whose name, tags or sidecar carry none
    # rasters: file-name glob -> {sensor, bands}, as `eofusion catalog build --rules` reads (band order of
    # multi-band files is never assumed)
    rules: dict[str, dict[str, Any]] = Field(default_factory=dict)
    collections: list[str] | None = None
    bbox: tuple[float, float, float, float]  # in `crs`
    # The bbox's CRS. Geographic (default EPSG:4326): the cube is in the bbox's UTM zone. Projected: the cube
    # is in that CRS over exactly that box (snapped outward to the coarsest pixel), e.g. a mapping sheet.
    crs: str = "EPSG:4326"
    time: str | None = None  # e.g. 2024-01-01/2024-12-31
    resolutions: dict[str, float] = Field(default_factory=dict)  # group (or alias) -> pixel size
    # A cube at data.cube built from another configuration (other items, files, grids) is refused unless
    # `replace` (then rebuilt). The same configuration is resumed or, when complete, used as it is.
    replace: bool = False

    @field_validator("resolutions")
    @classmethod
    def _group_keys(cls, value: dict[str, float]) -> dict[str, float]:
        return {group_key(k): v for k, v in value.items()}

    @field_validator("datetime", mode="before")
    @classmethod
    def _as_text(cls, value: object) -> object:
        """YAML reads an unquoted timestamp as a datetime: keep it as RFC 3339 text."""
        return value.isoformat() if isinstance(value, (dt.datetime, dt.date)) else value

    @model_validator(mode="after")
    def _one_source(self) -> BuildSpec:
        if (self.catalog is None) == (self.rasters is None):
            raise ValueError("give exactly one of catalog or rasters")
        return self


class DataSpec(_Strict):
    """The cube and the sensor groups used."""

    cube: Path
    sensors: SensorList  # names or aliases (Sentinel-2, s2...), normalised to cube group keys
    build: BuildSpec | None = None


class ClassSpec(_Strict):
    """One class: its name and map colour."""

    name: str
    colour: str = Field(default="#808080", pattern=r"^#[0-9a-fA-F]{6}$")


class LabelSpec(_Strict):
    """Reference labels: a class-id raster (any CRS; nearest-neighbour onto the label grid) or polygons."""

    raster: str | None = None  # a path; a glob pattern must match exactly one file
    vector: Path | None = None  # GeoParquet / GeoPackage / GeoJSON polygons
    column: str | None = None  # vector: the column holding class ids
    classes: dict[int, ClassSpec] | None = None
    classes_file: Path | None = None  # JSON: a list of {id, name, colour} (under `classes_key` if given)
    classes_key: str | None = None
    nodata: int = 0
    resolution_m: float | None = Field(default=None, gt=0)  # default: the finest cube grid

    @model_validator(mode="after")
    def _consistent(self) -> LabelSpec:
        if (self.raster is None) == (self.vector is None):
            raise ValueError("give exactly one of raster or vector")
        if self.vector is not None and not self.column:
            raise ValueError("vector labels need `column` (the attribute holding class ids)")
        if (self.classes is None) == (self.classes_file is None):
            raise ValueError("give exactly one of classes (inline) or classes_file")
        return self


class SplitSpec(_Strict):
    """Spatially disjoint train/test parts: the first ``train_fraction`` along ``axis`` trains."""

    train_fraction: float = Field(default=0.6, gt=0, lt=1)
    axis: Literal["x", "y"] = "x"


class ChipSpec(_Strict):
    """Training and evaluation chips."""

    size_m: float = Field(gt=0)
    train_count: int = Field(default=512, ge=1)
    sampler: Literal["random", "grid"] = "random"


class ModelSpec(_Strict):
    """eofusion's model: encoder preset, optional MAE pretraining on the training part of the cube."""

    preset: str = "tiny"
    pretrained: Path | None = None  # an MAE checkpoint; else `pretrain_steps` of MAE on the cube first
    pretrain_steps: int = Field(default=60, ge=0)
    pretrain_lr: float = Field(default=3e-3, gt=0)
    head_dim: int = Field(default=32, ge=4)


class FinetuneSpec(_Strict):
    """The training budget shared by every model of the run."""

    steps: int = Field(default=150, ge=1)
    batch_size: int = Field(default=8, ge=1)
    lr: float = Field(default=2e-3, gt=0)
    # Probability that a chip trains on a uniformly drawn non-empty subset of its sensors instead of all of
    # them (see eofusion.training.finetune): 0 trains on the full stack only.
    sensor_dropout: float = Field(default=0.75, ge=0, le=1)
    # eofusion's model only (eofusion.training.augment): chance per sensor and step of a random subset of
    # its bands, for models that will map with sensors they did not train on (Landsat where training had
    # Sentinel-2, another aerial camera). Off unless set: which sensors to cut depends on the band sets.
    band_dropout: float = Field(default=0.0, ge=0, le=1)
    # The sensors (of data.sensors) whose bands band_dropout may cut; the others always come in whole. None:
    # every sensor. 0.3 on Sentinel-2 only (the benchmark's fused model) kept most of what band dropout gives
    # unseen sensors at a quarter of its cost on the seen ones: the aerial's four bands carry too much each to
    # be cut (figures in docs/any-band-set-log.md).
    band_dropout_sensors: SensorList | None = None
    # eofusion's model only (eofusion.training.augment): sigma of each chip's reflectance log-gain (common to
    # its bands; sigma / 2 more per band: exposure and another camera's band responses), for models that will
    # map with a camera or satellite they did not train on. 0 turns it off.
    radiometric_jitter: float = Field(default=0.0, ge=0, le=1)
    # eofusion's model only (eofusion.training.augment): chance per sensor and step that its reflectance bands
    # come in as another camera's (moved centres, other widths), for a camera with other band responses.
    response_jitter: float = Field(default=0.0, ge=0, le=1)
    num_workers: int = Field(default=0, ge=0)


class OutputSpec(_Strict):
    """Where the checkpoint, metrics, tables and plots go."""

    dir: Path


class TrainSpec(_Strict):
    """A whole training run: data -> labels -> split -> chips -> models -> evaluation report."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    task: Literal["landcover", "croptype"] = "landcover"
    seed: int = 0
    data: DataSpec
    labels: LabelSpec
    split: SplitSpec = SplitSpec()
    chips: ChipSpec
    model: ModelSpec = ModelSpec()
    finetune: FinetuneSpec = FinetuneSpec()
    baselines: list[BaselineName] = Field(default_factory=list)
    subsets: dict[str, SensorList] | None = None  # label -> sensors; default: every non-empty subset
    outputs: OutputSpec

    @model_validator(mode="after")
    def _named_sensors_are_in_the_data(self) -> TrainSpec:
        for label, sensors in (self.subsets or {}).items():
            extra = [s for s in sensors if s not in self.data.sensors]
            if extra:
                raise ValueError(f"subset {label!r} names {extra}, which data.sensors {self.data.sensors} lacks")
        extra = [s for s in self.finetune.band_dropout_sensors or [] if s not in self.data.sensors]
        if extra:
            raise ValueError(
                f"finetune.band_dropout_sensors names {extra}, which data.sensors {self.data.sensors} lacks: "
                "name sensors the model trains on"
            )
        return self

    def config_hash(self) -> str:
        """A short hash of everything that changes the results (not where they are written)."""
        payload = self.model_dump(mode="json", exclude={"outputs": True, "finetune": {"num_workers"}})
        finetune = payload["finetune"]
        if not finetune["band_dropout"]:  # no band dropout: which sensors it would cut changes nothing
            finetune["band_dropout_sensors"] = None
        for option in ("radiometric_jitter", "response_jitter", "band_dropout_sensors"):  # off: hash as before them
            if not finetune[option]:
                del finetune[option]
        return short_hash(payload)


def _resolve(path: Path, base: Path) -> Path:
    return path if path.is_absolute() else (base / path).resolve()


def train_spec_from_dict(data: dict[str, Any], source: str = "mapping", base_dir: Path | None = None) -> TrainSpec:
    """Validate a mapping; relative paths resolve against ``base_dir`` (the YAML file's folder)."""
    try:
        spec = TrainSpec.model_validate(data)
    except ValidationError as err:
        raise ConfigError(validation_message(err, f"Invalid training spec {source}")) from None
    if base_dir is None:
        return spec
    base = base_dir
    build = spec.data.build
    if build is not None:
        catalog = build.catalog
        local = catalog_file(catalog) if catalog else None
        if local is not None:
            catalog = str(_resolve(local, base))
        rasters = [_resolve(p, base) for p in build.rasters] if build.rasters else None
        build = build.model_copy(update={"catalog": catalog, "rasters": rasters})
    labels = spec.labels
    label_updates: dict[str, Any] = {}
    if labels.raster is not None and not Path(labels.raster).is_absolute():
        label_updates["raster"] = str(base / labels.raster)
    for key in ("vector", "classes_file"):
        value = getattr(labels, key)
        if value is not None:
            label_updates[key] = _resolve(value, base)
    model = spec.model
    if model.pretrained is not None:
        model = model.model_copy(update={"pretrained": _resolve(model.pretrained, base)})
    return spec.model_copy(
        update={
            "data": spec.data.model_copy(update={"cube": _resolve(spec.data.cube, base), "build": build}),
            "labels": labels.model_copy(update=label_updates),
            "model": model,
            "outputs": spec.outputs.model_copy(update={"dir": _resolve(spec.outputs.dir, base)}),
        }
    )


def load_train_spec(path: str | Path) -> TrainSpec:
    """Read and validate a training spec YAML file (errors name the file and the key)."""
    path = Path(path)
    data = read_yaml_mapping(
        path, "Training spec", "name, data, labels, chips, outputs", "see pipelines/*-train.yaml for examples"
    )
    return train_spec_from_dict(data, source=str(path), base_dir=path.parent)
