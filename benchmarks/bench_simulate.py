"""Demo-world simulator: default runtime per step, and peak memory as the world grows.

Run: ``.venv/bin/python benchmarks/bench_simulate.py [--sizes 960,1920,3840] [--skip-default]``

Prints the wall time and CPU time of each step of the default world, then renders square worlds of
growing side in fresh processes (aerial/DSM at ``--vhr-resolution``, 1024 px windows) and prints their
peak RSS: with window-by-window rendering (and GDAL's block cache capped at 64 MB) the peak levels off
while the area keeps growing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    from eofusion.simulate import WorldConfig, simulate_world
    size, out, res = float(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    cfg = WorldConfig(seed=0, size_m=size, aerial_resolution_m=res, dsm_resolution_m=res, window_px=1024)
    t = time.perf_counter()
    simulate_world(cfg, out)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"size_m": cfg.world_size_m, "seconds": time.perf_counter() - t, "peak_rss_mb": peak_mb}))
    """
)


def default_world(tmp: Path) -> None:
    from eofusion.simulate import WorldConfig, plan_world

    build = plan_world(WorldConfig(), tmp / "default")
    print(f"default world: {build.total} steps")
    t0, c0 = time.perf_counter(), time.process_time()
    last_t, last_c = t0, c0
    for name in build.run():
        now_t, now_c = time.perf_counter(), time.process_time()
        print(f"  {name:34s} wall {now_t - last_t:6.2f} s   cpu {now_c - last_c:6.2f} s")
        last_t, last_c = now_t, now_c
    print(f"  {'TOTAL':34s} wall {last_t - t0:6.2f} s   cpu {last_c - c0:6.2f} s")


def memory_scaling(tmp: Path, sizes: list[float], vhr_res: float) -> None:
    rows = []
    for size in sizes:
        out = tmp / f"world-{int(size)}"
        cmd = [sys.executable, "-c", CHILD, str(size), str(out), str(vhr_res)]
        res = subprocess.run(cmd, capture_output=True, text=True, check=True)
        rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
    base = rows[0]
    print(f"memory vs area (aerial/DSM {vhr_res:g} m, 1024 px windows):")
    for r in rows:
        area = (r["size_m"] / base["size_m"]) ** 2
        print(
            f"  {r['size_m']:7.0f} m  area x{area:5.1f}  time {r['seconds']:6.1f} s  "
            f"peak RSS {r['peak_rss_mb']:7.0f} MB  (x{r['peak_rss_mb'] / base['peak_rss_mb']:.2f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="960,1920,3840", help="World sides in metres for the memory runs.")
    parser.add_argument("--skip-default", action="store_true", help="Skip the default-world timing.")
    parser.add_argument("--vhr-resolution", type=float, default=1.0, help="Aerial/DSM pixel size of the memory runs.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_default:
            default_world(Path(tmp))
        memory_scaling(Path(tmp), [float(s) for s in args.sizes.split(",")], args.vhr_resolution)


if __name__ == "__main__":
    main()
