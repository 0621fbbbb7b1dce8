"""The MAE objective: masked tokens only, mixup, determinism with a generator."""

from __future__ import annotations

import torch

from eofusion.models import build_model, masked_mse


def test_masked_mse_ignores_unmasked_targets() -> None:
    g = torch.Generator().manual_seed(0)
    pred, target = torch.randn(2, 3, 5, 8, generator=g), torch.randn(2, 3, 5, 8, generator=g)
    weight = (torch.rand(2, 3, 5, generator=g) > 0.5).float()
    loss = masked_mse(pred, target, weight)
    changed = torch.where(weight.bool()[..., None], target, target + 100.0)
    assert masked_mse(pred, changed, weight) == loss
    # and it does count the masked ones
    assert masked_mse(pred, torch.where(weight.bool()[..., None], target + 1.0, target), weight) > loss


def test_model_loss_counts_masked_tokens_only(inputs) -> None:
    model = build_model("tiny").train()
    out = model(inputs, generator=torch.Generator().manual_seed(3))
    assert out.mask.float().mean().item() == 0.75  # 3 of 4 tokens hidden
    # recompute each sensor's loss from predictions/targets with unmasked targets scrambled
    for key, pred in out.predictions.items():
        target = out.targets[key]
        valid = model.encoder.embed_sensor(inputs[key], (2, 2)).valid
        weight = (out.mask.unsqueeze(1) & valid).unsqueeze(-1)
        scrambled = torch.where(out.mask[:, None, :, None, None], target, torch.randn_like(target) * 50)
        torch.testing.assert_close(masked_mse(pred, scrambled, weight), out.sensor_loss[key])
    assert torch.isclose(out.loss, torch.stack(list(out.sensor_loss.values())).mean())


def test_same_generator_same_masks_and_loss(inputs) -> None:
    torch.manual_seed(0)
    model = build_model("tiny").train()
    a = model(inputs, generator=torch.Generator().manual_seed(5))
    b = model(inputs, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a.mask, b.mask) and torch.equal(a.loss, b.loss)
    c = model(inputs, generator=torch.Generator().manual_seed(6))
    assert not torch.equal(a.mask, c.mask)


def test_mixup_builds_tokens_from_one_sensor(inputs) -> None:
    model = build_model("tiny", mixup_ratio=1.0).train()
    sensors, _ = model.encoder.embed(inputs)
    weights = model.mixup(sensors, torch.Generator().manual_seed(0))
    stacked = torch.stack(list(weights.values()))  # [S, B, L]
    assert torch.equal(stacked.sum(0), torch.ones_like(stacked[0]))  # exactly one sensor per token
    assert len({int(i) for i in stacked.argmax(0).flatten()}) > 1  # and not always the same one
    none = build_model("tiny", mixup_ratio=0.0).mixup(sensors, torch.Generator().manual_seed(0))
    assert all(bool((w == 1).all()) for w in none.values())


def test_gradients_reach_the_descriptor_hypernetwork(inputs) -> None:
    model = build_model("tiny").train()
    model(inputs, generator=torch.Generator().manual_seed(0)).loss.backward()
    for name in ("encoder.patch_embed.coef.fc1.weight", "encoder.patch_embed.weight", "head.coef.fc2.weight"):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name
