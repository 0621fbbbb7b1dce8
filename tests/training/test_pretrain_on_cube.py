"""Pretraining on the demo world's cube: the reconstruction loss falls clearly in a short CPU run."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eofusion.cube import open_cube
from eofusion.models import build_model
from eofusion.training.chips import random_windows
from eofusion.training.cube_dataset import CubeDataset
from eofusion.training.pretrain import PretrainConfig, pretrain


def test_reconstruction_loss_falls_on_the_demo_cube(small_cube: Path) -> None:
    cube = open_cube(small_cube)
    windows = random_windows(cube.bounds, 160.0, 256, seed=0, snap_m=cube.coarsest_m)
    model = build_model("tiny")
    result = pretrain(model, CubeDataset(cube, windows), PretrainConfig(steps=50, batch_size=8, seed=0, lr=3e-3))
    start = float(np.mean(result.losses[:3]))
    assert np.isfinite(result.losses).all()
    assert result.final_loss is not None and result.final_loss < 0.7 * start, (start, result.final_loss)
