"""``eofusion train`` / ``eofusion evaluate``: a training spec -> models, scores, tables and plots.

cube (built if asked) -> labels on a cube-nested grid -> spatial split -> chips -> eofusion's model
(MAE-pretrained encoder + land-cover head, or the crop-type model) and the baselines, all with the same
chips and training budget -> held-out scores (torchmetrics), sensor-subset table, comparison table,
training curves and confusion-matrix PNGs, and a checkpoint that ``eofusion run`` maps with.

Decisions: the U-Net baseline trains without sensor dropout (a fixed-stack model is trained on its fixed
stack; missing sensors are zero channels at evaluation), DOFA and eofusion with the spec's dropout (both
take any band subset). The random forest sees every band of every date of the chips' pixels.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from eofusion.cube import group_keys
from eofusion.errors import ConfigError
from eofusion.models.device import DevicePolicy
from eofusion.pipeline.model_results import (
    ModelResult,
    RunIdentity,
    forget_records,
    read_record,
    record_path,
    write_record,
)
from eofusion.pipeline.tasks import task_of
from eofusion.pipeline.train_spec import TrainSpec
from eofusion.pipeline.training_data import Say, TrainingData, prepare_data
from eofusion.training.distributed import Compute, main_first
from eofusion.training.finetune import (
    TRAINING_REVISION,
    FinetuneConfig,
    SubsetSampling,
    class_weights,
    evaluate,
    finetune,
    nonempty_subsets,
    subset_table,
)
from eofusion.training.landcover import save_baseline_model
from eofusion.training.plots import plot_confusion_matrix, plot_training_curves
from eofusion.training.report import write_json, write_table

logger = logging.getLogger(__name__)

StepHook = Callable[[str, int, float], None]  # (model name, step, loss)
EOFUSION = "eofusion"
CHECKPOINT_NAME = "model.safetensors"
RANDOM_FOREST = "random forest"
_RESULT_NAMES = {"random_forest": RANDOM_FOREST}  # a baseline's name in reports, where it differs
_NAMES = {"s2": "S2", "s1": "S1", "aerial": "aerial", "dsm": "DSM"}


def subset_label(subset: Sequence[str], sensors: Sequence[str]) -> str:
    """``"S2"``, ``"S2+S1"``, ``"all but DSM"``, ``"all"``: a subset's name in tables and reports."""
    names = [_NAMES.get(s, s) for s in subset]
    if len(subset) == len(sensors):
        return "all"
    if len(sensors) > 2 and len(subset) == len(sensors) - 1:
        (left_out,) = [s for s in sensors if s not in subset]
        return f"all but {_NAMES.get(left_out, left_out)}"
    return "+".join(names)


