"""Mosaic of tile maps on one grid: streamed block by block into one COG (no resampling, flat memory).

Tiles of a job share the CRS and pixel lattice (see :class:`eofusion.grid.TilingScheme`), so every tile
lands on whole pixels of the mosaic grid and is copied, never resampled.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
from odc.geo.geobox import GeoBox
from rasterio.windows import Window, from_bounds

from eofusion.errors import InputDataError
from eofusion.mapping.cog import PROBABILITY_NODATA, ClassMapWriter, MapFiles, StreamedRaster, confidence_path
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

    When every tile has a confidence layer (``<tile>_confidence.tif``), the mosaic gets one too, taken from
    the same tile as each pixel's class.

    Args:
        paths: Tile class maps on one pixel lattice.
        out: The mosaic COG.
        legend: Its classes.
        bounds: Clip the mosaic to these (left, bottom, right, top) in the tiles' CRS (e.g. the job's AOI).
    """
    out = Path(out)
    geobox = mosaic_geobox(paths, bounds)
    tiles = [Path(p) for p in paths]
    with_confidence = all(confidence_path(p).exists() for p in tiles)
    tags = {"tiles": [str(p) for p in paths]}
    sources = [rasterio.open(p) for p in tiles]
    confidences = [rasterio.open(confidence_path(p)) for p in tiles] if with_confidence else []
    confidence = (
        StreamedRaster(confidence_path(out), geobox, 1, PROBABILITY_NODATA, ["confidence_percent"])
        if with_confidence
        else None
    )
    try:
        with ClassMapWriter(out, geobox, legend, tags=tags) as writer:
            for row in range(0, geobox.height, _BLOCK):
                for col in range(0, geobox.width, _BLOCK):
                    window = Window(col, row, min(_BLOCK, geobox.width - col), min(_BLOCK, geobox.height - row))  # type: ignore[call-arg]
                    block, certainty = _mosaic_block(geobox, window, sources, confidences)
                    writer.write(window, block)
                    if confidence is not None and certainty is not None:
                        confidence.write(certainty, window)
        if writer.files is None:  # pragma: no cover
            raise InputDataError(f"The mosaic {out} was not written.")
        if confidence is None:
            return writer.files
        confidence.publish("average", {k: json.dumps(v) for k, v in tags.items()})
        return replace(writer.files, confidence=confidence.dest)
    except BaseException:
        if confidence is not None:
            confidence.discard()
        raise
    finally:
        for src in [*sources, *confidences]:
            src.close()


def _mosaic_block(
    geobox: GeoBox, window: Window, sources: Sequence[Any], confidences: Sequence[Any]
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8] | None]:
    """One block of the mosaic: class ids (and confidence) of the last tile with a valid pixel."""
    h, w = int(window.height), int(window.width)
    block = np.full((h, w), CLASS_NODATA, dtype=np.uint8)
    certainty = np.full((h, w), PROBABILITY_NODATA, dtype=np.uint8) if confidences else None
    left, top = geobox.affine * (window.col_off, window.row_off)
    right, bottom = geobox.affine * (window.col_off + w, window.row_off + h)
    for index, src in enumerate(sources):
        win = from_bounds(left, bottom, right, top, src.transform).round_offsets().round_lengths()
        data = src.read(1, window=win, boundless=True, fill_value=CLASS_NODATA)
        ok = data != CLASS_NODATA
        block[ok] = data[ok]
        if certainty is not None:
            level = confidences[index].read(1, window=win, boundless=True, fill_value=PROBABILITY_NODATA)
            certainty[ok] = level[ok]
    return block, certainty
