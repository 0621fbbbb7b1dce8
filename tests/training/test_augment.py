"""Band-subset augmentation of a batch's sensor inputs."""

from __future__ import annotations

import torch

from eofusion.training.augment import augment_inputs, drop_bands

from ..models.conftest import make_inputs


def test_drop_bands_keeps_at_least_half_and_two_with_matching_pixels() -> None:
    s2 = make_inputs(batch=2, seed=1)["s2"]  # 12 bands
    sizes = set()
    for seed in range(60):
        out = drop_bands(s2, 1.0, torch.Generator().manual_seed(seed))
        sizes.add(len(out.bands))
        for channel, band in enumerate(out.bands):
            assert torch.equal(out.pixels[:, :, channel], s2.pixels[:, :, s2.bands.index(band)])
    assert sizes == set(range(6, 12))  # every size from half the bands to all but one
    assert drop_bands(s2, 0.0, torch.Generator()) is s2


def test_two_band_sensors_keep_both_bands() -> None:
    s1 = make_inputs(batch=2, seed=2)["s1"]  # VV + VH
    assert all(drop_bands(s1, 1.0, torch.Generator().manual_seed(seed)) is s1 for seed in range(10))


def test_augmentation_is_reproducible_from_the_generator() -> None:
    inputs = make_inputs(batch=2, seed=3)
    first = augment_inputs(inputs, band_dropout=0.5, generator=torch.Generator().manual_seed(7))
    again = augment_inputs(inputs, band_dropout=0.5, generator=torch.Generator().manual_seed(7))
    assert any(first[key].bands != inputs[key].bands for key in inputs)
    for key in inputs:
        assert first[key].bands == again[key].bands
        assert torch.equal(first[key].pixels, again[key].pixels)
