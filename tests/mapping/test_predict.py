"""Wall-to-wall prediction: exact grid, no seams at window borders, availability layer, window layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch

from eofusion.cube import open_cube
from eofusion.mapping import MapLayers, MapLegend
from eofusion.mapping.predict import PredictConfig, predict_to_cog, taper, window_starts
from eofusion.models import SpectralEncoder, model_config
from eofusion.models.heads import SegmentationModel

LEGEND = MapLegend.from_mapping({1: ("a", "#ff0000"), 2: ("b", "#00ff00"), 3: ("c", "#0000ff")})


def column_jumps(probs: np.ndarray) -> np.ndarray:
    """Mean absolute change of the class probabilities from one column to the next, per column boundary."""
    return np.abs(np.diff(probs.astype(np.float32), axis=2)).mean(axis=(0, 1))


@pytest.fixture(scope="module")
def model() -> SegmentationModel:
    torch.manual_seed(0)
    model = SegmentationModel(SpectralEncoder(model_config("tiny")), num_classes=3)
    # An untrained head's logits barely vary; give its classifier trained-like gains so maps have structure.
    torch.nn.init.normal_(model.decode.classify.weight, std=2.0)
    return model.eval()


def test_blended_windows_leave_no_seams(small_cube: Path, model: SegmentationModel, tmp_path: Path) -> None:
    cube = open_cube(small_cube, groups=["s2", "dsm"])
    layers = MapLayers(probabilities=True)
    hard, soft = (
        predict_to_cog(model, cube, LEGEND, tmp_path / f"{name}.tif", PredictConfig(320, overlap), layers=layers)
        for name, overlap in (("hard", 0), ("soft", 80))
    )
    assert hard.files.probabilities is not None and soft.files.probabilities is not None
    with rasterio.open(hard.files.probabilities) as src:
        p_hard = src.read()
    with rasterio.open(soft.files.probabilities) as src:
        p_soft = src.read()
    borders = [319, 639]  # column boundaries between hard windows (320 px at 1 m)
    jumps_hard, jumps_soft = column_jumps(p_hard), column_jumps(p_soft)
    typical_hard, typical_soft = np.median(jumps_hard), np.median(jumps_soft)
    # without blending the window borders stand out; with it, no boundary is a seam
    assert jumps_hard[borders].min() > 3 * typical_hard
    soft_starts = [round(s) for s in window_starts(960, 320, 240, 10)]
    soft_borders = [s - 1 for s in soft_starts[1:]] + [s + 319 for s in soft_starts[:-1]]
    assert jumps_soft[soft_borders].max() < 2.5 * max(typical_soft, 0.5)


def test_map_is_on_the_cube_grid_with_availability(small_cube: Path, model: SegmentationModel, tmp_path: Path) -> None:
    cube = open_cube(small_cube)
    result = predict_to_cog(
        model, cube, LEGEND, tmp_path / "map.tif", PredictConfig(chip_m=320, overlap_m=80), tags={"model": "random"}
    )
    with rasterio.open(result.files.classes) as src:
        ids = src.read(1)
        left, _, _, top = cube.bounds
        assert src.transform.c == left and src.transform.f == top and src.res == (1.0, 1.0)
        assert src.shape == (960, 960) and set(np.unique(ids)) <= {1, 2, 3, 255}
        assert src.tags()["model"] == "random"
    with rasterio.open(result.availability) as src:
        bits = src.read(1)
        names = json.loads(src.tags()["sensor_bits"])
    assert sorted(names.values()) == ["aerial", "dsm", "s1", "s2"]
    # every sensor covers the demo world (bit set for each) except where the DSM has its nodata edge
    assert np.mean(bits == 0b1111) > 0.9 and np.all(bits[ids != 255] > 0)


def test_window_layout_and_taper() -> None:
    assert window_starts(960, 320, 240, 10) == [0.0, 240.0, 480.0, 640.0]
    assert window_starts(320, 320, 240, 10) == [0.0]
    w = taper(320, 80)
    assert w.min() > 0 and w[160] == 1.0 and w[0] < 0.01 and np.allclose(w, w[::-1])
