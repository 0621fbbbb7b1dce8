"""Helpers for pipeline tests: a job spec over four tiles with real input COGs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from odc.geo import CRS

from eofusion.grid import NestedGrids, TilingScheme
from eofusion.pipeline import JobSpec, job_spec_from_dict

HERE = Path(__file__).parent
SCHEME = TilingScheme(CRS("EPSG:32631"), 1280.0)
TILE_IDS = [SCHEME.tile_id(ix, iy) for iy in (3760, 3761) for ix in (290, 291)]


def write_inputs(directory: Path, corrupt: str | None = None) -> None:
    """One float COG per tile on its 10 m grid; ``corrupt`` gets a truncated file."""
    directory.mkdir(parents=True, exist_ok=True)
    for n, tile_id in enumerate(TILE_IDS):
        geobox = SCHEME.grids(tile_id, {"s2": 10.0}).geobox("s2")
        rng = np.random.default_rng(n)
        data = rng.random(geobox.shape, dtype=np.float32)
        path = directory / f"{tile_id}.tif"
        profile = {"driver": "COG", "dtype": "float32", "count": 1, "width": geobox.width,
                   "height": geobox.height, "crs": "EPSG:32631", "transform": geobox.affine}  # fmt: skip
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(data, 1)
        if tile_id == corrupt:
            path.write_bytes(path.read_bytes()[:600])


def make_spec(tmp: Path, inputs: Path, out: str = "out") -> JobSpec:
    return job_spec_from_dict(
        {
            "name": "test-job",
            "aoi": {"tiles": TILE_IDS},
            "tiling": {"crs": "EPSG:32631", "tile_size_m": 1280},
            "time": {"start": "2024-04-01", "end": "2024-09-30"},
            "catalog": {"source": str(inputs)},
            "sensors": ["s2"],
            "resolutions": {"s2": 10},
            "model": {"checkpoint": str(tmp / "model.safetensors")},
            "outputs": {"dir": str(tmp / out)},
            "run": {"retries": 1, "retry_backoff_s": 0.01},
        }
    )


def tile_grids() -> dict[str, NestedGrids]:
    return {t: SCHEME.grids(t, {"s2": 10.0}) for t in TILE_IDS}


def write_train_spec(path: Path, small_world, small_cube: Path, **changes: object) -> Path:  # type: ignore[no-untyped-def]
    """A land-cover training spec over the small world's cube (labels at 2 m, 64 chips of 160 m, 30 steps)."""
    import yaml

    spec = {
        "name": "small-landcover",
        "seed": 0,
        "data": {"cube": str(small_cube), "sensors": ["s2", "s1", "aerial", "dsm"]},
        "labels": {
            "raster": str(small_world.root / "catalog" / "landcover" / "*" / "landcover.tif"),
            "classes_file": str(small_world.root / "truth" / "classes.json"),
            "classes_key": "landcover",
            "resolution_m": 2,
        },
        "chips": {"size_m": 160, "train_count": 64},
        "model": {"pretrain_steps": 0},
        "finetune": {"steps": 30, "batch_size": 4},
        "outputs": {"dir": str(path.parent / "out")},
    }
    spec.update(changes)
    path.write_text(yaml.safe_dump(spec))
    return path
