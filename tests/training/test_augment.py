"""Band-subset and radiometric augmentation of a batch's sensor inputs."""

from __future__ import annotations

from dataclasses import replace

import torch

from eofusion.sensors import BandKind
from eofusion.training.augment import augment_inputs, drop_bands, jitter_radiometry, jitter_responses

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


def test_band_dropout_cuts_only_the_named_sensors_and_draws_nothing_for_the_others() -> None:
    inputs = make_inputs(batch=2, seed=11)
    cut_sizes = set()
    for seed in range(20):
        out = augment_inputs(
            inputs, band_dropout=1.0, band_dropout_sensors={"s2"}, generator=torch.Generator().manual_seed(seed)
        )
        for key, item in inputs.items():
            if key != "s2":
                assert out[key] is item  # whole, even the aerial's four bands at band_dropout 1
        cut_sizes.add(len(out["s2"].bands))
        # The draws are those of S2 alone: the other sensors take nothing from the generator.
        alone = drop_bands(inputs["s2"], 1.0, torch.Generator().manual_seed(seed))
        assert out["s2"].bands == alone.bands
    assert max(cut_sizes) < len(inputs["s2"].bands)
    every = augment_inputs(inputs, band_dropout=1.0, generator=torch.Generator().manual_seed(0))
    assert len(every["aerial"].bands) < len(inputs["aerial"].bands)  # None: every sensor, as before


def test_radiometric_jitter_is_a_gain_in_physical_units_per_chip_on_reflectance_only() -> None:
    inputs = make_inputs(batch=3, seed=4)
    for item in inputs.values():
        out = jitter_radiometry(item, 0.2, torch.Generator().manual_seed(5))
        mean = torch.tensor([b.norm_mean for b in item.bands])[None, None, :, None, None]
        std = torch.tensor([b.norm_std for b in item.bands])[None, None, :, None, None]
        before, after = item.pixels * std + mean, out.pixels * std + mean  # physical values
        for channel, band in enumerate(item.bands):
            x, y = before[:, :, channel].reshape(3, -1), after[:, :, channel].reshape(3, -1)
            if band.kind is BandKind.REFLECTANCE:  # one gain per chip and band, different between chips
                gain = (x * y).sum(1, keepdim=True) / (x * x).sum(1, keepdim=True)
                torch.testing.assert_close(y, gain * x, rtol=1e-4, atol=1e-4)
                assert gain.std() > 0.01
            else:  # SAR, elevation: untouched
                assert torch.equal(out.pixels[:, :, channel], item.pixels[:, :, channel])
    assert jitter_radiometry(inputs["s2"], 0.0, torch.Generator()) is inputs["s2"]


def test_augmentations_off_draw_nothing_so_earlier_runs_replay() -> None:
    inputs = make_inputs(batch=2, seed=6)
    generator = torch.Generator().manual_seed(8)
    state = generator.get_state()
    augment_inputs(inputs, band_dropout=0.0, radiometric_jitter=0.0, response_jitter=0.0, generator=generator)
    assert torch.equal(generator.get_state(), state)
    old = torch.Generator().manual_seed(8)  # what band dropout alone drew before the jitters existed
    before = {key: drop_bands(item, 0.5, old) for key, item in inputs.items()}
    now = augment_inputs(inputs, band_dropout=0.5, generator=torch.Generator().manual_seed(8))
    assert all(before[key].bands == now[key].bands for key in inputs)


def test_radiometric_gains_are_drawn_for_the_global_batch_and_sliced_per_rank() -> None:
    whole = make_inputs(batch=4, seed=10)["s2"]
    one_process = jitter_radiometry(whole, 0.2, torch.Generator().manual_seed(5))
    second_rank = replace(whole, pixels=whole.pixels[2:])
    mine = jitter_radiometry(second_rank, 0.2, torch.Generator().manual_seed(5), share=(4, slice(2, 4)))
    torch.testing.assert_close(mine.pixels, one_process.pixels[2:])


def test_response_jitter_recasts_reflectance_bands_as_another_cameras() -> None:
    inputs = make_inputs(batch=2, seed=9)
    aerial, s1 = inputs["aerial"], inputs["s1"]
    out = jitter_responses(aerial, 1.0, torch.Generator().manual_seed(3))
    assert out.sensor == aerial.sensor and torch.equal(out.pixels, aerial.pixels)
    for old, new in zip(aerial.bands, out.bands, strict=True):
        assert new.name == old.name and new.centre_nm != old.centre_nm
        assert 0.9 < new.centre_nm / old.centre_nm < 1.1 and 1 / 3.01 < new.bandwidth_nm / old.bandwidth_nm < 3.01
    assert not torch.allclose(out.descriptors(), aerial.descriptors())
    assert jitter_responses(s1, 1.0, torch.Generator().manual_seed(3)) is s1  # SAR: no reflectance band
    assert jitter_responses(aerial, 0.0, torch.Generator()) is aerial
