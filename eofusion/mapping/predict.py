"""Wall-to-wall prediction over a cube: overlapping windows, smooth blending, streamed to COGs strip by strip.

Windows of ``chip_m`` metres overlap by ``overlap_m``; each window's class probabilities are weighted by a
smooth taper (a raised cosine that is highest in the window centre and small, never zero, at its borders)
and accumulated; the map is the arg-max of the weighted mean. Because neighbouring windows fade into each
other there are no seams at window borders. Windows are processed one row (strip) at a time and finished
rows go straight to the COG writer, so memory depends on the AOI's width and the window size, never on its
height — and a job's tiling bounds the width.

Where some sensors have no data the model uses what is there; a modality-availability layer records, per
output pixel, which sensors had valid data (bit ``i`` set = sensor ``i`` of the legend in the tags).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import rasterio
import torch
from odc.geo.geobox import GeoBox
from rasterio.windows import Window
from torch import nn

from eofusion.cube import Cube
from eofusion.errors import ConfigError, GridError
from eofusion.grid import ChipWindow, pixel_window
from eofusion.mapping.cog import ClassMapWriter, MapFiles, MapLayers, StreamedRaster
from eofusion.mapping.legend import CLASS_NODATA, MapLegend
from eofusion.mapping.timing import StageClock
from eofusion.models.device import DevicePolicy
from eofusion.models.inputs import SensorInput, collate_samples, read_sample

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PredictConfig:
    """Sliding-window settings."""

    chip_m: float = 320.0
    overlap_m: float = 80.0
    batch_size: int = 4
    out_res_m: float | None = None  # default: the finest cube group
    sensors: tuple[str, ...] | None = None  # cube groups to use (default: all)
    device: str = "cpu"  # where the model runs: cpu, cuda:N or auto (see eofusion.models.device)


@dataclass(frozen=True)
class Prediction:
    """What :func:`predict_to_cog` wrote."""

    files: MapFiles
    availability: Path
    geobox: GeoBox
    sensors: tuple[str, ...]
    seconds: Mapping[str, float] = field(default_factory=dict)  # wall seconds per stage (mapping/timing.py)


def taper(n: int, overlap: int) -> npt.NDArray[np.float32]:
    """1-D weights: raised cosine over ``overlap`` pixels at each end, flat in the middle, > 0 everywhere."""
    w = np.ones(n, dtype=np.float32)
    if overlap > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(overlap, dtype=np.float32) + 0.5) / overlap)
        w[:overlap] = ramp
        w[-overlap:] = np.minimum(w[-overlap:], ramp[::-1])
    return np.maximum(w, 1e-3)


def window_starts(length_m: float, chip_m: float, step_m: float, snap_m: float) -> list[float]:
    """Window offsets covering ``[0, length_m)``; the last one is moved back to end exactly at the edge."""
    if chip_m > length_m + 1e-6:
        raise ConfigError(
            f"The area ({length_m:.0f} m) is smaller than one window ({chip_m:.0f} m); use smaller chips."
        )
    starts = list(np.arange(0.0, length_m - chip_m + 1e-6, step_m))
    last = round((length_m - chip_m) / snap_m) * snap_m
    if starts[-1] < last - 1e-6:
        starts.append(last)
    return [float(s) for s in starts]


def _availability(sample: dict[str, SensorInput], keys: Sequence[str], shape: tuple[int, int]) -> np.ndarray:
    bits = np.zeros(shape, dtype=np.uint8)
    for i, key in enumerate(keys):
        item = sample.get(key)
        if item is None or item.valid is None:
            continue
        any_date = item.valid.any(dim=0).numpy()  # [h, w] on the sensor's grid
        ry, rx = shape[0] / any_date.shape[0], shape[1] / any_date.shape[1]
        rows = np.minimum((np.arange(shape[0]) / ry).astype(int), any_date.shape[0] - 1)
        cols = np.minimum((np.arange(shape[1]) / rx).astype(int), any_date.shape[1] - 1)
        bits |= (any_date[np.ix_(rows, cols)].astype(np.uint8) << i).astype(np.uint8)
    return bits


class _Strip:
    """Weighted probability sums, weights and availability bits of the output rows not yet written."""

    def __init__(self, classes: int, width: int) -> None:
        self.acc = np.zeros((classes, 0, width), dtype=np.float32)
        self.wsum = np.zeros((0, width), dtype=np.float32)
        self.bits = np.zeros((0, width), dtype=np.uint8)

    @property
    def rows(self) -> int:
        return int(self.wsum.shape[0])

    def grow_to(self, rows: int) -> None:
        extra = rows - self.rows
        if extra > 0:
            k, _, width = self.acc.shape
            self.acc = np.concatenate([self.acc, np.zeros((k, extra, width), np.float32)], axis=1)
            self.wsum = np.concatenate([self.wsum, np.zeros((extra, width), np.float32)])
            self.bits = np.concatenate([self.bits, np.zeros((extra, width), np.uint8)])

    def add(self, row: int, col: int, probs: np.ndarray, weight: np.ndarray, bits: np.ndarray) -> None:
        h, w = weight.shape
        self.acc[:, row : row + h, col : col + w] += probs * weight
        self.wsum[row : row + h, col : col + w] += weight
        self.bits[row : row + h, col : col + w] |= bits

    def take(self, rows: int, class_values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Class ids, mean probabilities and bits of the first ``rows`` rows, removed from the strip."""
        mean = self.acc[:, :rows] / np.maximum(self.wsum[:rows], 1e-6)
        bits = self.bits[:rows]
        ids = class_values[np.argmax(mean, axis=0)]
        ids[bits == 0] = CLASS_NODATA
        self.acc, self.wsum, self.bits = self.acc[:, rows:], self.wsum[rows:], self.bits[rows:]
        return ids, mean, bits


