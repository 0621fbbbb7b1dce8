"""Augmentations for sensors the model did not train on: band subsets, radiometric gains, band responses.

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
caller's generator, so training stays reproducible. ``band_dropout_sensors`` limits it to some sensors: on
Sentinel-2 only (the benchmark's fused model, two seeds) it lifted the NAIP camera alone from 0.71 to 0.93 of
the aerial alone and Landsat alone from 0.63 to 0.73 of S2 alone for 0.8 mIoU on all four; on every sensor
(seed 0) all four fell 4.8 points and the aerial alone 7.1, its four bands cut to two or three.

:func:`jitter_radiometry` scales each chip's reflectance by a random gain: one for all its bands (exposure,
sun height, haze) times a smaller one per band (another camera's band responses and white balance), in
physical units, so a band's gain g maps its standardised value x to ``g * x + (g - 1) * mean / std``. Two
aerial cameras over the same ground differ this way: the demo world's NAIP-profile camera, flown 45 minutes
earlier, reads the same fields 0.12 sigma darker in red, 0.07 brighter in green and ~10 % wider in contrast,
and the IGN-like aerial given such offsets and gains lost 12 mIoU points in the fused model trained without
this (84.6 -> 72.5).
SAR, elevation and thermal bands are left alone (their values are physical quantities, not exposures).

:func:`jitter_responses` presents a sensor's reflectance bands as another camera's: each band's centre moved
by ~2 % and its width scaled by up to 3x either way, with Gaussian responses from those (the descriptors of an
ad-hoc sensor). A model trained on one aerial camera learns the exact descriptor of each of its four bands and
reads another camera's bands as something else: the fused model trained without this, given the IGN-like
aerial's own pixels with the NAIP camera's band descriptors (red 32 nm wide instead of 100), fell from 84.6 to
67.5 mIoU; the NAIP camera's pixels with the IGN-like camera's descriptors scored 74.9, with its own 55.4.

Both are off by default. Measured on the benchmark's fused model (benchmarks/bench_mapping.py's spec, 1800 steps,
held-out mIoU, means of seeds 0 and 1, without the jitter in brackets): response jitter 0.5 ALONE lifts the NAIP
camera alone to 73.9 (59.1), 0.89 of the aerial alone (0.71); given the IGN-like aerial's pixels with the NAIP
camera's descriptors the model scores 83.9 at seed 0 (its own: 83.8; without the jitter 67.5), so what remains of
the NAIP gap is the pixels (0.6 m, another exposure), not the descriptors. It is not on by default because of what
it costs: all four 84.6 (86.4), level with the random forest and below it at seed 1; S2 alone 68.5 (70.0); Landsat
alone 37.9 (44.2) and Landsat with the other three 74.5 (82.9), ten points below the same three without Landsat.
Recasting only bands known by an approximate response (aerial cameras; seed 0) kept the NAIP gain (0.89) and all
four (86.0) but Landsat alone fell to 31.4. Radiometric jitter 0.1 alone lifted Landsat alone 41.3 -> 51.4 and the
NAIP camera 55.4 -> 58.7 (seed 0) but cost the aerial alone 84.6 -> 76.9 and all four 86.7 -> 82.2; with response
jitter 0.5 beside it (two seeds) the aerial alone fell 83.3 -> 75.1. Turn response jitter on when the model will
map with another aerial camera than it trained with, and not with satellites it did not train on. Either half
alone (two seeds): widths only, the NAIP camera 0.78 and Landsat alone 34.2; centres only, the NAIP camera 0.89
and Landsat alone 39.0: the NAIP gain comes from the moved centres, and Landsat pays with both halves.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import replace

import torch

from eofusion.models.inputs import SensorInput
from eofusion.sensors import BandKind

MIN_BANDS_KEPT = 2
CENTRE_SHIFT_SIGMA = 0.02  # log of a band centre's factor (~13 nm at 640 nm)
MAX_WIDTH_FACTOR = 3.0  # a band's width is scaled by a factor log-uniform in [1/3, 3]


def drop_bands(item: SensorInput, p: float, generator: torch.Generator) -> SensorInput:
    """With probability ``p``, ``item`` with a random proper subset of its bands (>= half of them, >= 2)."""
    count = len(item.bands)
    fewest = max(MIN_BANDS_KEPT, -(-count // 2))
    if fewest >= count or p <= 0 or float(torch.rand((), generator=generator)) >= p:
        return item
    keep_count = int(torch.randint(fewest, count, (), generator=generator))
    keep = sorted(torch.randperm(count, generator=generator)[:keep_count].tolist())
    return replace(item, pixels=item.pixels[..., keep, :, :], bands=tuple(item.bands[i] for i in keep))


def jitter_radiometry(
    item: SensorInput, sigma: float, generator: torch.Generator, share: tuple[int, slice] | None = None
) -> SensorInput:
    """``item`` (batched) with each chip's reflectance bands times ``exp(sigma * N + sigma / 2 * N_band)``.

    ``share``: the global batch size and this rank's chips of it (gains are drawn for the global batch, as
    one process would draw them, then sliced); None: the whole batch is this process's.
    """
    reflective = [i for i, band in enumerate(item.bands) if band.kind is BandKind.REFLECTANCE]
    if sigma <= 0 or not reflective:
        return item
    pixels = item.pixels
    if pixels.ndim != 5:
        raise ValueError(f"jitter_radiometry takes a batch [B, T, C, H, W]; got shape {tuple(pixels.shape)}.")
    bands = len(item.bands)
    chips, mine = share if share is not None else (pixels.shape[0], slice(None))
    log_gain = sigma * torch.randn((chips, 1), generator=generator)
    log_gain = (log_gain + sigma / 2 * torch.randn((chips, bands), generator=generator))[mine]
    kept = torch.zeros(bands, dtype=torch.bool)
    kept[reflective] = True
    gain = torch.where(kept, log_gain.exp(), 1.0).to(pixels.device, pixels.dtype)  # [B, C]
    shift = torch.tensor([b.norm_mean / b.norm_std for b in item.bands], dtype=pixels.dtype, device=pixels.device)
    gain = gain[:, None, :, None, None]
    return replace(item, pixels=gain * pixels + (gain - 1) * shift[None, None, :, None, None])


def jitter_responses(item: SensorInput, p: float, generator: torch.Generator) -> SensorInput:
    """With probability ``p``, ``item``'s reflectance bands as an ad-hoc camera's (moved centres, other widths).

    A changed band is no longer the registry's, so its descriptor is the Gaussian response from its centre
    and width (:mod:`eofusion.models.descriptors`); other bands (thermal, SAR, elevation) keep theirs.
    """
    # The coin is drawn for every sensor (with or without reflectance bands), so the draws that follow do not
    # depend on which sensors a batch has.
    if p <= 0 or float(torch.rand((), generator=generator)) >= p:
        return item
    if not any(band.kind is BandKind.REFLECTANCE for band in item.bands):
        return item
    bands = []
    for band in item.bands:
        if band.kind is not BandKind.REFLECTANCE or band.centre_nm is None or band.bandwidth_nm is None:
            bands.append(band)
            continue
        shift = float(torch.randn((), generator=generator)) * CENTRE_SHIFT_SIGMA
        width = (2 * float(torch.rand((), generator=generator)) - 1) * math.log(MAX_WIDTH_FACTOR)
        centre = band.centre_nm * math.exp(shift)
        bands.append(replace(band, centre_nm=centre, bandwidth_nm=min(band.bandwidth_nm * math.exp(width), centre / 2)))
    return replace(item, bands=tuple(bands))


def augment_inputs(
    inputs: dict[str, SensorInput],
    *,
    band_dropout: float,
    generator: torch.Generator,
    radiometric_jitter: float = 0.0,
    response_jitter: float = 0.0,
    band_dropout_sensors: Collection[str] | None = None,
    share: tuple[int, slice] | None = None,
) -> dict[str, SensorInput]:
    """Each sensor independently: reflectance gains jittered, bands as another camera's, then a band subset.

    ``band_dropout_sensors``: the input keys whose bands may be dropped (None: every sensor); the others keep
    all their bands and draw nothing for it. ``share``: the global batch size and this rank's chips of it
    (see :func:`jitter_radiometry`).
    """
    out = {}
    for key, item in inputs.items():
        gained = jitter_radiometry(item, radiometric_jitter, generator, share)
        recast = jitter_responses(gained, response_jitter, generator)
        cut = band_dropout_sensors is None or key in band_dropout_sensors
        out[key] = drop_bands(recast, band_dropout if cut else 0.0, generator)
    return out
