"""Task heads on the spectrum-aware encoder: land-cover segmentation and per-pixel crop-type mapping.

Land cover (:class:`SegmentationModel`): the encoder's token map (e.g. 40 m tokens) carries context and the
fusion of all sensors; the map is wanted at the finest input resolution (1 m or finer). The head embeds the
sensors present at full resolution, spectrum-aware (:class:`PixelSpectralEmbed`: every band's value through a
1x1 projection generated from its descriptor, averaged over bands, so any band subset works), and decodes
them with a small U-shaped convolutional decoder (:class:`PyramidDecoder`) whose bottom level receives the
token context. With only coarse sensors present (S2 alone), their pixels are upsampled: the map is as sharp
as the data allows.

Crop types (:class:`CropTypeModel`): per pixel of the time-series grid (10 m), each date's bands are
embedded spectrally, dates are pooled by masked temporal attention with day-of-year encodings (clouds
ignored), sensors are averaged, and an MLP classifies. Parcel-level labels come from a majority vote of the
pixel predictions inside each parcel (done by the caller, who has the parcels).

The land-cover head works on any encoder that follows :class:`TokenEncoder` (``forward_features(inputs) ->
[B, D, h, w]`` and a ``config`` with ``embed_dim``), so peers such as the DOFA baseline
(:mod:`eofusion.models.baselines`) are compared with exactly the same head.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from eofusion.errors import ConfigError
from eofusion.models.embedding import DescriptorMLP, TemporalPool
from eofusion.models.inputs import SensorInput


class EncoderConfig(Protocol):
    """What the head and checkpoints read from an encoder's config (e.g. :class:`~eofusion.models.ModelConfig`)."""

    @property
    def embed_dim(self) -> int: ...

    def to_dict(self) -> dict[str, Any]: ...

    def config_hash(self) -> str: ...


class TokenEncoder(Protocol):
    """An ``nn.Module`` encoder whose token map feeds :class:`SegmentationModel` (e.g. :class:`SpectralEncoder`)."""

    @property
    def config(self) -> EncoderConfig: ...

    def forward_features(self, inputs: dict[str, SensorInput]) -> Tensor: ...


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


def time_mean(item: SensorInput) -> Tensor:
    """``[B, C, H, W]``: the mean over valid dates (clouds, nodata and NaN left out; 0 where none is valid)."""
    pixels = item.pixels if item.pixels.ndim == 5 else item.pixels.unsqueeze(1)
    ok = torch.isfinite(pixels)  # [B, T, C, H, W]
    if item.valid is not None:
        valid = item.valid if item.valid.ndim == 4 else item.valid.unsqueeze(1)
        ok = ok & valid.unsqueeze(2)
    w = ok.to(pixels.dtype)
    return torch.where(ok, pixels, 0.0).sum(1) / w.sum(1).clamp_min(1.0)


def resample(x: Tensor, out_shape: tuple[int, int]) -> Tensor:
    """``[B, C, H, W]`` to ``out_shape``: area average when shrinking, bilinear when enlarging."""
    if tuple(x.shape[-2:]) == tuple(out_shape):
        return x
    if x.shape[-2] > out_shape[0]:
        return F.adaptive_avg_pool2d(x, out_shape)
    return F.interpolate(x, out_shape, mode="bilinear", align_corners=False)


class PixelSeriesEmbed(nn.Module):
    """Per pixel of a sensor's own grid: spectral embedding of every date, summarised over time.

    ``SensorInput -> [B, D, h, w]``. Each date goes through :class:`PixelSpectralEmbed`; the dates are then
    summarised by masked temporal attention with day-of-year encodings (phenology: *when* a field is green),
    the valid-date mean and the standard deviation (how much it changes), mixed back to ``D`` channels.
    Clouds and nodata (``valid`` False, or non-finite values) never contribute. Done on the sensor's native
    grid (16 x 16 S2 pixels for a 160 m chip) before any upsampling, so a time series costs little.
    """

    def __init__(self, dim: int, heads: int = 4) -> None:
        super().__init__()
        self.spectral = PixelSpectralEmbed(dim)
        self.temporal = TemporalPool(dim, heads)
        self.mix = nn.Conv2d(3 * dim, dim, kernel_size=1)

    def forward(self, item: SensorInput) -> Tensor:
        pixels = item.pixels if item.pixels.ndim == 5 else item.pixels.unsqueeze(1)
        b, t, c, h, w = pixels.shape
        ok = torch.isfinite(pixels).all(2)  # [B, T, H, W]
        if item.valid is not None:
            ok = ok & (item.valid if item.valid.ndim == 4 else item.valid.unsqueeze(1))
        clean = torch.where(torch.isfinite(pixels), pixels, 0.0)
        emb = self.spectral(clean.reshape(b * t, c, h, w), item.descriptors()).reshape(b, t, -1, h, w)
        d = emb.shape[2]
        weight = ok.unsqueeze(2).to(emb.dtype)  # [B, T, 1, H, W]
        count = weight.sum(1).clamp_min(1.0)
        mean = (emb * weight).sum(1) / count
        std = (((emb - mean.unsqueeze(1)) ** 2 * weight).sum(1) / count).clamp_min(1e-6).sqrt()
        tokens = emb.permute(0, 1, 3, 4, 2).reshape(b, t, h * w, d)
        pooled, _ = self.temporal(tokens, ok.reshape(b, t, h * w), item.day_of_year)
        pooled = pooled.reshape(b, h, w, d).permute(0, 3, 1, 2) * ok.any(1, keepdim=True).to(emb.dtype)
        return self.mix(torch.cat([pooled, mean, std], dim=1))


