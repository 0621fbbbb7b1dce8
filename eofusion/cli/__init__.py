"""The ``eofusion`` command line: the only place that reads config files and sets up logging and progress.

Subcommands are loaded lazily (see :class:`LazyGroup`) so ``eofusion --help`` never imports torch or Dask.
Exit codes: 0 success, 1 a run or input failed (the message says what and how to fix it), 2 a usage error,
130 interrupted.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from eofusion import __version__
from eofusion.cli.common import configure_logging, report_error
from eofusion.errors import EofusionError

# name -> "module:attribute" of a click command. Add a line here when a feature's command works.
COMMANDS: dict[str, str] = {
    "catalog": "eofusion.cli.catalog:catalog",
    "demo": "eofusion.cli.demo:demo",
    "sensors": "eofusion.cli.sensors:sensors",
    "simulate": "eofusion.cli.simulate:simulate",
    "pretrain": "eofusion.cli.pretrain:pretrain",
    "cube": "eofusion.cli.cube:cube",
    "run": "eofusion.cli.run:run",
    "train": "eofusion.cli.train:train",
    "evaluate": "eofusion.cli.train:evaluate",
    "assess": "eofusion.cli.assess:assess",
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when that subcommand runs."""

    def __init__(self, *args: Any, lazy_commands: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands:
            module_name, attr = self.lazy_commands[cmd_name].split(":")
            command = getattr(importlib.import_module(module_name), attr)
            if not isinstance(command, click.Command):
                raise TypeError(f"{self.lazy_commands[cmd_name]} is not a click command")
            return command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Show one-line summaries without importing the heavy modules: read them from COMMAND_HELP.
        rows = [(name, COMMAND_HELP.get(name, "")) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


# Short help per command, shown by `eofusion --help` without importing the command's module.
COMMAND_HELP: dict[str, str] = {
    "run": "Run a scheduled job spec (pipelines/*.yaml) tile by tile: search -> cube -> predict -> map.",
    "train": "Train a land-cover or crop-type model and its baselines from a training spec; report and plot.",
    "evaluate": "Score a trained model on a training spec's held-out part (metrics, subsets, confusion matrix).",
    "pretrain": "Pretrain the spectrum-aware masked autoencoder (checkpoints, resume).",
    "catalog": "Inspect STAC items, build catalogs for local GeoTIFFs, search STAC APIs and local catalogs.",
    "demo": "Run the main job end to end on the embedded demo world.",
    "sensors": "List registered sensors and bands, or show one sensor.",
    "simulate": "Render the seeded demo world: S2, S1, aerial, DSM/DTM COGs, truth and STAC catalogs.",
    "cube": "Build aligned multi-sensor Zarr cubes (cube build) and inspect them (cube info).",
    "assess": "Accuracy and class areas with 95 % intervals of a class map, from a stratified reference sample.",
}


@click.group(cls=LazyGroup, lazy_commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="eofusion")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one JSON object per log line, for cron, Airflow or Prefect.",
)
def cli(verbose: int, quiet: bool, log_format: str) -> None:
    """eofusion: STAC items -> aligned Zarr cubes -> spectrum-aware model -> land-cover COGs."""
    configure_logging(verbose=verbose, quiet=quiet, log_format=log_format)


def main(argv: list[str] | None = None) -> int:
    """Console entry point; turns eofusion's errors into a message and exit code 1, never a traceback."""
    try:
        # With standalone_mode=False click returns the code of a `click.exceptions.Exit` instead of raising.
        code = cli.main(args=argv, prog_name="eofusion", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    except click.ClickException as err:
        err.show()
        return err.exit_code
    except click.exceptions.Exit as err:
        return err.exit_code
    except EofusionError as err:
        report_error(err)
        return 1
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
