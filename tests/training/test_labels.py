"""Reference labels: class rasters warped by nearest neighbour, polygons rasterised, parcel majority votes."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from odc.geo.geobox import GeoBox

from eofusion.errors import InputDataError
from eofusion.training.croptype import parcel_votes
from eofusion.training.labels import polygon_ids, raster_labels, resolve_one, vector_labels


def test_raster_labels_on_the_source_grid_and_a_nested_coarser_one(small_world) -> None:  # type: ignore[no-untyped-def]
    grid = small_world.grids["landcover"]
    with rasterio.open(small_world.landcover_path) as src:
        truth = src.read(1)
    assert np.array_equal(raster_labels(small_world.landcover_path, grid), truth)
    h, w = (n // 3 * 3 for n in grid.shape)
    coarse = GeoBox((h // 3, w // 3), grid.affine * grid.affine.scale(3), grid.crs)
    # Nearest neighbour at the coarse pixel centres = the middle fine pixel of each 3 x 3 block: ids never blend.
    assert np.array_equal(raster_labels(small_world.landcover_path, coarse), truth[1:h:3, 1:w:3])


def test_vector_labels_match_the_simulators_crop_raster(small_world) -> None:  # type: ignore[no-untyped-def]
    grid = small_world.grids["s2_10m"]
    ours = vector_labels(small_world.parcels_path, "crop_id", grid)
    reference = small_world.rasterize_crops(grid)
    assert (ours > 0).sum() > 500
    assert np.mean(ours == reference) > 0.98  # pixel-centre rule on both sides; edges may differ
    ids = polygon_ids(small_world.parcels_path, grid)
    assert ((ids > 0) == (ours > 0)).mean() > 0.999 and len(np.unique(ids[ids > 0])) > 10


def test_label_errors_name_the_file(tmp_path, small_world) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputDataError, match="found nothing"):
        resolve_one(str(tmp_path / "*.tif"))
    with pytest.raises(InputDataError, match="no column 'crop'"):
        vector_labels(small_world.parcels_path, "crop", small_world.grids["s2_10m"])
    far = GeoBox.from_bbox((0, 0, 100, 100), small_world.grids["s2_10m"].crs, resolution=10)
    with pytest.raises(InputDataError, match="no labelled pixel inside the cube"):
        raster_labels(small_world.landcover_path, far)


def test_parcel_votes_take_the_majority_per_parcel() -> None:
    parcels = np.array([1, 1, 1, 2, 2, 0, 0])
    reference = np.array([4, 4, 4, 7, 7, 1, 1])
    predicted = np.array([4, 5, 4, 6, 6, 4, 4])
    ref, vote = parcel_votes(predicted, reference, parcels)
    assert ref.tolist() == [4, 7] and vote.tolist() == [4, 6]  # pixels outside parcels (0) do not vote
