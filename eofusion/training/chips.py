"""Chip windows over a cube: grid and random sampling, snapped to the coarsest pixel, and spatial splits.

A chip is a square of ``size_m`` metres whose upper-left corner lies on the coarsest grid's pixel edges,
so every sensor's part of the chip is a whole number of its pixels (the grids are nested, see
:mod:`eofusion.grid`). Chips sized and placed on multiples of the cube's 256-px chunks read the fewest
chunks; the samplers prefer such placements when ``align_m`` is given.
"""

from __future__ import annotations

import math

import numpy as np

from eofusion.errors import ConfigError
from eofusion.grid import Bounds, ChipWindow

__all__ = ["Bounds", "ChipWindow", "grid_windows", "random_windows", "split_bounds"]


def _check(bounds: Bounds, size_m: float, snap_m: float) -> tuple[int, int]:
    left, bottom, right, top = bounds
    if size_m <= 0 or snap_m <= 0:
        raise ConfigError(f"Chip size ({size_m}) and snapping step ({snap_m}) must be positive.")
    if abs(size_m / snap_m - round(size_m / snap_m)) > 1e-6:
        raise ConfigError(f"Chip size {size_m} m must be a multiple of the coarsest pixel ({snap_m} m).")
    cols = math.floor((right - left - size_m) / snap_m + 1e-6) + 1
    rows = math.floor((top - bottom - size_m) / snap_m + 1e-6) + 1
    if cols < 1 or rows < 1:
        raise ConfigError(
            f"A {size_m} m chip does not fit in the area {right - left:.0f} x {top - bottom:.0f} m; use smaller chips."
        )
    return rows, cols


def grid_windows(
    bounds: Bounds, size_m: float, stride_m: float | None = None, snap_m: float = 10.0
) -> list[ChipWindow]:
    """Chips on a regular grid (``stride_m`` defaults to ``size_m``: no overlap), row by row from the top-left."""
    stride = stride_m or size_m
    _check(bounds, size_m, snap_m)
    if abs(stride / snap_m - round(stride / snap_m)) > 1e-6:
        raise ConfigError(f"Stride {stride} m must be a multiple of the coarsest pixel ({snap_m} m).")
    left, bottom, right, top = bounds
    xs = np.arange(left, right - size_m + 1e-6, stride)
    ys = np.arange(top, bottom + size_m - 1e-6, -stride)
    return [ChipWindow(float(x), float(y), size_m) for y in ys for x in xs]


def random_windows(bounds: Bounds, size_m: float, count: int, seed: int = 0, snap_m: float = 10.0) -> list[ChipWindow]:
    """``count`` chips at random positions on the ``snap_m`` lattice (reproducible from ``seed``)."""
    rows, cols = _check(bounds, size_m, snap_m)
    rng = np.random.default_rng(seed)
    r = rng.integers(0, rows, size=count)
    c = rng.integers(0, cols, size=count)
    left, _, _, top = bounds
    return [
        ChipWindow(left + float(ci) * snap_m, top - float(ri) * snap_m, size_m) for ri, ci in zip(r, c, strict=True)
    ]


def split_bounds(bounds: Bounds, fraction: float, snap_m: float = 10.0, axis: str = "x") -> tuple[Bounds, Bounds]:
    """Cut an area in two spatially disjoint parts (train west/south, test east/north) on a pixel edge."""
    if not 0 < fraction < 1:
        raise ConfigError(f"Split fraction must be between 0 and 1, got {fraction}.")
    left, bottom, right, top = bounds
    if axis == "x":
        cut = left + round((right - left) * fraction / snap_m) * snap_m
        return (left, bottom, cut, top), (cut, bottom, right, top)
    if axis == "y":
        cut = bottom + round((top - bottom) * fraction / snap_m) * snap_m
        return (left, bottom, right, cut), (left, cut, right, top)
    raise ConfigError(f"Split axis must be 'x' or 'y', got {axis!r}.")
