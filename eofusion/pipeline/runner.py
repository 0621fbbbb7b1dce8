"""Resumable tile-by-tile runs on Dask: each tile is one task; finished tiles are never computed again.

A tile is finished when its completion record ``tiles/<tile_id>/done.json`` exists with the job's config
hash (which covers the model's weights, see :meth:`JobSpec.config_hash`) and, when the caller can tell, the
same inputs (a fingerprint of the catalog items and files the tile was made from: new acquisitions or
rewritten files make it stale). The record is written (atomically) only after every output of the tile is
in place, and removed before a stale tile is recomputed, so a kill at any moment leaves either a finished
tile or one that the next run recomputes from scratch. One run at a time writes a job's outputs folder
(:func:`eofusion.locking.exclusive_writer`). Outputs may go to an object store (``outputs.dir: s3://...``):
a tile is made in a local working folder, its files are uploaded as whole objects, then its done record
(:func:`publish_tile`). Transient failures
(connection resets, timeouts) are retried with backoff; input errors are not (retrying cannot fix a
corrupt file), they fail the tile with their message and the other tiles go on.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import dask

from eofusion.errors import ConfigError, EofusionError
from eofusion.grid import NestedGrids
from eofusion.locking import exclusive_writer
from eofusion.pipeline.manifest import RunManifest, TileRecord, TileStatus
from eofusion.pipeline.spec import JobSpec
from eofusion.storage import Location

logger = logging.getLogger(__name__)

MANIFEST_NAME = "run-manifest.json"
LOCK_NAME = ".eofusion-run.lock"  # inside the outputs folder: its parent may not be ours to write
# Errors worth another attempt: the network or a worker hiccuped, the input is fine.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError)
GPU_RESOURCE = {"GPU": 1}  # what a tile of a `run.gpu` job asks of a Dask worker


@dataclass(frozen=True)
class TileTask:
    """Everything one tile needs; pickled to a Dask worker."""

    spec: JobSpec
    tile_id: str
    grids: NestedGrids
    out_dir: Path  # the local folder the tile is made in (outputs.dir itself, or its staging folder)

    @property
    def outputs(self) -> Location:
        """Where the job's outputs are published (outputs.dir: a folder or an object-store prefix)."""
        return self.spec.outputs.location


@dataclass(frozen=True)
class TileResult:
    """What a processor returns for a finished tile: its output files and any metrics."""

    outputs: dict[str, str]
    metrics: dict[str, Any]
    inputs: str = ""  # fingerprint of what the tile was made from (see InputsFingerprint)


class TileProcessor(Protocol):
    """search -> cube -> predict -> map for one tile; must be a picklable (module-level) callable."""

    def __call__(self, task: TileTask) -> TileResult: ...


class InputsFingerprint(Protocol):
    """A tile's inputs as they are now (e.g. a hash of its catalog items and their files)."""

    def __call__(self, task: TileTask) -> str: ...


def done_record_path(out_dir: Path, tile_id: str) -> Path:
    """Where a tile's completion record lives in a local outputs folder."""
    return out_dir / "tiles" / tile_id / "done.json"


def done_record(outputs: Location, tile_id: str) -> Location:
    """Where a tile's completion record lives (a folder or an object-store prefix)."""
    return outputs / "tiles" / tile_id / "done.json"


def read_done(outputs: Location | Path, tile_id: str, config_hash: str) -> dict[str, Any] | None:
    """A tile's completion record if it finished with this configuration, else None."""
    try:
        record: dict[str, Any] = json.loads(done_record(Location(outputs), tile_id).read_text())
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None
    return record if record.get("config_hash") == config_hash else None


def publish_tile(task: TileTask, result: TileResult) -> TileResult:
    """Upload a tile's files from its working folder to the outputs prefix (a no-op for local outputs).

    Each file is one whole object; the returned outputs name the published URLs. The working folder (the
    tile's intermediate cube included) is removed afterwards: what stays is in the bucket.
    """
    outputs = task.outputs
    if not outputs.remote:
        return result
    published: dict[str, str] = {}
    for key, local in result.outputs.items():
        path = Path(local)
        try:
            relative = path.resolve().relative_to(task.out_dir.resolve())
        except ValueError:  # not made in the working folder (e.g. a shared file): leave it where it is
            published[key] = local
            continue
        target = outputs / relative.as_posix()
        target.upload(path)
        published[key] = str(target)
    remove_folder_whole(task.out_dir / "tiles" / task.tile_id)
    return TileResult(published, result.metrics, result.inputs)


def remove_folder_whole(folder: Path) -> None:
    """Delete ``folder`` so that a kill at any moment leaves it whole or gone, never half-deleted.

    It is renamed to a hidden sibling first (atomic on one file system), then deleted. A tile's half-deleted
    working folder would still hold the root of its cube, marked complete, without some of its arrays: the
    rerun of the tile would take it up and fail (seen when a kill landed during the removal). A leftover
    of an earlier killed removal is deleted first.
    """
    trash = folder.with_name(f".{folder.name}.removing")
    shutil.rmtree(trash, ignore_errors=True)
    try:
        folder.rename(trash)
    except FileNotFoundError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def _write_done(task: TileTask, result: TileResult, seconds: float) -> None:
    record = {
        "config_hash": task.spec.config_hash(),
        "outputs": result.outputs,
        "metrics": result.metrics,
        "inputs": result.inputs,
        "seconds": round(seconds, 3),
    }
    done_record(task.outputs, task.tile_id).write_text(json.dumps(record, indent=2, default=str))


