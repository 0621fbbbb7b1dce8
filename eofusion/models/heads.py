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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
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

    def __init__(self, dim: int, hidden: int = 64, basis: int = 16) -> None:
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


@dataclass(frozen=True)
class SensorFeatures:
    """One sensor's per-pixel features and where it has data.

    Attributes:
        features: ``[B, D, H, W]``, zero where the sensor has no valid date.
        present: ``[B, 1, H, W]`` in 0..1: 1 where at least one date is valid (after resampling, the
            fraction of the output pixel the sensor covers). A sensor left out of a sample is 0 everywhere.
    """

    features: Tensor
    present: Tensor

    def kept(self, keep: Tensor) -> SensorFeatures:
        """The same with the chips where ``keep [B]`` is False emptied (the sensor absent there)."""
        weight = keep.to(self.present.device, self.present.dtype)[:, None, None, None]
        return SensorFeatures(self.features * weight, self.present * weight)

    def resampled(self, out_shape: tuple[int, int]) -> SensorFeatures:
        """On ``out_shape``: presence-weighted resampling, so absent pixels never bleed into present ones."""
        if tuple(self.features.shape[-2:]) == tuple(out_shape):
            return self
        present = resample(self.present, out_shape)
        total = resample(self.features, out_shape)  # features are already zero where absent
        return SensorFeatures(torch.where(present > 1e-6, total / present.clamp_min(1e-6), 0.0), present)


def coarsen_to(item: SensorInput, out_shape: tuple[int, int]) -> SensorInput:
    """``item`` area-averaged onto ``out_shape`` when its grid is finer (valid pixels only), else unchanged.

    The per-pixel embedding is affine in the pixel values for a single date, so averaging first and
    embedding after gives the same features as embedding at full resolution and averaging them, at a
    fraction of the cost (1 m aerial for 2 m labels: 4x fewer pixels to embed). A coarse pixel is valid
    where any of its fine pixels is.
    """
    h, w = item.pixels.shape[-2:]
    if h <= out_shape[0] or w <= out_shape[1]:
        return item
    pixels = item.pixels if item.pixels.ndim == 5 else item.pixels.unsqueeze(1)
    b, t, c = pixels.shape[:3]
    ok = torch.isfinite(pixels).all(2)  # [B, T, H, W]
    if item.valid is not None:
        ok = ok & (item.valid if item.valid.ndim == 4 else item.valid.unsqueeze(1))
    weight = F.adaptive_avg_pool2d(ok.reshape(b * t, 1, h, w).to(pixels.dtype), out_shape)
    clean = torch.where(ok.unsqueeze(2), pixels, 0.0).reshape(b * t, c, h, w)
    total = F.adaptive_avg_pool2d(clean, out_shape)
    mean = torch.where(weight > 0, total / weight.clamp_min(1e-6), torch.nan).reshape(b, t, c, *out_shape)
    valid = (weight > 0).reshape(b, t, *out_shape)
    scale = h / out_shape[0]
    return replace(item, pixels=mean, valid=valid, gsd_m=item.gsd_m * scale)


class PixelSeriesEmbed(nn.Module):
    """Per pixel of a sensor's own grid: spectral embedding of every date, summarised over time.

    ``SensorInput -> SensorFeatures ([B, D, h, w] and presence)``. Each date goes through
    :class:`PixelSpectralEmbed`; the dates are then summarised by masked temporal attention with day-of-year
    encodings (phenology: *when* a field is green),
    the valid-date mean and the standard deviation (how much it changes), mixed back to ``D`` channels.
    Clouds and nodata (``valid`` False, or non-finite values) never contribute. Done on the sensor's native
    grid (16 x 16 S2 pixels for a 160 m chip) before any upsampling, so a time series costs little.
    A texture residual (two 3x3 convolutions, the same for every sensor, starting at zero) then adds what a
    pixel's neighbourhood tells, before the sensor meets any other: see :class:`SegmentationModel`.
    """

    def __init__(self, dim: int, heads: int = 4) -> None:
        super().__init__()
        self.spectral = PixelSpectralEmbed(dim)
        self.temporal = TemporalPool(dim, heads)
        self.mix = nn.Conv2d(3 * dim, dim, kernel_size=1)
        # Texture: two 3x3 convolutions on the sensor's own grid, a residual that starts at zero. Without it a
        # sensor's embedding is per pixel, so what only its neighbourhood tells (a canopy's roughness in the
        # DSM, a roof's edges in the aerial) had to be learnt by the decoder that every subset shares.
        first = nn.Conv2d(dim, dim, kernel_size=3, padding=1)
        last = nn.Conv2d(dim, dim, kernel_size=3, padding=1)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)  # type: ignore[arg-type]
        self.texture = nn.Sequential(first, nn.GELU(), last)

    def forward(self, item: SensorInput) -> SensorFeatures:
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
        present = ok.any(1, keepdim=True).to(emb.dtype)  # [B, 1, H, W]
        pooled = pooled.reshape(b, h, w, d).permute(0, 3, 1, 2) * present
        mixed = self.mix(torch.cat([pooled, mean, std], dim=1)) * present
        return SensorFeatures((mixed + self.texture(mixed)) * present, present)


