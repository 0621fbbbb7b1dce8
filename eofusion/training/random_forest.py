"""Pixel-wise random-forest baseline (scikit-learn), scored with the deep models' metric.

Features of a pixel of the label grid: every band of every sensor at every date (the flattened time
series), each sensor resampled to the label grid (area average when shrinking, bilinear when enlarging;
invalid pixels — clouds, nodata, NaN — are left out of both, so a value is missing only where no valid
pixel contributes). The feature layout (sensor keys, bands, number of dates) is fixed by the first
training chip. Missing values (clouded dates, a sensor absent from a chip or left out in evaluation) are
imputed with the feature's mean over the training pixels (per band and date; 0, the normalisation mean,
if a feature never had a valid value).

Training pixels are subsampled to at most ``max_pixels``, class-balanced within each chip and then
across chips (rare classes keep all their pixels up to an equal share), so fitting stays fast.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
from sklearn.ensemble import RandomForestClassifier
from torch import Tensor
from torch.utils.data import Dataset

from eofusion.errors import ConfigError
from eofusion.models.heads import resample
from eofusion.models.inputs import SensorInput
from eofusion.training.metrics import IGNORE_INDEX, SegmentationMetric, SegmentationScores

log = logging.getLogger(__name__)

LabelledSample = tuple[dict[str, SensorInput], Tensor]
Features = npt.NDArray[np.float32]


@dataclass(frozen=True)
class FeatureBlock:
    """The columns one sensor contributes: every band at every date, date-major."""

    sensor: str
    bands: tuple[str, ...]
    dates: int

    @property
    def width(self) -> int:
        return len(self.bands) * self.dates


def feature_layout(sample: Mapping[str, SensorInput]) -> tuple[FeatureBlock, ...]:
    """The feature layout of a sample's sensors, in the sample's order."""
    blocks = []
    for key, item in sample.items():
        dates = item.pixels.shape[-4] if item.pixels.ndim >= 4 else 1
        blocks.append(FeatureBlock(key, tuple(b.name for b in item.bands), dates))
    return tuple(blocks)


def feature_names(layout: Sequence[FeatureBlock]) -> list[str]:
    """Column names ``"<sensor>/<band>/t<date>"`` in feature order."""
    return [f"{b.sensor}/{band}/t{t}" for b in layout for t in range(b.dates) for band in b.bands]


def _sensor_features(item: SensorInput, block: FeatureBlock, out_shape: tuple[int, int]) -> Tensor:
    """``[T * C, H, W]`` of one sensor on the label grid, NaN where no valid pixel contributes."""
    item = item.select(block.bands)
    pixels = item.pixels if item.pixels.ndim == 4 else item.pixels.unsqueeze(0)  # [T, C, h, w]
    if pixels.ndim != 4:
        raise ConfigError(f"pixel_features takes one unbatched sample; sensor {block.sensor!r} is batched.")
    if pixels.shape[0] != block.dates:
        raise ConfigError(
            f"Sensor {block.sensor!r} has {pixels.shape[0]} dates but the forest was trained with {block.dates}; "
            "use chips from the same cube (time axis)."
        )
    ok = torch.isfinite(pixels)
    if item.valid is not None:
        valid = item.valid if item.valid.ndim == 3 else item.valid.unsqueeze(0)
        ok = ok & valid.unsqueeze(1)
    weight = resample(ok.float(), out_shape)
    total = resample(torch.where(ok, pixels, 0.0).float(), out_shape)
    values = torch.where(weight > 1e-6, total / weight.clamp_min(1e-6), torch.nan)
    return values.reshape(-1, *out_shape)


def pixel_features(
    sample: Mapping[str, SensorInput], out_shape: tuple[int, int], layout: Sequence[FeatureBlock] | None = None
) -> Features:
    """Per-pixel features ``[H * W, F]`` (row-major pixels) on a grid of ``out_shape``; NaN = missing.

    Args:
        sample: One unbatched sample (``pixels [T, C, h, w]`` per sensor).
        out_shape: The label grid ``(H, W)``.
        layout: Columns to produce (default: the sample's own); sensors of the layout that the sample lacks
            give NaN columns, sensors the layout lacks are ignored.
    """
    layout = tuple(layout) if layout is not None else feature_layout(sample)
    columns = []
    with torch.no_grad():
        for block in layout:
            item = sample.get(block.sensor)
            if item is None:
                columns.append(torch.full((block.width, *out_shape), torch.nan))
            else:
                columns.append(_sensor_features(item, block, out_shape))
    stacked = torch.cat(columns).reshape(-1, out_shape[0] * out_shape[1])  # [F, N]
    return stacked.T.contiguous().numpy().astype(np.float32, copy=False)


@dataclass(frozen=True)
class PixelForest:
    """A fitted forest with its feature layout and imputation values.

    Attributes:
        forest: The scikit-learn classifier.
        layout: Feature columns (see :func:`feature_layout`).
        fill: Per-feature imputation value (mean over training pixels).
        train_counts: Training pixels used per class index.
    """

    forest: RandomForestClassifier
    layout: tuple[FeatureBlock, ...]
    fill: Features
    train_counts: Mapping[int, int]

    def features(self, sample: Mapping[str, SensorInput], out_shape: tuple[int, int]) -> Features:
        """Imputed features ``[H * W, F]``."""
        return _impute(pixel_features(sample, out_shape, self.layout), self.fill)

    def predict(self, sample: Mapping[str, SensorInput], out_shape: tuple[int, int]) -> npt.NDArray[np.int64]:
        """Class indices ``[H, W]`` for one sample."""
        pred = self.forest.predict(self.features(sample, out_shape))
        return np.asarray(pred, dtype=np.int64).reshape(out_shape)


def _impute(x: Features, fill: Features) -> Features:
    missing = np.isnan(x)
    if missing.any():
        x = np.where(missing, fill[None, :], x).astype(np.float32)
    return x


def _shape(label: Tensor) -> tuple[int, int]:
    return int(label.shape[-2]), int(label.shape[-1])


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _balanced_pick(labels: npt.NDArray[np.int64], budget: int, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """Indices of at most ``budget`` entries, an equal share per class (small classes give theirs to others)."""
    classes, counts = np.unique(labels, return_counts=True)
    order = np.argsort(counts)
    take = np.zeros(len(classes), dtype=np.int64)
    left = budget
    for rank, i in enumerate(order):  # smallest classes first; what they do not use goes to the larger ones
        share = left // (len(classes) - rank)
        take[i] = min(counts[i], share)
        left -= take[i]
    picked = [
        rng.choice(np.flatnonzero(labels == c), int(n), replace=False) for c, n in zip(classes, take, strict=True)
    ]
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.int64)


def fit_random_forest(
    dataset: Dataset[LabelledSample],
    *,
    max_pixels: int = 50_000,
    seed: int = 0,
    n_estimators: int = 100,
    max_depth: int | None = None,
    n_jobs: int | None = None,
    ignore_index: int = IGNORE_INDEX,
) -> PixelForest:
    """Fit a pixel-wise random forest on labelled chips.

    Args:
        dataset: Items ``(sample, label [H, W])`` (e.g. :class:`~eofusion.training.cube_dataset.LabelledCubeDataset`).
        max_pixels: Most training pixels (class-balanced subsample).
        seed: Seed of the subsample and the forest.
        n_estimators, max_depth: Forest size.
        n_jobs: Worker processes (default: the cores this process may use).
        ignore_index: Label value of unlabelled pixels.

    Raises:
        ConfigError: No chips, no labelled pixels, or fewer than two classes.
    """
    size = len(dataset)  # type: ignore[arg-type]
    if size == 0:
        raise ConfigError("fit_random_forest needs at least one labelled chip.")
    if max_pixels < 2:
        raise ConfigError(f"max_pixels must be >= 2, got {max_pixels}.")
    rng = np.random.default_rng(seed)
    per_chip = math.ceil(2 * max_pixels / size)  # twice the share: the final pick balances across chips
    layout: tuple[FeatureBlock, ...] | None = None
    xs, ys = [], []
    for index in range(size):
        sample, label = dataset[index]
        layout = layout or feature_layout(sample)
        flat = label.reshape(-1).numpy().astype(np.int64)
        labelled = np.flatnonzero((flat != ignore_index) & (flat >= 0))
        if len(labelled) == 0:
            continue
        pick = labelled[_balanced_pick(flat[labelled], per_chip, rng)]
        xs.append(pixel_features(sample, _shape(label), layout)[pick])
        ys.append(flat[pick])
    if layout is None or not ys:
        raise ConfigError("The training chips have no labelled pixels; check the labels and the ignore index.")
    x_all, y_all = np.concatenate(xs), np.concatenate(ys)
    keep = _balanced_pick(y_all, max_pixels, rng)
    x, y = x_all[keep], y_all[keep]
    if len(np.unique(y)) < 2:
        raise ConfigError(f"The training pixels hold a single class ({int(y[0])}); a classifier needs two or more.")
    with np.errstate(all="ignore"):  # all-NaN columns warn; they are filled with 0 below
        fill = np.nan_to_num(np.nanmean(x, axis=0), nan=0.0).astype(np.float32)
    forest = RandomForestClassifier(
        n_estimators=n_estimators, max_depth=max_depth, n_jobs=n_jobs or _cores(), random_state=seed
    )
    forest.fit(_impute(x, fill), y)
    classes, counts = np.unique(y, return_counts=True)
    log.info("random forest: %d pixels x %d features from %d chips", len(y), x.shape[1], size)
    return PixelForest(forest, layout, fill, {int(c): int(n) for c, n in zip(classes, counts, strict=True)})


def evaluate_random_forest(
    forest: PixelForest,
    dataset: Dataset[LabelledSample],
    num_classes: int,
    *,
    sensors: Sequence[str] | None = None,
    ignore_index: int = IGNORE_INDEX,
) -> SegmentationScores:
    """Scores of ``forest`` on every chip of ``dataset`` (the same metric as the deep models' ``evaluate``).

    Args:
        forest: From :func:`fit_random_forest`.
        dataset: Labelled chips.
        num_classes: Number of classes of the label table.
        sensors: Use only these sensors (the others' features are imputed); default: all.
        ignore_index: Label value of unlabelled pixels.
    """
    metric = SegmentationMetric(num_classes, ignore_index)
    for index in range(len(dataset)):  # type: ignore[arg-type]
        sample, label = dataset[index]
        if sensors is not None:
            available = list(sample)
            sample = {k: v for k, v in sample.items() if k in sensors}
            if not sample:
                raise ConfigError(f"None of the sensors {list(sensors)} is in the data; it has {available}.")
        pred = forest.predict(sample, _shape(label))
        metric.update(torch.from_numpy(pred)[None], label[None])
    return metric.compute()
