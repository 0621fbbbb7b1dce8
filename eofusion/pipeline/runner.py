"""Resumable tile-by-tile runs on Dask: each tile is one task; finished tiles are never computed again.

A tile is finished when its completion record ``tiles/<tile_id>/done.json`` exists with the job's config
hash; the record is written (atomically) only after every output of the tile is in place, so a kill at any
moment leaves either a finished tile or one that the next run recomputes from scratch. Transient failures
(connection resets, timeouts) are retried with backoff; input errors are not (retrying cannot fix a
corrupt file), they fail the tile with their message and the other tiles go on.
"""

from __future__ import annotations

import json
import logging
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from eofusion.errors import EofusionError
from eofusion.grid import NestedGrids
from eofusion.pipeline.manifest import RunManifest, TileRecord, TileStatus
from eofusion.pipeline.spec import JobSpec

logger = logging.getLogger(__name__)

MANIFEST_NAME = "run-manifest.json"
# Errors worth another attempt: the network or a worker hiccuped, the input is fine.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError)


@dataclass(frozen=True)
class TileTask:
    """Everything one tile needs; pickled to a Dask worker."""

    spec: JobSpec
    tile_id: str
    grids: NestedGrids
    out_dir: Path


@dataclass(frozen=True)
class TileResult:
    """What a processor returns for a finished tile: its output files and any metrics."""

    outputs: dict[str, str]
    metrics: dict[str, Any]


class TileProcessor(Protocol):
    """search -> cube -> predict -> map for one tile; must be a picklable (module-level) callable."""

    def __call__(self, task: TileTask) -> TileResult: ...


def done_record_path(out_dir: Path, tile_id: str) -> Path:
    """Where a tile's completion record lives."""
    return out_dir / "tiles" / tile_id / "done.json"


def read_done(out_dir: Path, tile_id: str, config_hash: str) -> dict[str, Any] | None:
    """A tile's completion record if it finished with this configuration, else None."""
    path = done_record_path(out_dir, tile_id)
    try:
        record: dict[str, Any] = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return record if record.get("config_hash") == config_hash else None


def _write_done(task: TileTask, result: TileResult, seconds: float) -> None:
    path = done_record_path(task.out_dir, task.tile_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "config_hash": task.spec.config_hash(),
        "outputs": result.outputs,
        "metrics": result.metrics,
        "seconds": round(seconds, 3),
    }
    tmp = path.with_name(".done.json.tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str))
    os.replace(tmp, path)


def run_tile(task: TileTask, processor: TileProcessor, retries: int, backoff_s: float) -> TileRecord:
    """Run one tile on a worker, retrying transient errors; never raises (failures become records)."""
    started = time.perf_counter()
    attempts = 0
    while True:
        attempts += 1
        try:
            result = processor(task)
            seconds = time.perf_counter() - started
            _write_done(task, result, seconds)
            return TileRecord(task.tile_id, TileStatus.DONE, seconds, attempts, result.outputs, result.metrics)
        except TRANSIENT_ERRORS as err:
            if attempts > retries:
                message = f"gave up after {attempts} attempts: {type(err).__name__}: {err}"
                return TileRecord(
                    task.tile_id, TileStatus.FAILED, time.perf_counter() - started, attempts, error=message
                )
            time.sleep(backoff_s * 2 ** (attempts - 1))
        except EofusionError as err:
            return TileRecord(
                task.tile_id,
                TileStatus.FAILED,
                time.perf_counter() - started,
                attempts,
                error=f"{type(err).__name__}: {err}",
            )
        except Exception as err:  # a bug or an unexpected library error: keep the traceback for the manifest
            detail = "".join(traceback.format_exception_only(type(err), err)).strip()
            logger.debug("tile %s failed", task.tile_id, exc_info=True)
            return TileRecord(
                task.tile_id,
                TileStatus.FAILED,
                time.perf_counter() - started,
                attempts,
                error=f"unexpected error: {detail}",
            )


def _open_client(spec: JobSpec) -> Any:
    from distributed import Client, LocalCluster

    if spec.run.scheduler:
        return Client(spec.run.scheduler)
    cluster = LocalCluster(
        n_workers=spec.run.workers,
        threads_per_worker=spec.run.threads_per_worker,
        memory_limit=spec.run.memory_limit,
        processes=True,
        dashboard_address=":0",  # any free port: never clash with a dashboard already running
    )
    return Client(cluster)


def run_job(
    spec: JobSpec,
    tiles: dict[str, NestedGrids],
    processor: TileProcessor,
    *,
    client: Any = None,
    on_tile: Callable[[TileRecord], None] | None = None,
) -> RunManifest:
    """Process every tile not yet finished; return (and keep writing) the run manifest.

    Args:
        spec: The job.
        tiles: Tile id -> the tile's nested grids.
        processor: Does one tile's work (see :class:`TileProcessor`).
        client: A ``distributed.Client``; default: one for ``spec.run`` (LocalCluster or a scheduler address).
        on_tile: Called on the client side as each tile ends (progress bars, logs).
    """
    out_dir = spec.outputs.dir
    out_dir.mkdir(parents=True, exist_ok=True)
    config_hash = spec.config_hash()
    manifest = RunManifest(job=spec.name, config_hash=config_hash)
    manifest_path = out_dir / MANIFEST_NAME
    pending: list[TileTask] = []
    for tile_id, grids in tiles.items():
        done = read_done(out_dir, tile_id, config_hash)
        if done is not None:
            record = TileRecord(tile_id, TileStatus.SKIPPED, 0.0, 0, done.get("outputs", {}), done.get("metrics", {}))
            manifest.record(record)
            if on_tile:
                on_tile(record)
        else:
            pending.append(TileTask(spec, tile_id, grids, out_dir))
    manifest.write(manifest_path)
    logger.info(
        "job %s: %d tiles, %d already done, %d to run", spec.name, len(tiles), len(tiles) - len(pending), len(pending)
    )
    if pending:
        own_client = client is None
        client = client or _open_client(spec)
        try:
            from distributed import as_completed

            futures = [
                client.submit(
                    run_tile,
                    task,
                    processor,
                    spec.run.retries,
                    spec.run.retry_backoff_s,
                    key=f"tile-{task.tile_id}-{config_hash}",
                    pure=False,
                )
                for task in pending
            ]
            for future in as_completed(futures):
                record = future.result()
                manifest.record(record)
                manifest.write(manifest_path)
                fields = {"tile": record.tile_id, "status": record.status.value, "seconds": round(record.seconds, 2)}
                if record.status is TileStatus.FAILED:
                    logger.error("tile %s failed: %s", record.tile_id, record.error, extra=fields)
                else:
                    logger.info("tile %s done in %.1fs", record.tile_id, record.seconds, extra=fields)
                if on_tile:
                    on_tile(record)
        finally:
            if own_client:
                cluster = getattr(client, "cluster", None)
                client.close()
                if cluster is not None:
                    cluster.close()
    return manifest


def finish_manifest(manifest: RunManifest, out_dir: Path, outputs: dict[str, str] | None = None) -> Path:
    """Stamp the end time and job-level outputs (e.g. the mosaic) and write the final manifest."""
    from datetime import UTC, datetime

    manifest.finished = datetime.now(UTC).isoformat()
    manifest.outputs.update(outputs or {})
    return manifest.write(out_dir / MANIFEST_NAME)