def _conv_block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    # BatchNorm, which trains this small decoder much faster than per-chip GroupNorm or per-pixel LayerNorm
    # (measured). Its statistics stay independent of the sensors present because every training batch
    # holds the same mixture of sensor subsets (SegmentationModel.forward_views decodes all views of a step
    # as ONE batch), so the running statistics used at inference are those of that mixture, whatever
    # subset a chip has; in eval mode a chip's output never depends on the other chips of its batch.
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
        # Inputs normalised per chip (GroupNorm(1): over the channels and pixels of one chip, not with batch
        # statistics): the fused pixel features and the context change with the set of sensors present, and
        # the decoder must see them on one scale whatever it is.
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


# The revision of the land-cover head's arithmetic, recorded in every checkpoint holding one: weights trained
# for another revision have the same shapes but would map wrongly, so loading refuses them (a retrain fixes it).
# 1: the sensors fused at the sizes their embeddings learnt; 2: each sensor RMS-normalised per chip first;
# 3: each sensor's embedding has a texture residual (PixelSeriesEmbed.texture).
HEAD_REVISION = 3

# Which sensors one forward pass uses, per chip: sensor key -> [B] bool.
SensorView = Mapping[str, Tensor]


def sensor_rms_normalised(features: Tensor, present: Tensor, eps: float = 1e-5) -> Tensor:
    """Each sensor's features divided by their root mean square over the chip's pixels where it is present.

    ``features [S, B, D, H, W]`` (zero where absent), ``present [S, B, 1, H, W]`` (0..1 weights). The
    statistic is one number per sensor and chip, computed from that sensor alone, so it does not depend on
    which other sensors came in; a sensor absent from a chip stays all zero.
    """
    dim = features.shape[2]
    energy = (features.square().sum(2, keepdim=True) * present).sum((-2, -1), keepdim=True)
    count = present.sum((-2, -1), keepdim=True) * dim
    return features / (energy / count.clamp_min(1e-6) + eps).sqrt()


