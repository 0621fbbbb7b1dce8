"""Baselines: the fixed-stack U-Net and DOFA with eofusion's head — shapes, sensor subsets, learning, configs."""

from __future__ import annotations

from dataclasses import replace
from itertools import combinations
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from eofusion.errors import ConfigError
from eofusion.models import SensorInput
from eofusion.models.baselines import (
    DOFABaseline,
    DOFAConfig,
    UNetBaseline,
    baseline_from_config,
    build_baseline,
    dofa_wavelength_um,
)
from eofusion.models.heads import SegmentationModel, time_mean
from eofusion.sensors import get_band, get_sensor

SENSORS = ("s2", "s1", "aerial", "dsm")


def bands_of(inputs: dict[str, SensorInput]) -> dict[str, tuple]:
    return {k: v.bands for k, v in inputs.items()}


def small(name: str, inputs: dict[str, SensorInput], num_classes: int = 3) -> torch.nn.Module:
    """CPU-sized versions of both baselines."""
    torch.manual_seed(0)
    if name == "unet":
        return build_baseline(
            "unet", bands=bands_of(inputs), num_classes=num_classes, encoder_depth=3, decoder_channels=(32, 16, 8)
        )
    return build_baseline("dofa", bands=bands_of(inputs), num_classes=num_classes, embed_dim=64, depth=2)


@pytest.mark.parametrize("name", ["unet", "dofa"])
def test_logits_have_the_requested_shape(name: str, inputs: dict[str, SensorInput]) -> None:
    model = small(name, inputs, num_classes=5).eval()
    with torch.no_grad():
        assert model(inputs, (80, 80)).shape == (2, 5, 80, 80)
        assert model(inputs, (75, 75)).shape == (2, 5, 75, 75)  # not a multiple of the U-Net's stride
        assert model(inputs, (8, 8)).shape == (2, 5, 8, 8)  # coarser than every sensor


def test_dofa_works_on_every_sensor_subset(inputs: dict[str, SensorInput]) -> None:
    model = small("dofa", inputs).eval()
    outputs = {}
    with torch.no_grad():
        for n in range(1, len(SENSORS) + 1):
            for subset in combinations(SENSORS, n):
                logits = model({k: inputs[k] for k in subset}, (40, 40))
                assert logits.shape == (2, 3, 40, 40) and bool(torch.isfinite(logits).all())
                outputs[subset] = logits
    # each sensor changes the prediction: none of them is silently ignored
    full = outputs[SENSORS]
    for k in SENSORS:
        rest = tuple(s for s in SENSORS if s != k)
        assert not torch.allclose(outputs[rest], full)


def test_dofa_tokens_follow_the_token_grid(inputs: dict[str, SensorInput]) -> None:
    model = DOFABaseline(3, DOFAConfig(3, embed_dim=64, depth=1, patch_size=8, token_m=20.0))
    tokens = model.segmenter.encoder.forward_features(inputs)
    assert tokens.shape == (2, 64, 4, 4)  # 80 m footprint / 20 m tokens


def test_unet_fills_missing_sensors_with_zeros(inputs: dict[str, SensorInput]) -> None:
    stack = [("dsm", "ndsm"), ("s2", "B04"), ("aerial", "nir"), ("s2", "B08")]  # interleaved on purpose
    model = UNetBaseline(stack, 3, encoder_depth=3, decoder_channels=(32, 16, 8))
    full = model.stack_inputs(inputs, (40, 40))
    assert full.shape == (2, 4, 40, 40)
    s2_mean = time_mean(inputs["s2"].select(["B04", "B08"]))  # 10 m -> 40 px: bilinear
    expected = F.interpolate(s2_mean, (40, 40), mode="bilinear", align_corners=False)
    torch.testing.assert_close(full[:, [1, 3]], expected)
    ndsm = F.adaptive_avg_pool2d(inputs["dsm"].select(["ndsm"]).pixels[:, 0], (40, 40))  # 1 m -> 2 m: area mean
    torch.testing.assert_close(full[:, 0:1], ndsm)
    no_s2 = model.stack_inputs({k: v for k, v in inputs.items() if k != "s2"}, (40, 40))
    assert bool((no_s2[:, [1, 3]] == 0).all())
    torch.testing.assert_close(no_s2[:, [0, 2]], full[:, [0, 2]])
    assert model({"s1": inputs["s1"]}, (40, 40)).shape == (2, 3, 40, 40)  # nothing of its stack: all zeros
    with pytest.raises(ConfigError, match="no band"):
        UNetBaseline([("s2", "B99")], 3)({"s2": inputs["s2"]}, (8, 8))


