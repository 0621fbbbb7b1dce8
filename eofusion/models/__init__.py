"""The spectrum-aware masked autoencoder: one encoder for any bands of any sensor, at any resolution.

Public API (torch only; no xarray, no file I/O):

- :class:`SensorInput`, :func:`normalise_pixels`, :func:`collate_samples` — the model's input type.
- :func:`band_descriptor`, :func:`band_descriptors`, ``DESCRIPTOR_DIM`` — band identity as numbers.
- :class:`ModelConfig`, ``MODEL_PRESETS``, :func:`model_config` — named sizes (tiny/small/base/large).
- :class:`SpectralEncoder` (``forward_features(inputs) -> [B, D, h, w]``) and :class:`SpectralMAE`.
- :func:`build_model` — a preset name or config -> :class:`SpectralMAE`.
- :func:`build_baseline` — peers for comparisons: ``"unet"`` (fixed-stack U-Net), ``"dofa"`` (torchgeo's DOFA
  with eofusion's land-cover head); see :mod:`eofusion.models.baselines`.
- :func:`convert_smarties_state_dict` — a published SMARTIES ViT-B/L state dict -> :class:`SpectralMAE`
  (what carries over exactly: see :mod:`eofusion.models.smarties`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from eofusion.models.baselines import build_baseline
from eofusion.models.config import MODEL_PRESETS, ModelConfig, model_config
from eofusion.models.descriptors import DESCRIPTOR_DIM, band_descriptor, band_descriptors
from eofusion.models.encoder import SpectralEncoder
from eofusion.models.inputs import SensorInput, collate_samples, normalise_pixels
from eofusion.models.mae import MAEOutput, SpectralMAE, masked_mse
from eofusion.models.smarties import ConversionReport, convert_smarties_state_dict


def build_model(config: ModelConfig | str = "tiny", **overrides: Any) -> SpectralMAE:
    """A freshly initialised :class:`SpectralMAE` from a config or preset name (fields overridable)."""
    if isinstance(config, str):
        return SpectralMAE(model_config(config, **overrides))
    return SpectralMAE(replace(config, **overrides) if overrides else config)


__all__ = [
    "DESCRIPTOR_DIM",
    "MODEL_PRESETS",
    "ConversionReport",
    "MAEOutput",
    "ModelConfig",
    "SensorInput",
    "SpectralEncoder",
    "SpectralMAE",
    "band_descriptor",
    "band_descriptors",
    "build_baseline",
    "build_model",
    "collate_samples",
    "convert_smarties_state_dict",
    "masked_mse",
    "model_config",
    "normalise_pixels",
]
