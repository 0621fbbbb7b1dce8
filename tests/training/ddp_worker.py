"""A few training steps, run under ``torchrun`` by test_distributed.py (and in one process for comparison).

``python ddp_worker.py MODE OUT`` trains one seeded model (MODE: ``pixel``, ``segmentation`` or ``mae``) on
seeded chips and writes this rank's final parameters to ``OUT/<MODE>-rank<r>.pt``.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from eofusion.models import SensorInput, build_model, model_config
from eofusion.models.device import DevicePolicy
from eofusion.sensors import get_sensor
from eofusion.training.distributed import Ranks, init_distributed, shutdown_distributed
from eofusion.training.finetune import FinetuneConfig, finetune
from eofusion.training.landcover import landcover_model
from eofusion.training.pretrain import PretrainConfig, pretrain

GLOBAL_BATCH = 4
STEPS = 5
K = 3


class PixelModel(nn.Module):
    """A per-pixel linear model of the S2 and DSM bands (no BatchNorm: DDP must equal one process exactly)."""

    def __init__(self) -> None:
        super().__init__()
        self.s2 = nn.Conv2d(4, K, 1)
        self.dsm = nn.Conv2d(1, K, 1)

    def forward(self, inputs: dict[str, SensorInput], out_shape: tuple[int, int]) -> Tensor:
        logits = []
        for key, layer in (("s2", self.s2), ("dsm", self.dsm)):
            if key in inputs:
                pixels = inputs[key].pixels.mean(1)  # [B, C, H, W], dates averaged
                logits.append(F.interpolate(layer(pixels), out_shape, mode="bilinear", align_corners=False))
        return torch.stack(logits).sum(0)


def chips(count: int = 12) -> list[tuple[dict[str, SensorInput], Tensor]]:
    """Seeded labelled chips: S2 (4 bands, 2 dates, 8 px) and DSM (1 band, 40 px), every pixel valid."""
    g = torch.Generator().manual_seed(7)
    s2 = get_sensor("sentinel-2a").select(["B02", "B03", "B04", "B08"])
    dsm = get_sensor("elevation").select(["dsm"])
    samples = []
    for _ in range(count):
        inputs = {
            "s2": SensorInput(
                torch.randn(2, 4, 8, 8, generator=g), s2, 10.0, "sentinel-2a", torch.tensor([100.0, 160.0])
            ),
            "dsm": SensorInput(torch.randn(1, 1, 40, 40, generator=g), dsm, 2.0, "elevation"),
        }
        label = (inputs["dsm"].pixels[0, 0] > 0).long() + (inputs["dsm"].pixels[0, 0] > 1).long()
        samples.append((inputs, label))
    return samples


def train(mode: str, ranks: Ranks) -> nn.Module:
    """Train the mode's model for a few steps in this process (its share of each global batch)."""
    policy = DevicePolicy.resolve("cpu")
    torch.manual_seed(0)
    data = chips()
    if mode == "mae":
        mae = build_model("tiny")
        unlabelled = [replace_valid(inputs) for inputs, _ in data]
        config = PretrainConfig(steps=STEPS, batch_size=GLOBAL_BATCH, checkpoint_every=0, device="cpu", seed=3)
        pretrain(mae, unlabelled, config, ranks=ranks)  # type: ignore[arg-type]
        return mae
    model: nn.Module = PixelModel() if mode == "pixel" else landcover_model(model_config("tiny"), K)
    config = FinetuneConfig(steps=STEPS, batch_size=GLOBAL_BATCH, seed=1, log_every=0, warmup_steps=2)
    finetune(model, data, config, weights=torch.tensor([1.0, 2.0, 0.5]), policy=policy, ranks=ranks)  # type: ignore[arg-type]
    return model


def replace_valid(inputs: dict[str, SensorInput]) -> dict[str, SensorInput]:
    """Every date valid (the MAE pools its loss per rank: equal to one process when every token is valid)."""
    return {k: replace(v, valid=None) for k, v in inputs.items()}


def main() -> None:
    mode, out = sys.argv[1], Path(sys.argv[2])
    torch.set_num_threads(1)
    ranks = init_distributed(DevicePolicy.resolve("cpu"))
    try:
        model = train(mode, ranks)
        torch.save(model.state_dict(), out / f"{mode}-rank{ranks.rank}.pt")
    finally:
        shutdown_distributed()


if __name__ == "__main__":
    main()
