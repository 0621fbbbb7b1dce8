"""Peer models trained beside eofusion's on the same chips and budget: a fixed-stack U-Net and DOFA.

Both follow the land-cover model's interface, ``model(inputs: dict[str, SensorInput], out_shape) -> logits
[B, K, *out_shape]``, and carry a ``config`` (frozen dataclass with ``to_dict``/``config_hash``) that
checkpoints record; :func:`baseline_from_config` rebuilds a model from it. Weights start random: nothing is
downloaded.

- :class:`UNetBaseline`: a segmentation-models-pytorch U-Net on a *fixed* stack of bands. Each sensor is
  reduced to its mean over valid dates and resampled to the output grid (area average when shrinking,
  bilinear when enlarging); channels follow the stack's order. A sensor missing from a sample contributes
  zeros (= the band's normalisation mean): a fixed-stack model has no other way to express absence, which
  is the weakness the sensor-subset table measures.
- :class:`DOFABaseline`: torchgeo's DOFA encoder (wavelength-conditioned patch embedding + ViT blocks) with
  the SAME head as :class:`~eofusion.models.heads.SegmentationModel`. DOFA embeds one image whose channels
  are described by their wavelengths, so several sensors are fused *before* the encoder: every sensor
  present is time-averaged over valid dates, resampled to one input grid of ``token_m / patch_size``
  metres (10 m by default, the cell size of eofusion's tiny preset) and the channels are concatenated with
  all their wavelengths. Any subset of sensors works (absent sensors simply add no channels). Bands
  without a wavelength get fixed placeholders (:func:`dofa_wavelength_um`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from eofusion.config import short_hash
from eofusion.errors import ConfigError
from eofusion.models.embedding import sincos_2d, token_grid
from eofusion.models.heads import SegmentationModel, resample, time_mean
from eofusion.models.inputs import SensorInput
from eofusion.sensors import Band, BandKind

BASELINES = ("dofa", "unet")

# Placeholder "wavelengths" (micrometres) for bands DOFA cannot place in the spectrum. DOFA v1 feeds
# Sentinel-1 VV and VH both as 3.75 um; with random weights we keep that value for VV but give every
# polarisation and elevation layer its own value, so the wavelength-generated kernels can tell them apart.
_SAR_UM = {"VV": 3.75, "VH": 3.80, "HH": 3.85, "HV": 3.90}
_ELEVATION_UM = {"dsm": 4.50, "dem": 4.50, "dtm": 4.55, "ndsm": 4.60}
_OTHER_ELEVATION_UM = 4.65


def _from_dict[C](cls: type[C], data: Mapping[str, Any]) -> C:
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"Unknown {cls.__name__} key(s) {unknown}; known keys: {sorted(known)}.")
    return cls(**data)


# ---------------------------------------------------------------- U-Net on a fixed band stack
@dataclass(frozen=True)
class UNetConfig:
    """Architecture of :class:`UNetBaseline` (stored in checkpoints).

    Attributes:
        stack: ``(sensor key, band name)`` of every input channel, in order.
        num_classes: Number of logits.
        encoder_name: A segmentation-models-pytorch encoder (``resnet18``; ``mobilenet_v2`` is ~2x faster).
        encoder_depth: Encoder stages; inputs are padded to a multiple of ``2 ** encoder_depth``.
        decoder_channels: Decoder widths, one per stage.
    """

    stack: tuple[tuple[str, str], ...]
    num_classes: int
    encoder_name: str = "resnet18"
    encoder_depth: int = 4
    decoder_channels: tuple[int, ...] = (128, 64, 32, 16)
    baseline: str = "unet"

    def __post_init__(self) -> None:
        object.__setattr__(self, "stack", tuple((str(k), str(b)) for k, b in self.stack))
        object.__setattr__(self, "decoder_channels", tuple(int(c) for c in self.decoder_channels))
        if not self.stack:
            raise ConfigError("The U-Net baseline needs at least one (sensor, band) in its input stack.")
        if len(set(self.stack)) != len(self.stack):
            raise ConfigError(f"The U-Net input stack repeats a (sensor, band): {list(self.stack)}.")
        if self.num_classes < 2:
            raise ConfigError(f"A segmentation model needs at least 2 classes, got {self.num_classes}.")
        if not 1 <= self.encoder_depth <= 5 or len(self.decoder_channels) != self.encoder_depth:
            raise ConfigError(
                f"encoder_depth must be 1..5 with one decoder width per stage; got depth {self.encoder_depth} "
                f"and decoder_channels {self.decoder_channels}."
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UNetConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error naming them."""
        return _from_dict(cls, data)

    def config_hash(self) -> str:
        """Short SHA-256 of the config."""
        return short_hash(self.to_dict())


