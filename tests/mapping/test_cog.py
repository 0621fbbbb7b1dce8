"""Class-map COGs: valid COG, exact grid, colours, overviews by mode, atomic writes, clear errors."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest
import rasterio
from odc.geo.geobox import GeoBox
from rasterio.enums import Resampling
from rio_cogeo.cogeo import cog_validate

from eofusion.errors import OutputLocationError
from eofusion.mapping import CLASS_NODATA, MapLegend, write_class_map

LEGEND = MapLegend.from_mapping(
    {1: ("building", "#db0e9a"), 2: ("water", "#1f78b4"), 3: ("deciduous", "#33a02c"), 4: ("crop", "#ffff99")}
)
GRID = GeoBox.from_bbox((370000, 4815000, 372000, 4817000), "EPSG:32631", resolution=2.0)  # 1000 x 1000 px


def striped_map(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    ids = np.repeat(np.repeat(rng.integers(1, 5, size=(20, 20)), 50, axis=0), 50, axis=1).astype(np.uint8)
    ids[:7, :] = CLASS_NODATA  # a nodata strip along the top
    probs = rng.dirichlet(np.ones(4), size=ids.shape).transpose(2, 0, 1).astype(np.float32)
    return ids, probs


def test_class_map_is_a_valid_cog_on_the_exact_grid(tmp_path: Path) -> None:
    ids, probs = striped_map(np.random.default_rng(0))
    files = write_class_map(ids, GRID, tmp_path / "map.tif", LEGEND, probabilities=probs, tags={"model": "m1"})
    for path in (files.classes, files.confidence, files.probabilities):
        assert path is not None and cog_validate(str(path), quiet=True)[0]
    with rasterio.open(files.classes) as src:
        assert src.crs.to_epsg() == 32631 and src.transform == GRID.affine and src.shape == GRID.shape
        assert src.dtypes[0] == "uint8" and src.nodata == CLASS_NODATA
        np.testing.assert_array_equal(src.read(1), ids)
        cmap = src.colormap(1)
        assert cmap[2][:3] == (0x1F, 0x78, 0xB4) and cmap[CLASS_NODATA][3] == 0
        assert json.loads(src.tags()["class_names"])["3"] == "deciduous" and src.tags()["model"] == "m1"
        assert src.overviews(1), "internal overviews expected"
        # overviews by mode keep class ids valid (no averaged ids such as 2.5 -> 2)
        overview = src.read(1, out_shape=(1, 125, 125), resampling=Resampling.nearest)
        assert set(np.unique(overview)) <= {1, 2, 3, 4, CLASS_NODATA}
    with rasterio.open(files.probabilities) as src:
        assert src.count == 4 and src.descriptions[1] == "p_water_percent"
        stored = src.read(2)[10:, :].astype(np.float32) / 100
        np.testing.assert_allclose(stored, probs[1, 10:, :], atol=0.006)
    with rasterio.open(files.confidence) as src:
        conf = src.read(1)
        assert conf[0, 0] == 255 and conf[500, 500] == round(probs[:, 500, 500].max() * 100)


def test_overviews_use_mode_resampling(tmp_path: Path) -> None:
    # A 2x2 block with three 4s and one 1 must become 4 in the first overview (mode), not 2 or 3 (average).
    ids = np.full(GRID.shape, 4, dtype=np.uint8)
    ids[::2, ::2] = 1
    files = write_class_map(ids, GRID, tmp_path / "mode.tif", LEGEND)
    with rasterio.open(files.classes, overview_level=0) as src:
        assert np.all(src.read(1) == 4)


def test_unwritable_location_fails_before_work(tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("x")
    ids = np.ones(GRID.shape, dtype=np.uint8)
    with pytest.raises(OutputLocationError, match="Cannot write to output location"):
        write_class_map(ids, GRID, blocked / "map.tif", LEGEND)


def test_failed_write_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A disk-full error while the COG is produced: nothing is left at the destination or beside it."""
    from eofusion.mapping import cog

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(cog, "cog_translate", disk_full)
    ids = np.ones(GRID.shape, dtype=np.uint8)
    with pytest.raises(OutputLocationError, match="no partial file"):
        write_class_map(ids, GRID, tmp_path / "map.tif", LEGEND)
    assert list(tmp_path.iterdir()) == []


def test_bad_legend_ids_are_refused() -> None:
    with pytest.raises(Exception, match="nodata"):
        MapLegend.from_mapping({255: ("x", "#000000")})
