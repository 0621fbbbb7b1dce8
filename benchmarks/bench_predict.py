"""Wall-to-wall prediction: throughput (km2 per minute), where the time goes, and peak memory vs AOI area.

Resolutions: 10 m (S2 + S1), 1 m (aerial + DSM) and 0.2 m (aerial). Each run's wall time is split into
cube reads (the part not overlapped with the model), the model's forward pass, blending (taper-weighted
accumulation, arg-max, availability bits), writing rows and finishing the COGs (overviews, validation);
issue 19's target: the forward pass >= 70 % of prediction time.

Target (issue 8): time linear in area (time per km2 at 4x and 16x within a few % of 1x) and peak RSS flat
(<= 1.3x from 1x to 16x), because :func:`eofusion.mapping.predict.predict_to_cog` streams strip by strip.

Inputs are synthetic cubes written through :func:`eofusion.cube.write_cube` with the coordinates
:func:`eofusion.cube.load_aligned` produces (S2-only at 10 m with 3 dates; aerial-only at 0.2 m), built
before any timing. Each (resolution, area) runs :func:`predict_to_cog` in its OWN fresh Python process, so
its peak RSS (``ru_maxrss``) is that run's alone; the model is the random-init tiny preset
(``torch.manual_seed(0)``): throughput is measured, not accuracy. Only ``predict_to_cog`` is timed (after a
one-batch warm-up forward pass; best of ``--repeat`` runs; ``--threads`` torch threads, default 1 so that CPU
time is not inflated by threads spinning while a busy machine preempts their peers). "RSS growth" is the
peak minus the RSS just before prediction (model, torch and the opened cube resident), i.e. what prediction
itself added. Window counts do not grow exactly with area (the last window of a row/column is snapped
back to the edge, so small AOIs overlap more), hence
the table also shows CPU time per window. Each map also has a fixed cost (COG and overview finishing,
validation), which can dominate a 1x AOI of 128 x 128 px, so the per-km2 ratios fall below 1; an affine
fit ``CPU s = fixed + per_km2 * area`` separates the two. Linearity is judged on CPU time (user + system of
the process): wall time on a shared 2-core machine also measures whatever else runs (the ``load`` column).

    python benchmarks/bench_predict.py     # 10 m: 1.28 / 2.56 / 5.12 km sides; 1 m: 256 / 512 / 1024 m; 0.2 m: 64-256 m
    python benchmarks/bench_predict.py --only 10m --base-side-m 2560
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ORIGIN = (500_000.0, 5_000_000.0)  # UTM 31N, a whole multiple of every chip size used here
CRS = "EPSG:32631"
NUM_CLASSES = 8
SCALES = (1, 4, 16)
STAGE_NAMES = ("read", "forward", "blend", "write", "finish", "other")  # eofusion.mapping.timing.STAGES + rest


@dataclass(frozen=True)
class Group:
    """One cube group of a synthetic cube."""

    name: str
    sensor: str
    bands: tuple[str, ...]
    dates: int
    res_m: float
    values: tuple[float, float] = (0.05, 0.35)  # the ramp of physical values (reflectance; dB for SAR; metres)


@dataclass(frozen=True)
class Case:
    """One output resolution: the cube groups it predicts from and the sliding-window settings."""

    name: str
    groups: tuple[Group, ...]
    res_m: float  # the map's pixel (the finest group's)
    base_side_m: float  # side of the 1x AOI
    chip_m: float
    overlap_m: float
    token_m: float  # tiny preset's 40 m tokens would be 200 px at 0.2 m; a finer token keeps chips CPU-sized
    batch_size: int = 4


S2 = Group("s2", "sentinel-2a", ("B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B11", "B12"), 3, 10.0)
S1 = Group("s1", "sentinel-1", ("VV", "VH"), 3, 10.0, (-20.0, -5.0))  # backscatter in dB, as cubes store it
CASES = {
    "10m": Case("10m", (S2, S1), 10.0, 1280.0, 320.0, 80.0, 40.0),
    "1m": Case(
        "1m",
        (Group("aerial", "aerial-ign", ("red", "green", "blue", "nir"), 1, 1.0),
         Group("dsm", "elevation", ("dsm", "ndsm"), 1, 1.0, (0.0, 30.0))),
        1.0, 256.0, 64.0, 16.0, 8.0,
    ),
    "0.2m": Case(
        "0.2m", (Group("aerial", "aerial-ign", ("red", "green", "blue", "nir"), 1, 0.2),), 0.2, 64.0, 32.0, 8.0, 3.2
    ),
}  # fmt: skip


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process: user + system
    return usage.ru_utime + usage.ru_stime


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


# --------------------------------------------------------------------------------------------- cube building
def build_cube(case: Case, side_m: float, store: Path, seed: int) -> None:
    """A synthetic cube of ``side_m`` x ``side_m`` (one group per sensor) shaped like ``load_aligned``'s output."""
    from eofusion.cube import WriteOptions, write_cube

    groups = {g.name: _group_dataset(g, side_m, seed + i) for i, g in enumerate(case.groups)}
    write_cube(groups, store, write=WriteOptions(scheduler="threads", overwrite=True))


