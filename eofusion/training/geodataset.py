"""The cube as a torchgeo :class:`~torchgeo.datasets.GeoDataset`, so torchgeo's samplers can drive it.

``CubeGeoDataset(cube, labels)[x_slice, y_slice(, t_slice)]`` returns one chip read by
:meth:`eofusion.cube.Cube.read` (chunk-aligned Zarr reads, no warping), so
``RandomGeoSampler``/``GridGeoSampler`` (and 0.10's ``RandomPatchSampler``/``GriddedPatchSampler``) work on
a cube as on any torchgeo dataset. A sample is a dict::

    {"inputs": dict[str, SensorInput],   # one entry per cube group, each on its own native grid
     "mask": Tensor [H, W] int64,        # only with labels; IGNORE_INDEX where unknown / outside
     "bounds": Tensor [9] float64}       # the snapped box: xmin, xmax, xres, ymin, ymax, yres, tmin, tmax, tres

and :func:`collate_geo_samples` batches such samples for a ``DataLoader``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import pyproj
import shapely
import torch
from geopandas import GeoDataFrame
from torchgeo.datasets import GeoDataset
from torchgeo.datasets.utils import GeoSlice

from eofusion.cube import Cube
from eofusion.errors import ConfigError
from eofusion.grid import ChipWindow
from eofusion.models.inputs import collate_samples, read_sample
from eofusion.training.cube_dataset import LabelRaster


class CubeGeoDataset(GeoDataset):
    """A cube (and optionally its label raster) indexed by map coordinates, as torchgeo expects.

    The dataset's ``res`` is the cube's coarsest pixel, so samplers in pixel units count coarsest pixels
    (``size=32`` on a 10/10/1/1 m cube is a 320 m chip: 32 px of S2, 320 px of aerial). Its index is one
    row: the cube's footprint in its CRS and the time span of all its dates.

    Snapping: a requested box is moved to the coarsest grid before reading, so every sensor's part is a
    whole number of its pixels: the left and top edges go to the nearest coarsest pixel edge and the size
    to the nearest whole number of coarsest pixels (at least one). The returned ``bounds`` are the snapped
    box. torchgeo's samplers already place boxes on ``res`` multiples from the cube's corner, so their
    boxes are unchanged; hand-made boxes may move by up to half a coarsest pixel.

    Chips are square (the model's chip type); a box whose width and height differ by more than a coarsest
    pixel raises :class:`ConfigError`. A box that reaches past the cube's edge is padded (pixels 0 with
    ``valid`` False, labels ``IGNORE_INDEX``), like torchgeo pads with nodata; a box that misses the cube
    raises ``IndexError``. The x/y steps of the query are ignored (every group keeps its native
    resolution), and the time slice only has to overlap the cube's dates: each chip carries every date
    of each group (the model takes the dates as input).

    Args:
        cube: The cube (a view with the groups and bands to read: :meth:`Cube.select`).
        labels: A label raster on a grid nested with the cube's (same CRS and bounds), or None.
    """

    def __init__(self, cube: Cube, labels: LabelRaster | None = None) -> None:
        if labels is not None:
            _check_labels(cube, labels)
        self.cube, self.labels = cube, labels
        self.paths = cube.path
        self._res = (cube.coarsest_m, cube.coarsest_m)
        ranges = [m.time_range for m in cube.groups.values() if m.time_range is not None]
        tmin = pd.Timestamp(min(r[0] for r in ranges)) if ranges else pd.Timestamp.min
        tmax = pd.Timestamp(max(r[1] for r in ranges)) if ranges else pd.Timestamp.max
        index = pd.IntervalIndex.from_tuples([(tmin, tmax)], closed="both", name="datetime")
        self.index = GeoDataFrame(
            {"store": [cube.path]},
            index=index,
            geometry=[shapely.box(*cube.bounds)],
            crs=pyproj.CRS.from_user_input(cube.crs.to_wkt()),
        )
        x, y, t = super().bounds
        self._bounds = (x, y, t)  # fixed: the cube does not move (torchgeo recomputes it on every query)

    @property
    def bounds(self) -> tuple[slice, slice, slice]:
        """The cube's x, y (CRS units, step = coarsest pixel) and time (its dates) extent."""
        return self._bounds

    def snap(self, x: slice, y: slice) -> ChipWindow:
        """The chip on the coarsest grid nearest to the box ``[x.start, x.stop] x [y.start, y.stop]``."""
        res = self.cube.coarsest_m
        width, height = float(x.stop - x.start), float(y.stop - y.start)
        if width <= 0 or height <= 0 or abs(width - height) > res:
            raise ConfigError(
                f"CubeGeoDataset serves square chips: got a {width} x {height} box; "
                "give the sampler one size (size=n, not (h, w))."
            )
        n = max(1, round(max(width, height) / res))
        coarsest = self.cube.geobox(res)
        col, row = coarsest.wld2pix(float(x.start), float(y.stop))
        left, top = coarsest.pix2wld(round(col), round(row))
        return ChipWindow(float(left), float(top), n * res)

    def __getitem__(self, index: GeoSlice) -> dict[str, Any]:
        """The chip (inputs, mask, bounds) at a ``[xmin:xmax, ymin:ymax(, tmin:tmax)]`` box, snapped."""
        x, y, t = self._disambiguate_slice(index)
        window = self.snap(x, y)
        left, bottom, right, top = window.bounds
        b_left, b_bottom, b_right, b_top = self.cube.bounds
        span = self.index.index[0]
        t_start, t_stop = pd.Timestamp(t.start), pd.Timestamp(t.stop)
        if right <= b_left or left >= b_right or top <= b_bottom or bottom >= b_top:
            raise IndexError(f"Box {window.bounds} misses the cube {self.cube.bounds} ({self.cube.path}).")
        if t_stop < span.left or t_start > span.right:
            raise IndexError(f"Time slice {t_start}..{t_stop} misses the cube's dates {span.left}..{span.right}.")
        res = self.cube.coarsest_m
        times = [_seconds(t_start), _seconds(t_stop), float(t.step or 1)]
        sample: dict[str, Any] = {
            "inputs": read_sample(self.cube, window, boundless=True),
            "bounds": torch.tensor([left, right, res, bottom, top, res, *times], dtype=torch.float64),
        }
        if self.labels is not None:
            sample["mask"] = self.labels.read(window)
        return sample


