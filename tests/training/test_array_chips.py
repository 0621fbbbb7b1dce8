"""ArrayChipDataset: co-located chips, deterministic per index, validated geometry."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eofusion.errors import ConfigError
from eofusion.models import collate_samples
from eofusion.sensors import get_sensor
from eofusion.training import ArrayChipDataset, SensorArray


def test_chips_are_co_located_and_deterministic(scene) -> None:
    ds = ArrayChipDataset(scene, chip_m=80, length=10, seed=3, flips=False)
    a, b = ds[4], ds[4]
    assert all(torch.equal(a[k].pixels, b[k].pixels) for k in a)
    assert a["s2"].pixels.shape == (2, 12, 8, 8) and a["dsm"].pixels.shape == (1, 2, 80, 80)
    assert a["aerial"].pixels.shape == (1, 4, 160, 160)
    assert {k: v.footprint_m for k, v in a.items()} == dict.fromkeys(a, (80.0, 80.0))
    batch = collate_samples([ds[0], ds[1]])
    assert batch["s2"].pixels.shape == (2, 2, 12, 8, 8) and batch["s2"].day_of_year.shape == (2, 2)


def test_crop_offsets_agree_across_resolutions() -> None:
    elev = get_sensor("elevation")
    coarse = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)  # 10 m
    fine = np.repeat(np.repeat(coarse, 10, axis=2), 10, axis=3)  # same field at 1 m
    ds = ArrayChipDataset(
        {"c": SensorArray(coarse, (elev.band("dsm"),), 10.0), "f": SensorArray(fine, (elev.band("dsm"),), 1.0)},
        chip_m=20,
        length=20,
        seed=0,
    )
    for i in range(20):
        s = ds[i]
        assert torch.equal(s["c"].pixels, s["f"].pixels[..., ::10, ::10])


def test_bad_chip_size_is_refused(scene) -> None:
    with pytest.raises(ConfigError, match="multiples"):
        ArrayChipDataset(scene, chip_m=85)
    with pytest.raises(ConfigError, match="larger than the area"):
        ArrayChipDataset(scene, chip_m=400)
