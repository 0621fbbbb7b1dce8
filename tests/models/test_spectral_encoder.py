"""The spectral encoder: band-order invariance, any subset, unseen sensors, multi-resolution, presets."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from eofusion.errors import ConfigError
from eofusion.models import MODEL_PRESETS, SensorInput, build_model, normalise_pixels
from eofusion.models.embedding import to_cells
from eofusion.sensors import BandKind, get_sensor


def permuted(item: SensorInput, order: list[int]) -> SensorInput:
    return replace(item, pixels=item.pixels[:, :, order], bands=tuple(item.bands[i] for i in order))


def test_band_order_does_not_change_tokens(tiny_model, inputs) -> None:
    ref = tiny_model.forward_features(inputs)
    g = torch.Generator().manual_seed(1)
    shuffled = {k: permuted(v, torch.randperm(len(v.bands), generator=g).tolist()) for k, v in inputs.items()}
    out = tiny_model.forward_features(shuffled)
    assert ref.shape == (2, 96, 2, 2)
    torch.testing.assert_close(out, ref, atol=2e-6, rtol=1e-5)
    # and the sensors' dict order does not matter either
    out2 = tiny_model.forward_features(dict(reversed(list(inputs.items()))))
    torch.testing.assert_close(out2, ref, atol=2e-6, rtol=1e-5)


@pytest.mark.parametrize(
    "subset",
    [
        {"s2": ["B04"]},
        {"s1": None},
        {"dsm": None},
        {"dsm": ["ndsm"]},
        {"s2": None, "aerial": None},
        {"aerial": ["nir"], "s1": ["VH"]},
    ],
)
def test_any_subset_of_bands_and_sensors_runs(tiny_model, inputs, subset) -> None:
    chosen = {k: inputs[k] if keys is None else inputs[k].select(keys) for k, keys in subset.items()}
    out = tiny_model.forward_features(chosen)
    assert out.shape == (2, 96, 2, 2)
    assert torch.isfinite(out).all()
    mae = build_model("tiny").train()
    loss = mae(chosen, generator=torch.Generator().manual_seed(0)).loss
    assert torch.isfinite(loss)


def test_unseen_landsat_runs_and_differs_from_s2(tiny_model) -> None:
    l8 = get_sensor("landsat-8")
    bands = (*(b for b in l8.bands if b.kind is BandKind.REFLECTANCE), l8.band("B10"))
    pixels = torch.randn(1, 1, len(bands), 4, 4)  # 120 m at 30 m -> 3 x 3 tokens of 40 m
    out = tiny_model.forward_features({"l8": SensorInput(pixels, bands, 30.0, "landsat-8")})
    assert out.shape == (1, 96, 3, 3) and torch.isfinite(out).all()


def test_invalid_dates_and_nan_pixels_are_ignored(tiny_model, inputs) -> None:
    s2 = inputs["s2"]
    nan_pixels = s2.pixels.clone()
    nan_pixels[:, 1] = float("nan")  # second date entirely missing
    with_nan = {"s2": replace(s2, pixels=nan_pixels, valid=None)}
    first_only = {"s2": replace(s2, pixels=s2.pixels[:, :1], day_of_year=s2.day_of_year[:, :1], valid=None)}
    out = tiny_model.forward_features(with_nan)
    assert torch.isfinite(out).all()
    # a date that is entirely invalid contributes nothing: same as giving the first date alone
    torch.testing.assert_close(out, tiny_model.forward_features(first_only), atol=1e-5, rtol=1e-4)


def test_cells_average_fine_pixels_and_keep_texture() -> None:
    x = torch.zeros(1, 1, 8, 8)
    x[..., ::2, :] = 2.0  # stripes: mean 1, std 1 within each 2 x 2 cell
    cells = to_cells(x, None, (1, 1), 4)
    torch.testing.assert_close(cells.means, torch.ones(1, 1, 1, 16))
    torch.testing.assert_close(cells.features[..., 16:], torch.ones(1, 1, 1, 16), atol=2e-3, rtol=0)


def test_mismatched_footprints_are_refused(tiny_model, inputs) -> None:
    small = replace(inputs["dsm"], pixels=inputs["dsm"].pixels[..., :40, :40])
    with pytest.raises(ConfigError, match="same footprint"):
        tiny_model.forward_features({"s2": inputs["s2"], "dsm": small})


def test_normalise_pixels_converts_sar_to_db_and_standardises() -> None:
    s1 = get_sensor("sentinel-1")
    vv = s1.band("VV")
    x = torch.tensor([10 ** (-11.0 / 10), float("nan")]).reshape(1, 2, 1)
    out = normalise_pixels(x.reshape(1, 1, 2, 1), (vv,), sar_units="linear")
    assert out[0, 0, 0, 0].item() == pytest.approx(0.0, abs=1e-5)  # -11 dB is VV's mean
    assert torch.isnan(out[0, 0, 1, 0])
    in_db = normalise_pixels(torch.tensor([-11.0, -6.5]).reshape(1, 1, 2, 1), (vv,))  # cubes store dB
    torch.testing.assert_close(in_db.flatten(), torch.tensor([0.0, 1.0]))
    with pytest.raises(ConfigError, match="linear power"):
        normalise_pixels(torch.rand(1, 1, 8, 8) * 0.2, (vv,))
    with pytest.raises(ConfigError, match="dB"):
        normalise_pixels(torch.full((1, 1, 2, 2), -12.0), (vv,), sar_units="linear")
    red = get_sensor("sentinel-2a").band("B04")
    ref = normalise_pixels(torch.full((1, 1, 1), red.norm_mean + red.norm_std), (red,))
    assert ref.item() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("name", ["tiny", "small"])
def test_presets_run(name, input_factory) -> None:
    cfg = MODEL_PRESETS[name]
    model = build_model(name).eval()
    inputs = input_factory(batch=1, footprint_m=int(cfg.token_m * 2), dates=1)
    out = model.forward_features(inputs)
    assert out.shape == (1, cfg.embed_dim, 2, 2) and torch.isfinite(out).all()


def test_large_presets_are_consistent() -> None:
    for cfg in MODEL_PRESETS.values():
        assert cfg.embed_dim % cfg.num_heads == 0 and cfg.spectral_basis >= 16
