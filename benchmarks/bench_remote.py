"""Remote-read benchmark: a small AOI of a large COG over HTTP, eofusion beside odc-stac, bytes and time.

Usage::

    .venv/bin/python benchmarks/bench_remote.py [--size 8192] [--workdir DIR] [--repeat 3]

Data: one Sentinel-2-like band COG of ``--size`` x ``--size`` px (uint16, DEFLATE + predictor, 512 px tiles,
overviews 2/4/8; bench_cube's generator), written once into ``--workdir`` and served by nginx (Debian's
nginx-light, range requests) on 127.0.0.1. The AOI is the central 10 % x 10 % of the file: 1 % of its pixels.

Cases, each in a cold subprocess (GDAL's HTTP cache starts empty), every tool on Dask's threaded scheduler:
- ``native``: the AOI at the file's 10 m (nearest): the bytes fetched should be close to 1 % of the file;
- ``coarse``: the same AOI at 40 m (average): read from the 4x overview, so about 1/16 of that again.
For each: bytes nginx sent (its access log) against the file's size and the AOI's share, wall time over HTTP
against the same read from local disk, and the same for odc-stac on the same URLs. Pixel agreement of the
two tools is printed (max |difference| where both have data).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "remote"))

AOI_SHARE = 0.10  # of each side: 1 % of the area
CASES = {"native": (10.0, "nearest"), "coarse": (40.0, "average")}


def aoi_grid(native: dict[str, Any], res: float) -> Any:
    """The central AOI of the file at ``res`` metres, snapped to the file's own grid lines."""
    from affine import Affine
    from odc.geo import CRS
    from odc.geo.geobox import GeoBox

    a, _, x0, _, e, y0 = native["transform"]
    h, w = native["shape"]
    side_px = round(w * AOI_SHARE)
    col0, row0 = (w - side_px) // 2, (h - side_px) // 2
    left, top = x0 + col0 * a, y0 + row0 * e
    right, bottom = left + side_px * a, top + side_px * e
    n = round((right - left) / res)
    return GeoBox((n, n), Affine(res, 0, left, 0, -res, top), CRS(native["crs"])), (bottom, right)


def child(case: str, tool: str, setup: Path) -> None:
    """One read, timed, in this (fresh) process; prints JSON."""
    import dask

    data = json.loads(setup.read_text())
    items, native = data["items"], data["native"]
    res, resampling = CASES[case]
    grid, _ = aoi_grid(native, res)
    started = time.perf_counter()
    if tool == "eofusion":
        from eofusion.catalog import normalize_items
        from eofusion.cube import LoadOptions, load_aligned

        ds = load_aligned(
            normalize_items(items), grid, "s2", options=LoadOptions(resampling=resampling, mask_clouds=False)
        )
        with dask.config.set(scheduler="threads"):
            values = ds["data"].values[0, 0]
    else:
        import odc.stac
        import pystac

        from eofusion.storage import configure_gdal_for_cloud

        configure_gdal_for_cloud()  # the same GDAL settings for both tools: only the readers differ
        if "://" in items[0]["assets"]["B02"]["href"]:  # what eofusion's open_raster sets for remote opens
            os.environ.setdefault("GDAL_DISABLE_READDIR_ON_OPEN", "EMPTY_DIR")
        ds = odc.stac.load(
            [pystac.Item.from_dict(i) for i in items],
            bands=["B02"],
            geobox=grid,
            chunks={"x": 512, "y": 512},
            resampling=resampling,
            dtype="float32",
        )
        with dask.config.set(scheduler="threads"):
            values = ds["B02"].values[0]
        band = items[0]["assets"]["B02"]["raster:bands"][0]
        values = values * np.float32(band["scale"]) + np.float32(band["offset"])  # odc-stac leaves DNs as they are
    seconds = time.perf_counter() - started
    np.save(setup.with_name(f"{case}-{tool}.npy"), values)
    print(json.dumps({"seconds": seconds, "finite": float(np.isfinite(values).mean())}))