def _seconds(when: pd.Timestamp) -> float:
    """POSIX seconds, as torchgeo's ``bounds`` carry time."""
    return float(when.timestamp())


def _check_labels(cube: Cube, labels: LabelRaster) -> None:
    geobox = labels.geobox
    if geobox.crs != cube.crs:
        raise ConfigError(
            f"The label raster is in {geobox.crs}, the cube in another CRS; rasterise it on the cube's grid."
        )
    res = abs(geobox.affine.a)
    bb = tuple(geobox.boundingbox)
    if max(abs(a - b) for a, b in zip(bb, cube.bounds, strict=True)) > res / 2:
        raise ConfigError(
            f"The label raster covers {bb}, the cube {cube.bounds}; build it on the cube's grid: cube.geobox(res)."
        )
    steps = cube.coarsest_m / res
    if abs(steps - round(steps)) > 1e-6:
        raise ConfigError(f"Label pixels of {res} m do not nest in the cube's coarsest pixel ({cube.coarsest_m} m).")


def collate_geo_samples(samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Batch :class:`CubeGeoDataset` samples: ``inputs`` via :func:`collate_samples`, tensors stacked.

    Use as ``DataLoader(dataset, sampler=..., collate_fn=collate_geo_samples)``.
    """
    if not samples:
        raise ConfigError("collate_geo_samples needs at least one sample.")
    batch: dict[str, Any] = {"inputs": collate_samples([s["inputs"] for s in samples])}
    for key in samples[0]:
        if key != "inputs":
            batch[key] = torch.stack([s[key] for s in samples])
    return batch
