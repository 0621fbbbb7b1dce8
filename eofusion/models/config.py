"""Model configuration and the registry of named sizes (tiny for CPU tests and the demo; small/base/large)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from eofusion.config import short_hash
from eofusion.errors import ConfigError


@dataclass(frozen=True)
class ModelConfig:
    """Everything that fixes the model's architecture and its MAE objective.

    Attributes:
        name: Preset this config came from (informational).
        embed_dim, depth, num_heads, mlp_ratio: ViT encoder width, depth, heads and MLP ratio.
        decoder_dim, decoder_depth, decoder_heads: MAE decoder.
        patch_px: Cells per token side ``q``: every sensor is resampled to ``q x q`` cells per token.
        token_m: Ground size of one token side in metres (the same for every sensor).
        spectral_basis: Number ``K`` of basis projections the band hypernetwork mixes (encoder and decoder).
        descriptor_hidden: Width of the descriptor MLPs.
        temporal_heads: Heads of the temporal attention pooling (must divide ``embed_dim``).
        cls_token: Prepend a class token (used when loading SMARTIES weights, which were trained with one).
        token_scale: Multiplier on the band-mean token (SMARTIES uses 12).
        mask_ratio: Fraction of tokens hidden from the encoder in pretraining.
        mixup_ratio: Fraction of token positions built from a single randomly chosen sensor (cross-sensor
            token mixup, see :mod:`eofusion.models.mae`).
        norm_pix_loss: Standardise each target patch before the MSE (as MAE's option).
    """

    name: str = "tiny"
    embed_dim: int = 96
    depth: int = 4
    num_heads: int = 4
    mlp_ratio: float = 4.0
    decoder_dim: int = 64
    decoder_depth: int = 2
    decoder_heads: int = 4
    patch_px: int = 4
    token_m: float = 40.0
    spectral_basis: int = 16
    descriptor_hidden: int = 64
    temporal_heads: int = 4
    cls_token: bool = False
    token_scale: float = 1.0
    mask_ratio: float = 0.75
    mixup_ratio: float = 0.5
    norm_pix_loss: bool = False

    def __post_init__(self) -> None:
        if self.embed_dim % self.num_heads or self.embed_dim % self.temporal_heads:
            raise ConfigError(
                f"embed_dim {self.embed_dim} must be divisible by num_heads {self.num_heads} and "
                f"temporal_heads {self.temporal_heads}."
            )
        if self.embed_dim % 4 or self.decoder_dim % 4:
            raise ConfigError("embed_dim and decoder_dim must be multiples of 4 (2-D sin-cos positions).")
        if not 0.0 <= self.mask_ratio < 1.0 or not 0.0 <= self.mixup_ratio <= 1.0:
            raise ConfigError("mask_ratio must be in [0, 1) and mixup_ratio in [0, 1].")
        if self.patch_px < 1 or self.token_m <= 0:
            raise ConfigError("patch_px must be >= 1 and token_m > 0.")

    @property
    def cell_m(self) -> float:
        """Ground size of one cell: the finest detail the encoder resolves as a mean value."""
        return self.token_m / self.patch_px

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (stored in checkpoints)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"Unknown model config key(s) {unknown}; known keys: {sorted(known)}.")
        return cls(**data)

    def config_hash(self) -> str:
        """Short SHA-256 of the config (stored with checkpoints)."""
        return short_hash(self.to_dict())


MODEL_PRESETS: dict[str, ModelConfig] = {
    "tiny": ModelConfig(),
    "small": ModelConfig(
        name="small", embed_dim=384, depth=12, num_heads=6, decoder_dim=256, decoder_depth=4, decoder_heads=8,
        patch_px=8, spectral_basis=24, descriptor_hidden=128, temporal_heads=6,
    ),
    "base": ModelConfig(
        name="base", embed_dim=768, depth=12, num_heads=12, decoder_dim=512, decoder_depth=8, decoder_heads=16,
        patch_px=16, token_m=160.0, spectral_basis=32, descriptor_hidden=256, temporal_heads=12,
    ),
    "large": ModelConfig(
        name="large", embed_dim=1024, depth=24, num_heads=16, decoder_dim=512, decoder_depth=8,
        decoder_heads=16, patch_px=16, token_m=160.0, spectral_basis=32, descriptor_hidden=256,
        temporal_heads=16,
    ),
}  # fmt: skip


def model_config(name: str = "tiny", **overrides: Any) -> ModelConfig:
    """A preset by name, with fields overridden (e.g. ``model_config("base", token_m=80.0)``)."""
    try:
        base = MODEL_PRESETS[name]
    except KeyError:
        raise ConfigError(f"No model preset {name!r}; presets: {', '.join(MODEL_PRESETS)}.") from None
    unknown = sorted(set(overrides) - {f.name for f in fields(ModelConfig)})
    if unknown:
        raise ConfigError(f"Unknown model config key(s) {unknown}.")
    return replace(base, **overrides)
