"""Mosaic of tile maps on one grid: streamed block by block into one COG (no resampling, flat memory).

Tiles of a job share the CRS and pixel lattice (see :class:`eofusion.grid.TilingScheme`), so every tile
lands on whole pixels of the mosaic grid and is copied, never resampled.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import rasterio
from odc.geo.geobox import GeoBox
from rasterio.windows import Window, from_bounds

from eofusion.errors import InputDataError
from eofusion.mapping.cog import ClassMapWriter, MapFiles
from eofusion.mapping.legend import CLASS_NODATA, MapLegend

_BLOCK = 1024
Bounds = tuple[float, float, float, float]


def mosaic_geobox(paths: Sequence[str | Path], bounds: Bounds | None = None) -> GeoBox:
    """The grid covering all tiles (their union, or ``bounds`` snapped outwards), on their pixel lattice."""
    if not paths:
        raise InputDataError("No tile maps to mosaic.")
    clip = bounds
    tile_bounds, res, crs = [], set(), set()
    for path in paths:
        with rasterio.open(path) as src:
            tile_bounds.append(tuple(src.bounds))
            res.add(round(src.res[0], 9))
            crs.add(src.crs.to_wkt())
    if len(res) != 1 or len(crs) != 1:
        raise InputDataError(
            f"Tile maps must share one CRS and resolution to be mosaicked (found {len(crs)} CRS, {sorted(res)})."
        )
    if clip is not None:
        step = res.pop()
        snapped = (
            math.floor(clip[0] / step) * step,
            math.floor(clip[1] / step) * step,
            math.ceil(clip[2] / step) * step,
            math.ceil(clip[3] / step) * step,
        )
        return GeoBox.from_bbox(snapped, crs.pop(), resolution=step, tight=True)
    lefts, bottoms, rights, tops = zip(*tile_bounds, strict=True)
    return GeoBox.from_bbox(
        (min(lefts), min(bottoms), max(rights), max(tops)), crs.pop(), resolution=res.pop(), tight=True
    )


def mosaic_class_maps(
    paths: Sequence[str | Path], out: str | Path, legend: MapLegend, bounds: Bounds | None = None
) -> MapFiles:
    """Copy every tile's class ids into one COG; where tiles overlap, the later tile's valid pixels win.

    Args:
        paths: Tile class maps on one pixel lattice.
        out: The mosaic COG.
        legend: Its classes.
        bounds: Clip the mosaic to these (left, bottom, right, top) in the tiles' CRS (e.g. the job's AOI).
    """
    geobox = mosaic_geobox(paths, bounds)
    sources = [rasterio.open(p) for p in paths]
    try:
        with ClassMapWriter(out, geobox, legend, tags={"tiles": [str(p) for p in paths]}) as writer:
            for row in range(0, geobox.height, _BLOCK):
                for col in range(0, geobox.width, _BLOCK):
                    h, w = min(_BLOCK, geobox.height - row), min(_BLOCK, geobox.width - col)
                    block = np.full((h, w), CLASS_NODATA, dtype=np.uint8)
                    left, top = geobox.affine * (col, row)
                    right, bottom = geobox.affine * (col + w, row + h)
                    for src in sources:
                        win = from_bounds(left, bottom, right, top, src.transform).round_offsets().round_lengths()
                        data = src.read(1, window=win, boundless=True, fill_value=CLASS_NODATA)
                        ok = data != CLASS_NODATA
                        block[ok] = data[ok]
                    writer.write(Window(col, row, w, h), block)  # type: ignore[call-arg]
    finally:
        for src in sources:
            src.close()
    if writer.files is None:  # pragma: no cover
        raise InputDataError(f"The mosaic {out} was not written.")
    return writer.files