def _group_dataset(group: Group, side_m: float, seed: int) -> Any:
    import dask.array as da
    import numpy as np
    import xarray as xr
    from odc.geo.geobox import GeoBox
    from odc.geo.xr import xr_coords

    from eofusion.sensors import get_sensor

    x0, y0 = ORIGIN
    geobox = GeoBox.from_bbox((x0, y0 - side_m, x0 + side_m, y0), CRS, resolution=group.res_m, tight=True)
    ny, nx = geobox.shape
    sensor = get_sensor(group.sensor)
    bands = [sensor.band(b) for b in group.bands]
    rng = da.random.default_rng(seed)
    # Smooth-ish values (a ramp plus noise) rather than pure noise: compresses like real imagery.
    low, high = group.values
    spread = 0.07 * (high - low)
    noise = rng.normal(0.0, spread, size=(group.dates, len(bands), ny, nx), chunks=(1, len(bands), 512, 512))
    ramp = da.linspace(low, high, nx, chunks=512, dtype=np.float32)[None, None, None, :]
    data = (noise + ramp).astype(np.float32)
    nan = float("nan")
    coords: dict[str, Any] = {str(k): v for k, v in xr_coords(geobox, crs_coord_name="spatial_ref").items()}
    times = np.array(["2024-05-01", "2024-06-15", "2024-08-01"][: group.dates], dtype="datetime64[ns]")
    coords["time"] = ("time", times)
    coords["time_sensor"] = ("time", [group.sensor] * group.dates)
    coords["band"] = ("band", [b.name for b in bands])
    coords["sensor"] = ("band", [group.sensor] * len(bands))
    coords["centre_nm"] = ("band", np.array([b.centre_nm or nan for b in bands], dtype=np.float64))
    coords["bandwidth_nm"] = ("band", np.array([b.bandwidth_nm or nan for b in bands], dtype=np.float64))
    coords["kind"] = ("band", [b.kind.value for b in bands])
    coords["units"] = ("band", [b.units for b in bands])
    var = xr.DataArray(data, dims=("time", "band", "y", "x"), attrs={"grid_mapping": "spatial_ref"})
    ds = xr.Dataset({"data": var}, coords=coords)
    ds.attrs.update({"eofusion:group": group.name, "eofusion:resolution": group.res_m})
    return ds


# ------------------------------------------------------------------------------------------- child process
def run_prediction(case: Case, store: Path, out: Path, threads: int = 1, repeat: int = 2) -> dict[str, Any]:
    """Load the model and cube, warm up, then time ``predict_to_cog`` (best of ``repeat``; fresh process)."""
    import torch

    from eofusion.cube import open_cube
    from eofusion.mapping.legend import MapLegend
    from eofusion.mapping.predict import PredictConfig, predict_to_cog, window_starts
    from eofusion.models import collate_samples, model_config
    from eofusion.models.encoder import SpectralEncoder
    from eofusion.models.heads import SegmentationModel
    from eofusion.models.inputs import read_sample
    from eofusion.training.chips import ChipWindow

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = SegmentationModel(SpectralEncoder(model_config("tiny", token_m=case.token_m)), NUM_CLASSES).eval()
    legend = MapLegend.from_mapping({i: (f"class{i}", (30 * i, 255 - 30 * i, 128)) for i in range(NUM_CLASSES)})
    cube = open_cube(store)
    left, bottom, right, top = cube.bounds
    n = round(case.chip_m / case.res_m)
    with torch.no_grad():  # warm-up: first-call allocations and kernel selection are not prediction cost
        window = ChipWindow(left, top, case.chip_m)
        model(collate_samples([read_sample(cube, window)] * case.batch_size), (n, n))
    rss_before = _rss_mb()
    config = PredictConfig(case.chip_m, case.overlap_m, case.batch_size, case.res_m, tuple(g.name for g in case.groups))
    seconds, cpu, stages = float("inf"), float("inf"), {}
    for _ in range(repeat):  # best of n: a busy neighbour only ever adds time
        t0, c0 = time.perf_counter(), _cpu_s()
        pred = predict_to_cog(model, cube, legend, out, config)
        wall = time.perf_counter() - t0
        if wall < seconds:  # the untimed rest: opening the writers, window arithmetic, closing
            stages = {**pred.seconds, "other": max(0.0, wall - sum(pred.seconds.values()))}
        seconds, cpu = min(seconds, wall), min(cpu, _cpu_s() - c0)
    step = case.chip_m - case.overlap_m
    windows = len(window_starts(right - left, case.chip_m, step, case.res_m)) * len(
        window_starts(top - bottom, case.chip_m, step, case.res_m)
    )
    return {
        "windows": windows,
        "seconds": seconds,
        "cpu_s": cpu,
        "pixels": pred.geobox.width * pred.geobox.height,
        "rss_before_mb": rss_before,
        "peak_rss_mb": _peak_rss_mb(),
        "map_bytes": out.stat().st_size,
        "stages": stages,
    }


