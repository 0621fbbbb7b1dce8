"""Scheduled jobs: job specs from YAML, resumable tile-by-tile runs on Dask, run manifests."""

from eofusion.pipeline.manifest import RunManifest, TileRecord, TileStatus
from eofusion.pipeline.runner import (
    MANIFEST_NAME,
    TileProcessor,
    TileResult,
    TileTask,
    done_record,
    done_record_path,
    finish_manifest,
    publish_tile,
    read_done,
    run_job,
)
from eofusion.pipeline.spec import JobSpec, job_spec_from_dict, load_job_spec

__all__ = [
    "MANIFEST_NAME",
    "JobSpec",
    "RunManifest",
    "TileProcessor",
    "TileRecord",
    "TileResult",
    "TileStatus",
    "TileTask",
    "done_record",
    "done_record_path",
    "finish_manifest",
    "job_spec_from_dict",
    "load_job_spec",
    "publish_tile",
    "read_done",
    "run_job",
]