def _stack_pairs(stack: Sequence[tuple[str, str]] | Mapping[str, Sequence[str]]) -> tuple[tuple[str, str], ...]:
    if isinstance(stack, Mapping):
        return tuple((key, band) for key, bands in stack.items() for band in bands)
    return tuple((key, band) for key, band in stack)


class UNetBaseline(nn.Module):
    """A randomly initialised smp U-Net on a fixed band stack; ``forward(inputs, out_shape) -> [B, K, H, W]``.

    Args:
        stack: Input channels in order: ``[("s2", "B04"), ("dsm", "dsm"), ...]`` or ``{"s2": ["B04", ...]}``.
        num_classes: Number of logits.
        encoder_name, encoder_depth, decoder_channels: See :class:`UNetConfig`.
    """

    def __init__(
        self,
        stack: Sequence[tuple[str, str]] | Mapping[str, Sequence[str]],
        num_classes: int,
        encoder_name: str = "resnet18",
        encoder_depth: int = 4,
        decoder_channels: Sequence[int] = (128, 64, 32, 16),
    ) -> None:
        super().__init__()
        import segmentation_models_pytorch as smp  # heavy import, only when a U-Net is built

        self.config = UNetConfig(_stack_pairs(stack), num_classes, encoder_name, encoder_depth, tuple(decoder_channels))
        self.num_classes = num_classes
        # Channels are gathered per sensor (one time mean and one resampling each), then put in stack order.
        self.sensors: dict[str, list[str]] = {}
        for key, band in self.config.stack:
            self.sensors.setdefault(key, []).append(band)
        gathered = [(key, band) for key, bands in self.sensors.items() for band in bands]
        self.order = [gathered.index(p) for p in self.config.stack]
        try:
            self.unet = smp.Unet(
                encoder_name=encoder_name,
                encoder_depth=encoder_depth,
                encoder_weights=None,
                decoder_channels=tuple(decoder_channels),
                in_channels=len(self.config.stack),
                classes=num_classes,
            )
        except KeyError as err:
            raise ConfigError(
                f"segmentation-models-pytorch has no encoder {encoder_name!r}; try 'resnet18' or 'mobilenet_v2'."
            ) from err

    def stack_inputs(self, inputs: Mapping[str, SensorInput], out_shape: tuple[int, int]) -> Tensor:
        """The fixed input stack ``[B, C, *out_shape]`` (zeros for sensors missing from ``inputs``)."""
        if not inputs:
            raise ConfigError("The U-Net baseline needs at least one sensor input.")
        first = next(iter(inputs.values())).pixels  # [B, T, C, H, W] or [B, C, H, W]
        batch = first.shape[0]
        parts = []
        for key, bands in self.sensors.items():
            item = inputs.get(key)
            if item is None:
                parts.append(first.new_zeros(batch, len(bands), *out_shape))
            else:
                parts.append(resample(time_mean(item.select(bands)), out_shape))
        return torch.cat(parts, dim=1)[:, self.order]

    def forward(self, inputs: Mapping[str, SensorInput], out_shape: tuple[int, int]) -> Tensor:
        x = self.stack_inputs(inputs, out_shape)  # [B, C, H, W]
        multiple = 2**self.config.encoder_depth
        h, w = out_shape
        pad_h, pad_w = -h % multiple, -w % multiple
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        logits: Tensor = self.unet(x)
        return logits[..., :h, :w]


