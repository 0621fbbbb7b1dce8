"""The held-out sensors' cube: Landsat and NAIP on the training cube's grids, read as model chips."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch

from eofusion.cube import open_cube, open_datatree
from eofusion.errors import ConfigError
from eofusion.models.inputs import read_sample
from eofusion.pipeline.demo import DemoConfig
from eofusion.pipeline.demo_unseen import UNSEEN_SENSORS, unseen_cube
from eofusion.sensors import get_sensor
from eofusion.training.chips import grid_windows


@pytest.fixture(scope="module")
def unseen(small_world, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    config = DemoConfig(out=tmp_path_factory.mktemp("demo"), world=small_world.config)
    said: list[str] = []
    store = unseen_cube(config, small_world, lambda stage, message: said.append(stage))
    assert store == config.out / "unseen-cube.zarr" and said == ["catalog", "cube"]
    return store


def test_groups_share_the_training_grid(unseen: Path, small_world) -> None:  # type: ignore[no-untyped-def]
    tree = open_datatree(unseen)
    assert set(tree.children) == set(UNSEEN_SENSORS)
    world = small_world.grids["s2_10m"]
    for group, res in (("landsat", 10.0), ("aerial", 1.0), ("s1", 10.0), ("dsm", 1.0)):
        geobox = tree[group].to_dataset().odc.geobox
        assert geobox.crs == world.crs and tuple(geobox.extent.boundingbox) == tuple(world.boundingbox)
        assert abs(geobox.resolution.x) == res
    landsat = tree["landsat"].to_dataset()
    assert set(landsat["time_sensor"].values) == {"landsat-8", "landsat-9"}
    assert landsat.sizes["time"] == len(small_world.s2_dates)
    aerial = tree["aerial"].to_dataset()
    assert set(aerial["sensor"].values) == {"naip"}
    assert all(i.startswith("NAIP") for slot in json.loads(aerial.attrs["eofusion:items"]) for i in slot)


def test_landsat_keeps_its_30m_pixels_on_the_10m_grid(unseen: Path, small_world) -> None:  # type: ignore[no-untyped-def]
    """Nearest resampling onto the nested 10 m grid: each 30 m pixel is 3 x 3 copies of the file's value."""
    landsat = open_datatree(unseen)["landsat"].to_dataset()
    item = next(i for i in small_world.stac_items("landsat-c2-l2") if i.datetime.date() == small_world.s2_dates[0])
    with rasterio.open(item.assets["red"].get_absolute_href()) as src:
        red30 = src.read(1).astype(np.float64) * 2.75e-5 - 0.2
    cube = landsat["data"].sel(band="B4").isel(time=0).values
    np.testing.assert_allclose(cube, np.kron(red30, np.ones((3, 3))), atol=1e-6)


def test_chips_give_landsat_and_naip_inputs(unseen: Path) -> None:
    cube = open_cube(unseen, groups=["landsat", "aerial", "s1", "dsm"])
    assert cube.coarsest_m == 10.0
    windows = grid_windows(cube.bounds, 160.0, snap_m=cube.coarsest_m)
    for window in (windows[0], windows[len(windows) // 2], windows[-1]):
        sample = read_sample(cube, window)
        landsat, aerial = sample["landsat"], sample["aerial"]
        assert landsat.sensor in ("landsat-8", "landsat-9") and aerial.sensor == "naip"
        assert landsat.bands == get_sensor(landsat.sensor).select(["B1", "B2", "B3", "B4", "B5", "B6", "B7"])
        assert aerial.bands == get_sensor("naip").select(["red", "green", "blue", "nir"])
        # The model describes the bands from these sensors' own (measured / approximated) responses.
        assert bool(torch.isfinite(landsat.descriptors()).all()) and bool(torch.isfinite(aerial.descriptors()).all())
        assert (landsat.gsd_m, aerial.gsd_m) == (10.0, 1.0)  # the cube's pixels (Landsat's are 3 x 3 blocks)
        assert tuple(landsat.pixels.shape[1:]) == (7, 16, 16) and tuple(aerial.pixels.shape) == (1, 4, 160, 160)
        assert tuple(sample["s1"].pixels.shape[2:]) == (16, 16) and tuple(sample["dsm"].pixels.shape[2:]) == (160, 160)
        for key, inputs in sample.items():
            assert inputs.valid is not None
            if key == "landsat":  # QA_PIXEL clouds are masked: only the cloudy dates lose pixels
                clear = [d for d in range(inputs.valid.shape[0]) if bool(inputs.valid[d].all())]
                assert len(clear) >= inputs.valid.shape[0] - 2, inputs.valid.float().mean(dim=(1, 2))
                assert bool(torch.isfinite(inputs.pixels[clear]).all())
            else:
                assert bool(inputs.valid.all()) and bool(torch.isfinite(inputs.pixels).all())


def test_a_world_without_the_unseen_sensors_names_the_switch(small_world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world = replace(small_world, config=replace(small_world.config, naip=False))
    with pytest.raises(ConfigError, match=r"naip=True"):
        unseen_cube(DemoConfig(out=tmp_path), world, lambda stage, message: None)
