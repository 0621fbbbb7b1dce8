"""One land-cover model for any sensor subset: fusion invariances and a trained model on every subset."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest
import torch
from torch.utils.data import Dataset

from eofusion.models import SensorInput, SpectralEncoder, model_config
from eofusion.models.heads import SegmentationModel, SensorFeatures, SensorFusion
from eofusion.training.finetune import (
    FinetuneConfig,
    TrainingObjective,
    evaluate,
    finetune,
    mask_sensors,
    nonempty_subsets,
)

from .conftest import make_inputs

SENSORS = ("s2", "s1", "aerial", "dsm")
K = 3


def _model(seed: int = 0) -> SegmentationModel:
    torch.manual_seed(seed)
    return SegmentationModel(SpectralEncoder(model_config("tiny")), num_classes=K).eval()


@torch.no_grad()
def test_fusion_does_not_depend_on_sensor_order() -> None:
    model, inputs = _model(), make_inputs(batch=2, footprint_m=80)
    forward = model(inputs, (40, 40))
    backward = model(dict(reversed(list(inputs.items()))), (40, 40))
    assert torch.allclose(forward, backward, atol=1e-5)


@torch.no_grad()
def test_each_sensor_enters_the_fusion_on_its_own_scale() -> None:
    """A sensor whose features came out 10x smaller (the DSM beside S1 was 5x) is not drowned by the other."""
    torch.manual_seed(0)
    fusion = SensorFusion(8, heads=2)
    torch.nn.init.normal_(fusion.score.weight)  # trained scores, not the initial plain mean
    present = torch.ones(2, 1, 6, 6)
    present[0, :, :3] = 0  # chip 0: the DSM covers half of it
    s1 = SensorFeatures(torch.randn(2, 8, 6, 6), torch.ones(2, 1, 6, 6))
    dsm = SensorFeatures(torch.randn(2, 8, 6, 6) * present, present)
    small_dsm = SensorFeatures(dsm.features * 0.1, present)
    both, with_small = fusion({"s1": s1, "dsm": dsm}), fusion({"s1": s1, "dsm": small_dsm})
    assert torch.allclose(both, with_small, atol=1e-2)  # up to the eps of the scale
    assert not torch.allclose(both, fusion({"s1": s1}), atol=1e-2)  # and the DSM still counts
    assert torch.allclose(both[0, :, :3], fusion({"s1": s1})[0, :, :3], atol=1e-5)  # where it is absent: S1 alone


@torch.no_grad()
@pytest.mark.parametrize("hidden", SENSORS)
def test_a_sensor_masked_for_one_chip_is_the_same_as_absent(hidden: str) -> None:
    """Training hides sensors per chip with ``valid`` False; inference leaves them out: both must agree."""
    model, inputs = _model(), make_inputs(batch=2, footprint_m=80, seed=1)
    item = inputs[hidden]
    pixels = item.pixels
    valid = torch.ones(pixels.shape[0], pixels.shape[1], *pixels.shape[-2:], dtype=torch.bool)
    if item.valid is not None:
        valid = valid & item.valid
    valid[0] = False  # chip 0 has no data of this sensor; chip 1 keeps it
    masked = {**inputs, hidden: replace(item, valid=valid)}
    without = {k: v for k, v in inputs.items() if k != hidden}
    with_all = model(inputs, (40, 40))
    got = model(masked, (40, 40))
    assert torch.allclose(got[0], model(without, (40, 40))[0], atol=1e-5)
    assert torch.allclose(got[1], with_all[1], atol=1e-5)  # the other chip is untouched
    assert not torch.allclose(with_all[0], got[0], atol=1e-3)  # and the sensor did matter


def test_mask_sensors_draws_every_subset_uniformly_and_never_an_empty_one() -> None:
    inputs = make_inputs(batch=1, footprint_m=40)
    generator = torch.Generator().manual_seed(0)
    counts: Counter[tuple[str, ...]] = Counter()
    draws = 1500
    for _ in range(draws):
        masked = mask_sensors(inputs, 1.0, generator)
        present = tuple(k for k, v in masked.items() if v.valid is None or bool(v.valid.any()))
        counts[present] += 1
    subsets = nonempty_subsets(list(inputs))
    assert set(counts) == set(subsets)  # 15 subsets, never the empty one
    expected = draws / len(subsets)
    assert all(abs(n - expected) < 0.4 * expected for n in counts.values()), counts
    untouched = mask_sensors(inputs, 0.0, generator)
    assert all(untouched[k] is inputs[k] for k in inputs)


class _RecordingModel(SegmentationModel):
    """Records the sensor views each training step decodes."""

    views: list[list[dict[str, torch.Tensor]]]

    def forward_training(self, inputs, out_shape, views, sensor_logits=True):  # type: ignore[no-untyped-def]
        self.views.append([dict(v) for v in views])
        return super().forward_training(inputs, out_shape, views, sensor_logits)


def test_training_decodes_every_chip_from_each_sensor_alone() -> None:
    """Besides the sampled subset, each sensor alone on every chip (what lifted the single-sensor maps)."""
    torch.manual_seed(0)
    model = _RecordingModel(SpectralEncoder(model_config("tiny")), num_classes=K)
    model.views = []
    inputs = make_inputs(batch=3, footprint_m=80, seed=2)
    objective = TrainingObjective(model, FinetuneConfig(sensor_dropout=1.0))
    loss = objective(inputs, torch.zeros(3, 40, 40, dtype=torch.long), torch.Generator().manual_seed(0))
    assert bool(torch.isfinite(loss))
    (views,) = model.views
    assert len(views) == 1 + len(SENSORS)
    alone = []
    for view in views[1:]:
        on = [k for k, chips in view.items() if bool(chips.all())]
        assert len(on) == 1 and not any(bool(chips.any()) for k, chips in view.items() if k != on[0]), view
        alone.append(on[0])
    assert sorted(alone) == sorted(SENSORS)
    model.views = []
    TrainingObjective(model, FinetuneConfig(single_sensor_weight=0.0))(
        inputs, torch.zeros(3, 40, 40, dtype=torch.long), torch.Generator().manual_seed(0)
    )
    assert len(model.views[0]) == 1  # weight 0: the sampled subset only


@torch.no_grad()
def test_each_sensors_own_classifier_sees_that_sensor_alone() -> None:
    """The auxiliary per-sensor logits of one sensor do not change when another sensor's pixels do."""
    model, inputs = _model(), make_inputs(batch=2, footprint_m=80)
    views = [{key: torch.ones(2, dtype=torch.bool) for key in inputs}]
    before = model.forward_training(inputs, (40, 40), views).sensor_logits
    assert sorted(before) == sorted(inputs)
    generator = torch.Generator().manual_seed(7)
    noisy = replace(inputs["s1"], pixels=torch.randn(inputs["s1"].pixels.shape, generator=generator) * 5)
    after = model.forward_training({**inputs, "s1": noisy}, (40, 40), views).sensor_logits
    assert not torch.allclose(after["s1"], before["s1"])
    for key in ("s2", "aerial", "dsm"):
        assert torch.equal(after[key], before[key]), key


