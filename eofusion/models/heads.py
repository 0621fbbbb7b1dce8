"""Task heads on the spectrum-aware encoder: land-cover segmentation and per-pixel crop-type mapping.

Land cover (:class:`SegmentationModel`): the encoder's token map (e.g. 40 m tokens) carries context and the
fusion of all sensors; the map is wanted at the finest input resolution (1 m or finer). The head upsamples
the token features to the output grid and adds a full-resolution, spectrum-aware pixel embedding of the
sensors present (:class:`PixelSpectralEmbed`: every band's value through a 1x1 projection generated from its
descriptor, averaged over bands, so any band subset works), then a small convolutional decoder. With only
coarse sensors present (S2 alone), their pixels are upsampled: the map is as sharp as the data allows.

Crop types (:class:`CropTypeModel`): per pixel of the time-series grid (10 m), each date's bands are
embedded spectrally, dates are pooled by masked temporal attention with day-of-year encodings (clouds
ignored), sensors are averaged, and an MLP classifies. Parcel-level labels come from a majority vote of the
pixel predictions inside each parcel (done by the caller, who has the parcels).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from eofusion.errors import ConfigError
from eofusion.models.embedding import DescriptorMLP, TemporalPool
from eofusion.models.encoder import SpectralEncoder
from eofusion.models.inputs import SensorInput


class PixelSpectralEmbed(nn.Module):
    """Per-pixel embedding ``[B, C, H, W] -> [B, D, H, W]``: descriptor-generated 1x1 projections, band mean."""

    def __init__(self, dim: int, hidden: int = 64, basis: int = 8) -> None:
        super().__init__()
        self.coef = DescriptorMLP(hidden, basis)
        self.weight = nn.Parameter(torch.randn(basis, dim) / math.sqrt(basis))
        self.bias = nn.Parameter(torch.zeros(basis, dim))

    def forward(self, pixels: Tensor, descriptors: Tensor) -> Tensor:
        a = self.coef(descriptors.to(pixels.dtype))  # [C, K]
        weight, bias = a @ self.weight, a @ self.bias  # [C, D]
        out = torch.einsum("bchw,cd->bdhw", pixels, weight) / pixels.shape[1]
        return out + bias.mean(0)[None, :, None, None]


def _time_mean(item: SensorInput) -> Tensor:
    """``[B, C, H, W]``: the mean over valid dates (clouds and nodata left out)."""
    pixels = item.pixels if item.pixels.ndim == 5 else item.pixels.unsqueeze(1)
    if item.valid is None:
        return pixels.mean(1)
    valid = item.valid if item.valid.ndim == 4 else item.valid.unsqueeze(1)
    w = valid.unsqueeze(2).to(pixels.dtype)  # [B, T, 1, H, W]
    return (pixels * w).sum(1) / w.sum(1).clamp_min(1.0)


class SegmentationModel(nn.Module):
    """Encoder + land-cover head; ``forward(inputs, out_shape) -> logits [B, K, H, W]``."""

    def __init__(self, encoder: SpectralEncoder, num_classes: int, head_dim: int = 32) -> None:
        super().__init__()
        if num_classes < 2:
            raise ConfigError(f"A segmentation head needs at least 2 classes, got {num_classes}.")
        self.encoder = encoder
        self.config = encoder.config  # recorded by checkpoints
        self.num_classes = num_classes
        self.context = nn.Conv2d(encoder.config.embed_dim, head_dim, kernel_size=1)
        self.pixels = PixelSpectralEmbed(head_dim)
        # Full-resolution decoding is the costly part on CPUs: 1x1 convolutions mix channels, one 3x3
        # depthwise convolution looks around (several times cheaper than dense 3x3 layers at equal width;
        # a 5x5 depthwise one is ten times slower to train on CPU than 3x3).
        self.decode = nn.Sequential(
            nn.Conv2d(2 * head_dim, head_dim, kernel_size=1),
            nn.BatchNorm2d(head_dim),
            nn.GELU(),
            nn.Conv2d(head_dim, head_dim, kernel_size=3, padding=1, groups=head_dim),
            nn.BatchNorm2d(head_dim),
            nn.GELU(),
            nn.Conv2d(head_dim, head_dim, kernel_size=1),
            nn.GELU(),
            nn.Conv2d(head_dim, num_classes, kernel_size=1),
        )

    def pixel_features(self, inputs: dict[str, SensorInput], out_shape: tuple[int, int]) -> Tensor:
        """Mean over sensors of each one's spectral pixel embedding, resampled to ``out_shape``."""
        parts = []
        for item in inputs.values():
            x = _time_mean(item)
            if x.shape[-2:] != out_shape:
                larger = x.shape[-2] > out_shape[0]
                x = F.adaptive_avg_pool2d(x, out_shape) if larger else F.interpolate(x, out_shape, mode="bilinear")
            parts.append(self.pixels(x, item.descriptors()))
        return torch.stack(parts).mean(0)

    def forward(self, inputs: dict[str, SensorInput], out_shape: tuple[int, int]) -> Tensor:
        tokens = self.encoder.forward_features(inputs)  # [B, D, h, w]
        context = F.interpolate(self.context(tokens), out_shape, mode="bilinear", align_corners=False)
        return self.decode(torch.cat([context, self.pixel_features(inputs, out_shape)], dim=1))


class CropTypeModel(nn.Module):
    """Per-pixel crop types from S1/S2 time series; ``forward(inputs) -> logits [B, K, H, W]`` on the input grid."""

    def __init__(self, num_classes: int, dim: int = 64, heads: int = 4) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.embed = PixelSpectralEmbed(dim)
        self.temporal = TemporalPool(dim, heads)
        self.classify = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, num_classes))

    def forward(self, inputs: dict[str, SensorInput]) -> Tensor:
        pooled_sum: Tensor | None = None
        count: Tensor | None = None
        shape: tuple[int, int] | None = None
        for item in inputs.values():
            pixels = item.pixels if item.pixels.ndim == 5 else item.pixels.unsqueeze(1)
            b, t, c, h, w = pixels.shape
            shape = shape or (h, w)
            if (h, w) != shape:
                raise ConfigError("CropTypeModel inputs must share one grid (e.g. the cube's 10 m grid).")
            emb = self.embed(pixels.reshape(b * t, c, h, w), item.descriptors())  # [B*T, D, H, W]
            emb = emb.reshape(b, t, -1, h * w).permute(0, 1, 3, 2)  # [B, T, L, D]
            valid = torch.ones(b, t, h * w, dtype=torch.bool, device=emb.device)
            if item.valid is not None:
                valid = (item.valid if item.valid.ndim == 4 else item.valid.unsqueeze(1)).reshape(b, t, h * w)
            pooled, present = self.temporal(emb, valid, item.day_of_year)
            wgt = present.to(pooled.dtype).unsqueeze(-1)
            pooled_sum = pooled * wgt if pooled_sum is None else pooled_sum + pooled * wgt
            count = wgt if count is None else count + wgt
        if pooled_sum is None or count is None or shape is None:
            raise ConfigError("CropTypeModel needs at least one sensor input.")
        fused = pooled_sum / count.clamp_min(1.0)  # [B, L, D]
        logits = self.classify(fused)  # [B, L, K]
        return logits.transpose(1, 2).reshape(logits.shape[0], self.num_classes, *shape)