def run_tile(task: TileTask, processor: TileProcessor, retries: int, backoff_s: float) -> TileRecord:
    """Run one tile on a worker, retrying transient errors; never raises (failures become records)."""
    started = time.perf_counter()
    attempts = 0
    done_record(task.outputs, task.tile_id).remove()  # a stale record must not outlive this
    while True:
        attempts += 1
        try:
            # The tile's own Dask work (opening its cube with xarray, computing small arrays) runs on this
            # worker's threads. Sent to the cluster, it would make the task secede while it waits, and the
            # worker would start more tiles than it has threads: measured, 5 tiles at once on 2 one-thread
            # workers, each slower (benchmarks/bench_job_scaling.py).
            with dask.config.set(scheduler="threads"):
                result = publish_tile(task, processor(task))
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
            frames = traceback.extract_tb(err.__traceback__)
            if frames:  # where it happened: what a bug report needs
                detail += f" (at {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name})"
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
        resources=GPU_RESOURCE if spec.run.gpu else None,
    )
    return Client(cluster)


def run_job(
    spec: JobSpec,
    tiles: dict[str, NestedGrids],
    processor: TileProcessor,
    *,
    inputs_of: InputsFingerprint | None = None,
    client: Any = None,
    on_tile: Callable[[TileRecord], None] | None = None,
) -> RunManifest:
    """Process every tile not yet finished; return (and keep writing) the run manifest.

    Args:
        spec: The job.
        tiles: Tile id -> the tile's nested grids.
        processor: Does one tile's work (see :class:`TileProcessor`).
        inputs_of: The tile's inputs now; a finished tile whose record holds other inputs is recomputed.
            None trusts the config hash alone.
        client: A ``distributed.Client``; default: one for ``spec.run`` (LocalCluster or a scheduler address).
        on_tile: Called on the client side as each tile ends (progress bars, logs).

    Raises:
        OutputLockedError: Another process is running a job into the same outputs folder.
    """
    outputs = spec.outputs.location
    spec.outputs.work_dir.mkdir(parents=True, exist_ok=True)
    outputs.mkdir()
    lock_file = None if outputs.remote else outputs.path / LOCK_NAME
    with exclusive_writer(str(outputs), "the job outputs folder", lock_file=lock_file):
        return _run_job(spec, tiles, processor, inputs_of=inputs_of, client=client, on_tile=on_tile)


def _is_finished(task: TileTask, config_hash: str, inputs_of: InputsFingerprint | None) -> dict[str, Any] | None:
    done = read_done(task.outputs, task.tile_id, config_hash)
    if done is None or inputs_of is None:
        return done
    try:
        now = inputs_of(task)
    except EofusionError:  # e.g. the catalog has nothing for the tile any more: recompute and fail there
        now = None
    if now != done.get("inputs"):
        logger.info("tile %s: its inputs changed since it was made; recomputing it", task.tile_id)
        return None
    return done


def _run_job(
    spec: JobSpec,
    tiles: dict[str, NestedGrids],
    processor: TileProcessor,
    *,
    inputs_of: InputsFingerprint | None,
    client: Any,
    on_tile: Callable[[TileRecord], None] | None,
) -> RunManifest:
    out_dir = spec.outputs.work_dir
    config_hash = spec.config_hash()
    manifest = RunManifest(job=spec.name, config_hash=config_hash)
    manifest_path = spec.outputs.location / MANIFEST_NAME
    pending: list[TileTask] = []
    for tile_id, grids in tiles.items():
        task = TileTask(spec, tile_id, grids, out_dir)
        done = _is_finished(task, config_hash, inputs_of)
        if done is not None:
            record = TileRecord(tile_id, TileStatus.SKIPPED, 0.0, 0, done.get("outputs", {}), done.get("metrics", {}))
            manifest.record(record)
            if on_tile:
                on_tile(record)
        else:
            pending.append(task)
    manifest.write(manifest_path)
    logger.info(
        "job %s: %d tiles, %d already done, %d to run", spec.name, len(tiles), len(tiles) - len(pending), len(pending)
    )
    if pending:
        own_client = client is None
        client = client or _open_client(spec)
        try:
            from distributed import as_completed

            for future in as_completed(_submit(client, spec, pending, processor)):
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


def _submit(client: Any, spec: JobSpec, pending: list[TileTask], processor: TileProcessor) -> list[Any]:
    """One Dask task per tile (asking for a GPU each when ``run.gpu``)."""
    if spec.run.gpu:
        _check_gpu_workers(client)
    config_hash = spec.config_hash()
    return [
        client.submit(
            run_tile,
            task,
            processor,
            spec.run.retries,
            spec.run.retry_backoff_s,
            key=f"tile-{task.tile_id}-{config_hash}",
            pure=False,
            resources=GPU_RESOURCE if spec.run.gpu else None,
        )
        for task in pending
    ]


def _check_gpu_workers(client: Any) -> None:
    """A ``run.gpu`` job needs workers that offer the GPU resource, or its tiles would wait forever."""
    workers = client.scheduler_info().get("workers", {}).values()
    if not any(w.get("resources", {}).get("GPU", 0) >= 1 for w in workers):
        raise ConfigError(
            "run.gpu is set but no Dask worker offers a GPU: start the workers with `dask worker SCHEDULER "
            "--resources GPU=1` (one per GPU, e.g. with CUDA_VISIBLE_DEVICES or dask-cuda), or set run.gpu: false."
        )


def finish_manifest(manifest: RunManifest, outputs_dir: Location, outputs: dict[str, str] | None = None) -> Location:
    """Stamp the end time and job-level outputs (e.g. the mosaic) and write the final manifest."""
    from datetime import UTC, datetime

    manifest.finished = datetime.now(UTC).isoformat()
    manifest.outputs.update(outputs or {})
    return manifest.write(outputs_dir / MANIFEST_NAME)