def test_the_sensor_classifiers_learn_only_when_their_loss_is_on() -> None:
    inputs, target = make_inputs(batch=2, footprint_m=80), torch.randint(0, K, (2, 40, 40))
    for weight in (0.0, 0.25):
        model = _model().train()
        TrainingObjective(model, FinetuneConfig(sensor_aux_weight=weight))(
            inputs, target, torch.Generator().manual_seed(0)
        ).backward()
        grad = model.sensor_classify.weight.grad
        assert (grad is not None and bool(grad.abs().sum() > 0)) == (weight > 0), weight


class _Chips(Dataset[tuple[dict[str, SensorInput], torch.Tensor]]):
    """Chips whose label follows S2's first band and the DSM (so several sensors carry the signal)."""

    def __init__(self, count: int, seed: int) -> None:
        self.samples = []
        for i in range(count):
            inputs = make_inputs(batch=1, footprint_m=80, seed=seed + i)
            s2 = inputs["s2"].pixels[0, :, 0].nanmean(0)  # [8, 8]
            dsm = torch.nn.functional.avg_pool2d(inputs["dsm"].pixels[0, :, :1], 2)[0, 0]  # [40, 40]
            coarse = torch.nn.functional.interpolate(s2[None, None], (40, 40), mode="nearest")[0, 0]
            label = (coarse > 0).long() + (dsm > 0.5).long()
            unbatched = {k: replace(v, pixels=v.pixels[0], day_of_year=None if v.day_of_year is None else
                                    v.day_of_year[0], valid=None if v.valid is None else v.valid[0])
                         for k, v in inputs.items()}  # fmt: skip
            self.samples.append((unbatched, label))

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[dict[str, SensorInput], torch.Tensor]:
        return self.samples[index]


class _Corrupted(Dataset[tuple[dict[str, SensorInput], torch.Tensor]]):
    """The same chips with the named sensors' pixels replaced by garbage."""

    def __init__(self, base: _Chips, corrupt: tuple[str, ...]) -> None:
        self.base, self.corrupt = base, corrupt

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> tuple[dict[str, SensorInput], torch.Tensor]:
        inputs, label = self.base[index]
        bad = {k: replace(v, pixels=torch.full_like(v.pixels, 1e6)) for k, v in inputs.items() if k in self.corrupt}
        return {**inputs, **bad}, label


@pytest.fixture(scope="module")
def trained() -> tuple[SegmentationModel, _Chips]:
    torch.manual_seed(0)
    model = SegmentationModel(SpectralEncoder(model_config("tiny")), num_classes=K)
    config = FinetuneConfig(steps=12, batch_size=4, warmup_steps=2, sensor_dropout=1.0, log_every=0)
    finetune(model, _Chips(8, seed=10), config)
    return model.eval(), _Chips(4, seed=100)


@torch.no_grad()
def test_a_trained_model_maps_every_subset(trained: tuple[SegmentationModel, _Chips]) -> None:
    model, chips = trained
    inputs, _ = chips[0]
    batch = {k: replace(v, pixels=v.pixels[None], day_of_year=None if v.day_of_year is None else v.day_of_year[None],
                        valid=None if v.valid is None else v.valid[None]) for k, v in inputs.items()}  # fmt: skip
    for subset in nonempty_subsets(list(SENSORS)):
        logits = model({k: batch[k] for k in subset}, (40, 40))
        assert logits.shape == (1, K, 40, 40), subset
        assert bool(torch.isfinite(logits).all()), subset
        assert set(logits.argmax(1).unique().tolist()) <= set(range(K)), subset


def test_scoring_a_subset_reads_only_that_subset(trained: tuple[SegmentationModel, _Chips]) -> None:
    model, chips = trained
    for subset in (("s1",), ("aerial", "dsm"), ("s2", "s1", "dsm")):
        absent = tuple(s for s in SENSORS if s not in subset)
        clean = evaluate(model, chips, K, sensors=subset, batch_size=2)
        corrupted = evaluate(model, _Corrupted(chips, absent), K, sensors=subset, batch_size=2)
        assert clean.confusion == corrupted.confusion, subset
    # ... and the corruption is not a no-op when the corrupted sensor is used
    used = evaluate(model, _Corrupted(chips, ("s2",)), K, sensors=("s2",), batch_size=2)
    assert used.confusion != evaluate(model, chips, K, sensors=("s2",), batch_size=2).confusion