# ---------------------------------------------------------------- DOFA encoder + eofusion's head
@dataclass(frozen=True)
class DOFAConfig:
    """Architecture of :class:`DOFABaseline` (stored in checkpoints).

    Attributes:
        num_classes: Number of logits.
        head_dim: Width of the land-cover head (the same head as eofusion's).
        embed_dim, depth, num_heads, mlp_ratio: DOFA's ViT width, depth, heads and MLP ratio.
        patch_size: Input pixels per token side (>= 3: torchgeo's patch convolution pads by 1).
        token_m: Ground size of a token side; the input grid is ``token_m / patch_size`` metres.
    """

    num_classes: int
    head_dim: int = 32
    embed_dim: int = 128
    depth: int = 4
    num_heads: int = 4
    mlp_ratio: float = 4.0
    patch_size: int = 4
    token_m: float = 40.0
    baseline: str = "dofa"

    def __post_init__(self) -> None:
        if self.num_classes < 2:
            raise ConfigError(f"A segmentation model needs at least 2 classes, got {self.num_classes}.")
        if self.embed_dim % self.num_heads or self.embed_dim % 4:
            raise ConfigError(f"embed_dim {self.embed_dim} must be a multiple of 4 and of num_heads {self.num_heads}.")
        if self.patch_size < 3 or self.token_m <= 0:
            raise ConfigError(f"patch_size must be >= 3 and token_m > 0; got {self.patch_size} and {self.token_m}.")

    @property
    def input_m(self) -> float:
        """Pixel size of DOFA's input grid in metres."""
        return self.token_m / self.patch_size

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DOFAConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error naming them."""
        return _from_dict(cls, data)

    def config_hash(self) -> str:
        """Short SHA-256 of the config."""
        return short_hash(self.to_dict())


def dofa_wavelength_um(band: Band) -> float:
    """The wavelength (micrometres) DOFA is given for ``band``: its centre, or a fixed placeholder.

    Optical and thermal bands use their centre wavelength. SAR bands use 3.75 um (DOFA v1's Sentinel-1
    value) for VV and nearby distinct values for other polarisations; elevation layers use 4.5-4.65 um.

    Raises:
        ConfigError: The band is categorical (a mask or class layer), which is not an image band.
    """
    if band.centre_nm is not None:
        return band.centre_nm / 1000.0
    if band.kind is BandKind.BACKSCATTER and band.polarisation in _SAR_UM:
        return _SAR_UM[band.polarisation]
    if band.kind is BandKind.ELEVATION:
        return _ELEVATION_UM.get(band.name.lower(), _OTHER_ELEVATION_UM)
    raise ConfigError(f"Band {band.name!r} ({band.kind.value}) has no wavelength for DOFA; leave it out of the inputs.")


class DOFAEncoder(nn.Module):
    """torchgeo's DOFA as a token-map encoder: ``forward_features(inputs) -> [B, D, h, w]`` (see the module doc)."""

    def __init__(self, config: DOFAConfig) -> None:
        super().__init__()
        from torchgeo.models import DOFA  # heavy import, only when a DOFA baseline is built

        self.config = config
        # img_size only sizes torchgeo's learned position table, which stays unused: positions are fixed
        # 2-D sin-cos computed for each input's token grid (DOFA's MAE pretraining used fixed sin-cos too).
        self.dofa = DOFA(
            img_size=config.patch_size,
            patch_size=config.patch_size,
            embed_dim=config.embed_dim,
            depth=config.depth,
            num_heads=config.num_heads,
            mlp_ratio=config.mlp_ratio,
            num_classes=0,
            global_pool=False,
        )

    def forward_features(self, inputs: dict[str, SensorInput]) -> Tensor:
        """Token feature map ``[B, D, h, w]``, ``h = footprint / token_m``."""
        h, w = token_grid(inputs, self.config.token_m)
        size = (h * self.config.patch_size, w * self.config.patch_size)
        images: list[Tensor] = []
        waves: list[float] = []
        for item in inputs.values():
            images.append(resample(time_mean(item), size))  # [B, C, *size]
            waves.extend(dofa_wavelength_um(b) for b in item.bands)
        x = torch.cat(images, dim=1)
        tokens, _ = self.dofa.patch_embed(x, torch.tensor(waves, dtype=x.dtype, device=x.device))  # [B, L, D]
        if tokens.shape[1] != h * w:
            raise ConfigError(f"DOFA produced {tokens.shape[1]} tokens for a {h} x {w} grid; check patch_size.")
        tokens = tokens + sincos_2d(self.config.embed_dim, h, w).to(tokens)
        cls = self.dofa.cls_token.expand(tokens.shape[0], -1, -1).to(tokens.dtype)
        x = torch.cat([cls, tokens], dim=1)
        for block in self.dofa.blocks:
            x = block(x)
        x = self.dofa.norm(x)[:, 1:]  # drop the class token
        return x.transpose(1, 2).reshape(x.shape[0], -1, h, w)


