"""Chips from a cube: co-located windows, normalised values, validity, labels on the nested grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from eofusion.cube import open_cube
from eofusion.errors import ConfigError, CubeSchemaError
from eofusion.models.inputs import read_sample
from eofusion.training.chips import ChipWindow, grid_windows, random_windows, split_bounds
from eofusion.training.cube_dataset import CubeDataset, LabelledCubeDataset, LabelRaster


def test_chips_are_co_located_and_normalised(small_cube: Path) -> None:
    import xarray as xr

    cube = open_cube(small_cube)
    left, _, _, top = cube.bounds
    window = ChipWindow(left + 160, top - 80, 320.0)
    sample = read_sample(cube, window)
    assert set(sample) == {"s2", "s1", "aerial", "dsm"}
    assert sample["s2"].pixels.shape[-2:] == (32, 32) and sample["aerial"].pixels.shape[-2:] == (320, 320)
    assert sample["s2"].gsd_m == 10.0 and sample["dsm"].gsd_m == 1.0
    assert sample["s2"].day_of_year is not None and sample["aerial"].day_of_year is None
    # the chip holds exactly the cube's values there, standardised with the registry's statistics
    s2 = xr.open_zarr(small_cube, group="s2", decode_coords="all", consolidated=False)["data"]
    raw = s2.isel(y=slice(8, 40), x=slice(16, 48)).values
    band = sample["s2"].bands[2]
    expected = (raw[:, 2] - band.norm_mean) / band.norm_std
    got = sample["s2"].pixels[:, 2].numpy()
    ok = ~np.isnan(raw[:, 2])
    np.testing.assert_allclose(got[ok], expected[ok], rtol=1e-5, atol=1e-5)
    assert torch.equal(sample["s2"].valid, torch.from_numpy(~np.isnan(raw).any(axis=1)))
    assert sample["s2"].valid.float().mean() < 1.0  # the demo world has a cloudy date, masked via SCL


def test_windows_and_splits() -> None:
    bounds = (0.0, 0.0, 960.0, 960.0)
    grid = grid_windows(bounds, 320.0)
    assert len(grid) == 9 and grid[0].bounds == (0.0, 640.0, 320.0, 960.0)
    rnd = random_windows(bounds, 320.0, 50, seed=1)
    assert all(w.left % 10 == 0 and 0 <= w.left <= 640 and 320 <= w.top <= 960 for w in rnd)
    assert rnd == random_windows(bounds, 320.0, 50, seed=1) != random_windows(bounds, 320.0, 50, seed=2)
    train, test = split_bounds(bounds, 0.6)
    assert train[2] == test[0] == 580.0
    with pytest.raises(ConfigError, match="does not fit"):
        grid_windows(bounds, 1000.0)


def test_labelled_dataset_and_bad_inputs(small_cube: Path, small_world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from odc.geo.geobox import GeoBox

    cube = open_cube(small_cube, groups=["s2", "dsm"], bands={"s2": ["red", "nir"]})
    assert [b.name for b in cube.groups["s2"].bands] == ["B04", "B08"]
    geobox = GeoBox.from_bbox(cube.bounds, cube.crs, resolution=1.0, tight=True)
    truth = small_world.rasterize_landcover(geobox)
    labels = LabelRaster(truth, geobox)
    windows = grid_windows(cube.bounds, 320.0)
    data = LabelledCubeDataset(cube, labels, windows)
    inputs, target = data[4]
    assert inputs["dsm"].pixels.shape[-2:] == (320, 320)
    assert target.shape == (320, 320) and target.dtype == torch.int64
    r0 = round(geobox.affine.f - windows[4].top)
    c0 = round(windows[4].left - geobox.affine.c)
    np.testing.assert_array_equal(target.numpy(), truth[r0 : r0 + 320, c0 : c0 + 320])
    assert len(CubeDataset(cube, windows)) == 9
    with pytest.raises(ConfigError, match="no band"):
        open_cube(small_cube, bands={"s2": ["B99"]})
    with pytest.raises(CubeSchemaError, match="no group"):
        open_cube(small_cube, groups=["landsat"])
    with pytest.raises(CubeSchemaError):
        open_cube(tmp_path / "not-a-cube.zarr")
