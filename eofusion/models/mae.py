"""Masked-autoencoder pretraining of the spectral encoder, with SMARTIES-style cross-sensor token mixup.

The forward pass reads as the algorithm: ``embed`` (per-sensor tokens) -> ``mixup`` (which sensors build
each token) -> ``random_masking`` -> encoder blocks -> ``forward_decoder`` -> ``predict`` (every band of every
sensor at every date, per token) -> ``masked_mse`` on masked tokens only.

Cross-sensor token mixup: SMARTIES pairs two co-located sensors and, at a ``mixup_ratio`` share of token
positions, takes the token from the other sensor, then reconstructs BOTH sensors everywhere. Here all
co-located sensors are fused per token, so mixup is: at a ``mixup_ratio`` share of positions the token is
built from ONE sensor drawn at random among those present there (instead of the mean of all), and the
decoder still reconstructs every sensor's bands. With two sensors and ratio 1 this is SMARTIES' scheme;
with ratio 0 every token sees every sensor. Either way the encoder must learn features from which one
sensor predicts the other.

Decoder head (:class:`SpectralBasisHead`): like the patch embedding, the per-band pixel head is generated
from the band's descriptor as a mix of K basis heads, so any band (also unseen ones) can be reconstructed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from eofusion.models.config import ModelConfig
from eofusion.models.embedding import DateEncoding, DescriptorMLP, sincos_2d
from eofusion.models.encoder import SensorTokens, SpectralEncoder, _init_linear, make_blocks
from eofusion.models.inputs import SensorInput

Shard = tuple[int, int]  # (index of this batch's first chip in the global batch, global batch size)


@dataclass(frozen=True)
class MAEOutput:
    """Result of one MAE forward pass.

    Attributes:
        loss: Mean over sensors of each sensor's masked-token MSE (scalar).
        sensor_loss: The per-sensor losses.
        mask: ``[B, L]`` True where a token was hidden from the encoder.
        predictions: Per sensor ``[B, T, L, C, q^2]`` reconstructed cell means.
        targets: Per sensor ``[B, T, L, C, q^2]`` the cells they are compared with.
    """

    loss: Tensor
    sensor_loss: dict[str, Tensor]
    mask: Tensor
    predictions: dict[str, Tensor]
    targets: dict[str, Tensor]


def masked_mse(pred: Tensor, target: Tensor, weight: Tensor) -> Tensor:
    """Mean squared error over the last axis, averaged over entries where ``weight`` > 0.

    Args:
        pred, target: ``[..., P]``.
        weight: ``[...]`` (broadcastable), 1 for masked valid tokens, 0 elsewhere: entries with weight 0
            do not contribute, whatever their target.
    """
    per_token = ((pred - target) ** 2).mean(dim=-1)
    weight = weight.to(per_token.dtype).expand_as(per_token)
    return (per_token * weight).sum() / weight.sum().clamp_min(1e-6)


class SpectralBasisHead(nn.Module):
    """Decoder features -> each band's ``q^2`` cell values, with a head generated from its descriptor."""

    def __init__(self, dim: int, pixels: int, basis: int, hidden: int) -> None:
        super().__init__()
        self.coef = DescriptorMLP(hidden, basis)
        self.weight = nn.Parameter(torch.randn(basis, pixels, dim) / math.sqrt(dim))
        self.bias = nn.Parameter(torch.zeros(basis, pixels))

    def forward(self, features: Tensor, descriptors: Tensor) -> Tensor:
        """``features [..., Dd]``, ``descriptors [C, DESCRIPTOR_DIM]`` -> ``[..., C, q^2]``."""
        a = self.coef(descriptors.to(features.dtype))  # [C, K]
        basis = torch.einsum("...d,kpd->...kp", features, self.weight) + self.bias  # [..., K, P]
        return torch.einsum("...kp,ck->...cp", basis, a)


