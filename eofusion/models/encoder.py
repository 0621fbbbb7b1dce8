"""The spectrum-aware ViT encoder: any sensors, any bands, any GSD, time series -> a token feature map.

``SpectralEncoder(config).forward_features(inputs)`` takes ``dict[str, SensorInput]`` (see
:mod:`eofusion.models.inputs`) and returns ``[B, D, h, w]`` features on the token grid (``h = footprint /
token_m``) for segmentation heads. How tokens are built is described in :mod:`eofusion.models.embedding`.

Sensors are fused per token: each sensor's token (bands pooled, dates pooled, plus a GSD encoding) is
averaged with the other sensors present at that position. Tokens where no sensor has valid data are
zero vectors plus their position embedding.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
from timm.models.vision_transformer import Block
from torch import Tensor, nn

from eofusion.models.config import ModelConfig
from eofusion.models.embedding import (
    GsdEncoding,
    SpectralPatchEmbed,
    TemporalPool,
    sincos_2d,
    to_cells,
    token_grid,
)
from eofusion.models.inputs import SensorInput


@dataclass(frozen=True)
class SensorTokens:
    """One sensor on the token grid.

    Attributes:
        tokens: ``[B, L, D]`` pooled over bands and dates.
        present: ``[B, L]`` True where at least one date is valid.
        targets: ``[B, T, L, C, q^2]`` per-cell means (MAE targets).
        valid: ``[B, T, L]`` token validity per date.
        descriptors: ``[C, DESCRIPTOR_DIM]``.
        day_of_year: ``[B, T]`` or None.
    """

    tokens: Tensor
    present: Tensor
    targets: Tensor
    valid: Tensor
    descriptors: Tensor
    day_of_year: Tensor | None


def make_blocks(dim: int, depth: int, heads: int, mlp_ratio: float) -> nn.ModuleList:
    """Standard pre-norm ViT blocks (timm), LayerNorm eps 1e-6 as in MAE/SMARTIES."""
    norm = partial(nn.LayerNorm, eps=1e-6)
    return nn.ModuleList(
        Block(dim, heads, mlp_ratio, qkv_bias=True, norm_layer=norm)  # type: ignore[arg-type]
        for _ in range(depth)
    )


class SpectralEncoder(nn.Module):
    """Spectrum-aware ViT encoder (see the module docstring)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        q, dim = config.patch_px, config.embed_dim
        self.patch_embed = SpectralPatchEmbed(2 * q * q, dim, config.spectral_basis, config.descriptor_hidden)
        self.patch_embed.scale = config.token_scale
        self.gsd_embed = GsdEncoding(dim)
        self.temporal = TemporalPool(dim, config.temporal_heads)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if config.cls_token else None
        self.blocks = make_blocks(dim, config.depth, config.num_heads, config.mlp_ratio)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.apply(_init_linear)

    def embed_sensor(self, item: SensorInput, grid: tuple[int, int]) -> SensorTokens:
        """One sensor's pixels -> tokens on ``grid`` (bands pooled by the spectral embedding, dates pooled)."""
        pixels = item.pixels if item.pixels.ndim == 5 else item.pixels.unsqueeze(1)
        b, t, c, hh, ww = pixels.shape
        valid = None if item.valid is None else item.valid.reshape(b * t, hh, ww)
        cells = to_cells(pixels.reshape(b * t, c, hh, ww), valid, grid, self.config.patch_px)
        desc = item.descriptors()
        tok = self.patch_embed(cells.features, desc)  # [B*T, L, D]
        tok = tok + self.gsd_embed(item.gsd_m, tok.device)
        length = tok.shape[1]
        token_valid = cells.valid.reshape(b, t, length)
        doy = item.day_of_year
        pooled, present = self.temporal(tok.reshape(b, t, length, -1), token_valid, doy)
        targets = cells.means.reshape(b, t, length, c, -1)
        return SensorTokens(pooled, present, targets, token_valid, desc, doy)

    def embed(self, inputs: dict[str, SensorInput]) -> tuple[dict[str, SensorTokens], tuple[int, int]]:
        """Every sensor's tokens and the shared grid."""
        grid = token_grid(inputs, self.config.token_m)
        return {key: self.embed_sensor(item, grid) for key, item in inputs.items()}, grid

    @staticmethod
    def fuse(sensors: dict[str, SensorTokens], weights: dict[str, Tensor] | None = None) -> Tensor:
        """Masked mean over sensors per token ``[B, L, D]``; ``weights [B, L]`` per sensor select (mixup)."""
        parts, counts = [], []
        for key, s in sensors.items():
            wgt = s.present.to(s.tokens.dtype)
            if weights is not None:
                wgt = wgt * weights[key]
            parts.append(s.tokens * wgt.unsqueeze(-1))
            counts.append(wgt)
        # sensors were validated non-empty by token_grid; a token no sensor sees stays a zero vector
        return torch.stack(parts).sum(0) / torch.stack(counts).sum(0).clamp_min(1.0).unsqueeze(-1)

    def position(self, grid: tuple[int, int], device: torch.device) -> Tensor:
        """Fixed sin-cos embedding ``[1, L, D]`` for the grid."""
        return sincos_2d(self.config.embed_dim, *grid).to(device).unsqueeze(0)

    def run_blocks(self, x: Tensor) -> Tensor:
        """Transformer blocks + final norm; prepends and strips the class token when configured."""
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1).to(x.dtype), x], dim=1)
        for blk in self.blocks:
            x = blk(x)
        x = self.norm(x)
        return x[:, 1:] if self.cls_token is not None else x

    def forward_features(self, inputs: dict[str, SensorInput]) -> Tensor:
        """Token feature map ``[B, D, h, w]``."""
        sensors, grid = self.embed(inputs)
        x = self.fuse(sensors)
        x = x + self.position(grid, x.device).to(x.dtype)
        x = self.run_blocks(x)
        b, _, d = x.shape
        return x.transpose(1, 2).reshape(b, d, *grid)

    def forward(self, inputs: dict[str, SensorInput]) -> Tensor:
        return self.forward_features(inputs)


def _init_linear(module: nn.Module) -> None:
    """Xavier-uniform linear layers (as MAE/timm ViT); zero-initialised encodings stay zero."""
    if isinstance(module, nn.Linear) and bool(module.weight.abs().sum() > 0):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
