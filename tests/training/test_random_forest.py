"""Pixel-wise random-forest baseline: features on the label grid, imputation, fitting and scoring."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from eofusion.errors import ConfigError
from eofusion.models import SensorInput
from eofusion.sensors import get_band, get_sensor
from eofusion.training.random_forest import (
    evaluate_random_forest,
    feature_layout,
    feature_names,
    fit_random_forest,
    pixel_features,
)

S2 = (get_band("sentinel-2a", "B04"), get_band("sentinel-2a", "B08"))
DSM = (get_sensor("elevation").band("ndsm"),)


def synthetic_chip(seed: int, n10: int = 12) -> tuple[dict[str, SensorInput], torch.Tensor]:
    """S2 (2 dates, 10 m, the 2nd one partly clouded with garbage values) and nDSM (1 m); labels at 10 m.

    Class 0/1/2 from a vegetation index (B08 - B04), class 3 where the 1 m heights average above 1.
    """
    g = torch.Generator().manual_seed(seed)
    veg = torch.randn(n10, n10, generator=g)
    red, nir = -veg + 0.2 * torch.randn(n10, n10, generator=g), veg + 0.2 * torch.randn(n10, n10, generator=g)
    clean = torch.stack([red, nir])  # [C, H, W]
    second = clean + 0.1 * torch.randn(2, n10, n10, generator=g)
    clouds = torch.rand(n10, n10, generator=g) < 0.4
    second = torch.where(clouds, 5.0, second)  # clouds are bright: garbage unless masked
    valid = torch.stack([torch.ones(n10, n10, dtype=torch.bool), ~clouds])
    height = torch.rand(n10, n10, generator=g) < 0.25
    ndsm = height.float().repeat_interleave(10, 0).repeat_interleave(10, 1) * 2.0
    ndsm = ndsm + 0.3 * torch.randn(n10 * 10, n10 * 10, generator=g)
    label = torch.bucketize(nir - red, torch.tensor([-0.8, 0.8]))
    label = torch.where(height, 3, label)
    label[0, 0] = 255  # one unlabelled pixel
    sample = {
        "s2": SensorInput(torch.stack([clean, second]), S2, 10.0, "sentinel-2a", torch.tensor([120.0, 200.0]), valid),
        "dsm": SensorInput(ndsm[None, None], DSM, 1.0, "elevation"),
    }
    return sample, label


def test_pixel_features_resample_mask_and_mark_missing() -> None:
    sample, _ = synthetic_chip(0)
    x = pixel_features(sample, (12, 12))
    assert x.shape == (144, 5) and x.dtype == np.float32
    assert feature_names(feature_layout(sample)) == ["s2/B04/t0", "s2/B08/t0", "s2/B04/t1", "s2/B08/t1", "dsm/ndsm/t0"]
    np.testing.assert_allclose(x[:, 0], sample["s2"].pixels[0, 0].reshape(-1).numpy())
    clouded = ~sample["s2"].valid[1].reshape(-1).numpy()
    assert np.isnan(x[clouded, 2:4]).all() and not np.isnan(x[~clouded]).any()
    dsm_mean = sample["dsm"].pixels[0, 0].reshape(12, 10, 12, 10).mean((1, 3)).reshape(-1).numpy()
    np.testing.assert_allclose(x[:, 4], dsm_mean, rtol=1e-5, atol=1e-5)  # 1 m -> 10 m: area mean
    layout = feature_layout(sample)
    no_dsm = pixel_features({"s2": sample["s2"]}, (12, 12), layout)
    assert np.isnan(no_dsm[:, 4]).all()
    fine = pixel_features(sample, (24, 24))  # enlarged: bilinear, clouds still left out
    assert fine.shape == (576, 5) and not np.isnan(fine[:, :2]).any()


class ChipList(torch.utils.data.Dataset):
    def __init__(self, chips: list) -> None:
        self.chips = chips

    def __len__(self) -> int:
        return len(self.chips)

    def __getitem__(self, index: int):  # type: ignore[no-untyped-def]
        return self.chips[index]


def test_forest_learns_a_band_rule_and_beats_chance() -> None:
    train = ChipList([synthetic_chip(s) for s in range(8)])
    test = ChipList([synthetic_chip(s) for s in range(100, 104)])
    forest = fit_random_forest(train, max_pixels=600, seed=0, n_estimators=50, n_jobs=1)
    assert sum(forest.train_counts.values()) <= 600 and set(forest.train_counts) == {0, 1, 2, 3}
    counts = np.array(list(forest.train_counts.values()))
    assert counts.max() <= 2 * counts.min() + 5  # class-balanced subsample
    scores = evaluate_random_forest(forest, test, num_classes=4)
    labels = torch.cat([c[1].reshape(-1) for c in test.chips])
    labels = labels[labels != 255]
    majority = float(torch.bincount(labels).max()) / len(labels)
    assert scores.overall_accuracy > 0.85 > majority + 0.2, (scores.overall_accuracy, majority)
    assert scores.miou > 0.6
    assert sum(scores.support.values()) == len(labels)  # the unlabelled pixels are ignored
    # without the heights, class 3 cannot be told apart: worse, but still far above chance
    s2_only = evaluate_random_forest(forest, test, num_classes=4, sensors=["s2"])
    assert majority < s2_only.overall_accuracy < scores.overall_accuracy
    again = fit_random_forest(train, max_pixels=600, seed=0, n_estimators=50, n_jobs=1)
    assert evaluate_random_forest(again, test, num_classes=4) == scores  # seeded


def test_forest_rejects_unusable_data() -> None:
    sample, label = synthetic_chip(0)
    with pytest.raises(ConfigError, match="no labelled pixels"):
        fit_random_forest(ChipList([(sample, torch.full_like(label, 255))]))
    with pytest.raises(ConfigError, match="single class"):
        fit_random_forest(ChipList([(sample, torch.zeros_like(label))]))
    forest = fit_random_forest(ChipList([synthetic_chip(1)]), n_estimators=5, n_jobs=1)
    with pytest.raises(ConfigError, match="dates"):
        forest.predict({"s2": SensorInput(sample["s2"].pixels[:1], S2, 10.0), "dsm": sample["dsm"]}, (12, 12))
    with pytest.raises(ConfigError, match="None of the sensors"):
        evaluate_random_forest(forest, ChipList([synthetic_chip(2)]), 4, sensors=["s1"])


def test_forest_on_cube_chips_with_world_truth(small_cube: Path, small_world) -> None:  # type: ignore[no-untyped-def]
    from odc.geo.geobox import GeoBox

    from eofusion.cube import open_cube
    from eofusion.training.chips import grid_windows, split_bounds
    from eofusion.training.cube_dataset import LabelledCubeDataset, LabelRaster

    cube = open_cube(small_cube, groups=["s2", "s1", "dsm"])
    geobox = GeoBox.from_bbox(cube.bounds, cube.crs, resolution=5.0, tight=True)
    ids = small_world.rasterize_landcover(geobox, supersample=5)
    present = [int(i) for i in np.unique(ids) if i != 0]
    lut = np.full(256, 255, dtype=np.uint8)
    lut[present] = np.arange(len(present))
    labels = LabelRaster(lut[ids], geobox)
    west, east = split_bounds(cube.bounds, 0.5)
    train = LabelledCubeDataset(cube, labels, grid_windows(west, 160.0))
    test = LabelledCubeDataset(cube, labels, grid_windows(east, 160.0))
    forest = fit_random_forest(train, max_pixels=10_000, seed=0, n_estimators=30)
    scores = evaluate_random_forest(forest, test, num_classes=len(present))
    truth = torch.cat([test[i][1].reshape(-1) for i in range(len(test))])
    truth = truth[truth != 255]
    majority = float(torch.bincount(truth).max()) / len(truth)
    assert scores.overall_accuracy > majority + 0.15, (scores.overall_accuracy, majority, scores.miou)
    assert scores.miou > 1.5 / len(present)
