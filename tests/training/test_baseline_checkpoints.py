"""Baselines trained by `eofusion train` are written as checkpoints and rebuilt exactly (the benchmark reuses them)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from eofusion.errors import CheckpointError
from eofusion.models import model_config
from eofusion.models.baselines import build_baseline
from eofusion.training.checkpoints import save_checkpoint
from eofusion.training.landcover import ClassTable, landcover_model, load_baseline_model, save_landcover_model

from ..models.conftest import make_inputs


@pytest.mark.parametrize("name", ["unet", "dofa"])
def test_a_saved_baseline_predicts_the_same(name: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    inputs = make_inputs(batch=1, footprint_m=80)
    model = build_baseline(name, bands={k: v.bands for k, v in inputs.items()}, num_classes=3).eval()
    path = save_checkpoint(tmp_path / f"baseline-{name}.safetensors", model, extra={"task": "landcover"})
    again = load_baseline_model(path)
    with torch.no_grad():
        assert torch.equal(model(inputs, (40, 40)), again(inputs, (40, 40)))


def test_an_eofusion_checkpoint_is_not_a_baseline(tmp_path: Path) -> None:
    classes = ClassTable.from_mapping({1: "a", 2: "b"}, {})
    path = save_landcover_model(tmp_path / "m.safetensors", landcover_model(model_config("tiny"), 2), classes)
    with pytest.raises(CheckpointError, match="not a baseline checkpoint"):
        load_baseline_model(path)
