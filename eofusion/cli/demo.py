"""``eofusion demo``: the main job end to end on the embedded demo world (no network, no account)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click


@click.command("demo")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-output"),
    show_default=True,
    help="Output directory (reused: finished stages are skipped).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the demo world and of training.")
@click.option("--pretrain-steps", type=int, default=None, help="MAE pretraining steps (default: the demo's).")
@click.option("--finetune-steps", type=int, default=None, help="Fine-tuning steps (default: the demo's).")
@click.option("--world-size", type=float, default=None, help="Side of the demo world in metres (default 1920).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
def demo(
    out: Path,
    seed: int,
    pretrain_steps: int | None,
    finetune_steps: int | None,
    world_size: float | None,
    as_json: bool,
) -> None:
    """Simulate the demo world, build its cube, pretrain and fine-tune a model, map it tile by tile.

    Prints where the land-cover map is and its accuracy against the simulator's ground truth.
    """
    from dataclasses import replace

    from eofusion.pipeline.demo import DemoConfig, run_demo

    defaults = DemoConfig(out=out.absolute(), seed=seed)
    world = defaults.world if world_size is None else replace(defaults.world, size_m=world_size)
    config = DemoConfig(
        out=defaults.out,
        seed=seed,
        world=world,
        pretrain_steps=pretrain_steps if pretrain_steps is not None else defaults.pretrain_steps,
        finetune_steps=finetune_steps if finetune_steps is not None else defaults.finetune_steps,
    )
    started = time.perf_counter()

    def say(stage: str, message: str) -> None:
        if not as_json:
            click.echo(f"[{time.perf_counter() - started:6.1f}s] {stage}: {message}", err=False)

    summary = run_demo(config, say)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    (config.out / "demo-summary.json").write_text(json.dumps(summary, indent=2, default=str))
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
        return
    click.echo(f"\nLand-cover map: {summary['map']}\nQuicklook:      {summary['quicklook']}")
    acc = summary["held_out_map_accuracy"]
    click.echo(f"Accuracy on the held-out area: OA {acc['OA']:.1f} %, mIoU {acc['mIoU']:.1f} %")
    click.echo(f"Sensor-subset table: {config.out / 'model' / 'sensor-subsets.md'}")