def _conv_block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout), nn.GELU()
    )


class PyramidDecoder(nn.Module):
    """A small U-shaped convolutional decoder on the output grid, with the encoder's context at its bottom.

    Full-resolution pixel features go down ``levels`` stride-2 convolutions (textures and shapes at 2-8x
    the output pixel: roofs, road edges, field margins, which 40 m tokens cannot see); the token map is
    resampled onto the coarsest level and joins there (the fused, long-range context); the way back up
    adds each level's skip connection. Dense 3x3 convolutions at narrow widths keep it cheap on CPUs.
    """

    def __init__(self, pixel_dim: int, context_dim: int, num_classes: int, levels: int = 3) -> None:
        super().__init__()
        widths = [pixel_dim * (2 + i) // 2 for i in range(levels + 1)]  # e.g. 32, 48, 64, 80
        self.stem = _conv_block(pixel_dim, widths[0])
        self.down = nn.ModuleList(_conv_block(widths[i], widths[i + 1], stride=2) for i in range(levels))
        self.bottom = _conv_block(widths[-1] + context_dim, widths[-1])
        self.up = nn.ModuleList(_conv_block(widths[i + 1] + widths[i], widths[i]) for i in reversed(range(levels)))
        self.classify = nn.Conv2d(widths[0], num_classes, kernel_size=1)
        self.multiple = 2**levels
        # Inputs normalised per sample (not with batch statistics): the fused pixel features and the context
        # change with the set of sensors present, and the decoder must see them on one scale whatever it is.
        self.pixel_norm = nn.GroupNorm(1, pixel_dim)
        self.context_norm = nn.GroupNorm(1, context_dim)

    def forward(self, pixels: Tensor, context: Tensor) -> Tensor:
        """``pixels [B, P, H, W]`` + ``context [B, C, h, w]`` -> logits ``[B, K, H, W]`` (any H, W)."""
        h, w = pixels.shape[-2:]
        pixels, context = self.pixel_norm(pixels), self.context_norm(context)
        pad_h, pad_w = (-h) % self.multiple, (-w) % self.multiple
        x = F.pad(pixels, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else pixels
        skips = [self.stem(x)]
        for down in self.down:
            skips.append(down(skips[-1]))
        x = skips.pop()
        context = F.interpolate(context, x.shape[-2:], mode="bilinear", align_corners=False)
        x = self.bottom(torch.cat([x, context], dim=1))
        for up in self.up:
            skip = skips.pop()
            x = F.interpolate(x, skip.shape[-2:], mode="bilinear", align_corners=False)
            x = up(torch.cat([x, skip], dim=1))
        return self.classify(x)[..., :h, :w]


class SegmentationModel(nn.Module):
    """Encoder + land-cover head; ``forward(inputs, out_shape) -> logits [B, K, H, W]``.

    Args:
        encoder: An ``nn.Module`` following :class:`TokenEncoder`, e.g. :class:`SpectralEncoder`.
        num_classes: Number of logits ``K``.
        head_dim: Width of the head.
    """

    def __init__(self, encoder: TokenEncoder, num_classes: int, head_dim: int = 32) -> None:
        super().__init__()
        if num_classes < 2:
            raise ConfigError(f"A segmentation head needs at least 2 classes, got {num_classes}.")
        if not isinstance(encoder, nn.Module):
            raise ConfigError(f"The encoder must be a torch nn.Module (got {type(encoder).__name__}).")
        self.encoder = encoder
        self.config = encoder.config  # recorded by checkpoints
        self.num_classes = num_classes
        self.context = nn.Conv2d(encoder.config.embed_dim, head_dim, kernel_size=1)
        self.series = PixelSeriesEmbed(head_dim)
        self.decode = PyramidDecoder(head_dim, head_dim, num_classes)

    def pixel_features(self, inputs: dict[str, SensorInput], out_shape: tuple[int, int]) -> Tensor:
        """Mean over sensors of each one's per-pixel spectral-temporal embedding, resampled to ``out_shape``."""
        return torch.stack([resample(self.series(item), out_shape) for item in inputs.values()]).mean(0)

    def forward(self, inputs: dict[str, SensorInput], out_shape: tuple[int, int]) -> Tensor:
        tokens = self.encoder.forward_features(inputs)  # [B, D, h, w]
        return self.decode(self.pixel_features(inputs, out_shape), self.context(tokens))


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