def test_time_mean_skips_invalid_dates_and_nan() -> None:
    band = get_band("sentinel-2a", "B04")
    pixels = torch.tensor([1.0, 3.0, float("nan")]).reshape(1, 3, 1, 1, 1).expand(1, 3, 1, 1, 2).clone()
    valid = torch.tensor([[True, False, True], [True, True, True]]).T.reshape(1, 3, 1, 2)
    mean = time_mean(SensorInput(pixels, (band,), 10.0, valid=valid))
    torch.testing.assert_close(mean, torch.tensor([1.0, 2.0]).reshape(1, 1, 1, 2))


def learnable_batch(inputs: dict[str, SensorInput]) -> torch.Tensor:
    """Classes that the aerial and DSM bands determine, on a 2 m grid."""
    aerial = F.adaptive_avg_pool2d(inputs["aerial"].pixels[:, 0, 0], (40, 40))
    height = F.adaptive_avg_pool2d(inputs["dsm"].pixels[:, 0, 1], (40, 40))
    return (aerial > 0).long() + (height > 0.5).long()


@pytest.mark.parametrize("name", ["unet", "dofa"])
def test_baselines_learn_a_band_rule(name: str, input_factory) -> None:  # type: ignore[no-untyped-def]
    inputs = input_factory(batch=4, footprint_m=80, seed=1)
    # bounded inputs keep the first steps stable
    inputs = {k: replace(v, pixels=v.pixels.clamp(-2, 2)) for k, v in inputs.items()}
    target = learnable_batch(inputs)
    model = small(name, inputs).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        loss = F.cross_entropy(model(inputs, (40, 40)), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert min(losses[-5:]) < 0.6 * losses[0], losses


def test_build_baseline_rejects_unknown_names_and_options(inputs: dict[str, SensorInput]) -> None:
    with pytest.raises(ConfigError, match="choose one of: dofa, unet"):
        build_baseline("segformer", bands=bands_of(inputs), num_classes=3)
    with pytest.raises(ConfigError, match="embed_dim"):
        build_baseline("unet", bands=bands_of(inputs), num_classes=3, embed_dim=64)
    with pytest.raises(ConfigError, match="at least 2 classes"):
        build_baseline("dofa", bands=bands_of(inputs), num_classes=1)
    scl = get_band("sentinel-2a", "SCL")
    with pytest.raises(ConfigError, match="no wavelength"):
        build_baseline("dofa", bands={"s2": (scl,)}, num_classes=3)


def test_dofa_wavelengths_place_every_image_band() -> None:
    assert dofa_wavelength_um(get_band("sentinel-2a", "B04")) == pytest.approx(0.665, abs=0.005)
    s1 = get_sensor("sentinel-1")
    vv, vh = (dofa_wavelength_um(s1.band(p)) for p in ("VV", "VH"))
    assert vv == 3.75 and vh != vv
    elevation = {dofa_wavelength_um(b) for b in get_sensor("elevation").bands}
    assert len(elevation) == 3


@pytest.mark.parametrize("name", ["unet", "dofa"])
def test_config_rebuilds_the_model_and_checkpoints_record_it(
    name: str, inputs: dict[str, SensorInput], tmp_path: Path
) -> None:
    from eofusion.training.checkpoints import load_checkpoint, save_checkpoint

    model = small(name, inputs).eval()
    path = save_checkpoint(tmp_path / f"{name}.safetensors", model, seed=0)
    ckpt = load_checkpoint(path)
    assert ckpt.metadata["model_config"]["baseline"] == name
    assert ckpt.metadata["config_hash"] == model.config.config_hash()
    rebuilt = baseline_from_config(ckpt.metadata["model_config"]).eval()
    rebuilt.load_state_dict(ckpt.model_state, strict=True)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(inputs, (20, 20)), model(inputs, (20, 20)))
    with pytest.raises(ConfigError, match="Unknown"):
        baseline_from_config({**model.config.to_dict(), "depth_typo": 1})


def test_segmentation_head_takes_any_token_encoder() -> None:
    class NotAModule:
        config = DOFAConfig(3)

        def forward_features(self, inputs: dict[str, SensorInput]) -> torch.Tensor:
            raise NotImplementedError

    with pytest.raises(ConfigError, match=r"nn\.Module"):
        SegmentationModel(NotAModule(), 3)
