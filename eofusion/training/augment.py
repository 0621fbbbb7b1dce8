"""Band-subset augmentation, so one model takes a sensor with fewer bands than it was trained on.

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
"""

from __future__ import annotations

from dataclasses import replace

import torch

from eofusion.models.inputs import SensorInput

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


def augment_inputs(
    inputs: dict[str, SensorInput], *, band_dropout: float, generator: torch.Generator
) -> dict[str, SensorInput]:
    """Each sensor independently gets a band subset with probability ``band_dropout``."""
    return {key: drop_bands(item, band_dropout, generator) for key, item in inputs.items()}