def _items_at(items: list[dict[str, Any]], base: str, root: Path) -> list[dict[str, Any]]:
    out = json.loads(json.dumps(items))
    for item in out:
        for asset in item["assets"].values():
            asset["href"] = f"{base}/{Path(asset['href']).relative_to(root).as_posix()}"
    return out


def _run_child(case: str, tool: str, setup: Path) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, __file__, "--child", case, tool, str(setup)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{case}/{tool} failed: {done.stderr[-2000:]}")
    return float(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=8192)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/eofusion-bench-remote"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", nargs=3, metavar=("CASE", "TOOL", "SETUP"))
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], Path(args.child[2]))
        return

    from bench_cube import make_data
    from servers import nginx_server

    work = args.workdir / f"size{args.size}"
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    items = make_data(work, args.size, 1, 1)
    native = json.loads((work / "setup.json").read_text())["native"]
    cog = Path(items[0]["assets"]["B02"]["href"])
    file_bytes = cog.stat().st_size
    print(
        f"COG {args.size} x {args.size} px, {file_bytes / 1e6:.1f} MB ({time.perf_counter() - started:.0f} s to make)"
    )
    root = work / "cogs"
    local_setup = work / "local.json"
    local_setup.write_text(json.dumps({"items": items, "native": native}))
    rows = []
    with nginx_server(root) as nginx:
        http_setup = work / "http.json"
        http_setup.write_text(json.dumps({"items": _items_at(items, nginx.url, root), "native": native}))
        for case in CASES:
            grid, _ = aoi_grid(native, CASES[case][0])
            for tool in ("eofusion", "odc-stac"):
                http_s, local_s, fetched = [], [], []
                for _ in range(args.repeat):
                    nginx.reset_log()
                    http_s.append(_run_child(case, tool, http_setup))
                    fetched.append(nginx.bytes_sent())
                    local_s.append(_run_child(case, tool, local_setup))
                rows.append(
                    {
                        "case": f"{case} ({CASES[case][0]:g} m, {grid.shape[0]} px)",
                        "tool": tool,
                        "http_s": statistics.median(http_s),
                        "local_s": statistics.median(local_s),
                        "fetched": statistics.median(fetched),
                    }
                )
            ours = np.load(http_setup.with_name(f"{case}-eofusion.npy"))
            theirs = np.load(http_setup.with_name(f"{case}-odc-stac.npy"))
            both = np.isfinite(ours) & np.isfinite(theirs)
            diff = float(np.max(np.abs(ours[both] - theirs[both]))) if both.any() else float("nan")
            print(f"{case}: eofusion vs odc-stac max |diff| {diff:.2e} over {both.mean():.0%} of the AOI")
    print(f"\nAOI = {AOI_SHARE**2:.0%} of the file's area; file {file_bytes / 1e6:.1f} MB; median of {args.repeat}")
    print(f"{'case':<24}{'tool':<10}{'fetched MB':>11}{'% of file':>10}{'HTTP s':>8}{'local s':>9}{'HTTP/local':>11}")
    for r in rows:
        print(
            f"{r['case']:<24}{r['tool']:<10}{r['fetched'] / 1e6:>11.2f}{100 * r['fetched'] / file_bytes:>9.2f}%"
            f"{r['http_s']:>8.2f}{r['local_s']:>9.2f}{r['http_s'] / r['local_s']:>10.2f}x"
        )
    for case in CASES:
        ours = next(r for r in rows if r["case"].startswith(case) and r["tool"] == "eofusion")
        theirs = next(r for r in rows if r["case"].startswith(case) and r["tool"] == "odc-stac")
        print(
            f"{case}: odc-stac / eofusion over HTTP: time {theirs['http_s'] / ours['http_s']:.2f}x, "
            f"bytes {theirs['fetched'] / max(ours['fetched'], 1):.2f}x"
        )


if __name__ == "__main__":
    main()
