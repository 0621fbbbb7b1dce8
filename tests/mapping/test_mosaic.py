"""Mosaics of tile maps: exact copy onto the union grid, no resampling, nodata where no tile is."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from odc.geo.geobox import GeoBox
from rio_cogeo.cogeo import cog_validate

from eofusion.mapping import CLASS_NODATA, MapLegend, write_class_map
from eofusion.mapping.mosaic import mosaic_class_maps

LEGEND = MapLegend.from_mapping({1: ("a", "#ff0000"), 2: ("b", "#00ff00"), 3: ("c", "#0000ff")})


def test_mosaic_copies_tiles_exactly(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    paths, truth = [], {}
    # three of four 640 m tiles at 2 m (the north-east one is missing)
    for ix, iy in [(0, 0), (1, 0), (0, 1)]:
        left, bottom = 370000 + ix * 640, 4815000 + iy * 640
        geobox = GeoBox.from_bbox((left, bottom, left + 640, bottom + 640), "EPSG:32631", resolution=2.0)
        ids = rng.integers(1, 4, size=geobox.shape).astype(np.uint8)
        truth[(ix, iy)] = ids
        paths.append(write_class_map(ids, geobox, tmp_path / f"t{ix}{iy}.tif", LEGEND).classes)
    files = mosaic_class_maps(paths, tmp_path / "mosaic.tif", LEGEND)
    assert cog_validate(str(files.classes), quiet=True)[0]
    with rasterio.open(files.classes) as src:
        assert src.shape == (640, 640) and src.bounds.left == 370000 and src.bounds.top == 4815000 + 1280
        data = src.read(1)
    np.testing.assert_array_equal(data[320:, :320], truth[(0, 0)])  # south-west
    np.testing.assert_array_equal(data[320:, 320:], truth[(1, 0)])  # south-east
    np.testing.assert_array_equal(data[:320, :320], truth[(0, 1)])  # north-west
    assert np.all(data[:320, 320:] == CLASS_NODATA)