def map_geobox(cube: Cube, res: float | None = None) -> GeoBox:
    """The grid a map of ``cube`` is written on: its finest group's GeoBox, or its extent at ``res``.

    Raises:
        GridError: The grid at ``res`` does not cover exactly the cube's extent (``res`` not nested in it).
    """
    finest = min(cube.groups.values(), key=lambda g: g.res)
    if res is None or abs(res - finest.res) <= 1e-9 * finest.res:
        return finest.geobox
    geobox = cube.geobox(res)
    drift = max(abs(p - q) for p, q in zip(geobox.boundingbox, finest.geobox.boundingbox, strict=True))
    if drift > 1e-3 * min(res, finest.res):
        raise GridError(
            f"A {res:g} m map grid does not cover the cube's extent {cube.bounds} exactly; use a resolution that "
            "divides the extent, e.g. one of the cube's: " + ", ".join(f"{g.res:g}" for g in cube.groups.values())
        )
    return geobox


@dataclass(frozen=True)
class _Sweep:
    """The model run over one row of windows, its weighted probabilities added to the strip."""

    model: nn.Module
    cube: Cube
    keys: tuple[str, ...]
    geobox: GeoBox
    weight: npt.NDArray[np.float32]
    batch_size: int
    policy: DevicePolicy
    clock: StageClock
    reader: ThreadPoolExecutor  # reads the next batch of windows while the model computes this one

    def __post_init__(self) -> None:
        self.model.to(self.policy.device)

    def _read(self, chunk: Sequence[ChipWindow]) -> list[dict[str, SensorInput]]:
        return [{k: s[k] for k in self.keys if k in s} for s in (read_sample(self.cube, w) for w in chunk)]

    def row(self, windows: Sequence[ChipWindow], strip: _Strip, row_off: int) -> None:
        n = self.weight.shape[0]
        chunks = [windows[start : start + self.batch_size] for start in range(0, len(windows), self.batch_size)]
        pending = self.reader.submit(self._read, chunks[0])
        for index, chunk in enumerate(chunks):
            with self.clock.stage("read"):
                samples = pending.result()
            if index + 1 < len(chunks):
                pending = self.reader.submit(self._read, chunks[index + 1])
            # Windows where no sensor has a single valid pixel (outside the data) stay nodata: no forward
            # pass is spent on them.
            with self.clock.stage("blend"):
                present = [_availability(sample, self.keys, (n, n)) for sample in samples]
            live = [i for i, b in enumerate(present) if b.any()]
            if not live:
                continue
            with self.clock.stage("forward"):
                batch = {k: v.to(self.policy.device) for k, v in collate_samples([samples[i] for i in live]).items()}
                with self.policy.autocast():
                    logits = self.model(batch, (n, n))
                probs = torch.softmax(logits.float(), dim=1).cpu().numpy()
            with self.clock.stage("blend"):
                for i, p in zip(live, probs, strict=True):
                    col = int(pixel_window(self.geobox, chunk[i].bounds).col_off)
                    strip.add(row_off, col, p, self.weight, present[i])


