"""Time per tile as a job grows: the same tile job at 1x and 10x the tiles, on a LocalCluster of 2 workers.

    python benchmarks/bench_job_scaling.py --workdir /tmp/eofusion-scaling

A demo-like world (S2, S1, aerial at 1 m, DSM) of ``--world-m`` is rendered once; a random-init tiny
land-cover model maps it (throughput, not accuracy). Tiles of ``--tile-m`` wholly inside the world all hold
the same kind of content, so their times are comparable. The job runs first on ``--tiles`` tiles, then on
10x as many, each time on a fresh LocalCluster (``--workers`` processes x ``--threads``). Printed: time per
tile (measured inside the worker: queueing is not in it) in completion order, its trend (a least-squares
slope, seconds per 100 tiles), the first and last tenth's medians, the wall time per tile of the whole run,
and the workers' memory (RSS) after each tile: growing memory with flat times is a leak, growing times with
flat memory is contention.

``--cost`` instead runs one job on ``--tiles`` tiles and prints what a km2 costs end to end (core-seconds per
km2 = time per tile x threads / tile area): the measured input of the continental plan (docs/continental-plan.md).
``--sensors s2,s1`` makes a 10 m job (the world's aerial and DSM are then rendered only over ``--aerial-m``).

    python benchmarks/bench_job_scaling.py --cost --tile-m 1280 --tiles 4                       # 1 m job
    python benchmarks/bench_job_scaling.py --cost --sensors s2,s1 --world-m 10240 --aerial-m 600 \
        --tile-m 2560 --tiles 9                                                                # 10 m job
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np


def _world(workdir: Path, size_m: float, aerial_m: float | None = None) -> Any:
    from eofusion.simulate import WorldConfig, simulate_world

    config = WorldConfig(seed=0, size_m=size_m, aerial_resolution_m=1.0, aerial_size_m=aerial_m)
    name = f"world-{size_m:.0f}m" + (f"-aerial{aerial_m:.0f}m" if aerial_m else "")
    return simulate_world(config, workdir / name)  # kept when already rendered


def _checkpoint(workdir: Path, world: Any) -> Path:
    import torch

    from eofusion.models import model_config
    from eofusion.training.landcover import ClassTable, landcover_model, save_landcover_model

    torch.manual_seed(0)
    classes = ClassTable.from_mapping(world.class_names, world.class_colours)
    model = landcover_model(model_config("tiny"), len(classes.ids))
    return save_landcover_model(
        workdir / "model.safetensors", model, classes, extra={"chip_m": 320.0, "overlap_m": 80.0}
    )


def _inside_tiles(world: Any, tile_m: float) -> tuple[list[str], str]:
    from odc.geo.geom import box

    from eofusion.grid import TilingScheme

    s2 = world.grids["s2_10m"]
    scheme = TilingScheme(s2.crs, tile_m)
    inside = [t for t in scheme.tiles_for(s2.extent) if s2.extent.contains(box(*scheme.bounds(t), s2.crs))]
    return inside, f"EPSG:{s2.crs.epsg}"


def _run(
    workdir: Path, world: Any, checkpoint: Path, tiles: list[str], crs: str, args: argparse.Namespace
) -> dict[str, Any]:
    import psutil
    from distributed import Client, LocalCluster

    from eofusion.pipeline import TileStatus, job_spec_from_dict
    from eofusion.pipeline.jobs import run_spec

    out = workdir / f"job-{len(tiles)}"
    spec = job_spec_from_dict({
        "name": f"scaling-{len(tiles)}",
        "aoi": {"tiles": tiles},
        "tiling": {"crs": crs, "tile_size_m": args.tile_m},
        "time": {"start": "2024-01-01", "end": "2024-12-31"},
        "catalog": {"source": str(world.geoparquet_path),
                    "collections": [COLLECTIONS[s] for s in args.sensors]},
        "sensors": args.sensors,
        "resolutions": {s: RESOLUTIONS[s] for s in args.sensors},
        "model": {"checkpoint": str(checkpoint)},
        "outputs": {"dir": str(out), "mosaic": False, "quicklook": False},
        "run": {"workers": args.workers, "threads_per_worker": args.threads, "retries": 0},
    })  # fmt: skip
    import shutil

    shutil.rmtree(out, ignore_errors=True)
    finished: list[dict[str, Any]] = []
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=args.threads, processes=True,
                           memory_limit="6GiB", dashboard_address=":0")  # fmt: skip
    with cluster, Client(cluster) as client:
        started = time.perf_counter()

        def record(tile: Any) -> None:
            rss = client.run(lambda: psutil.Process().memory_info().rss)
            finished.append({
                "tile": tile.tile_id, "status": tile.status.value, "seconds": tile.seconds,
                "at": time.perf_counter() - started, "rss_mb": [v / 2**20 for v in rss.values()],
            })  # fmt: skip

        manifest = run_spec(spec, client=client, on_tile=record)
        wall = time.perf_counter() - started
    seconds = np.array([f["seconds"] for f in finished])
    tenth = max(1, len(seconds) // 10)
    slope = float(np.polyfit(np.arange(len(seconds)), seconds, 1)[0]) if len(seconds) > 2 else 0.0
    return {
        "tiles": len(tiles),
        "failed": manifest.ids(TileStatus.FAILED),
        "wall_s": wall,
        "wall_per_tile_s": wall / len(tiles),
        "median_s": float(np.median(seconds)),
        "first_tenth_median_s": float(np.median(seconds[:tenth])),
        "last_tenth_median_s": float(np.median(seconds[-tenth:])),
        "slope_s_per_100_tiles": 100 * slope,
        "rss_mb_first": max(finished[0]["rss_mb"]),
        "rss_mb_last": max(finished[-1]["rss_mb"]),
        "per_tile": finished,
    }


COLLECTIONS = {"s2": "sentinel-2-l2a", "s1": "sentinel-1-rtc", "aerial": "aerial-ign", "dsm": "elevation"}
RESOLUTIONS = {"s2": 10, "s1": 10, "aerial": 1, "dsm": 1}


def _cost(workdir: Path, world: Any, checkpoint: Path, inside: list[str], crs: str, args: argparse.Namespace) -> None:
    """One job on ``--tiles`` tiles: core-seconds per km2 end to end (search, cube, prediction, COGs, STAC)."""
    tiles = inside[: args.tiles]
    r = _run(workdir, world, checkpoint, tiles, crs, args)
    km2 = (args.tile_m / 1000) ** 2
    per_km2 = [t["seconds"] * args.threads / km2 for t in r["per_tile"]]
    print(
        f"cost: {len(tiles)} tiles of {args.tile_m:.0f} m ({km2:.3f} km2), sensors {','.join(args.sensors)}, map at "
        f"{min(RESOLUTIONS[s] for s in args.sensors)} m: time per tile median {r['median_s']:.1f} s on "
        f"{args.threads} thread(s) -> {np.median(per_km2):.2f} core-s per km2 (min {min(per_km2):.2f}, max "
        f"{max(per_km2):.2f}); wall {r['wall_s']:.0f} s on {args.workers} workers; worker RSS up to "
        f"{max(max(t['rss_mb']) for t in r['per_tile']):.0f} MB"
    )
    if args.json:
        args.json.write_text(json.dumps({**r, "core_s_per_km2": float(np.median(per_km2))}, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/eofusion-scaling"))
    parser.add_argument("--world-m", type=float, default=3680.0)
    parser.add_argument("--tile-m", type=float, default=320.0)
    parser.add_argument("--tiles", type=int, default=9, help="tiles of the 1x job (the demo has 9)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--sensors", default="s2,s1,aerial,dsm", help="the job's sensors (s2,s1: a 10 m map)")
    parser.add_argument("--aerial-m", type=float, default=None, help="aerial/DSM coverage side (default: the world)")
    parser.add_argument("--cost", action="store_true", help="one job on --tiles tiles: core-seconds per km2")
    args = parser.parse_args()
    args.sensors = [s.strip() for s in args.sensors.split(",")]
    args.workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    world = _world(args.workdir, args.world_m, args.aerial_m)
    checkpoint = _checkpoint(args.workdir, world)
    inside, crs = _inside_tiles(world, args.tile_m)
    print(f"world {args.world_m:.0f} m rendered/opened in {time.perf_counter() - t0:.0f} s; {len(inside)} tiles inside")
    if args.cost:
        _cost(args.workdir, world, checkpoint, inside, crs, args)
        return
    if len(inside) < 10 * args.tiles:
        raise SystemExit(f"only {len(inside)} tiles of {args.tile_m:.0f} m inside: raise --world-m")
    rng = np.random.default_rng(0)  # tiles spread over the world, in an order that is not spatial
    chosen = [inside[i] for i in rng.permutation(len(inside))[: 10 * args.tiles]]
    report = {}
    for label, tiles in (("1x", chosen[: args.tiles]), ("10x", chosen)):
        r = _run(args.workdir, world, checkpoint, tiles, crs, args)
        report[label] = r
        print(
            f"{label:>4}: {r['tiles']} tiles, wall {r['wall_s']:.0f} s ({r['wall_per_tile_s']:.1f} s per tile on "
            f"{args.workers} workers); time per tile median {r['median_s']:.1f} s, first tenth "
            f"{r['first_tenth_median_s']:.1f} s, last tenth {r['last_tenth_median_s']:.1f} s, trend "
            f"{r['slope_s_per_100_tiles']:+.1f} s per 100 tiles; worker RSS {r['rss_mb_first']:.0f} -> "
            f"{r['rss_mb_last']:.0f} MB"
        )
    ratio = report["10x"]["median_s"] / report["1x"]["median_s"]
    print(f"time per tile, 10x job / 1x job: {ratio:.2f} (flat: close to 1)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