def default_subsets(sensors: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Every non-empty subset of the sensors (15 for four), single sensors first, all of them last."""
    return {subset_label(subset, sensors): subset for subset in nonempty_subsets(list(sensors))}


def _baseline(name: str, data: TrainingData) -> nn.Module:
    from eofusion.models.baselines import build_baseline

    bands = {key: meta.bands for key, meta in data.cube.groups.items()}
    return build_baseline(name, bands=bands, num_classes=len(data.classes.ids))


def finetune_config(spec: TrainSpec, dropout: float, sampling: SubsetSampling) -> FinetuneConfig:
    """The fine-tuning settings of a spec for one model (its sensor dropout and subset sampling)."""
    ft = spec.finetune
    return FinetuneConfig(
        steps=ft.steps,
        batch_size=ft.batch_size,
        lr=ft.lr,
        sensor_dropout=dropout,
        subset_sampling=sampling,
        band_dropout=ft.band_dropout,
        band_dropout_sensors=tuple(ft.band_dropout_sensors) if ft.band_dropout_sensors is not None else None,
        radiometric_jitter=ft.radiometric_jitter,
        response_jitter=ft.response_jitter,
        seed=spec.seed,
        num_workers=ft.num_workers,
    )


@dataclass(frozen=True)
class _Training:
    """What every model of a run is trained with: the spec, its data and the compute."""

    spec: TrainSpec
    data: TrainingData
    compute: Compute
    say: Say
    on_step: StepHook | None = None
    recorded: Mapping[str, ModelResult] = field(default_factory=dict)  # models an earlier run trained

    def record(self, result: ModelResult, checkpoint: Path | None) -> None:
        """Record a trained model (rank 0) so that a killed run, run again, does not train it again."""
        if self.compute.ranks.is_main:
            write_record(self.spec.outputs.dir, result, _identity(self.spec), checkpoint)

    def reused(self, name: str) -> ModelResult | None:
        """The earlier run's result for ``name``, announced, or None when it must be trained."""
        found = self.recorded.get(name)
        if found is not None:
            where = record_path(self.spec.outputs.dir, name)
            self.say("train", f"{name}: trained by an earlier run of this spec ({where}): reused, not retrained")
        return found


def _train_one(
    name: str, model: nn.Module, run: _Training, *, dropout: float, sampling: SubsetSampling = "example"
) -> ModelResult:
    spec, data, compute = run.spec, run.data, run.compute
    torch.manual_seed(spec.seed)
    weights = class_weights(data.labels.values, len(data.classes.ids))
    on_step = run.on_step
    hook = (lambda step, loss: on_step(name, step, loss)) if on_step else None
    config = finetune_config(spec, dropout, sampling)
    result = finetune(
        model, data.train, config, weights=weights, policy=compute.policy, ranks=compute.ranks, on_step=hook
    )
    # Every rank scores (no collective: the ranks hold the same weights); only rank 0 reports.
    scores = evaluate(
        model, data.test, len(data.classes.ids), batch_size=spec.finetune.batch_size, policy=compute.policy
    )
    return ModelResult(name, scores, result.losses, result.seconds)


def _random_forest(spec: TrainSpec, data: TrainingData) -> ModelResult:
    from eofusion.training.random_forest import evaluate_random_forest, fit_random_forest

    started = time.perf_counter()
    forest = fit_random_forest(data.train, seed=spec.seed)
    seconds = time.perf_counter() - started
    scores = evaluate_random_forest(forest, data.test, len(data.classes.ids))
    return ModelResult(RANDOM_FOREST, scores, [], seconds)


def finished_report(spec: TrainSpec, say: Say | None = None) -> dict[str, Any] | None:
    """The report of an earlier run of this spec whose checkpoint is there, else None.

    A run of the same spec hash trained by another revision of the training step (``TRAINING_REVISION``) is
    not reused: its model is not what this code trains from the spec (``say`` is told why).
    """
    import json

    path = spec.outputs.dir / "metrics.json"
    try:
        report: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if report.get("spec_hash") != spec.config_hash() or not Path(report.get("checkpoint", "")).exists():
        return None
    revision = report.get("training_revision", 1)  # runs made before the revision was recorded: 1
    if revision != TRAINING_REVISION:
        if say is not None:
            say("train", f"{path.parent}: trained by revision {revision} of the training step, not "
                f"{TRAINING_REVISION} (eofusion.training.finetune.TRAINING_REVISION): not reused")  # fmt: skip
        return None
    return report


def run_training(
    spec: TrainSpec,
    say: Say,
    on_step: StepHook | None = None,
    *,
    force: bool = False,
    compute: Compute | None = None,
) -> dict[str, Any]:
    """Train eofusion's model and the spec's baselines; write checkpoint, tables, plots; return the report.

    A run whose report (``metrics.json``, same spec hash) and checkpoint are already in ``outputs.dir`` is not
    repeated unless ``force``: a killed or repeated job (the demo, a scheduler) continues instead of retraining.
    A run killed part way resumes per model: each model is recorded as soon as it is trained
    (:mod:`eofusion.pipeline.model_results`), and a rerun trains only the models without a matching record.

    ``compute`` places the training (default: one process on the CPU). Under ``torchrun`` every rank calls
    this: rank 0 builds the training cube first (the others then find it), the deep models train data-
    parallel, and rank 0 alone writes checkpoints, tables and plots; the other ranks return an empty report.
    """
    compute = compute or Compute.cpu()
    ranks = compute.ranks
    out = spec.outputs.dir
    out.mkdir(parents=True, exist_ok=True)
    done = None if force else finished_report(spec, say)
    if done is not None:
        say("train", f"already trained with this spec: {done['checkpoint']} (pass force=True / --force to retrain)")
        return done
    # Read once, before anything of this run is written, so every rank decides alike what to reuse. A forced
    # run first removes the earlier report and records: killed part way, its rerun must not pair its new
    # models with the old ones (or report the old run).
    if force and ranks.is_main:
        (out / "metrics.json").unlink(missing_ok=True)
        forget_records(out)
    recorded = {} if force else _recorded(spec)
    with main_first(ranks):
        data = prepare_data(spec, say)
    counts = data.class_counts()
    say("data", "labelled pixels (train / test): " + _counts_text(counts))
    run = _Training(spec, data, compute, say, on_step, recorded)
    task = task_of(spec)
    checkpoint = out / CHECKPOINT_NAME
    main = run.reused(EOFUSION)
    if main is not None:
        model, _ = task.load(checkpoint)  # the subset table scores it (its digest is the recorded one)
    else:
        # Weight initialisation draws from torch's global generator: seed it so one spec gives one model.
        torch.manual_seed(spec.seed)
        model = task.build_model(spec, data, say, compute)
        main = _train_one(EOFUSION, model, run, dropout=spec.finetune.sensor_dropout)
        if ranks.is_main:
            task.save(checkpoint, model, spec, data)
        main.parcels = task.extra_scores(spec, model, data)
        run.record(main, checkpoint)
    say("train", _score_text(main))
    if main.parcels:
        parcels = main.parcels
        say("train", f"eofusion per parcel (majority vote): OA {parcels['OA']:.1f} %, mIoU {parcels['mIoU']:.1f} %")
    results = [main, *_baselines(run)]
    if not ranks.is_main:
        ranks.barrier()  # wait for rank 0's tables and report
        return {}
    subsets = spec.subsets or default_subsets(spec.data.sensors)
    rows = _subset_rows(model, data, subsets, spec, compute.policy) if len(spec.data.sensors) > 1 else []
    report = _write_report(spec, data=data, results=results, subset_rows=rows, counts=counts, checkpoint=checkpoint)
    ranks.barrier()
    return report


def _baselines(run: _Training) -> list[ModelResult]:
    """The spec's baselines on the same chips and budget (the deep ones data-parallel like eofusion's model)."""
    spec, data, ranks = run.spec, run.data, run.compute.ranks
    results = []
    for name in spec.baselines:
        if not ranks.is_main and name == "random_forest":
            continue  # one process fits the forest
        result = run.reused(_RESULT_NAMES.get(name, name))
        if result is None and name == "random_forest":
            result = _random_forest(spec, data)
            run.record(result, None)
        elif result is None:
            # The U-Net trains on its fixed stack; DOFA, which fuses by concatenating the channels present,
            # on one subset per batch (a per-chip subset would mean zero-filled channels).
            dropout = 0.0 if name == "unet" else spec.finetune.sensor_dropout
            torch.manual_seed(spec.seed)
            baseline = _baseline(name, data)
            result = _train_one(name, baseline, run, dropout=dropout, sampling="batch")
            path = _baseline_path(spec, name)
            if ranks.is_main:
                save_baseline_model(path, baseline, seed=spec.seed)
            run.record(result, path)
        results.append(result)
        run.say("baseline", _score_text(result))
    return results


def _baseline_path(spec: TrainSpec, name: str) -> Path:
    return spec.outputs.dir / f"baseline-{name}.safetensors"


def _identity(spec: TrainSpec) -> RunIdentity:
    return RunIdentity(spec.config_hash(), TRAINING_REVISION)


def _recorded(spec: TrainSpec) -> dict[str, ModelResult]:
    """The models of this spec that an earlier (killed) run trained and recorded: name -> result."""
    out = spec.outputs.dir
    checkpoints: dict[str, Path | None] = {EOFUSION: out / CHECKPOINT_NAME}
    for baseline in spec.baselines:
        checkpoints[_RESULT_NAMES.get(baseline, baseline)] = (
            None if baseline == "random_forest" else _baseline_path(spec, baseline)
        )
    found = {name: read_record(out, name, _identity(spec), path) for name, path in checkpoints.items()}
    return {name: result for name, result in found.items() if result is not None}


def _subset_rows(
    model: nn.Module,
    data: TrainingData,
    subsets: Mapping[str, Sequence[str]],
    spec: TrainSpec,
    policy: DevicePolicy,
) -> list[dict[str, Any]]:
    usable = task_of(spec).scorable({k: v for k, v in subsets.items() if all(s in data.cube.groups for s in v)})
    batch = spec.finetune.batch_size
    return subset_table(
        model, data.test, len(data.classes.ids), usable, names=data.names, batch_size=batch, policy=policy
    )


def _counts_text(counts: Mapping[str, Mapping[str, int]]) -> str:
    return ", ".join(f"{name} {counts['train'][name]}/{counts['test'][name]}" for name in counts["train"])


def _score_text(result: ModelResult) -> str:
    s = result.scores
    return (
        f"{result.name}: held-out OA {100 * s.overall_accuracy:.1f} %, mIoU {100 * s.miou:.1f} %, "
        f"F1 {100 * s.macro_f1:.1f} % (trained in {result.train_seconds:.0f}s)"
    )


def _write_report(
    spec: TrainSpec,
    *,
    data: TrainingData,
    results: Sequence[ModelResult],
    subset_rows: list[dict[str, Any]],
    counts: Mapping[str, Any],
    checkpoint: Path,
) -> dict[str, Any]:
    out = spec.outputs.dir
    names = data.names
    comparison = [r.row(names) for r in results]
    write_table(comparison, out / "comparison", ["model", "OA", "mIoU", "F1", "train s"])
    if subset_rows:
        write_table(subset_rows, out / "sensor-subsets", ["sensors", "OA", "mIoU", "F1"])
    curves = {r.name: r.losses for r in results if r.losses}
    plots = {"training_curves": str(plot_training_curves(curves, out / "training-curves.png", title=spec.name))}
    main = results[0]
    plots["confusion_matrix"] = str(
        plot_confusion_matrix(
            main.scores.confusion, data.classes.names, out / "confusion-matrix.png", title=f"{spec.name}: eofusion"
        )
    )
    report: dict[str, Any] = {
        "name": spec.name,
        "task": spec.task,
        "spec_hash": spec.config_hash(),
        "training_revision": TRAINING_REVISION,
        "checkpoint": str(checkpoint),
        "classes": data.classes.to_json(),
        "class_counts": counts,
        "train_area": data.train_area,
        "test_area": data.test_area,
        "chips": {"train": len(data.train_windows), "test": len(data.test_windows), "size_m": spec.chips.size_m},
        "models": {r.name: _result_json(r, names) for r in results},
        "comparison": comparison,
        "subsets": subset_rows,
        "plots": plots,
    }
    write_json(report, out / "metrics.json")
    return report


def _result_json(result: ModelResult, names: Mapping[int, str]) -> dict[str, Any]:
    s = result.scores
    return {
        **s.as_row(names),
        "F1 per class": {names.get(k, str(k)): round(100 * v, 2) for k, v in s.f1.items()},
        "support": {names.get(k, str(k)): n for k, n in s.support.items()},
        "confusion": s.confusion,
        "train_seconds": round(result.train_seconds, 1),
        "loss_first_last": [result.losses[0], result.losses[-1]] if result.losses else None,
    } | ({"parcels": result.parcels} if result.parcels else {})


def run_evaluation(
    spec: TrainSpec,
    say: Say,
    checkpoint: Path | None = None,
    out: Path | None = None,
    sensors: Sequence[str] | None = None,
    compute: Compute | None = None,
) -> dict[str, Any]:
    """Score a trained checkpoint on the spec's held-out chips: metrics, subset table, confusion matrix.

    With ``sensors`` the model sees only those sensors of the cube (e.g. ``["s1"]``: a map under clouds);
    the held-out scores are then that subset's, and the subset table is left out.
    """
    checkpoint = checkpoint or spec.outputs.dir / CHECKPOINT_NAME
    out = out or spec.outputs.dir / "evaluation"
    chosen = _check_sensors(sensors, spec.data.sensors) if sensors else None
    task = task_of(spec)
    model, classes = task.load(checkpoint)
    data = prepare_data(spec, say)
    if classes.ids != data.classes.ids:
        raise ConfigError(
            f"{checkpoint} was trained on classes {list(classes.ids)} but the spec's labels have "
            f"{list(data.classes.ids)}; evaluate it with the spec it was trained with."
        )
    policy = (compute or Compute.cpu()).policy
    batch = spec.finetune.batch_size
    scores = evaluate(model, data.test, len(classes.ids), sensors=chosen, batch_size=batch, policy=policy)
    result = ModelResult(EOFUSION, scores, [], 0.0)
    label = "all" if chosen is None else subset_label(chosen, spec.data.sensors)
    say("evaluate", f"sensors {label}: " + _score_text(result))
    subsets = spec.subsets or default_subsets(spec.data.sensors)
    scorable = len(spec.data.sensors) > 1 and chosen is None
    rows = _subset_rows(model, data, subsets, spec, policy) if scorable else []
    if rows:
        write_table(rows, out / "sensor-subsets", ["sensors", "OA", "mIoU", "F1"])
    confusion = plot_confusion_matrix(
        scores.confusion, classes.names, out / "confusion-matrix.png", title=f"{spec.name} ({label})"
    )
    result.parcels = task.extra_scores(spec, model, data)
    report = {
        "checkpoint": str(checkpoint),
        "sensors": list(chosen or spec.data.sensors),
        "held_out": _result_json(result, data.names),
        "subsets": rows,
        "class_counts": data.class_counts(),
        "plots": {"confusion_matrix": str(confusion)},
    }
    write_json(report, out / "metrics.json")
    return report


def _check_sensors(sensors: Sequence[str], available: Sequence[str]) -> tuple[str, ...]:
    """The chosen sensors (names or aliases) in the spec's order; one not in the spec is an error naming them."""
    sensors = group_keys(sensors) if sensors else ()
    unknown = [s for s in sensors if s not in available]
    if unknown or not sensors:
        raise ConfigError(
            f"Sensor(s) {', '.join(unknown) or '(none)'} are not in the training spec's data.sensors "
            f"({', '.join(available)}); pass a comma-separated subset of those, e.g. --sensors {available[0]}."
        )
    return tuple(s for s in available if s in sensors)