@torch.no_grad()
def predict_to_cog(
    model: nn.Module,
    cube: Cube,
    legend: MapLegend,
    path: str | Path,
    config: PredictConfig = PredictConfig(),
    *,
    layers: MapLayers | None = None,
    tags: dict[str, object] | None = None,
    on_row: Callable[[int, int], None] | None = None,
) -> Prediction:
    """Predict the whole cube area with ``model(inputs, out_shape) -> logits`` and write the map COGs.

    The map is written on the cube's own grid (its finest group's GeoBox, or the cube's extent at
    ``config.out_res_m``); ``Prediction.geobox`` is that grid. ``layers`` adds the confidence layer (the
    winning class's probability) and per-class probabilities.
    """
    keys = tuple(config.sensors or cube.groups)
    geobox = map_geobox(cube, config.out_res_m)
    res = float(abs(geobox.resolution.x))
    left, bottom, right, top = cube.bounds
    n, overlap = round(config.chip_m / res), round(config.overlap_m / res)
    if config.overlap_m >= config.chip_m:
        raise ConfigError(f"overlap_m ({config.overlap_m}) must be smaller than chip_m ({config.chip_m}).")
    step_m = config.chip_m - config.overlap_m
    xs = window_starts(right - left, config.chip_m, step_m, cube.coarsest_m)
    ys = window_starts(top - bottom, config.chip_m, step_m, cube.coarsest_m)
    weight = np.outer(taper(n, overlap), taper(n, overlap))
    clock = StageClock()
    class_values = np.array([c.value for c in legend.classes], dtype=np.uint8)
    model.eval()
    path = Path(path)
    avail_path = path.with_name(path.stem + "_sensors.tif")
    layers = layers or MapLayers()
    soft = layers.probabilities or layers.confidence
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="eofusion-read") as reader,
        ClassMapWriter(path, geobox, legend, probabilities=layers.probabilities, confidence=soft, tags=tags) as writer,
    ):
        sweep = _Sweep(model, cube, keys, geobox, weight, config.batch_size, DevicePolicy.resolve(config.device),
                       clock, reader)  # fmt: skip
        rows = _Rows(sweep, ys, xs, config.chip_m, (left, bottom, right, top))
        avail = StreamedRaster(avail_path, geobox, 1, 0, ["sensors_bitmask"])
        try:
            rows.stream(writer, avail, class_values, soft, on_row)
            avail.publish("nearest", {"sensor_bits": json.dumps({str(i): k for i, k in enumerate(keys)})})
        except BaseException:
            avail.discard()
            raise
        finishing = time.perf_counter()
    clock.seconds["finish"] += time.perf_counter() - finishing  # the COGs' overviews, validation and rename
    if writer.files is None:  # pragma: no cover - set by a successful __exit__
        raise ConfigError(f"The map {path} was not written.")
    with rasterio.open(writer.files.classes) as src:
        written = GeoBox((src.height, src.width), src.transform, src.crs)
    if written != geobox:  # the map must lie exactly on its cube's grid, or mosaics and overlays drift
        raise GridError(f"The map {writer.files.classes} was written on {written}, not on its cube's grid {geobox}.")
    return Prediction(writer.files, avail_path, geobox, keys, dict(clock.seconds))


@dataclass
class _Rows:
    """Rows of windows, top to bottom; each finished band of output rows goes to the writers at once."""

    sweep: _Sweep
    ys: Sequence[float]
    xs: Sequence[float]
    chip_m: float
    bounds: tuple[float, float, float, float]

    def stream(
        self,
        writer: ClassMapWriter,
        avail: StreamedRaster,
        class_values: npt.NDArray[np.uint8],
        soft: bool,
        on_row: Callable[[int, int], None] | None,
    ) -> None:
        sweep, geobox, clock = self.sweep, self.sweep.geobox, self.sweep.clock
        left, bottom, right, top = self.bounds
        n = sweep.weight.shape[0]
        strip = _Strip(len(class_values), geobox.width)
        flushed = 0  # output rows already written
        for row_index, y_off in enumerate(self.ys):
            windows = [ChipWindow(left + x, top - y_off, self.chip_m) for x in self.xs]
            row0 = int(pixel_window(geobox, windows[0].bounds).row_off)
            strip.grow_to(row0 + n - flushed)
            sweep.row(windows, strip, row0 - flushed)
            last = row_index == len(self.ys) - 1
            # rows above the next row of windows are final
            done = bottom if last else top - self.ys[row_index + 1]
            ready = int(pixel_window(geobox, (left, done, right, top)).height) - flushed
            if ready > 0:
                with clock.stage("blend"):
                    ids, mean, bits = strip.take(ready, class_values)
                window = Window(0, flushed, geobox.width, ready)  # type: ignore[call-arg]
                with clock.stage("write"):
                    writer.write(window, ids, mean if soft else None)
                    avail.write(bits, window)
                flushed += ready
            if on_row:
                on_row(row_index + 1, len(self.ys))
