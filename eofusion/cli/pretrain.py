"""``eofusion pretrain``: MAE pretraining of the spectrum-aware encoder, with checkpoints and resume.

Data source (one of):
- ``--cube STORE``: any eofusion cube (``eofusion cube build``, or the demo's ``train-cube.zarr``), read
  as random co-located chips of every group by the cube's chip reader, as training runs read it.
- ``--synthetic``: spectrally plausible scenes rendered from the sensor registry (S2 and S1 series,
  aerial, DSM/nDSM) — needs nothing on disk (the smoke test).

Config file (``--config``, YAML; unknown keys are rejected)::

    model: {preset: tiny, overrides: {mask_ratio: 0.75}}
    pretrain: {steps: 200, batch_size: 8, lr: 0.001, warmup_steps: 10, checkpoint_every: 100}
    data: {size_m: 480, chip_m: 160, dates: 3, length: 1024}   # size_m, dates: --synthetic only; length: chips

Command-line options override the file.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from pydantic import BaseModel, ConfigDict, Field

from eofusion.cli.common import AMP_OPTION, DEVICE_OPTION, echo_json, training_compute
from eofusion.errors import ConfigError

if TYPE_CHECKING:
    from torch.utils.data import Dataset

    from eofusion.models import SensorInput

log = logging.getLogger(__name__)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelSection(_Strict):
    preset: str = "tiny"
    overrides: dict[str, Any] = Field(default_factory=dict)


class PretrainSection(_Strict):
    steps: int = Field(200, ge=1)
    batch_size: int = Field(8, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.05, ge=0)
    warmup_steps: int = Field(10, ge=0)
    grad_clip: float = Field(1.0, ge=0)
    checkpoint_every: int = Field(100, ge=0)


class DataSection(_Strict):
    size_m: float = Field(480.0, ge=80)
    chip_m: float = Field(160.0, gt=0)
    dates: int = Field(3, ge=1)
    length: int = Field(1024, ge=1)


class PretrainFile(_Strict):
    model: ModelSection = Field(default_factory=lambda: ModelSection.model_validate({}))
    pretrain: PretrainSection = Field(default_factory=lambda: PretrainSection.model_validate({}))
    data: DataSection = Field(default_factory=lambda: DataSection.model_validate({}))


def read_config(path: Path | None) -> PretrainFile:
    """Parse and validate the YAML config (or the defaults)."""
    if path is None:
        return PretrainFile.model_validate({})
    import yaml
    from pydantic import ValidationError

    try:
        raw = yaml.safe_load(path.read_text()) or {}
        return PretrainFile.model_validate(raw)
    except (OSError, yaml.YAMLError, ValidationError) as err:
        raise ConfigError(f"Config {path} is invalid: {err}") from err


@click.command("pretrain")
@click.option("--cube", "cube_path", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="Train on chips of this eofusion cube (Zarr store).")  # fmt: skip
@click.option("--synthetic", is_flag=True, help="Train on registry-rendered synthetic scenes (no files needed).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="YAML with model / pretrain / data sections (see the module docstring).")  # fmt: skip
@click.option("--preset", default=None, help="Model size: tiny (CPU), small, base, large.")
@click.option("--steps", type=int, default=None, help="Total optimisation steps.")
@click.option("--batch-size", type=int, default=None)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Checkpoint folder.")
@click.option("--resume", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Continue from this checkpoint (e.g. OUT/last.safetensors).")  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True)
@DEVICE_OPTION
@AMP_OPTION
@click.option("--threads", type=int, default=0, show_default=True,
              help="torch CPU threads (0: torch's default); 1 is fastest for tiny models on a shared CPU.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def pretrain(
    *,
    cube_path: Path | None,
    synthetic: bool,
    config_path: Path | None,
    preset: str | None,
    steps: int | None,
    batch_size: int | None,
    out: Path,
    resume: Path | None,
    seed: int,
    device: str,
    amp: str,
    threads: int,
    as_json: bool,
    no_progress: bool,
) -> None:
    """Pretrain the spectrum-aware masked autoencoder and write safetensors checkpoints to OUT."""
    import torch
    from rich.console import Console

    from eofusion.models import build_model
    from eofusion.training import ArrayChipDataset, PretrainConfig, StepInfo, load_model, synthetic_scene
    from eofusion.training import pretrain as run_pretrain

    if synthetic == (cube_path is not None):
        raise click.UsageError("Choose one data source: --cube STORE or --synthetic.")
    if threads > 0:
        torch.set_num_threads(threads)
    cfg = read_config(config_path)
    p = cfg.pretrain
    settings = PretrainConfig(
        steps=steps or p.steps, batch_size=batch_size or p.batch_size, lr=p.lr, weight_decay=p.weight_decay,
        warmup_steps=p.warmup_steps, grad_clip=p.grad_clip, checkpoint_every=p.checkpoint_every, seed=seed,
        device=device, amp=amp,
    )  # fmt: skip
    d = cfg.data
    dataset: Dataset[dict[str, SensorInput]]
    if cube_path is not None:
        dataset = cube_chips(cube_path, chip_m=d.chip_m, count=d.length, seed=seed)
    else:
        dataset = ArrayChipDataset(synthetic_scene(d.size_m, seed=seed, dates=d.dates), chip_m=d.chip_m,
                                   length=d.length, seed=seed)  # fmt: skip
    model = load_model(resume) if resume is not None else build_model(preset or cfg.model.preset, **cfg.model.overrides)
    console = Console(stderr=True)
    show = not (no_progress or as_json) and console.is_terminal
    every = max(1, settings.steps // 20)

    def report(info: StepInfo) -> None:
        if info.step % every == 0 or info.step == info.total:
            msg = f"step {info.step}/{info.total} loss {info.loss:.4f} lr {info.lr:.2e} ({info.seconds:.0f}s)"
            if show:
                console.print(msg)
            log.info(msg)

    log.info("pretraining %s on %s (%d parameters)", model.config.name, settings.device,
             sum(p.numel() for p in model.parameters()))  # fmt: skip
    with training_compute(device, amp) as compute:  # torchrun: data-parallel, rank 0 writes checkpoints
        result = run_pretrain(model, dataset, settings, out_dir=out, resume=resume, callback=report,
                              ranks=compute.ranks)  # fmt: skip
    if not compute.ranks.is_main:
        return
    summary = result.to_dict()
    summary.pop("losses")
    summary |= {"model": model.config.name, "config_hash": model.config.config_hash(), "out": str(out)}
    if as_json:
        echo_json(summary)
    else:
        click.echo(
            f"pretrained {result.steps_done} steps on {result.device} in {result.seconds:.1f}s: loss "
            f"{result.first_loss:.4f} -> {result.final_loss:.4f}; checkpoint {result.checkpoint}"
        )


def cube_chips(store: Path, *, chip_m: float, count: int, seed: int) -> Dataset[dict[str, SensorInput]]:
    """``count`` random chips of ``chip_m`` over a whole cube, on its coarsest pixel lattice."""
    from eofusion.cube import open_cube
    from eofusion.training import CubeDataset, random_windows

    cube = open_cube(store)
    windows = random_windows(cube.bounds, chip_m, count, seed=seed, snap_m=cube.coarsest_m)
    return CubeDataset(cube, windows)