class SensorFusion(nn.Module):
    """Per pixel, an attention-weighted mean over the sensors present: ``{key: SensorFeatures} -> [B, D, H, W]``.

    Each sensor's features are first put on one scale: divided, per chip, by their root mean square over
    the pixels where that sensor is present (:func:`sensor_rms_normalised`). Then each head scores every
    sensor's features at a pixel (a 1x1 convolution, the same for all sensors) and averages its channel
    group with softmax weights over the sensors PRESENT there (absent ones get weight 0); where no sensor
    has data the result is 0. Why any subset works: the weights are renormalised over whatever is present,
    so leaving a sensor out (of the dict, or with ``valid`` all False for one chip) gives exactly the fusion
    of the others; no slot is zero-filled, nothing depends on sensor order or keys, and no statistic is
    shared between chips or between sensors (each sensor's scale is its own; the decoder normalises per
    chip, see :class:`PyramidDecoder`). Unlike a plain mean, a pixel can lean on the sensor that resolves it
    (the aerial and the DSM on a roof, the time series on a field) instead of diluting it with 10 m pixels.

    Why the scale: without it the sensors entered the mean at the sizes their embeddings happened to learn.
    On the benchmark's world the DSM's features were a fifth of S1's (mean norm 0.21 vs 1.02), so given
    S1 + DSM the model mapped as from S1 alone (54.2 mIoU; a model trained on that pair 63.7); alone, the
    decoder's per-chip normalisation hid the difference. With each sensor on one scale (docs/any-band-set-log.md:
    the benchmark at two seeds) the pair adds the DSM's heights to the backscatter.
    """

    def __init__(self, dim: int, heads: int = 4) -> None:
        super().__init__()
        if dim % heads:
            raise ConfigError(f"head_dim {dim} must be divisible by the {heads} fusion heads.")
        self.heads = heads
        self.score = nn.Conv2d(dim, heads, kernel_size=1)
        nn.init.zeros_(self.score.weight)  # starts as the plain presence-weighted mean
        nn.init.zeros_(self.score.bias)  # type: ignore[arg-type]

    def forward(self, features: Mapping[str, SensorFeatures]) -> Tensor:
        parts = list(features.values())
        if not parts:
            raise ConfigError("The land-cover head needs at least one sensor input.")
        present = torch.stack([f.present for f in parts])  # [S, B, 1, H, W]
        feats = sensor_rms_normalised(torch.stack([f.features for f in parts]), present)  # [S, B, D, H, W]
        s, b, d, h, w = feats.shape
        scores = self.score(feats.reshape(s * b, d, h, w)).reshape(s, b, self.heads, 1, h, w)
        logw = scores + torch.log(present.clamp_min(1e-12)).unsqueeze(2)  # [S, B, heads, 1, H, W]
        logw = logw.masked_fill((present <= 0).unsqueeze(2), float("-inf"))
        weights = torch.softmax(logw, dim=0).nan_to_num(0.0)  # no sensor present -> all zero
        fused = (weights * feats.reshape(s, b, self.heads, d // self.heads, h, w)).sum(0)
        return fused.reshape(b, d, h, w)


@dataclass(frozen=True)
class TrainingOutputs:
    """What a training step decodes: each view's logits, and each sensor's own per-pixel logits."""

    views: list[Tensor]
    sensor_logits: dict[str, Tensor]
    sensors: dict[str, SensorFeatures]


class SegmentationModel(nn.Module):
    """Encoder + land-cover head; ``forward(inputs, out_shape) -> logits [B, K, H, W]``.

    Each sensor present is embedded per pixel (:class:`PixelSeriesEmbed`), the embeddings are fused by
    :class:`SensorFusion` and decoded with the encoder's token context (itself a masked mean over the
    sensors present, per token). :meth:`forward_views` decodes several sensor subsets per chip from one
    embedding pass, which is how fine-tuning shows the model many subsets per step.

    Each sensor's own features also feed a per-pixel classifier (``sensor_classify``, used by the training
    loss only, :meth:`forward_training`): every sensor must carry the classes on its own, before the fusion,
    instead of leaving the cues only it has (the DSM's canopy texture, S1's backscatter) to the decoder, which
    sees S2 or the aerial in most views and learns them half. With the texture residual in each sensor's
    embedding (:class:`PixelSeriesEmbed`, head revision 3) this lifted every subset of the benchmark's fused
    model (docs/any-band-set-log.md); neither changes how any subset is fused.

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
        self.fuse = SensorFusion(head_dim)
        self.decode = PyramidDecoder(head_dim, head_dim, num_classes)
        # Per-sensor auxiliary classifier (the training loss only): each sensor's own features, per pixel.
        self.sensor_classify = nn.Conv2d(head_dim, num_classes, kernel_size=1)

    def sensor_features(self, inputs: dict[str, SensorInput], out_shape: tuple[int, int]) -> dict[str, SensorFeatures]:
        """Each sensor's per-pixel spectral-temporal embedding, resampled to ``out_shape``."""
        return {k: self.series(coarsen_to(item, out_shape)).resampled(out_shape) for k, item in inputs.items()}

    def pixel_features(self, inputs: dict[str, SensorInput], out_shape: tuple[int, int]) -> Tensor:
        """The fused per-pixel features ``[B, D, H, W]`` (see :class:`SensorFusion`)."""
        return self.fuse(self.sensor_features(inputs, out_shape))

    def forward_views(
        self, inputs: dict[str, SensorInput], out_shape: tuple[int, int], views: Sequence[SensorView]
    ) -> list[Tensor]:
        """Logits ``[B, K, H, W]`` for each view (see :meth:`forward_training`)."""
        return self.forward_training(inputs, out_shape, views, sensor_logits=False).views

    def forward_training(
        self,
        inputs: dict[str, SensorInput],
        out_shape: tuple[int, int],
        views: Sequence[SensorView],
        sensor_logits: bool = True,
    ) -> TrainingOutputs:
        """Logits ``[B, K, H, W]`` for each view: the chips see only the sensors their view keeps.

        The per-pixel embeddings are computed once; a view hides a sensor from a chip by zeroing its
        presence there, which is exactly what leaving it out does (:class:`SensorFusion`). The encoder runs
        once per view (on the token grid it is cheap). With ``sensor_logits``, each sensor's own per-pixel
        logits too (``sensor_classify`` on its scaled features, every sensor on every chip).
        """
        per_sensor = self.sensor_features(inputs, out_shape)
        fused, context = [], []
        for view in views:
            used = [k for k in inputs if k in view and bool(view[k].any())]
            if not used:
                raise ConfigError(f"A view keeps none of the sensors {list(inputs)}.")
            tokens = self.encoder.forward_features({k: inputs[k].keep_chips(view[k]) for k in used})
            fused.append(self.fuse({k: per_sensor[k].kept(view[k]) for k in used}))
            context.append(self.context(tokens))
        # One decoder batch for all views: its batch statistics always mix the same subsets (see _conv_block).
        logits = self.decode(torch.cat(fused), torch.cat(context))
        per_sensor_logits: dict[str, Tensor] = {}
        if sensor_logits:
            for key, each in per_sensor.items():
                scaled = sensor_rms_normalised(each.features[None], each.present[None])[0]
                per_sensor_logits[key] = self.sensor_classify(scaled)
        return TrainingOutputs(list(logits.split(fused[0].shape[0])), per_sensor_logits, per_sensor)

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
