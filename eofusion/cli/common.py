"""Shared CLI plumbing: logging set-up, error reporting, JSON output and progress bars."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import click


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields."""

    _RESERVED: frozenset[str] = frozenset(vars(logging.makeLogRecord({})))

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update({k: v for k, v in vars(record).items() if k not in self._RESERVED})
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def configure_logging(verbose: int = 0, quiet: bool = False, log_format: str = "text") -> None:
    """Route eofusion's loggers to stderr at the level the flags ask for."""
    level = logging.WARNING if quiet else (logging.DEBUG if verbose >= 2 else logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    root = logging.getLogger("eofusion")
    root.handlers[:] = [handler]
    root.setLevel(level if verbose or quiet else logging.INFO)
    root.propagate = False
    if verbose < 2:  # keep third-party chatter (rasterio, distributed) out unless debugging
        for noisy in ("rasterio", "distributed", "urllib3", "fiona"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def report_error(err: BaseException) -> None:
    """Print an eofusion error for a person: its class and the message that names the fix."""
    click.secho(f"error ({type(err).__name__}): {err}", fg="red", err=True)


def echo_json(data: Any) -> None:
    """Machine-readable output on stdout (one JSON document)."""
    click.echo(json.dumps(data, indent=2, default=str))


def progress[T](items: Iterable[T], description: str, total: int | None = None, enabled: bool = True) -> Iterator[T]:
    """A rich progress bar over ``items`` on stderr; silent when disabled or when stderr is not a TTY."""
    if not enabled:
        yield from items
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False, disable=not console.is_terminal) as bar:
        yield from bar.track(items, total=total, description=description)


DEVICE_OPTION = click.option(
    "--device", default="auto", show_default=True, help="auto (this process's GPU if present, else CPU), cpu, cuda:N."
)
AMP_OPTION = click.option(
    "--amp", type=click.Choice(["off", "bf16", "fp16"]), default="off", show_default=True,
    help="Mixed precision: bf16 (GPUs, recent CPUs) or fp16 (CUDA, loss scaling).",
)  # fmt: skip


@contextmanager
def training_compute(device: str, amp: str) -> Iterator[Any]:
    """The device policy and, under ``torchrun``, the process group for a training command (left at the end)."""
    from eofusion.training.distributed import Compute, shutdown_distributed

    compute = Compute.start(device, amp)
    try:
        yield compute
    finally:
        shutdown_distributed()
