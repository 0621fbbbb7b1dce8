"""The data of a training run: the cube (built when the spec says how), labels on a cube-nested grid, the class
table, the spatial train/test split and the chip datasets every model of the run shares."""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from odc.geo import CRS

from eofusion.cube import Cube, WriteOptions, open_cube
from eofusion.errors import ConfigError, InputDataError, SkippedInputWarning
from eofusion.grid import as_geometry, nested_grids, pixel_window
from eofusion.pipeline.train_spec import TrainSpec
from eofusion.training.chips import ChipWindow, grid_windows, random_windows, split_bounds
from eofusion.training.cube_dataset import LabelledCubeDataset, LabelRaster
from eofusion.training.labels import raster_labels, resolve_one, vector_labels
from eofusion.training.landcover import ClassTable

logger = logging.getLogger(__name__)

Say = Callable[[str, str], None]  # (stage, message)


@dataclass
class TrainingData:
    """Everything the models of a run share: cube, labels, class table, split and chip datasets."""

    cube: Cube
    labels: LabelRaster
    classes: ClassTable
    train_area: tuple[float, float, float, float]
    test_area: tuple[float, float, float, float]
    train_windows: list[ChipWindow]
    test_windows: list[ChipWindow]
    train: LabelledCubeDataset = field(init=False)
    test: LabelledCubeDataset = field(init=False)

    def __post_init__(self) -> None:
        self.train = LabelledCubeDataset(self.cube, self.labels, self.train_windows)
        self.test = LabelledCubeDataset(self.cube, self.labels, self.test_windows)

    @property
    def names(self) -> dict[int, str]:
        """Logit index -> class name."""
        return dict(enumerate(self.classes.names))

    def class_counts(self) -> dict[str, dict[str, int]]:
        """Labelled pixels per class in the train and test parts (each pixel once; small data must say so)."""
        out: dict[str, dict[str, int]] = {}
        k = len(self.classes.ids)
        for part, area in (("train", self.train_area), ("test", self.test_area)):
            chip = self.labels.values[pixel_window(self.labels.geobox, area).toslices()]
            counts = np.bincount(chip[chip < k].ravel(), minlength=k)[:k]
            out[part] = {name: int(n) for name, n in zip(self.classes.names, counts, strict=True)}
        return out


def class_table(spec: TrainSpec) -> ClassTable:
    """The spec's classes in logit order (inline, or from a JSON class file)."""
    labels = spec.labels
    if labels.classes is not None:
        names = {k: v.name for k, v in labels.classes.items()}
        colours = {k: v.colour for k, v in labels.classes.items()}
        return ClassTable.from_mapping(names, colours)
    path = labels.classes_file
    assert path is not None  # the spec validator guarantees one of the two
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise InputDataError(f"Class file {path} cannot be read as JSON ({err}).") from None
    rows = doc.get(labels.classes_key) if labels.classes_key and isinstance(doc, dict) else doc
    if not isinstance(rows, list) or not rows:
        raise InputDataError(
            f"Class file {path}: expected a list of {{id, name, colour}}"
            + (f" under key {labels.classes_key!r}" if labels.classes_key else "")
            + "."
        )
    return ClassTable.from_mapping({int(r["id"]): r["name"] for r in rows}, {int(r["id"]): r["colour"] for r in rows})


