"""Augmentations for sensors the model did not train on: band subsets and radiometric gains.

Sensor subsets (:mod:`eofusion.training.finetune`) teach the model to do without a whole sensor; this
teaches it to do without some of a sensor's bands, as a sensor it never saw usually has (Landsat's seven
reflective bands where Sentinel-2 has twelve, an RGB camera where training had RGB + NIR). Measured on the
demo world (fused model, 600 steps): without it, Sentinel-2 restricted to Landsat's seven bands scored
47.8 mIoU against 64.8 with all twelve, and Landsat itself (never seen) 38.8; with band subsets on 30 % of
the steps, 53.8 and 46.5. (Coarser pixels, the other difference of a 30 m sensor, were also tried as an
augmentation: area-averaging a sensor by 2-3x on 20 % of the steps did not improve the 30 m scores and
cost accuracy elsewhere, so it is not done.)

:func:`drop_bands` keeps at least half of a sensor's bands and at least two: a sensor is not reduced to
a single band (with Sentinel-1's two polarisations, dropping one on 30 % of the steps cost S1-alone maps
17 mIoU points), and a user's sensor with under half the bands of the training sensor is far from what
the model learnt anyway. Acts on a whole batch (its chips share one band list) and draws from the
caller's generator, so training stays reproducible.

:func:`jitter_radiometry` scales each chip's reflectance by a random gain: one for all its bands (exposure,
sun height, haze) times a smaller one per band (another camera's band responses and white balance), in
physical units, so a band's gain g maps its standardised value x to ``g * x + (g - 1) * mean / std``. Two
aerial cameras over the same ground differ this way: the demo world's NAIP-profile camera, flown 45 minutes
earlier, reads the same fields 0.1-0.2 sigma darker in red and ~10 % wider in contrast, and the IGN-like
aerial given those gains alone lost 12 mIoU points in the fused model trained without them (84.6 -> 72.5).
SAR, elevation and thermal bands are left alone (their values are physical quantities, not exposures).
"""

from __future__ import annotations

from dataclasses import replace

import torch

from eofusion.models.inputs import SensorInput
from eofusion.sensors import BandKind

MIN_BANDS_KEPT = 2


def drop_bands(item: SensorInput, p: float, generator: torch.Generator) -> SensorInput:
    """With probability ``p``, ``item`` with a random proper subset of its bands (>= half of them, >= 2)."""
    count = len(item.bands)
    fewest = max(MIN_BANDS_KEPT, -(-count // 2))
    if fewest >= count or p <= 0 or float(torch.rand((), generator=generator)) >= p:
        return item
    keep_count = int(torch.randint(fewest, count, (), generator=generator))
    keep = sorted(torch.randperm(count, generator=generator)[:keep_count].tolist())
    return replace(item, pixels=item.pixels[..., keep, :, :], bands=tuple(item.bands[i] for i in keep))


def jitter_radiometry(item: SensorInput, sigma: float, generator: torch.Generator) -> SensorInput:
    """``item`` (batched) with each chip's reflectance bands times ``exp(sigma * N + sigma / 2 * N_band)``."""
    reflective = [i for i, band in enumerate(item.bands) if band.kind is BandKind.REFLECTANCE]
    if sigma <= 0 or not reflective:
        return item
    pixels = item.pixels  # [B, T, C, H, W]
    chips, bands = pixels.shape[0], len(item.bands)
    log_gain = sigma * torch.randn((chips, 1), generator=generator)
    log_gain = log_gain + sigma / 2 * torch.randn((chips, bands), generator=generator)
    kept = torch.zeros(bands, dtype=torch.bool)
    kept[reflective] = True
    gain = torch.where(kept, log_gain.exp(), 1.0).to(pixels.device, pixels.dtype)  # [B, C]
    shift = torch.tensor([b.norm_mean / b.norm_std for b in item.bands], dtype=pixels.dtype, device=pixels.device)
    gain = gain[:, None, :, None, None]
    return replace(item, pixels=gain * pixels + (gain - 1) * shift[None, None, :, None, None])


def augment_inputs(
    inputs: dict[str, SensorInput],
    *,
    band_dropout: float,
    generator: torch.Generator,
    radiometric_jitter: float = 0.0,
) -> dict[str, SensorInput]:
    """Each sensor independently: its chips' reflectance gains jittered, then a band subset (``band_dropout``)."""
    jittered = {key: jitter_radiometry(item, radiometric_jitter, generator) for key, item in inputs.items()}
    return {key: drop_bands(item, band_dropout, generator) for key, item in jittered.items()}
