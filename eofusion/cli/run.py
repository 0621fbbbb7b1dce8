"""``eofusion run JOB.yaml``: a scheduled tile-processing job (cron, Airflow, Prefect call this)."""

from __future__ import annotations

from pathlib import Path

import click

from eofusion.cli.common import echo_json


@click.command("run")
@click.argument("job", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--scheduler", help="Address of an existing Dask scheduler (default: start a LocalCluster).")
@click.option("--workers", type=int, help="LocalCluster workers (overrides run.workers).")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON on stdout.")
def run(job: Path, scheduler: str | None, workers: int | None, as_json: bool) -> None:
    """Run JOB (a pipelines/*.yaml spec): search -> cube -> predict -> map for every tile not yet done.

    Finished tiles are skipped, so a killed or failed run is resumed by running the same command again.
    Exits 1 when any tile failed; the run manifest (run-manifest.json in outputs.dir) says which and why.
    """
    from eofusion.pipeline import load_job_spec
    from eofusion.pipeline.api import run_job

    spec = load_job_spec(job)
    overrides = {k: v for k, v in {"scheduler": scheduler, "workers": workers}.items() if v is not None}
    if overrides:
        spec = spec.model_copy(update={"run": spec.run.model_copy(update=overrides)})

    manifest = run_job(spec)  # the runner logs every tile (with --log-format json: machine-readable)
    summary = manifest.summary()
    if as_json:
        echo_json(summary)
    else:
        click.echo(
            f"{spec.name}: {len(summary['done'])} tiles mapped, {len(summary['skipped'])} already done, "
            f"{len(summary['failed'])} failed; outputs in {spec.outputs.dir}"
        )
        for key, value in summary["outputs"].items():
            click.echo(f"  {key}: {value}")
        if summary["model"]:
            from eofusion.training.checkpoints import describe_inputs

            click.echo(f"  model: {summary['model']['checkpoint']}")
            click.echo(f"    trained on {describe_inputs(summary['model']['trained_on'])}")
    if not manifest.ok:
        raise click.exceptions.Exit(1)
