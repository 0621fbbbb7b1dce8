"""``eofusion demo``: the main job end to end on the embedded demo world (no network, no account).

It runs the stages that are built, in data-spine order, and says plainly which are not built yet.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

logger = logging.getLogger(__name__)


@dataclass
class DemoContext:
    """What the stages hand each other."""

    out: Path
    seed: int
    results: dict[str, Any] = field(default_factory=dict)


def _stage_sensors(ctx: DemoContext) -> str:
    from eofusion.sensors import REGISTRY

    names = REGISTRY.names()
    ctx.results["sensors"] = names
    return f"{len(names)} sensors registered: {', '.join(names)}"


@dataclass(frozen=True)
class Stage:
    """One step of the demo job."""

    name: str
    run: Callable[[DemoContext], str]


# Built stages, in data-spine order.
STAGES: tuple[Stage, ...] = (Stage("sensors", _stage_sensors),)
# Stages of the job that are not built yet: (name, issue that builds it).
NOT_BUILT: tuple[tuple[str, str], ...] = (
    ("simulate the demo world (S2, S1, aerial, DSM COGs + STAC)", "issue 3"),
    ("catalog search (embedded stac-geoparquet)", "issue 4"),
    ("aligned Zarr cube", "issue 5"),
    ("pretrain the spectrum-aware MAE", "issue 6"),
    ("fine-tune and evaluate land cover", "issue 7"),
    ("land-cover COG + STAC item + quicklook", "issue 8"),
)


@click.command("demo")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-output"),
    show_default=True,
    help="Output directory.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the demo world and training.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
def demo(out: Path, seed: int, as_json: bool) -> None:
    """Run the main job end to end on the embedded demo world."""
    out.mkdir(parents=True, exist_ok=True)
    ctx = DemoContext(out=out, seed=seed)
    summary: dict[str, Any] = {"out": str(out), "stages": [], "not_built": [n for n, _ in NOT_BUILT]}
    for stage in STAGES:
        started = time.perf_counter()
        message = stage.run(ctx)
        seconds = time.perf_counter() - started
        summary["stages"].append({"stage": stage.name, "seconds": round(seconds, 2), "result": message})
        if not as_json:
            click.echo(f"[done {seconds:6.1f}s] {stage.name}: {message}")
    if not as_json:
        for name, issue in NOT_BUILT:
            click.echo(f"[not built yet] {name} ({issue})")
    (out / "demo-summary.json").write_text(json.dumps(summary, indent=2))
    if as_json:
        click.echo(json.dumps(summary, indent=2))
