"""Pretraining: the loss falls, runs are deterministic, and a resumed run ends where an uninterrupted one does."""

from __future__ import annotations

import pytest
import torch

from eofusion.models import build_model
from eofusion.models.device import pick_device
from eofusion.training import PretrainConfig, load_checkpoint, pretrain
from eofusion.training.pretrain import learning_rate


def test_tiny_model_reconstruction_loss_halves(dataset, tmp_path) -> None:
    torch.manual_seed(0)
    seen = []
    result = pretrain(
        build_model("tiny"),
        dataset,
        PretrainConfig(steps=60, batch_size=8, lr=3e-3, warmup_steps=5, checkpoint_every=30),
        out_dir=tmp_path,
        callback=seen.append,
    )
    start = sum(result.losses[:3]) / 3
    assert result.final_loss < 0.5 * start, (start, result.final_loss)
    assert [s.step for s in seen] == list(range(1, 61)) and seen[-1].total == 60
    assert {p.name for p in tmp_path.iterdir()} == {
        "step_0000030.safetensors",
        "step_0000060.safetensors",
        "last.safetensors",
    }
    meta = load_checkpoint(tmp_path / "last.safetensors").metadata
    assert meta["step"] == 60 and meta["seed"] == 0 and set(meta["bands"]) == {"s2", "dsm", "aerial"}
    assert meta["bands"]["s2"]["sensor"] == "sentinel-2a" and len(meta["bands"]["s2"]["descriptors"]) == 12


class InterruptedRunError(Exception):
    pass


def test_resume_after_interruption_matches_uninterrupted_run(dataset, tmp_path) -> None:
    cfg = PretrainConfig(steps=12, batch_size=4, lr=2e-3, warmup_steps=3, checkpoint_every=6, seed=7)
    torch.manual_seed(1)
    straight = build_model("tiny")
    full = pretrain(straight, dataset, cfg, out_dir=tmp_path / "a")

    def stop_at_8(info) -> None:
        if info.step == 8:
            raise InterruptedRunError

    torch.manual_seed(1)
    with pytest.raises(InterruptedRunError):
        pretrain(build_model("tiny"), dataset, cfg, out_dir=tmp_path / "b", callback=stop_at_8)
    torch.manual_seed(99)  # a different init: everything must come from the checkpoint
    resumed_model = build_model("tiny")
    resumed = pretrain(
        resumed_model, dataset, cfg, out_dir=tmp_path / "b", resume=tmp_path / "b" / "step_0000006.safetensors"
    )
    assert resumed.resumed_from == 6 and resumed.steps_done == 6
    assert resumed.losses == full.losses[6:]
    for (name, a), b in zip(straight.state_dict().items(), resumed_model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_schedule_and_device() -> None:
    cfg = PretrainConfig(steps=100, lr=1.0, warmup_steps=10)
    assert learning_rate(cfg, 0) == pytest.approx(0.1) and learning_rate(cfg, 9) == pytest.approx(1.0)
    assert learning_rate(cfg, 99) == pytest.approx(0.1, abs=0.01)
    assert pick_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_bf16_autocast_runs(dataset) -> None:
    torch.manual_seed(0)
    result = pretrain(build_model("tiny"), dataset, PretrainConfig(steps=2, batch_size=2, amp="bf16", device="cpu"))
    assert all(torch.isfinite(torch.tensor(loss)) for loss in result.losses)