class DOFABaseline(nn.Module):
    """DOFA encoder + eofusion's land-cover head; ``forward(inputs, out_shape) -> logits [B, K, H, W]``.

    Args:
        num_classes: Number of logits.
        config: Architecture; defaults to :class:`DOFAConfig` with ``num_classes``. Its ``num_classes``
            must agree with the argument.
    """

    def __init__(self, num_classes: int, config: DOFAConfig | None = None) -> None:
        super().__init__()
        config = config or DOFAConfig(num_classes)
        if config.num_classes != num_classes:
            raise ConfigError(f"DOFAConfig has {config.num_classes} classes but num_classes={num_classes}.")
        self.config = config
        self.num_classes = num_classes
        self.segmenter = SegmentationModel(DOFAEncoder(config), num_classes, head_dim=config.head_dim)

    def forward(self, inputs: dict[str, SensorInput], out_shape: tuple[int, int]) -> Tensor:
        logits: Tensor = self.segmenter(inputs, out_shape)
        return logits


# ---------------------------------------------------------------- by name
def build_baseline(name: str, *, bands: Mapping[str, Sequence[Band]], num_classes: int, **options: Any) -> nn.Module:
    """A randomly initialised baseline by name.

    Args:
        name: ``"unet"`` or ``"dofa"``.
        bands: The bands of each sensor key the model will see (the U-Net's fixed stack, in this order;
            for DOFA they are only checked to have a wavelength).
        num_classes: Number of logits.
        **options: Fields of :class:`UNetConfig` (``encoder_name``, ``encoder_depth``, ``decoder_channels``)
            or :class:`DOFAConfig` (``embed_dim``, ``depth``, ``num_heads``, ``patch_size``, ``token_m``...).

    Raises:
        ConfigError: Unknown name or option, or a band DOFA cannot place.
    """
    if name == "unet":
        allowed = {"encoder_name", "encoder_depth", "decoder_channels"}
    elif name == "dofa":
        allowed = {f.name for f in fields(DOFAConfig)} - {"num_classes", "baseline"}
    else:
        raise ConfigError(f"Unknown baseline {name!r}; choose one of: {', '.join(BASELINES)}.")
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ConfigError(f"Unknown option(s) {unknown} for the {name} baseline; valid: {sorted(allowed)}.")
    if name == "unet":
        return UNetBaseline({key: [b.name for b in bs] for key, bs in bands.items()}, num_classes, **options)
    for bs in bands.values():
        for band in bs:
            dofa_wavelength_um(band)
    return DOFABaseline(num_classes, DOFAConfig(num_classes, **options))


def baseline_from_config(data: Mapping[str, Any]) -> nn.Module:
    """Rebuild a baseline (random weights) from its ``config.to_dict()``, e.g. a checkpoint's ``model_config``."""
    kind = data.get("baseline")
    if kind == "unet":
        cfg = UNetConfig.from_dict(data)
        return UNetBaseline(cfg.stack, cfg.num_classes, cfg.encoder_name, cfg.encoder_depth, cfg.decoder_channels)
    if kind == "dofa":
        dofa = DOFAConfig.from_dict(data)
        return DOFABaseline(dofa.num_classes, dofa)
    raise ConfigError(f"Config has baseline {kind!r}; expected one of: {', '.join(BASELINES)}.")