def _child(argv: list[str]) -> None:
    result = run_prediction(CASES[argv[0]], Path(argv[1]), Path(argv[2]), int(argv[3]), int(argv[4]))
    print(json.dumps(result))


# ----------------------------------------------------------------------------------------------- reporting
def _measure(case: Case, scale: int, work: Path, threads: int, repeat: int) -> dict[str, Any]:
    side = case.base_side_m * scale**0.5
    store = work / f"{case.name}-{scale}x.zarr"
    t0 = time.perf_counter()
    build_cube(case, side, store, seed=scale)
    build_s = time.perf_counter() - t0
    cmd = [sys.executable, __file__, "--child", case.name, str(store), str(work / f"{case.name}-{scale}x.tif")]
    cmd += [str(threads), str(repeat)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    area_km2 = side * side / 1e6
    result.update(
        case=case.name, scale=scale, side_m=side, area_km2=area_km2, cube_build_s=build_s,
        km2_per_min=area_km2 / (result["seconds"] / 60.0), km2_per_cpu_min=area_km2 / (result["cpu_s"] / 60.0),
        s_per_km2=result["seconds"] / area_km2, cpu_s_per_km2=result["cpu_s"] / area_km2,
        load_avg=os.getloadavg()[0],
    )  # fmt: skip
    return result


def _affine_fit(area: list[float], cpu: list[float]) -> tuple[float, float, float]:
    """Least-squares ``cpu = fixed + per_km2 * area`` and the largest residual relative to its measurement."""
    import numpy as np

    per_km2, fixed = np.polyfit(area, cpu, 1)
    residual = np.abs(np.polyval([per_km2, fixed], area) - np.asarray(cpu)) / np.asarray(cpu)
    return float(fixed), float(per_km2), float(residual.max())


def _base(rows: list[dict[str, Any]], case: str) -> dict[str, Any]:
    return next(b for b in rows if b["case"] == case and b["scale"] == SCALES[0])


def _table(rows: list[dict[str, Any]]) -> str:
    head = (
        f"{'res':>5} {'AOI':>4} {'side m':>7} {'km2':>8} {'px':>8} {'wall s':>7} {'CPU s':>7} {'km2/min':>8} "
        f"{'km2/CPUmin':>10} {'wins':>5} {'wall/km2':>8} {'CPU/km2':>8} {'CPU/win':>7} "
        f"{'peak RSS MB':>11} {'RSS':>5} {'growth MB':>9} {'load':>5}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        b = _base(rows, r["case"])
        lines.append(
            f"{r['case']:>5} {str(r['scale']) + 'x':>4} {r['side_m']:>7.0f} {r['area_km2']:>8.4f} {r['pixels']:>8d} "
            f"{r['seconds']:>7.2f} {r['cpu_s']:>7.2f} {r['km2_per_min']:>8.4g} {r['km2_per_cpu_min']:>10.4g} "
            f"{r['windows']:>5d} {r['s_per_km2'] / b['s_per_km2']:>8.2f} "
            f"{r['cpu_s_per_km2'] / b['cpu_s_per_km2']:>8.2f} "
            f"{r['cpu_s'] / r['windows'] / (b['cpu_s'] / b['windows']):>7.2f} "
            f"{r['peak_rss_mb']:>11.0f} {r['peak_rss_mb'] / b['peak_rss_mb']:>5.2f} "
            f"{r['peak_rss_mb'] - r['rss_before_mb']:>9.0f} {r['load_avg']:>5.1f}"
        )
    return "\n".join(lines)


def _split_table(rows: list[dict[str, Any]]) -> tuple[str, bool]:
    """Where prediction time goes, per run: km2/min and each stage's share (target: forward >= 70 %)."""
    head = f"{'res':>5} {'AOI':>4} {'km2/min':>9} " + " ".join(f"{s:>8}" for s in STAGE_NAMES) + f" {'forward':>8}"
    lines, ok = [head, "-" * len(head)], True
    for r in rows:
        total = sum(r["stages"].values()) or 1.0
        shares = {k: r["stages"].get(k, 0.0) / total for k in STAGE_NAMES}
        ok &= shares["forward"] >= 0.7
        lines.append(
            f"{r['case']:>5} {str(r['scale']) + 'x':>4} {r['km2_per_min']:>9.4g} "
            + " ".join(f"{100 * shares[k]:>7.1f}%" for k in STAGE_NAMES)
            + f" {'>= 70 %' if shares['forward'] >= 0.7 else '< 70 %':>8}"
        )
    return "\n".join(lines), ok


def main() -> None:
    """Build the cubes, run every (resolution, area) in its own process, print the table and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=sorted(CASES), help="run one output resolution only")
    parser.add_argument("--base-side-m", type=float, help="side of the 1x AOI (default: per resolution)")
    parser.add_argument("--workdir", type=Path, help="keep cubes and maps here (default: a temporary directory)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: stable CPU time when shared)")
    parser.add_argument("--repeat", type=int, default=2, help="predictions per process; the fastest is kept")
    parser.add_argument("--json", action="store_true", help="also print the raw rows as JSON")
    args = parser.parse_args()
    cases = [CASES[args.only]] if args.only else list(CASES.values())
    if args.base_side_m:
        cases = [Case(**{**asdict(c), "base_side_m": args.base_side_m}) for c in cases]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-predict-") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for case in cases:
            for scale in SCALES:
                rows.append(_measure(case, scale, work, args.threads, args.repeat))
                r = rows[-1]
                print(f"  {case.name} {scale}x: {r['seconds']:.1f} s, peak {r['peak_rss_mb']:.0f} MB", flush=True)
    print()
    print(_table(rows))
    print()
    ok = True
    for case in cases:
        by = {r["scale"]: r for r in rows if r["case"] == case.name}
        w4, w16 = (by[k]["s_per_km2"] / by[1]["s_per_km2"] for k in (4, 16))
        c4, c16 = (by[k]["cpu_s_per_km2"] / by[1]["cpu_s_per_km2"] for k in (4, 16))
        p4, p16 = (by[k]["cpu_s"] / by[k]["windows"] / (by[1]["cpu_s"] / by[1]["windows"]) for k in (4, 16))
        m16 = by[16]["peak_rss_mb"] / by[1]["peak_rss_mb"]
        fixed, per_km2, worst = _affine_fit([by[k]["area_km2"] for k in SCALES], [by[k]["cpu_s"] for k in SCALES])
        # Judged on CPU time: wall time on a shared 2-core machine measures the neighbours as much as us.
        linear, flat = max(c4, c16) <= 1.15, m16 <= 1.3  # sub-linear (edge overlap) passes
        ok &= linear and flat
        print(
            f"{case.name}: time/km2 vs 1x: CPU 4x {c4:.2f}, 16x {c16:.2f} | wall 4x {w4:.2f}, 16x {w16:.2f} | "
            f"CPU/window 4x {p4:.2f}, 16x {p16:.2f} | CPU/km2 16x/4x {c16 / c4:.2f} "
            f"({'linear' if linear else 'NOT linear'}: CPU/km2 ratios <= 1.15); "
            f"peak RSS 16x/1x = {m16:.2f} "
            f"({'flat' if flat else 'NOT flat'}: <= 1.3)"
        )
        print(
            f"{case.name}: CPU s = {fixed:.2f} s fixed per map + {per_km2:.3g} s/km2 "
            f"(marginal {60 / per_km2:.4g} km2 per CPU-minute); worst residual {100 * worst:.0f} % of a measurement"
        )
    split, forward_ok = _split_table(rows)
    print(
        "\nWhere the time goes (wall seconds per stage; read = waiting for cube reads that did not overlap the model):"
    )
    print(split)
    print("forward pass >= 70 % of prediction time: " + ("met" if forward_ok else "NOT met"))
    print("targets met" if ok else "targets NOT met")
    if args.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2:])
    else:
        main()