def ensure_cube(spec: TrainSpec, say: Say) -> Path:
    """The spec's cube: built (or resumed) from its catalog or GeoTIFFs when ``data.build`` is given.

    With ``data.build`` the build runs every time: a complete cube of the same configuration is used as it is
    (nothing is read again), a partial one is resumed, and one built from other inputs is refused (or
    replaced with ``build.replace``) rather than silently trained on.
    """
    store = spec.data.cube
    build = spec.data.build
    if build is None:
        if not (store / "zarr.json").exists():
            raise InputDataError(
                f"Cube {store} does not exist; build it with `eofusion cube build ... --out {store}` or add a "
                "`data.build` section (catalog or rasters, bbox) to the training spec."
            )
        say("cube", f"using {store}")
        return store
    from eofusion.catalog import normalize_items, search
    from eofusion.catalog.build import build_items
    from eofusion.catalog.file_rules import rules_from_mapping
    from eofusion.cube import build_cube
    from eofusion.pipeline.spec import resolutions_for

    aoi = as_geometry(build.bbox, build.crs)
    bbox4326 = list(aoi.to_crs("EPSG:4326").boundingbox)
    # Files and items that are not sensor data (label rasters, cloud masks in the same folders) are left
    # out: each is logged, and the cube records what it used.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SkippedInputWarning)
        if build.rasters is not None:
            rules = rules_from_mapping(build.rules, "data.build.rules")
            raw = list(build_items(build.rasters, rules=rules, acquired=build.datetime, on_error="skip").items)
        else:
            raw = search(build.catalog or "", collections=build.collections, bbox=bbox4326, datetime=build.time)
        items = normalize_items(raw, on_error="skip")
    for w in caught:
        logger.info("%s", w.message)
    if not items:
        raise InputDataError(f"No usable items for the cube in {build.catalog or build.rasters} over {build.bbox}.")
    resolutions = resolutions_for(build.resolutions, spec.data.sensors)
    resolutions = {s: resolutions[s] for s in spec.data.sensors}
    projected = not CRS(build.crs).geographic
    grids = nested_grids(aoi, resolutions, crs=build.crs if projected else None)
    summary = build_cube(
        items,
        grids,
        spec.data.sensors,
        store,
        resolutions=resolutions,
        write=WriteOptions(scheduler="threads", overwrite=build.replace),
    )
    say(
        "cube",
        f"{store} from {len(items)} items ({summary.blocks_written} blocks written, "
        f"{summary.blocks_skipped} already there)",
    )
    return store


def _nested(a: float, b: float) -> bool:
    """Whether ``a`` is a whole multiple of ``b``."""
    return abs(a / b - round(a / b)) < 1e-6


def label_resolution(spec: TrainSpec, cube: Cube) -> float:
    """The label grid's pixel: the spec's, else the finest cube grid; nested with the coarsest either way."""
    res = spec.labels.resolution_m or cube.finest_m
    if not (_nested(cube.coarsest_m, res) or _nested(res, cube.coarsest_m)):
        raise ConfigError(
            f"labels.resolution_m {res} and the coarsest cube pixel ({cube.coarsest_m} m) are not nested: "
            "one must be a whole multiple of the other."
        )
    return res


def chip_snap(spec: TrainSpec, cube: Cube) -> float:
    """Chips start on this lattice: whole pixels of the coarsest cube grid and of the label grid."""
    return max(cube.coarsest_m, label_resolution(spec, cube))


def label_raster(spec: TrainSpec, cube: Cube, classes: ClassTable) -> LabelRaster:
    """Reference labels as logit indices on a grid nested with the cube's (same bounds)."""
    geobox = cube.geobox(label_resolution(spec, cube))
    nodata = spec.labels.nodata
    if spec.labels.raster is not None:
        ids = raster_labels(resolve_one(spec.labels.raster), geobox, nodata)
    else:
        assert spec.labels.vector is not None and spec.labels.column is not None
        ids = vector_labels(spec.labels.vector, spec.labels.column, geobox, nodata)
    return LabelRaster(classes.to_indices(ids), geobox)


def prepare_data(spec: TrainSpec, say: Say) -> TrainingData:
    """Cube, labels, split and chips of a spec."""
    store = ensure_cube(spec, say)
    cube = open_cube(store, groups=spec.data.sensors)
    classes = class_table(spec)
    labels = label_raster(spec, cube, classes)
    snap = chip_snap(spec, cube)
    train_area, test_area = split_bounds(cube.bounds, spec.split.train_fraction, snap_m=snap, axis=spec.split.axis)
    size = spec.chips.size_m
    if spec.chips.sampler == "random":
        train_windows = random_windows(train_area, size, spec.chips.train_count, seed=spec.seed, snap_m=snap)
    else:
        train_windows = grid_windows(train_area, size, snap_m=snap)
    test_windows = grid_windows(test_area, size, snap_m=snap)
    data = TrainingData(cube, labels, classes, train_area, test_area, train_windows, test_windows)
    say(
        "data",
        f"{len(classes.ids)} classes, {len(train_windows)} training chips in {_fmt(train_area)}, "
        f"{len(test_windows)} held-out chips in {_fmt(test_area)} ({size:g} m, labels at {labels_res(labels):g} m)",
    )
    return data


def labels_res(labels: LabelRaster) -> float:
    return float(abs(labels.geobox.affine.a))


def _fmt(bounds: Sequence[float]) -> str:
    return "[" + ", ".join(f"{v:.0f}" for v in bounds) + "]"
