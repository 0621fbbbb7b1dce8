"""The cube through torchgeo: samplers, snapping, labels, DataLoader workers, the chunk cache."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from eofusion.cube import open_cube
from eofusion.errors import ConfigError
from eofusion.models.inputs import read_sample
from eofusion.training.cube_dataset import IGNORE_INDEX, LabelRaster
from eofusion.training.geodataset import CubeGeoDataset, collate_geo_samples


@pytest.fixture(scope="module")
def truth(small_cube: Path, small_world: Any) -> tuple[np.ndarray, Any]:
    from odc.geo.geobox import GeoBox

    cube = open_cube(small_cube, groups=["s2"])
    geobox = GeoBox.from_bbox(cube.bounds, cube.crs, resolution=1.0, tight=True)
    return small_world.rasterize_landcover(geobox), geobox


@pytest.fixture
def dataset(small_cube: Path, truth: tuple[np.ndarray, Any]) -> CubeGeoDataset:
    return CubeGeoDataset(open_cube(small_cube), LabelRaster(*truth))


def _old_samplers(ds: CubeGeoDataset) -> tuple[list[Any], list[Any]]:
    """The boxes of RandomGeoSampler and GridGeoSampler (deprecated in torchgeo 0.10, still the documented pair)."""
    from torchgeo.samplers import GridGeoSampler, RandomGeoSampler

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        random = RandomGeoSampler(ds, size=32, length=5, generator=torch.Generator().manual_seed(0))
        return list(random), list(GridGeoSampler(ds, size=32, stride=32))


def _assert_same_chip(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert set(got) == set(want)
    for key, expected in want.items():
        assert torch.equal(got[key].pixels, expected.pixels), key
        assert torch.equal(got[key].valid, expected.valid), key
        assert got[key].bands == expected.bands


def test_torchgeo_samplers_give_reader_chips_and_aligned_labels(dataset: CubeGeoDataset, truth: Any) -> None:
    from torchgeo.samplers import GriddedPatchSampler, RandomPatchSampler

    labels, geobox = truth
    cube = dataset.cube
    assert dataset.res == (10.0, 10.0) and dataset.crs.equals(cube.crs.to_wkt())
    x, y, _ = dataset.bounds
    assert (x.start, y.start, x.stop, y.stop) == cube.bounds
    random, grid = _old_samplers(dataset)
    boxes = {
        "random": random,
        "grid": grid,
        "patch": list(RandomPatchSampler(dataset, size=32, length=4, generator=0)),
        "gridded": list(GriddedPatchSampler(dataset, size=32)),
    }
    assert len(boxes["grid"]) == len(boxes["gridded"]) == 9 and len(boxes["random"]) == 5
    for box in [b for group in boxes.values() for b in group]:
        sample = dataset[box]
        window = dataset.snap(box[0], box[1])
        # torchgeo's samplers already place boxes on the coarsest grid: snapping leaves them alone
        assert (window.left, window.top, window.size_m) == (box[0].start, box[1].stop, 320.0)
        _assert_same_chip(sample["inputs"], read_sample(cube, window))
        assert sample["inputs"]["s2"].pixels.shape[-2:] == (32, 32)
        assert sample["inputs"]["aerial"].pixels.shape[-2:] == (320, 320)
        r0, c0 = round(geobox.affine.f - window.top), round(window.left - geobox.affine.c)
        np.testing.assert_array_equal(sample["mask"].numpy(), labels[r0 : r0 + 320, c0 : c0 + 320])
        assert sample["bounds"][[0, 1, 3, 4]].tolist() == [box[0].start, box[0].stop, box[1].start, box[1].stop]


def test_unsnapped_edge_and_bad_boxes(dataset: CubeGeoDataset) -> None:
    cube = dataset.cube
    left, bottom, right, top = cube.bounds
    # an unsnapped box is moved to the nearest coarsest pixel edges and size
    sample = dataset[left + 23.7 : left + 343.2, bottom + 36.2 : bottom + 355.9]
    window = dataset.snap(slice(left + 23.7, left + 343.2), slice(bottom + 36.2, bottom + 355.9))
    assert (window.left, window.top, window.size_m) == (left + 20, bottom + 360, 320.0)
    _assert_same_chip(sample["inputs"], read_sample(cube, window))
    # a box past the edge is padded: invalid pixels, ignored labels
    sample = dataset[right - 100 : right + 60, top - 100 : top + 60]
    s2 = sample["inputs"]["s2"]
    assert s2.pixels.shape[-2:] == (16, 16)
    assert not s2.valid[:, :6].any() and not s2.valid[:, :, 10:].any() and s2.pixels[:, :, :6].eq(0).all()
    assert (sample["mask"][:60] == IGNORE_INDEX).all() and (sample["mask"][:, 100:] == IGNORE_INDEX).all()
    inner = cube.read("s2", window.__class__(right - 100, top, 100.0))
    np.testing.assert_array_equal(~np.isnan(inner).any(axis=1), s2.valid[:, 6:, :10].numpy())
    with pytest.raises(IndexError, match="misses the cube"):
        dataset[right + 10 : right + 330, bottom : bottom + 320]
    with pytest.raises(ConfigError, match="square"):
        dataset[left : left + 320, bottom : bottom + 160]
    with pytest.raises(ConfigError, match="boundless"):
        read_sample(cube, window.__class__(right - 100, top, 320.0))


def test_dataloader_workers_give_the_same_batches(dataset: CubeGeoDataset) -> None:
    random, grid = _old_samplers(dataset)
    boxes = random + grid
    clone = pickle.loads(pickle.dumps(dataset))
    _assert_same_chip(clone[boxes[0]]["inputs"], dataset[boxes[0]]["inputs"])

    def batches(workers: int) -> list[dict[str, Any]]:
        loader = DataLoader(dataset, sampler=boxes, batch_size=4, num_workers=workers, collate_fn=collate_geo_samples)
        return list(loader)

    serial, parallel = batches(0), batches(2)
    assert len(serial) == len(parallel) == 4
    for a, b in zip(serial, parallel, strict=True):
        assert a["inputs"]["aerial"].pixels.shape[:2] == (len(a["mask"]), 1)
        _assert_same_chip(a["inputs"], b["inputs"])
        assert torch.equal(a["inputs"]["s2"].day_of_year, b["inputs"]["s2"].day_of_year)
        assert torch.equal(a["mask"], b["mask"]) and torch.equal(a["bounds"], b["bounds"])


def test_chunk_cache_and_direct_chunk_reads_are_exact_and_bounded(small_cube: Path, dataset: CubeGeoDataset) -> None:
    from eofusion.training.chips import grid_windows

    windows = grid_windows(dataset.cube.bounds, 160.0, stride_m=80.0)  # overlapping: chunks are shared
    plain = open_cube(small_cube, cache_bytes=0)
    plain.direct_chunks = False  # every read through zarr-python: the reference
    cached = open_cube(small_cube)
    chunk_mb = 256 * 256 * 4 * len(cached.groups["aerial"].bands)  # one float32 aerial chunk
    small = open_cube(small_cube, cache_bytes=int(2.5 * chunk_mb))
    for window in windows:
        want = read_sample(plain, window)
        _assert_same_chip(read_sample(cached, window), want)
        _assert_same_chip(read_sample(small, window), want)
    first = cached.cache_info()
    # 4 x 4 aerial + 4 x 4 dsm chunks + one chunk each of s2 and s1 (96 px): each decoded once
    assert first.misses == first.entries == 34 and first.hits > first.misses
    for window in windows:
        read_sample(cached, window)
    again = cached.cache_info()
    assert again.misses == first.misses and again.hits > first.hits and again.nbytes <= again.max_bytes
    assert plain.cache_info().entries == 0
    info = small.cache_info()
    assert 0 < info.nbytes <= info.max_bytes and info.entries <= 4 and info.misses > first.misses