class SpectralMAE(nn.Module):
    """Encoder + MAE decoder. ``forward(inputs, generator)`` -> :class:`MAEOutput`."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = SpectralEncoder(config)
        dd = config.decoder_dim
        self.decoder_embed = nn.Linear(config.embed_dim, dd)
        self.mask_token = nn.Parameter(torch.randn(1, 1, dd) * 0.02)
        self.decoder_blocks = make_blocks(dd, config.decoder_depth, config.decoder_heads, config.mlp_ratio)
        self.decoder_norm = nn.LayerNorm(dd, eps=1e-6)
        self.decoder_date = DateEncoding(dd)
        self.head = SpectralBasisHead(dd, config.patch_px**2, config.spectral_basis, config.descriptor_hidden)
        for module in (self.decoder_embed, self.decoder_blocks):
            module.apply(_init_linear)

    def forward_features(self, inputs: dict[str, SensorInput]) -> Tensor:
        """The encoder's token feature map ``[B, D, h, w]`` (no masking)."""
        return self.encoder.forward_features(inputs)

    def mixup(
        self, sensors: dict[str, SensorTokens], generator: torch.Generator | None, shard: Shard | None = None
    ) -> dict[str, Tensor]:
        """Per-sensor token weights ``[B, L]``: one random present sensor at ``mixup_ratio`` of positions."""
        first = next(iter(sensors.values()))
        shape = first.present.shape
        ones = {k: torch.ones(shape, device=first.tokens.device) for k in sensors}
        if len(sensors) < 2 or self.config.mixup_ratio <= 0:
            return ones
        draws = {k: _rand(shape, generator, first.tokens.device, shard) for k in sensors}
        scores = torch.stack([torch.where(s.present, draws[k], -1.0) for k, s in sensors.items()])
        chosen = scores.argmax(dim=0)  # [B, L]
        single = _rand(shape, generator, first.tokens.device, shard) < self.config.mixup_ratio
        return {k: torch.where(single, (chosen == i).float(), ones[k]) for i, k in enumerate(sensors)}

    def random_masking(
        self, x: Tensor, generator: torch.Generator | None, shard: Shard | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Keep a random ``1 - mask_ratio`` of tokens: (kept ``[B, Lk, D]``, mask ``[B, L]``, restore ids)."""
        b, length, d = x.shape
        keep = max(1, int(length * (1 - self.config.mask_ratio)))
        noise = _rand((b, length), generator, x.device, shard)
        shuffle = torch.argsort(noise, dim=1)
        restore = torch.argsort(shuffle, dim=1)
        kept = torch.gather(x, 1, shuffle[:, :keep, None].expand(-1, -1, d))
        mask = torch.ones(b, length, dtype=torch.bool, device=x.device)
        mask[:, :keep] = False
        return kept, torch.gather(mask, 1, restore), restore

    def forward_encoder(
        self, inputs: dict[str, SensorInput], generator: torch.Generator | None, shard: Shard | None = None
    ) -> tuple[Tensor, Tensor, Tensor, dict[str, SensorTokens], tuple[int, int]]:
        """Tokens -> mixup -> masking -> blocks: (latent, mask, restore ids, sensor tokens, grid)."""
        enc = self.encoder
        sensors, grid = enc.embed(inputs)
        x = enc.fuse(sensors, self.mixup(sensors, generator, shard) if self.training else None)
        x = x + enc.position(grid, x.device).to(x.dtype)
        kept, mask, restore = self.random_masking(x, generator, shard)
        return enc.run_blocks(kept), mask, restore, sensors, grid

    def forward_decoder(self, latent: Tensor, restore: Tensor, grid: tuple[int, int]) -> Tensor:
        """Visible latents + mask tokens -> decoder features ``[B, L, Dd]``."""
        x = self.decoder_embed(latent)
        b, kept, d = x.shape
        length = restore.shape[1]
        x = torch.cat([x, self.mask_token.to(x.dtype).expand(b, length - kept, -1)], dim=1)
        x = torch.gather(x, 1, restore.unsqueeze(-1).expand(-1, -1, d))  # unshuffle
        x = x + sincos_2d(d, *grid).to(x.device, x.dtype).unsqueeze(0)
        for blk in self.decoder_blocks:
            x = blk(x)
        return self.decoder_norm(x)

    def predict(self, features: Tensor, sensor: SensorTokens) -> Tensor:
        """Decoder features ``[B, L, Dd]`` -> one sensor's cells ``[B, T, L, C, q^2]`` (dates via encodings)."""
        t = sensor.valid.shape[1]
        f = features.unsqueeze(1).expand(-1, t, -1, -1)
        if sensor.day_of_year is not None:
            f = f + self.decoder_date(sensor.day_of_year).unsqueeze(2).to(f.dtype)
        return self.head(f, sensor.descriptors)

    def forward(
        self, inputs: dict[str, SensorInput], generator: torch.Generator | None = None, shard: Shard | None = None
    ) -> MAEOutput:
        """One MAE step's forward pass; ``generator`` makes masking and mixup reproducible.

        ``shard = (first, total)``: the batch is chips ``first..first+B`` of a global batch of ``total`` (one
        rank's share in data-parallel training); masks and mixup are drawn for the global batch and sliced,
        so they are the ones a single process would draw for these chips.
        """
        latent, mask, restore, sensors, grid = self.forward_encoder(inputs, generator, shard)
        features = self.forward_decoder(latent, restore, grid)
        losses: dict[str, Tensor] = {}
        preds: dict[str, Tensor] = {}
        targets: dict[str, Tensor] = {}
        for key, s in sensors.items():
            pred = self.predict(features, s)
            target = s.targets.to(pred.dtype)
            if self.config.norm_pix_loss:
                mean = target.mean(dim=(-1, -2), keepdim=True)
                var = target.var(dim=(-1, -2), keepdim=True, correction=0)
                target = (target - mean) / (var + 1e-6).sqrt()
            weight = (mask.unsqueeze(1) & s.valid).unsqueeze(-1)  # [B, T, L, 1]: masked, valid tokens
            preds[key], targets[key] = pred, target
            if bool(weight.any()):
                losses[key] = masked_mse(pred, target, weight)
        loss = torch.stack(list(losses.values())).mean() if losses else features.sum() * 0.0
        return MAEOutput(loss=loss, sensor_loss=losses, mask=mask, predictions=preds, targets=targets)


def _rand(
    shape: tuple[int, ...] | torch.Size,
    generator: torch.Generator | None,
    device: torch.device,
    shard: Shard | None = None,
) -> Tensor:
    """Uniform noise drawn on the generator's device (CPU generators stay usable with CUDA models).

    With a ``shard`` the noise is drawn for the whole global batch and this shard's rows are returned.
    """
    gen_device = generator.device if generator is not None else device
    if shard is None:
        return torch.rand(tuple(shape), generator=generator, device=gen_device).to(device)
    first, total = shard
    noise = torch.rand((total, *tuple(shape)[1:]), generator=generator, device=gen_device)
    return noise[first : first + shape[0]].to(device)
