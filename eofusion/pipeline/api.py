"""The pipeline's public entry points: map a cube with a checkpoint, run a job spec.

``eofusion.predict`` and ``eofusion.run_job`` are these functions; the CLI's ``eofusion run`` calls the same
:func:`eofusion.pipeline.jobs.run_spec` as :func:`run_job`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from eofusion.cube import Cube, open_cube
from eofusion.mapping import MapLayers
from eofusion.mapping.predict import PredictConfig, Prediction, predict_to_cog
from eofusion.models.device import DevicePolicy
from eofusion.pipeline.jobs import run_spec
from eofusion.pipeline.landcover import legend_of
from eofusion.pipeline.manifest import RunManifest
from eofusion.pipeline.spec import JobSpec, load_job_spec
from eofusion.training.landcover import load_landcover_model


def predict(
    checkpoint: str | os.PathLike[str],
    cube: Cube | str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    sensors: Sequence[str] | None = None,
    probabilities: bool = False,
    device: str = "auto",
) -> Prediction:
    """Map ``cube`` with the model of ``checkpoint``; write ``out`` (class COG) and its sensor-bits layer.

    Args:
        checkpoint: A land-cover checkpoint written by ``eofusion train`` / ``eofusion demo``.
        cube: An opened :class:`~eofusion.cube.Cube` or its path.
        out: The class map's path (``.tif``); ``<stem>_sensors.tif`` records which sensors each pixel had and
            ``<stem>_confidence.tif`` the winning class's probability (percent).
        sensors: Groups (or aliases) to map with; default: every group of the cube.
        probabilities: Also write the per-class probabilities (``<stem>_probabilities.tif``).
        device: Where the model runs: ``auto`` (a GPU when present), ``cpu``, ``cuda:N``.

    Returns:
        The written files and the map's GeoBox (the cube's finest grid, checked after writing).
    """
    model, classes, meta = load_landcover_model(checkpoint)
    opened = cube if isinstance(cube, Cube) else open_cube(cube)
    if sensors is not None:
        opened = opened.select(sensors)
    extra = meta.get("extra", {})
    config = PredictConfig(
        chip_m=float(extra.get("chip_m", 320.0)),
        overlap_m=float(extra.get("overlap_m", 80.0)),
        sensors=tuple(opened.groups),
        device=device,
        batch_size=DevicePolicy.resolve(device).predict_batch,
    )
    return predict_to_cog(
        model,
        opened,
        legend_of(classes),
        Path(out),
        config,
        layers=MapLayers(confidence=True, probabilities=probabilities),
    )


def run_job(job: JobSpec | str | os.PathLike[str], *, client: object = None) -> RunManifest:
    """Run a job spec (a :class:`JobSpec` or a ``pipelines/*.yaml`` path) as ``eofusion run`` does.

    Tiles already done with the same configuration, model and inputs are skipped, so calling it again after
    a kill finishes the rest. ``client``: an existing Dask client (default: the spec's ``run`` settings).
    """
    spec = job if isinstance(job, JobSpec) else load_job_spec(Path(job))
    return run_spec(spec, client=client)
