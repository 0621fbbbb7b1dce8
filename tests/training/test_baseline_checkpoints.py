"""Baselines trained by `eofusion train` are written as checkpoints and rebuilt exactly (the benchmark reuses them)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from eofusion.errors import CheckpointError
from eofusion.models import model_config
from eofusion.models.baselines import build_baseline
from eofusion.training.checkpoints import save_checkpoint
from eofusion.training.landcover import (
    ClassTable,
    landcover_model,
    load_baseline_model,
    load_landcover_model,
    save_baseline_model,
    save_landcover_model,
)

from ..models.conftest import make_inputs


@pytest.mark.parametrize("name", ["unet", "dofa"])
def test_a_saved_baseline_predicts_the_same(name: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    inputs = make_inputs(batch=1, footprint_m=80)
    model = build_baseline(name, bands={k: v.bands for k, v in inputs.items()}, num_classes=3).eval()
    path = save_baseline_model(tmp_path / f"baseline-{name}.safetensors", model)
    again = load_baseline_model(path)
    with torch.no_grad():
        assert torch.equal(model(inputs, (40, 40)), again(inputs, (40, 40)))


def test_an_eofusion_checkpoint_is_not_a_baseline(tmp_path: Path) -> None:
    classes = ClassTable.from_mapping({1: "a", 2: "b"}, {})
    path = save_landcover_model(tmp_path / "m.safetensors", landcover_model(model_config("tiny"), 2), classes)
    with pytest.raises(CheckpointError, match="not a baseline checkpoint"):
        load_baseline_model(path)


def test_a_checkpoint_of_an_older_head_is_refused_with_the_fix(tmp_path: Path) -> None:
    """Same tensor shapes, other arithmetic (head revision 1 fused the sensors unnormalised): never loaded silently."""
    classes = ClassTable.from_mapping({1: "a", 2: "b"}, {})
    model = landcover_model(model_config("tiny"), 2)
    current = save_landcover_model(tmp_path / "new.safetensors", model, classes)
    load_landcover_model(current)  # the current revision loads
    old = save_landcover_model(tmp_path / "old.safetensors", model, classes, extra={"head_revision": 1})
    with pytest.raises(CheckpointError, match=r"revision 1.*Retrain"):
        load_landcover_model(old)
    dofa = build_baseline(
        "dofa", bands={k: v.bands for k, v in make_inputs(batch=1, footprint_m=80).items()}, num_classes=3
    )
    unversioned = save_checkpoint(tmp_path / "baseline-dofa.safetensors", dofa, extra={"task": "landcover"})
    with pytest.raises(CheckpointError, match=r"revision 1.*Retrain"):
        load_baseline_model(unversioned)  # DOFA carries eofusion's head: written before the field = revision 1
