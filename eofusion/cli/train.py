"""``eofusion train --config SPEC`` and ``eofusion evaluate --config SPEC``: models, scores, tables, plots."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from eofusion.cli.common import AMP_OPTION, DEVICE_OPTION, echo_json, training_compute

_CONFIG = click.option(
    "--config",
    "config",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Training spec (pipelines/*-train.yaml).",
)


def _say(as_json: bool) -> Any:
    started = time.perf_counter()

    def say(stage: str, message: str) -> None:
        if not as_json:
            click.echo(f"[{time.perf_counter() - started:6.1f}s] {stage}: {message}", err=True)

    return say


class _StepBar:
    """A rich progress bar per model (stderr, only on a terminal); the log says the rest."""

    def __init__(self, steps: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        console = Console(stderr=True)
        self.steps = steps
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.3f}"),
            TimeRemainingColumn(),
            console=console,
            disable=not console.is_terminal,
        )
        self.tasks: dict[str, Any] = {}

    def __call__(self, name: str, step: int, loss: float) -> None:
        if name not in self.tasks:
            self.tasks[name] = self.progress.add_task(f"train {name}", total=self.steps, loss=loss)
        self.progress.update(self.tasks[name], completed=step + 1, loss=loss)

    def __enter__(self) -> _StepBar:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


@click.command("train")
@_CONFIG
@click.option("--steps", type=int, default=None, help="Override finetune.steps (e.g. a quick trial run).")
@click.option("--baselines", default=None, help="Override the spec's baselines: comma-separated, or 'none'.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="Override outputs.dir.")
@click.option("--force", is_flag=True, help="Retrain even when outputs.dir holds a finished run of this spec.")
@DEVICE_OPTION
@AMP_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the metrics report as JSON on stdout.")
def train(
    config: Path,
    steps: int | None,
    baselines: str | None,
    out: Path | None,
    force: bool,
    device: str,
    amp: str,
    as_json: bool,
) -> None:
    """Train eofusion's model (and the spec's baselines) on a cube with reference labels, then report.

    Writes into outputs.dir: model.safetensors (for `eofusion run`), metrics.json, comparison.{csv,md},
    sensor-subsets.{csv,md}, training-curves.png and confusion-matrix.png. A finished run of the same spec
    is reported again, not repeated (use --force to retrain); a killed one, run again, trains only the
    models it had not finished (each model is recorded in models/<name>.json as soon as it is trained).

    On several GPUs or nodes, launch it with torchrun (finetune.batch_size is the global batch):
    `torchrun --nproc-per-node 4 -m eofusion train --config SPEC`.
    """
    from eofusion.pipeline.train_spec import load_train_spec
    from eofusion.pipeline.training_run import run_training

    spec = load_train_spec(config)
    updates: dict[str, Any] = {}
    if steps is not None:
        updates["finetune"] = spec.finetune.model_copy(update={"steps": steps})
    if baselines is not None:
        chosen = [] if baselines.strip() in ("", "none") else [b.strip() for b in baselines.split(",")]
        updates["baselines"] = chosen
    if out is not None:
        updates["outputs"] = spec.outputs.model_copy(update={"dir": out.absolute()})
    if updates:
        from eofusion.pipeline.train_spec import train_spec_from_dict

        spec = train_spec_from_dict(spec.model_copy(update=updates).model_dump(mode="json"), source=str(config))
    with training_compute(device, amp) as compute:
        main = compute.ranks.is_main
        with _StepBar(spec.finetune.steps if main else 0) as bar:
            report = run_training(spec, _say(as_json or not main), on_step=bar, force=force, compute=compute)
    if not main:
        return  # rank 0 reports
    if as_json:
        echo_json(report)
        return
    _print_tables(report)
    out_dir = spec.outputs.dir
    click.echo(f"\nCheckpoint: {report['checkpoint']}\nReport:     {out_dir / 'metrics.json'}")
    click.echo(f"Plots:      {report['plots']['training_curves']}, {report['plots']['confusion_matrix']}")


def _print_tables(report: dict[str, Any]) -> None:
    click.echo("\nmodel                 OA %   mIoU %   F1 %")
    for row in report["comparison"]:
        click.echo(f"{row['model']:<20} {row['OA']:6.1f}  {row['mIoU']:6.1f}  {row['F1']:6.1f}")
    if report.get("subsets"):
        click.echo("\nsensors (eofusion)    OA %   mIoU %")
        for row in report["subsets"]:
            click.echo(f"{row['sensors']:<20} {row['OA']:6.1f}  {row['mIoU']:6.1f}")


@click.command("evaluate")
@_CONFIG
@click.option(
    "--checkpoint",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Model to score (default: outputs.dir/model.safetensors of the spec).",
)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="Report directory.")
@click.option(
    "--sensors",
    default=None,
    help="Score with only these sensors of the spec, comma-separated (e.g. 's1' or 'aerial,dsm'); default all.",
)
@DEVICE_OPTION
@AMP_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the metrics report as JSON on stdout.")
def evaluate(
    config: Path, checkpoint: Path | None, out: Path | None, sensors: str | None, device: str, amp: str, as_json: bool
) -> None:
    """Score a trained model on the spec's held-out part: metrics, sensor-subset table, confusion matrix PNG."""
    from eofusion.models.device import DevicePolicy
    from eofusion.pipeline.train_spec import load_train_spec
    from eofusion.pipeline.training_run import run_evaluation
    from eofusion.training.distributed import Compute

    spec = load_train_spec(config)
    chosen = None if sensors is None else [s.strip() for s in sensors.split(",") if s.strip()]
    compute = Compute(DevicePolicy.resolve(device, amp))
    report = run_evaluation(spec, _say(as_json), checkpoint=checkpoint, out=out, sensors=chosen, compute=compute)
    if as_json:
        echo_json(report)
        return
    held = report["held_out"]
    click.echo(f"sensors: {'+'.join(report['sensors'])}")
    click.echo(f"held-out OA {held['OA']:.1f} %, mIoU {held['mIoU']:.1f} %, F1 {held['F1']:.1f} %")
    for row in report["subsets"]:
        click.echo(f"  {row['sensors']:<18} OA {row['OA']:6.1f}  mIoU {row['mIoU']:6.1f}")
    click.echo(f"Confusion matrix: {report['plots']['confusion_matrix']}")
