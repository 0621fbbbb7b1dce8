"""Checkpoints: exact round trip, metadata, and refusal of anything that would unpickle code."""

from __future__ import annotations

import os
import pickle

import pytest
import torch
from safetensors.torch import save_file

from eofusion.errors import CheckpointError
from eofusion.models import build_model
from eofusion.training import load_checkpoint, load_model, read_state_dict, save_checkpoint
from eofusion.training.checkpoints import restore_model


def test_round_trip_reproduces_outputs_exactly(dataset, tmp_path) -> None:
    torch.manual_seed(0)
    model = build_model("tiny").eval()
    sample = {k: v for k, v in dataset[0].items()}
    batch = {
        k: v.__class__(
            v.pixels[None],
            v.bands,
            v.gsd_m,
            v.sensor,
            None if v.day_of_year is None else v.day_of_year[None],
            None if v.valid is None else v.valid[None],
        )
        for k, v in sample.items()
    }
    path = save_checkpoint(tmp_path / "m.safetensors", model, step=3, seed=11, extra={"note": "x"})
    loaded = load_model(path).eval()
    assert torch.equal(model.forward_features(batch), loaded.forward_features(batch))
    meta = load_checkpoint(path).metadata
    assert meta["step"] == 3 and meta["seed"] == 11 and meta["config_hash"] == model.config.config_hash()
    assert meta["eofusion_version"] and meta["model_config"]["name"] == "tiny"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left behind


class Exploit:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _malicious(path, marker) -> None:
    payload = Exploit()
    payload.marker = marker
    with open(path, "wb") as fh:
        pickle.dump({"model": {"w": torch.zeros(1)}, "x": payload}, fh)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_tampered_checkpoint_with_pickled_code_is_refused(tmp_path) -> None:
    marker = tmp_path / "pwned"
    for name in ("evil.safetensors", "evil.pt"):
        _malicious(tmp_path / name, marker)
    with pytest.raises(CheckpointError, match="never unpickles"):
        load_checkpoint(tmp_path / "evil.safetensors")
    with pytest.raises(CheckpointError, match="never unpickles"):
        read_state_dict(tmp_path / "evil.pt")
    with pytest.raises(CheckpointError):
        read_state_dict(tmp_path / "evil.safetensors")
    assert not marker.exists()


def test_plain_state_dicts_are_read_safely(tmp_path) -> None:
    torch.save({"model": {"w": torch.ones(2)}}, tmp_path / "ok.pth")
    assert torch.equal(read_state_dict(tmp_path / "ok.pth")["w"], torch.ones(2))
    save_file({"w": torch.ones(2)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(CheckpointError, match="no eofusion metadata"):
        load_checkpoint(tmp_path / "plain.safetensors")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.safetensors")


def test_config_mismatch_is_refused(tmp_path) -> None:
    path = save_checkpoint(tmp_path / "m.safetensors", build_model("tiny"))
    with pytest.raises(CheckpointError, match="config hash"):
        restore_model(build_model("tiny", depth=2), load_checkpoint(path), path)


def test_module_without_config_is_refused(tmp_path) -> None:
    with pytest.raises(CheckpointError, match="config"):
        save_checkpoint(tmp_path / "x.safetensors", torch.nn.Linear(2, 2))
    assert not list(tmp_path.iterdir())
